"""Stimulus-aligned responses: PSTHs of units and trial-aligned ΔF/F of ROIs.

The analysis this dataset exists for: responses to oddball / mismatch presentations against
standard ones. Conditions are named by the real ``TrialType`` (``orientation_90``,
``omission``, ``standard`` …) or ``"deviant"`` (every oddball type, see
:func:`ppdata.stimuli.is_deviant`).

Spike times are read in bulk: ``spike_times_index`` and the whole ``spike_times`` column in
one concurrent batch of chunk requests, never unit by unit. Each unit's train is sorted, so
the spikes of every trial window are found by binary search and binned together.

Examples
--------
>>> s = ppdata.open_session("ecephys_820459_2025-11-12_14-34-33")  # doctest: +SKIP
>>> psth = s.aligned_spikes(to="orientation_90", vs="standard")  # doctest: +SKIP
>>> psth.sel(condition="orientation_90").mean("unit").plot()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import NotFound

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from .nwb import NWB

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
        From :func:`ppdata.stimuli.presentations` (every block, or one).
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


#: Spike times read per batch (8 M float64 = 64 MB): bounds memory and the block cache.
BATCH_SPIKES = 8_000_000
#: Units whose ranges are this close (spikes) are read as one span.
SPAN_GAP = 65_536


def _unit_counts(train: np.ndarray, onsets: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Spike counts per bin, summed over trials, of one sorted train.

    Two binary searches find each trial's window in the train; only the spikes inside the
    windows are then touched (cost ∝ spikes in windows, not trials × bins) and counted with
    one ``bincount`` of their bin indices.
    """
    n_bins = len(edges) - 1
    if train.size == 0 or onsets.size == 0:
        return np.zeros(n_bins, dtype=np.int64)
    a = np.searchsorted(train, onsets + edges[0], side="left")
    n = np.searchsorted(train, onsets + edges[-1], side="left") - a
    total = int(n.sum())
    if total == 0:
        return np.zeros(n_bins, dtype=np.int64)
    # position of every in-window spike: a[trial] + k for k < n[trial], built with one repeat
    first = np.cumsum(n) - n
    position = np.arange(total, dtype=np.int64)
    position += np.repeat(a - first, n)
    relative = train[position]
    relative -= np.repeat(onsets, n)  # minus its trial's onset
    relative -= edges[0]
    # equal bins: the bin index is arithmetic (np.histogram would search the edges)
    relative /= (edges[-1] - edges[0]) / n_bins
    index = relative.astype(np.int64)  # truncation: the few tiny negatives go to bin 0
    np.clip(index, 0, n_bins - 1, out=index)
    return np.bincount(index, minlength=n_bins)


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
    out = np.zeros((len(rows), len(edges) - 1), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i] = _unit_counts(spikes[starts[r] : ends[r]], onsets, edges)
    return out


def _batches(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[np.ndarray]:
    """Positions in ``rows`` grouped so each group holds at most ~BATCH_SPIKES spikes."""
    groups: list[list[int]] = [[]]
    held = 0
    for i, r in enumerate(rows):
        size = int(ends[r] - starts[r])
        if groups[-1] and held + size > BATCH_SPIKES:
            groups.append([])
            held = 0
        groups[-1].append(i)
        held += size
    return [np.asarray(g, dtype=np.int64) for g in groups if g]


def _read_deflated(nwb: NWB, path: str, ranges: list[tuple[int, int]]) -> list[np.ndarray] | None:
    """Slices of a 1-D gzip-chunked HDF5 dataset, the chunks inflated on several threads.

    h5py inflates chunks one at a time holding the GIL; zlib releases it, so reading the
    raw chunks (fetched together) and inflating them in a thread pool uses every core.
    Returns None when the dataset is not a plain deflate-chunked 1-D HDF5 dataset (the
    caller then reads through h5py).
    """
    import zlib
    from concurrent.futures import ThreadPoolExecutor

    try:
        import h5py

        ds = nwb.array(path)
    except ImportError:
        return None
    plain = (
        isinstance(ds, h5py.Dataset)
        and ds.chunks is not None
        and len(ds.chunks) == 1
        and ds.compression == "gzip"
        and not ds.shuffle
        and not ds.fletcher32
        and ds.scaleoffset is None
        and ds.dtype.kind in "fiu"
    )
    if not plain:
        return None
    chunk = int(ds.chunks[0])
    prefetch = getattr(getattr(nwb, "_backend", None), "prefetch_ranges", None)
    if prefetch is not None:
        prefetch(ds.name.lstrip("/"), ranges)  # every chunk of every range, in one batch
    wanted = sorted(
        {c for a, b in ranges if b > a for c in range(a // chunk, (b - 1) // chunk + 1)}
    )
    raw = {c: ds.id.read_direct_chunk((c * chunk,)) for c in wanted}

    def inflate(item: tuple[int, bytes]) -> bytes:
        mask, data = item
        return data if mask & 1 else zlib.decompress(data)

    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        inflated = dict(zip(raw, pool.map(inflate, raw.values()), strict=True))
    size = ds.dtype.itemsize
    out = []
    for a, b in ranges:
        if b <= a:
            out.append(np.empty(0, dtype=ds.dtype))
            continue
        c0, c1 = a // chunk, (b - 1) // chunk + 1
        joined = b"".join(inflated[c][: chunk * size] for c in range(c0, c1))
        values = np.frombuffer(joined, dtype=ds.dtype)
        out.append(values[a - c0 * chunk : b - c0 * chunk])
    return out


def _read_trains(
    nwb: NWB,
    path: str,
    rows: np.ndarray,
    batch: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
) -> list[tuple[int, np.ndarray]]:
    """The trains of a batch of units: neighbouring units' ranges merged into spans, the
    spans' chunks fetched in one concurrent batch and each span decoded once (a compressed
    chunk holds many units: slicing unit by unit would decompress it again for each)."""
    order = sorted(batch, key=lambda i: starts[rows[i]])
    spans: list[list[int]] = []
    for i in order:
        a, b = int(starts[rows[i]]), int(ends[rows[i]])
        if spans and a - spans[-1][1] <= SPAN_GAP:
            spans[-1][1] = max(spans[-1][1], b)
            spans[-1][2:] += [i]
        else:
            spans.append([a, b, i])
    ranges = [(s[0], s[1]) for s in spans]
    data = _read_deflated(nwb, path, ranges)
    if data is None:
        data = nwb.read_ranges(path, ranges)
    out = []
    for span, values in zip(spans, data, strict=True):
        values = np.asarray(values, dtype=np.float64)
        for i in span[2:]:
            a = int(starts[rows[i]]) - span[0]
            out.append((int(i), values[a : a + int(ends[rows[i]] - starts[rows[i]])]))
    return out


def _count_batched(
    nwb: NWB,
    path: str,
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    onsets: Sequence[np.ndarray],
    edges: np.ndarray,
    counts: np.ndarray,
) -> float:
    """Bin the units batch by batch (local or Zarr files); returns the last spike time."""
    from concurrent.futures import ThreadPoolExecutor

    last = 0.0
    # the trains of many units per request batch (their chunks fetched together), never
    # unit by unit; batches bound memory and keep the block cache from thrashing. The next
    # batch is fetched and inflated while this one is binned (one batch in flight).
    batches = _batches(rows, starts, ends)
    with ThreadPoolExecutor(1) as reader:
        pending = [
            reader.submit(_read_trains, nwb, path, rows, b, starts, ends) for b in batches[:1]
        ]
        for k in range(len(batches)):
            trains = pending.pop().result()
            if k + 1 < len(batches):
                pending.append(
                    reader.submit(_read_trains, nwb, path, rows, batches[k + 1], starts, ends)
                )
            for i, train in trains:
                if train.size:
                    last = max(last, float(train[-1]))
                for c, times in enumerate(onsets):
                    counts[i, c] = _unit_counts(train, times, edges)
    return last


#: Bytes per ranged GET of spike_times chunks, and GETs in flight: downloads overlap the
#: inflating and binning of what already arrived, and memory stays bounded.
GROUP_BYTES = 8 * 2**20
AHEAD = 6


def _remote_plain(nwb: NWB, path: str) -> tuple[Any, Any] | None:
    """(dataset, remote file) when ``path`` is a 1-D deflate-chunked dataset of a remote
    HDF5 file, whose chunks can be fetched by byte range and inflated here; else None."""
    fileobj = getattr(getattr(nwb, "_backend", None), "fileobj", None)
    if fileobj is None:
        return None
    try:
        import h5py

        ds = nwb.array(path)
    except ImportError:
        return None
    plain = (
        isinstance(ds, h5py.Dataset)
        and ds.chunks is not None
        and len(ds.chunks) == 1
        and ds.compression == "gzip"
        and not ds.shuffle
        and not ds.fletcher32
        and ds.scaleoffset is None
        and ds.dtype.kind in "fiu"
    )
    return (ds, fileobj) if plain else None


class _ChunkStream:
    """The chunks covering element ranges, as ``(first element, values)`` runs in order.

    Neighbouring chunks (adjacent in the file) are fetched in one ranged GET of at most
    ``GROUP_BYTES``; ``AHEAD`` GETs are in flight on the client's pool from construction
    on, and each is inflated on its pool thread as soon as it arrives (zlib releases the
    GIL), so the caller bins one run while the next ones download.
    """

    def __init__(self, ds: Any, fileobj: Any, ranges: list[tuple[int, int]]) -> None:
        from collections import deque

        chunk = int(ds.chunks[0])
        wanted = sorted(
            {c for a, b in ranges if b > a for c in range(a // chunk, (b - 1) // chunk + 1)}
        )
        infos = {c: ds.id.get_chunk_info_by_coord((c * chunk,)) for c in wanted}
        groups: list[list[int]] = []
        for c in wanted:
            info = infos[c]
            if groups:
                last, first = infos[groups[-1][-1]], infos[groups[-1][0]]
                if (
                    groups[-1][-1] == c - 1
                    and info.byte_offset == last.byte_offset + last.size
                    and info.byte_offset + info.size - first.byte_offset <= GROUP_BYTES
                ):
                    groups[-1].append(c)
                    continue
            groups.append([c])
        self._chunk, self._length = chunk, int(ds.shape[0])
        self._infos, self._dtype = infos, ds.dtype
        self._client, self._key = fileobj.client, fileobj.key
        self._todo = iter(groups)
        self._pending: deque[Any] = deque()
        for group in self._todo:
            self._pending.append(self._client.pool.submit(self._load, group))
            if len(self._pending) >= AHEAD:
                break

    def _load(self, group: list[int]) -> tuple[int, np.ndarray]:
        import zlib

        infos = self._infos
        lo = infos[group[0]].byte_offset
        hi = infos[group[-1]].byte_offset + infos[group[-1]].size
        data = memoryview(self._client.get_bytes(self._key, lo, hi))
        parts = []
        for c in group:
            info = infos[c]
            raw = data[info.byte_offset - lo : info.byte_offset - lo + info.size]
            parts.append(bytes(raw) if info.filter_mask & 1 else zlib.decompress(raw))
        start = group[0] * self._chunk
        values = np.frombuffer(b"".join(parts), dtype=self._dtype)
        values = values[: min(len(values), self._length - start)]
        return start, values.astype(np.float64, copy=False)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        try:
            while self._pending:
                done = self._pending.popleft().result()
                group = next(self._todo, None)
                if group is not None:
                    self._pending.append(self._client.pool.submit(self._load, group))
                yield done
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop: GETs not started are dropped."""
        while self._pending:
            self._pending.popleft().cancel()
        self._todo = iter(())


def _count_streamed(
    runs: Iterable[tuple[int, np.ndarray]],
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    onsets: Sequence[np.ndarray],
    edges: np.ndarray,
    counts: np.ndarray,
) -> float:
    """Bin each unit as soon as the runs holding its whole train have arrived; returns the
    last spike time seen. ``counts`` (rows × conditions × bins) is filled in place."""
    order = sorted(range(len(rows)), key=lambda i: (starts[rows[i]], ends[rows[i]]))
    held: list[tuple[int, np.ndarray]] = []  # contiguous pieces of the current run
    last = 0.0
    k = 0

    def bin_ready(until: int) -> None:
        nonlocal k, last, held
        while k < len(order):
            i = order[k]
            a, b = int(starts[rows[i]]), int(ends[rows[i]])
            if b > until and b > a:
                break
            if b > a:
                pieces = [v[max(a - s, 0) : b - s] for s, v in held if s < b and s + len(v) > a]
                train = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
                last = max(last, float(train[-1]))
            else:
                train = np.empty(0, dtype=np.float64)
            for c, times in enumerate(onsets):
                counts[i, c] = _unit_counts(train, times, edges)
            k += 1
        if k < len(order):  # drop what no later unit needs
            keep = int(starts[rows[order[k]]])
            held = [(s, v) for s, v in held if s + len(v) > keep]

    for start, values in runs:
        if held and held[-1][0] + len(held[-1][1]) != start:
            held = []  # a gap: every unit of the previous run is binned already
        held.append((start, values))
        bin_ready(start + len(values))
    bin_ready(np.iinfo(np.int64).max)
    return last


def aligned_spikes(
    nwb: NWB,
    presentations: pd.DataFrame | Callable[[], pd.DataFrame],
    units: pd.DataFrame | Iterable[int] | None = None,
    to: str = DEVIANT,
    vs: str = "standard",
    block: str | None = None,
    window: Sequence[float] = (-0.5, 1.0),
    bin_size: float = 0.01,
) -> xr.DataArray:
    """Peri-stimulus time histograms: unit × condition × time, in spikes/s.

    Parameters
    ----------
    nwb : NWB
        The ephys NWB with the units table.
    presentations : pandas.DataFrame
        From :func:`ppdata.stimuli.presentations` (may come from another file of the
        session: the complete NWB holds both), or a function returning it: it is then
        called once the spike-time downloads have started, so both overlap.
    units : DataFrame or iterable of int, optional
        The units (a units table from :func:`ppdata.ephys.units`, whose ``probe`` and
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

    from .ephys import UNITS, _describe_ids

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
    position = {int(u): i for i, u in enumerate(ids)}
    missing = [int(u) for u in wanted if int(u) not in position]
    if missing:
        raise NotFound(f"unknown unit id(s) {missing[:10]}: {_describe_ids(ids)}")
    rows = np.asarray([position[int(u)] for u in wanted], dtype=np.int64)
    n_bins = max(1, round((w1 - w0) / bin_size))
    edges = w0 + np.arange(n_bins + 1) * bin_size
    counts = np.zeros((len(rows), 2, n_bins), dtype=np.int64)
    remote = _remote_plain(nwb, path)
    runs = None
    if remote is not None:
        # spike_times chunks fetched by byte range, several GETs in flight from here on:
        # a stimulus table still to read is read while they download
        ranges = [(int(starts[r]), int(ends[r])) for r in rows]
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
    onsets = [trials.onsets[to], trials.onsets[vs]]
    if runs is not None:
        # each unit binned as soon as its train has arrived
        last = _count_streamed(runs, rows, starts, ends, onsets, edges, counts)
    else:
        last = _count_batched(nwb, path, rows, starts, ends, onsets, edges, counts)
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
    window: Sequence[float] = (-1.0, 2.0),
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
