"""LFP from a Neuropixels NWB: which probes have it, and a window of one probe's LFP read
lazily (only the chunks covering the time window and channels asked for).

Examples
--------
>>> import ppdata
>>> session = ppdata.open_session("ecephys_820459_2025-11-12_14-34-33")
>>> nwb = session.nwb()
>>> "ProbeA" in list_lfp_probes(nwb)
True
>>> window = lfp(nwb, "ProbeA", start=1, stop=2)
>>> window.probe, window.data.shape == (len(window.times), len(window.channels))
('ProbeA', True)
>>> session.close()
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..errors import NotFound
from .ephys import ELECTRODES

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from .file import NWB

__all__ = ["LFPSlice", "lfp", "list_lfp_probes"]

_LFP_NAME = re.compile(r"^ElectricalSeries(?P<probe>.+?)-LFP$")


class LFPSlice(NamedTuple):
    """A window of LFP: ``data`` (time x channel, volts), ``times`` (s), ``channels``."""

    data: np.ndarray
    times: np.ndarray
    channels: np.ndarray
    probe: str = ""

    def to_dataframe(self) -> pd.DataFrame:
        """The window as a DataFrame indexed by time, one column per electrode id."""
        import pandas as pd

        frame = pd.DataFrame(self.data, index=pd.Index(self.times, name="time"))
        frame.columns = pd.Index(self.channels, name="electrode_id")
        return frame

    def to_xarray(self) -> xr.DataArray:
        """The window as an ``xarray.DataArray`` with ``time`` (s) and ``channel``
        (electrode id) coordinates, named after the probe.

        Examples
        --------
        >>> session = ppdata.open_session("ecephys_820459_2025-11-12_14-34-33")
        >>> lfp = session.lfp("ProbeA", 1, 2).to_xarray()
        >>> lfp.dims
        ('time', 'channel')
        >>> lfp.sel(time=slice(1, 1.5), channel=lfp.channel[:2]).mean("time").shape
        (2,)
        >>> session.close()
        """
        import xarray as xr

        return xr.DataArray(
            self.data,
            dims=("time", "channel"),
            coords={"time": self.times, "channel": self.channels},
            name=f"{self.probe} LFP" if self.probe else "LFP",
            attrs={"units": "volts" if self.data.dtype.kind == "f" else "raw", "probe": self.probe},
        )


def _lfp_series(nwb: NWB) -> dict[str, str]:
    """Probe name to the path of its LFP ElectricalSeries, wherever the module puts it."""
    found: dict[str, str] = {}
    if not nwb.exists("processing"):
        return found
    for module in nwb.children("processing"):
        base = f"processing/{module}"
        for container in nwb.children(base):
            if "lfp" not in container.lower() or not nwb.is_group(f"{base}/{container}"):
                continue
            for name in nwb.children(f"{base}/{container}"):
                match = _LFP_NAME.match(name)
                if match and nwb.exists(f"{base}/{container}/{name}/data"):
                    found.setdefault(match["probe"], f"{base}/{container}/{name}")
    return found


def list_lfp_probes(nwb: NWB) -> list[str]:
    """Probes that have an LFP series in this file."""
    return sorted(_lfp_series(nwb))


def lfp(
    nwb: NWB,
    probe: str,
    start: float | None = None,
    stop: float | None = None,
    channels: Iterable[int | str] | None = None,
    *,
    scaled: bool = True,
) -> LFPSlice:
    """A window of one probe's LFP, read lazily (only the chunks covering it).

    Parameters
    ----------
    nwb : NWB
        An open ephys NWB.
    probe : str
        Probe name (``"ProbeA"``).
    start, stop : float, optional
        Time window in seconds (``[start, stop)``); default the whole series.
    channels : iterable of int or str, optional
        Electrode ids (ints, the index of :func:`electrodes`) or channel names (str);
        default all channels of the series.
    scaled : bool
        Return volts (``data * conversion``, float32) instead of the stored integers.

    Returns
    -------
    LFPSlice
        ``(data, times, channels)``: time x channel array, times in seconds, electrode ids.

    Raises
    ------
    NotFound
        Unknown probe or channel (the message lists the valid ones).
    """
    series = _lfp_series(nwb)
    if probe not in series:
        raise NotFound(
            f"no LFP for probe {probe!r} in {nwb.name}: probes with LFP are {sorted(series)}"
        )
    path = series[probe]
    nwb.prefetch(
        p
        for p in (f"{path}/electrodes", f"{ELECTRODES}/id", f"{path}/starting_time")
        if nwb.exists(p)
    )
    electrode_ids = _series_electrodes(nwb, path)
    if channels is None:
        columns = None
        chosen = electrode_ids
    else:
        columns = _channel_columns(nwb, probe, electrode_ids, list(channels))
        chosen = electrode_ids[columns]
    times, data = nwb.read_timeseries(path, start, stop, columns)
    if scaled:
        attrs = nwb.attrs(f"{path}/data")
        conversion = float(attrs.get("conversion", 1.0))
        offset = float(attrs.get("offset", 0.0))
        data = (data.astype(np.float32) * np.float32(conversion) + np.float32(offset)).astype(
            np.float32
        )
    return LFPSlice(data=data, times=times, channels=chosen, probe=probe)


def _series_electrodes(nwb: NWB, path: str) -> np.ndarray:
    """Electrode ids of the series' columns (the region's rows mapped through the ids)."""
    rows = nwb.read(f"{path}/electrodes").astype(np.int64)
    if nwb.exists(f"{ELECTRODES}/id"):
        return nwb.read(f"{ELECTRODES}/id")[rows]
    return rows


def _channel_columns(
    nwb: NWB, probe: str, electrode_ids: np.ndarray, channels: list[int | str]
) -> np.ndarray:
    names: np.ndarray | None = None
    if any(isinstance(c, str) for c in channels) and nwb.exists(f"{ELECTRODES}/channel_name"):
        rows = nwb.read(f"{ELECTRODES}/id")
        all_names = nwb.read(f"{ELECTRODES}/channel_name")
        by_id = {int(i): str(n) for i, n in zip(rows, all_names, strict=True)}
        names = np.array([by_id.get(int(e), "") for e in electrode_ids], dtype=object)
    columns = []
    bad = []
    for channel in channels:
        if isinstance(channel, str) and names is not None:
            hits = np.flatnonzero(names == channel)
        else:
            try:
                hits = np.flatnonzero(electrode_ids == int(channel))
            except ValueError:
                hits = np.array([], dtype=np.int64)
        if hits.size:
            columns.append(int(hits[0]))
        else:
            bad.append(channel)
    if bad:
        ids = [int(e) for e in electrode_ids]
        shown = f"{ids[0]}..{ids[-1]}" if len(ids) > 12 else str(ids)
        extra = f" or channel names like {names[0]!r}" if names is not None and len(names) else ""
        raise NotFound(
            f"channel(s) {bad} are not in the LFP of {probe}: it has electrode ids {shown}"
            f" ({len(ids)} channels){extra}"
        )
    return np.asarray(columns, dtype=np.int64)
