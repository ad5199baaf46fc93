"""Reading NWB files: open one (``open``: the entry point), the handle (``file``), format
detection (``formats``), ``summary``, its backends (``backends``) and remote storage
(``storage``), and the data by modality (``ephys``, ``lfp``, ``ophys``, ``behavior``,
``stimuli``, ``aligned``, ``spikebins``).
"""

from __future__ import annotations

import contextvars

__all__ = ["ALIGNED_DFF_WINDOW", "PSTH_WINDOW", "STRICT_WINDOWS", "TRACE_KINDS"]

#: When true (the command line sets it), an empty, reversed or out-of-range time window is an
#: :class:`~ppdata.errors.InvalidWindow` naming the valid range, instead of empty arrays.
#: Defined here, not in :mod:`ppdata.nwb.file`, so that setting it imports no NWB reader
#: (numpy, h5py): every command sets it before it runs.
STRICT_WINDOWS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "ppdata_strict_windows", default=False
)

#: The default windows, in seconds around each onset, of a PSTH and of trial-aligned ΔF/F
#: (:func:`ppdata.nwb.aligned.aligned_spikes`, :func:`ppdata.nwb.aligned.aligned_dff`).
PSTH_WINDOW: tuple[float, float] = (-0.5, 1.0)
ALIGNED_DFF_WINDOW: tuple[float, float] = (-1.0, 2.0)

#: Trace kinds of a Mesoscope plane (:func:`ppdata.nwb.ophys.traces`, ``ppdata dff --kind``)
#: and where each lives in a plane's module (current layout first, then older). Here, not in
#: :mod:`ppdata.nwb.ophys`, so that the command line lists them without importing numpy.
TRACE_KINDS: dict[str, tuple[str, ...]] = {
    "dff": ("dff_timeseries/dff_timeseries", "dff"),
    "events": ("event_timeseries", "events"),
    "raw": ("raw_timeseries/ROI_fluorescence_timeseries", "raw"),
    "neuropil": ("neuropil_fluorescence_timeseries", "neuropil_fluorescence"),
    "neuropil_corrected": ("neuropil_corrected_timeseries", "neuropil_corrected"),
}
