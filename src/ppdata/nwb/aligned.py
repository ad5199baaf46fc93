"""Stimulus-aligned responses: PSTHs of units and trial-aligned ΔF/F of ROIs.

The analysis this dataset exists for: responses to oddball / mismatch presentations against
standard ones. Conditions are named by the real ``TrialType`` (``orientation_90``,
``omission``, ``standard`` …) or ``"deviant"`` (every oddball type, see
:func:`ppdata.nwb.stimuli.is_deviant`).

Spike times are read in bulk, never unit by unit, and each unit binned as soon as its
train has arrived (see :mod:`ppdata.nwb.spikebins`).

Examples
--------
>>> s = ppdata.open_session("ecephys_820459_2025-11-12_14-34-33")
>>> psth = s.aligned_spikes(to="orientation_90", vs="standard")
>>> psth.dims, [str(c) for c in psth.condition.values]
(('unit', 'condition', 'time'), ['orientation_90', 'standard'])
>>> population = psth.sel(condition="orientation_90").mean("unit")  # .plot() draws it
>>> s.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFound
from . import ALIGNED_DFF_WINDOW, PSTH_WINDOW
from .spikebins import _ChunkStream, _remote_plain, batched_trains, count_trains, streamed_trains
from .windows import Windows

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from .file import NWB

__all__ = [
    "DEVIANT",
    "Trials",
    "aligned_dff",
    "aligned_spikes",
    "psth_from_spikes",
    "psth_units",
    "select_trials",
]

logger = logging.getLogger(__name__)

#: The condition name that selects every oddball type.
DEVIANT = "deviant"


@dataclass(frozen=True)
class Trials:
    """Onsets of the two conditions compared, and where they came from."""

    to: str
    vs: str
    onsets: dict[str, np.ndarray]
    trial_types: dict[str, np.ndarray]
    blocks: tuple[str, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {c: len(t) for c, t in self.onsets.items()}


def _pick(frame: pd.DataFrame, condition: str) -> pd.DataFrame:
    if condition == DEVIANT:
        return frame[frame["deviant"]]
    return frame[frame["trial_type"] == condition]


def select_trials(
    presentations: pd.DataFrame, to: str = DEVIANT, vs: str = "standard", block: str | None = None
) -> Trials:
    """The onsets of condition ``to`` and of condition ``vs``.

    Parameters
    ----------
    presentations : pandas.DataFrame
        From :func:`ppdata.nwb.stimuli.presentations` (every block, or one).
    to, vs : str
        A ``TrialType`` or ``"deviant"``.
    block : str, optional
        Only this block. Default: the blocks that hold deviants (the context block), so
        ``standard`` means the standards of the oddball block and not a control's.

    Raises
    ------
    NotFound
        An unknown block or trial type (the message lists the valid ones), or no trials.
    """
    from .stimuli import find_block

    frame = presentations
    if block is not None:
        name = find_block({b: None for b in frame["block"].unique()}, block)
        frame = frame[frame["block"] == name.removesuffix("_presentations")]
    else:
        context = frame.loc[frame["deviant"], "block"].unique()
        if len(context):
            frame = frame[frame["block"].isin(context)]
    valid = sorted(set(frame["trial_type"]))
    if frame["deviant"].any():
        valid = [DEVIANT, *valid]
    where = f"block {block!r}" if block else "the oddball block(s)"
    onsets: dict[str, np.ndarray] = {}
    kinds: dict[str, np.ndarray] = {}
    for condition in (to, vs):
        if condition not in valid:
            raise NotFound(f"no trial type {condition!r} in {where}; valid: {', '.join(valid)}")
        rows = _pick(frame, condition)
        onsets[condition] = rows["start_time"].to_numpy(dtype=np.float64)
        kinds[condition] = rows["trial_type"].to_numpy(dtype=object)
    if to == vs:
        raise NotFound(f"--to and --vs are both {to!r}: compare two different conditions")
    return Trials(to, vs, onsets, kinds, tuple(sorted(frame["block"].unique())))


def _check_window(window: Sequence[float], bin_size: float | None = None) -> tuple[float, float]:
    w0, w1 = float(window[0]), float(window[1])
    if not w1 > w0:
        raise NotFound(f"window ({w0:g}, {w1:g}) s is empty: the end must be after the start")
    if bin_size is not None and not 0 < bin_size <= w1 - w0:
        raise NotFound(
            f"bin size {bin_size:g} s must be > 0 and at most the window ({w1 - w0:g} s)"
        )
    return w0, w1


def _check_span(trials: Trials, window: tuple[float, float], lo: float, hi: float) -> None:
    """Every trial's window must lie inside the data ``[lo, hi]``."""
    every = np.concatenate(list(trials.onsets.values()))
    if every.size == 0:
        return
    first, last = float(every.min()), float(every.max())
    if first + window[0] < lo - 1e-9 or last + window[1] > hi + 1e-9:
        data = f"{lo:.2f}-{hi:.2f} s" if np.isfinite(hi) else f"from {lo:.2f} s"
        upper = f"{hi - last:.2f}" if np.isfinite(hi) else "..."
        raise NotFound(
            f"window ({window[0]:g}, {window[1]:g}) s reaches outside the data ({data}) "
            f"for some trials; valid windows lie within ({lo - first:.2f}, {upper}) s of "
            "the onsets"
        )


def psth_from_spikes(
    spikes: np.ndarray,
    ends: np.ndarray,
    rows: np.ndarray,
    onsets: np.ndarray,
    edges: np.ndarray,
) -> np.ndarray:
    """Spike counts (rows × bins) summed over trials, from the concatenated spike times.

    ``spikes`` holds every unit's sorted train back to back, ``ends`` the
    ``spike_times_index`` (end of each unit), ``rows`` the units wanted (positions in the
    table), ``onsets`` the trial onsets and ``edges`` the bin edges relative to the onset.
    """
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    windows = Windows([onsets], edges)
    out = np.zeros((len(rows), len(edges) - 1), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i] = windows.count(spikes[starts[r] : ends[r]])[0]
    return out


def aligned_spikes(
    nwb: NWB,
    presentations: pd.DataFrame | Callable[[], pd.DataFrame],
    units: pd.DataFrame | Iterable[int] | None = None,
    to: str = DEVIANT,
    vs: str = "standard",
    block: str | None = None,
    window: Sequence[float] = PSTH_WINDOW,
    bin_size: float = 0.01,
) -> xr.DataArray:
    """Peri-stimulus time histograms: unit × condition × time, in spikes/s.

    Parameters
    ----------
    nwb : NWB
        The ephys NWB with the units table.
    presentations : pandas.DataFrame
        From :func:`ppdata.nwb.stimuli.presentations` (may come from another file of the
        session: the complete NWB holds both), or a function returning it: it is then
        called once the spike-time downloads have started, so both overlap.
    units : DataFrame or iterable of int, optional
        The units (a units table from :func:`ppdata.nwb.ephys.units`, whose ``probe`` and
        ``brain_area`` columns become coordinates, or unit ids). Default: every unit.
    to, vs : str
        The two conditions: a ``TrialType`` or ``"deviant"``.
    block : str, optional
        Only this block (default: the oddball block).
    window : (float, float)
        Seconds around each onset.
    bin_size : float
        Bin width in seconds.

    Returns
    -------
    xarray.DataArray
        Dims ``unit``, ``condition`` (``[to, vs]``), ``time`` (bin centres, s); attributes
        ``trials`` (condition -> count), ``units`` "spikes/s", ``bin_size``, ``window``,
        ``blocks``.

    Raises
    ------
    NotFound
        Unknown block, trial type or unit; a window outside the data.
    """
    import pandas as pd
    import xarray as xr

    from .ephys import UNITS, unit_rows

    w0, w1 = _check_window(window, bin_size)
    if not callable(presentations):
        trials = select_trials(presentations, to, vs, block)
        _check_span(trials, (w0, w1), 0.0, np.inf)  # before reading anything big
    path = f"{UNITS}/spike_times"
    if not nwb.exists(f"{UNITS}/spike_times_index"):
        raise NotFound(f"{nwb.name} has no spike times (no units/spike_times_index)")
    nwb.prefetch([f"{UNITS}/id", f"{UNITS}/spike_times_index"])
    ids = np.asarray(nwb.read(f"{UNITS}/id"))
    ends = np.asarray(nwb.read(f"{UNITS}/spike_times_index"), dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    table = units if isinstance(units, pd.DataFrame) else None
    wanted = list(ids) if units is None else list(table.index) if table is not None else list(units)
    rows = np.asarray(unit_rows(ids, wanted), dtype=np.int64)
    n_bins = max(1, round((w1 - w0) / bin_size))
    edges = w0 + np.arange(n_bins + 1) * bin_size
    counts = np.zeros((len(rows), 2, n_bins), dtype=np.int64)
    ranges = [(int(starts[r]), int(ends[r])) for r in rows]  # each unit's spikes
    remote = _remote_plain(nwb, path)
    runs = None
    if remote is not None:
        # spike_times chunks fetched by byte range, several GETs in flight from here on:
        # a stimulus table still to read is read while they download
        runs = _ChunkStream(remote[0], remote[1], ranges)
    if callable(presentations):
        try:
            presentations = presentations()
            trials = select_trials(presentations, to, vs, block)
            _check_span(trials, (w0, w1), 0.0, np.inf)
        except BaseException:
            if runs is not None:
                runs.cancel()
            raise
    windows = Windows([trials.onsets[to], trials.onsets[vs]], edges)
    if runs is not None:  # each unit binned as soon as its train has arrived
        last = count_trains(streamed_trains(runs, ranges), windows, counts)
    else:
        last = count_trains(batched_trains(nwb, path, ranges), windows, counts)
    _check_span(trials, (w0, w1), 0.0, max(last, float(presentations["stop_time"].max())))
    rates = np.empty((len(rows), 2, n_bins), dtype=np.float64)
    for c, condition in enumerate((to, vs)):
        n = len(trials.onsets[condition])
        rates[:, c, :] = counts[:, c, :] / (n * bin_size) if n else np.nan
    coords: dict[str, Any] = {
        "unit": np.asarray(wanted, dtype=np.int64),
        "condition": [to, vs],
        "time": (edges[:-1] + edges[1:]) / 2,
    }
    if table is not None:
        for column in ("probe", "brain_area"):
            if column in table:
                coords[column] = ("unit", table[column].astype(str).to_numpy())
    return xr.DataArray(
        rates,
        dims=("unit", "condition", "time"),
        coords=coords,
        name="firing_rate",
        attrs={
            "units": "spikes/s",
            "trials": trials.counts,
            "bin_size": float(bin_size),
            "window": (w0, w1),
            "blocks": list(trials.blocks),
            "long_name": f"firing rate, {to} vs {vs}",
        },
    )


def aligned_dff(
    nwb: NWB,
    plane: str,
    presentations: pd.DataFrame,
    rois: Iterable[int] | None = None,
    to: str = DEVIANT,
    vs: str = "standard",
    block: str | None = None,
    window: Sequence[float] = ALIGNED_DFF_WINDOW,
) -> xr.DataArray:
    """Trial-aligned ΔF/F: roi × trial × time.

    Only the frames between the first trial's window and the last one's are read. Each
    trial is sampled at the plane's frame rate on a common time axis (the frame nearest
    each time point). Conditions have different trial counts, so ``condition`` and
    ``trial_type`` (and ``onset``) are coordinates of the ``trial`` dimension.

    Raises
    ------
    NotFound
        Unknown plane, ROI, block or trial type; a window outside the data.
    """
    import xarray as xr

    from .ophys import _check_plane, _trace_path, traces

    w0, w1 = _check_window(window)
    trials = select_trials(presentations, to, vs, block)
    _check_plane(nwb, plane)
    series = _trace_path(nwb, plane, "dff")
    stamps = (
        np.asarray(nwb.read(f"{series}/timestamps")) if nwb.exists(f"{series}/timestamps") else None
    )
    every = np.concatenate([trials.onsets[to], trials.onsets[vs]])
    labels = np.array([to] * len(trials.onsets[to]) + [vs] * len(trials.onsets[vs]), dtype=object)
    kinds = np.concatenate([trials.trial_types[to], trials.trial_types[vs]])
    if stamps is not None and stamps.size:
        _check_span(trials, (w0, w1), float(stamps[0]), float(stamps[-1]))
    frame = traces(
        nwb, plane, "dff", float(every.min() + w0) - 1.0, float(every.max() + w1) + 1.0, rois
    )
    times = frame.index.to_numpy(dtype=np.float64)
    data = frame.to_numpy(dtype=np.float64)
    if times.size < 2:
        raise NotFound(f"plane {plane} has no frames around these trials")
    step = float(np.median(np.diff(times)))
    grid = np.arange(round(w0 / step), round(w1 / step) + 1) * step
    order = np.argsort(every, kind="stable")
    every, labels, kinds = every[order], labels[order], kinds[order]
    at = every[:, None] + grid[None, :]
    index = np.clip(np.searchsorted(times, at), 1, len(times) - 1)
    nearer_left = (at - times[index - 1]) < (times[index] - at)
    index = index - nearer_left
    values = data[index]  # trial × time × roi
    return xr.DataArray(
        np.transpose(values, (2, 0, 1)),
        dims=("roi", "trial", "time"),
        coords={
            "roi": frame.columns.to_numpy(),
            "trial": np.arange(len(every)),
            "condition": ("trial", labels.astype(str)),
            "trial_type": ("trial", kinds.astype(str)),
            "onset": ("trial", every),
            "time": grid,
        },
        name="dff",
        attrs={
            "units": str(nwb.attrs(f"{series}/data").get("unit", "ΔF/F")),
            "plane": plane,
            "trials": trials.counts,
            "window": (w0, w1),
            "blocks": list(trials.blocks),
            "frame_interval": step,
        },
    )


def psth_units(nwb: NWB) -> pd.DataFrame:
    """The units a PSTH labels, reading only ids and the probe / area columns.

    Indexed by unit id, with ``probe`` (``device_name``, else the electrode group) and
    ``brain_area`` when the file has it: quality metrics and waveforms are not read, so
    this costs a few small reads instead of the whole units table.
    """
    import pandas as pd

    from .ephys import UNITS, _probes

    if not nwb.exists(UNITS):
        raise NotFound(f"{nwb.name} has no units table (not a sorted ephys NWB?)")
    present = set(nwb.children(UNITS))
    names = [c for c in ("device_name", "brain_area") if c in present]
    # the spike index too, in the same batch: the PSTH reads it next
    wanted = ["id", *names, *(["spike_times_index"] if "spike_times_index" in present else [])]
    nwb.prefetch(f"{UNITS}/{c}" for c in wanted)
    columns = nwb.read_table(UNITS, names)
    ids = np.asarray(columns.pop("id"))
    frame = pd.DataFrame({k: np.asarray(v) for k, v in columns.items()}, index=ids)
    frame.index.name = "unit_id"
    probes = _probes(nwb, frame)
    if probes is not None:
        frame["probe"] = np.asarray(probes)
    return frame.drop(columns=[c for c in ("device_name",) if c in frame])
