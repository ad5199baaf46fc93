"""Reading spike trains in bulk for PSTHs, and binning them.

Spike times are never read unit by unit. From a remote HDF5 file whose ``spike_times`` is
deflate-chunked, the chunks are fetched by their exact byte ranges (neighbours in one GET,
several GETs in flight on the client's pool), inflated on the thread that fetched them
(zlib releases the GIL), and each unit is binned as soon as its whole train has arrived.
Elsewhere (local files, Zarr) the trains are read in batches of units through the NWB
reader. Each unit's train is binned by :class:`ppdata.nwb.windows.Windows`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .file import NWB
    from .windows import Windows


#: Spike times read per batch (8 M float64 = 64 MB): bounds memory and the block cache.
BATCH_SPIKES = 8_000_000
#: Units whose ranges are this close (spikes) are read as one span.
SPAN_GAP = 65_536


def _inflate(raw: Any, nbytes: int) -> bytes | bytearray:
    """One zlib-format (HDF5 deflate filter) chunk inflated, ``nbytes`` long when whole.

    libdeflate (the ``deflate`` package) inflates a whole buffer about twice as fast as
    zlib and releases the GIL too; zlib is the fallback when it is missing or refuses.
    """
    import zlib

    try:
        import deflate
    except ImportError:
        return zlib.decompress(raw)
    try:
        return deflate.zlib_decompress(raw, nbytes)
    except deflate.DeflateError:  # not the size we expected: let zlib find it
        return zlib.decompress(raw)


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


def _plain_deflated(nwb: NWB, path: str) -> Any | None:
    """The h5py dataset at ``path`` when it is 1-D, deflate-chunked and numeric with no
    other filter (its raw chunks can be inflated here with zlib); else None."""
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
    return ds if plain else None


def _read_deflated(nwb: NWB, path: str, ranges: list[tuple[int, int]]) -> list[np.ndarray] | None:
    """Slices of a 1-D gzip-chunked HDF5 dataset, the chunks inflated on several threads.

    h5py inflates chunks one at a time holding the GIL; zlib releases it, so reading the
    raw chunks (fetched together) and inflating them in a thread pool uses every core.
    Returns None when the dataset is not a plain deflate-chunked 1-D HDF5 dataset (the
    caller then reads through h5py).
    """
    from concurrent.futures import ThreadPoolExecutor

    ds = _plain_deflated(nwb, path)
    if ds is None:
        return None
    chunk = int(ds.chunks[0])
    nwb.prefetch_ranges(ds.name.lstrip("/"), ranges)  # every chunk of every range, one batch
    wanted = sorted(
        {c for a, b in ranges if b > a for c in range(a // chunk, (b - 1) // chunk + 1)}
    )
    raw = {c: ds.id.read_direct_chunk((c * chunk,)) for c in wanted}

    nbytes = chunk * ds.dtype.itemsize

    def inflate(item: tuple[int, bytes]) -> bytes | bytearray:
        mask, data = item
        return data if mask & 1 else _inflate(data, nbytes)

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
    windows: Windows,
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
            last = max([last, *(float(train[-1]) for _, train in trains if train.size)])
            _bin_units(trains, windows, counts)
    return last


#: Bytes per ranged GET of spike_times chunks, GETs in flight, and GETs fetched (and
#: inflated) ahead of the binning at most: downloads go on while the caller is busy
#: elsewhere (reading the stimulus table), and memory stays bounded.
GROUP_BYTES = 8 * 2**20
AHEAD = 6
BUFFERED = 2 * AHEAD


def _remote_plain(nwb: NWB, path: str) -> tuple[Any, Any] | None:
    """(dataset, remote file) when ``path`` is a 1-D deflate-chunked dataset of a remote
    HDF5 file, whose chunks can be fetched by byte range and inflated here; else None."""
    fileobj = nwb.hdf5_file
    if fileobj is None:
        return None
    ds = _plain_deflated(nwb, path)
    return None if ds is None else (ds, fileobj)


class _ChunkStream:
    """The chunks covering element ranges, as ``(first element, values)`` runs in order.

    Neighbouring chunks (adjacent in the file) are fetched in one ranged GET of at most
    ``GROUP_BYTES``; ``AHEAD`` GETs are in flight on the client's pool from construction
    on, each inflated on its pool thread as soon as it arrives (libdeflate and zlib release
    the GIL), and each finished GET starts the next one, up to ``BUFFERED`` groups ahead of
    the caller, who bins one run while the next ones download.
    """

    def __init__(self, ds: Any, fileobj: Any, ranges: list[tuple[int, int]]) -> None:
        import threading
        from collections import deque

        chunk = int(ds.chunks[0])
        wanted = sorted(
            {c for a, b in ranges if b > a for c in range(a // chunk, (b - 1) // chunk + 1)}
        )
        self._chunk, self._length = chunk, int(ds.shape[0])
        self._dtype = ds.dtype
        self._client, self._key = fileobj.client, fileobj.key
        self._infos: dict[int, Any] = {}
        self._pending: deque[Any] = deque()
        self._groups: list[list[int]] = []
        self._sent = self._ready = self._running = 0
        self._stopped = False
        self._lock = threading.Lock()
        # each group is sent as soon as it is complete: the first GETs are in flight while
        # h5py still reads the rest of the chunk index (a miss, one round trip, per node)
        groups = self._groups
        for c in wanted:
            info = self._infos[c] = ds.id.get_chunk_info_by_coord((c * chunk,))
            if groups:
                last, first = self._infos[groups[-1][-1]], self._infos[groups[-1][0]]
                if (
                    groups[-1][-1] == c - 1
                    and info.byte_offset == last.byte_offset + last.size
                    and info.byte_offset + info.size - first.byte_offset <= GROUP_BYTES
                ):
                    groups[-1].append(c)
                    continue
            with self._lock:
                groups.append([c])
                self._ready = len(groups) - 1
            self._fill()
        with self._lock:
            self._ready = len(groups)
        self._fill()

    def _fill(self) -> None:
        """Start the next complete groups' GETs: ``AHEAD`` running, ``BUFFERED`` not yet
        taken by the caller, at most."""
        with self._lock:
            while (
                not self._stopped
                and self._sent < self._ready
                and self._running < AHEAD
                and len(self._pending) < BUFFERED
            ):
                self._pending.append(self._client.pool.submit(self._load, self._sent))
                self._sent += 1
                self._running += 1

    def _load(self, index: int) -> list[tuple[int, np.ndarray]]:
        """Group ``index``: one GET of neighbouring chunks, each inflated into its own run
        (no joins: a run's values are the inflated bytes themselves). Its end starts the
        next GET, before its result is handed over: the caller never finds nothing in
        flight while groups remain."""
        try:
            return self._fetch(self._groups[index])
        finally:
            with self._lock:
                self._running -= 1
            self._fill()

    def _fetch(self, group: list[int]) -> list[tuple[int, np.ndarray]]:
        infos = self._infos
        lo = infos[group[0]].byte_offset
        hi = infos[group[-1]].byte_offset + infos[group[-1]].size
        data = memoryview(self._client.get_bytes(self._key, lo, hi))
        nbytes = self._chunk * self._dtype.itemsize
        runs = []
        for c in group:
            info = infos[c]
            raw = data[info.byte_offset - lo : info.byte_offset - lo + info.size]
            inflated = raw if info.filter_mask & 1 else _inflate(raw, nbytes)
            start = c * self._chunk
            values = np.frombuffer(inflated, dtype=self._dtype)
            values = values[: min(self._chunk, len(values), self._length - start)]
            runs.append((start, values.astype(np.float64, copy=False)))
        return runs

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        break
                    future = self._pending.popleft()
                done = future.result()
                self._fill()
                yield from done
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop: GETs not started are dropped."""
        with self._lock:
            self._stopped = True
            while self._pending:
                self._pending.popleft().cancel()


def _bin_units(items: list[tuple[int, np.ndarray]], windows: Windows, counts: np.ndarray) -> None:
    """Bin trains into their rows of ``counts`` (each row written by one task only)."""
    for i, train in items:
        counts[i] = windows.count(train)


def _count_streamed(
    runs: Iterable[tuple[int, np.ndarray]],
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    windows: Windows,
    counts: np.ndarray,
) -> float:
    """Bin each unit as soon as the runs holding its whole train have arrived; returns the
    last spike time seen.

    The units of each run are binned on a thread pool (one task per run): numpy's searches
    and arithmetic release the GIL, so binning uses every core while the next runs are
    fetched and inflated.
    """
    from concurrent.futures import ThreadPoolExecutor

    order = sorted(range(len(rows)), key=lambda i: (starts[rows[i]], ends[rows[i]]))
    held: list[tuple[int, np.ndarray]] = []  # contiguous pieces of the current run
    last = 0.0
    k = 0
    tasks: list[Any] = []

    def bin_ready(until: int, pool: ThreadPoolExecutor) -> None:
        nonlocal k, last, held
        ready: list[tuple[int, np.ndarray]] = []
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
            ready.append((i, train))
            k += 1
        if ready:
            tasks.append(pool.submit(_bin_units, ready, windows, counts))
        if k < len(order):  # drop what no later unit needs
            keep = int(starts[rows[order[k]]])
            held = [(s, v) for s, v in held if s + len(v) > keep]

    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        try:
            for start, values in runs:
                if held and held[-1][0] + len(held[-1][1]) != start:
                    held = []  # a gap: every unit of the previous run is binned already
                held.append((start, values))
                bin_ready(start + len(values), pool)
            bin_ready(np.iinfo(np.int64).max, pool)
            for task in tasks:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
    return last
