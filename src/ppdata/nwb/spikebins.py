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
from collections.abc import Iterable, Iterator, Sequence
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


def _batches(ranges: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Positions in ``ranges`` grouped so each group holds at most ~BATCH_SPIKES spikes."""
    groups: list[list[int]] = [[]]
    held = 0
    for i, (a, b) in enumerate(ranges):
        if groups[-1] and held + b - a > BATCH_SPIKES:
            groups.append([])
            held = 0
        groups[-1].append(i)
        held += b - a
    return [g for g in groups if g]


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
    nwb: NWB, path: str, ranges: Sequence[tuple[int, int]], batch: list[int]
) -> list[tuple[int, np.ndarray]]:
    """The trains of a batch of units: neighbouring units' ranges merged into spans, the
    spans' chunks fetched in one concurrent batch and each span decoded once (a compressed
    chunk holds many units: slicing unit by unit would decompress it again for each)."""
    spans: list[list[int]] = []
    for i in sorted(batch, key=lambda i: ranges[i][0]):
        a, b = ranges[i]
        if spans and a - spans[-1][1] <= SPAN_GAP:
            spans[-1][1] = max(spans[-1][1], b)
            spans[-1][2:] += [i]
        else:
            spans.append([a, b, i])
    merged = [(s[0], s[1]) for s in spans]
    data = _read_deflated(nwb, path, merged)
    if data is None:
        data = nwb.read_ranges(path, merged)
    out = []
    for span, values in zip(spans, data, strict=True):
        values = np.asarray(values, dtype=np.float64)
        for i in span[2:]:
            a, b = ranges[i]
            out.append((i, values[a - span[0] : b - span[0]]))
    return out


def batched_trains(
    nwb: NWB, path: str, ranges: Sequence[tuple[int, int]]
) -> Iterator[list[tuple[int, np.ndarray]]]:
    """The trains of the units whose spikes are ``ranges`` of ``path``, batch by batch (local
    or Zarr files): ``(position in ranges, train)`` pairs.

    Many units per request batch (their chunks fetched together), never unit by unit;
    batches bound memory and keep the block cache from thrashing. The next batch is fetched
    and inflated while the caller bins this one (one batch in flight).
    """
    from concurrent.futures import ThreadPoolExecutor

    batches = _batches(ranges)
    if not batches:
        return
    with ThreadPoolExecutor(1) as reader:
        ahead = reader.submit(_read_trains, nwb, path, ranges, batches[0])
        for following in batches[1:]:
            trains = ahead.result()
            ahead = reader.submit(_read_trains, nwb, path, ranges, following)
            yield trains
        yield ahead.result()


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


def streamed_trains(
    runs: Iterable[tuple[int, np.ndarray]], ranges: Sequence[tuple[int, int]]
) -> Iterator[list[tuple[int, np.ndarray]]]:
    """The trains of the units whose spikes are ``ranges`` of the array that ``runs``
    (``(first element, values)``, in order, e.g. a :class:`_ChunkStream`) cover: each unit
    as soon as the runs holding its whole train have arrived, as ``(position in ranges,
    train)`` pairs, those completed by one run together."""
    order = sorted(range(len(ranges)), key=lambda i: ranges[i])
    held: list[tuple[int, np.ndarray]] = []  # contiguous pieces of the current run
    k = 0

    def complete(until: int) -> list[tuple[int, np.ndarray]]:
        nonlocal k, held
        ready: list[tuple[int, np.ndarray]] = []
        while k < len(order):
            i = order[k]
            a, b = ranges[i]
            if b > until and b > a:
                break
            if b > a:
                pieces = [v[max(a - s, 0) : b - s] for s, v in held if s < b and s + len(v) > a]
                ready.append((i, pieces[0] if len(pieces) == 1 else np.concatenate(pieces)))
            else:
                ready.append((i, np.empty(0, dtype=np.float64)))
            k += 1
        if k < len(order):  # drop what no later unit needs
            keep = ranges[order[k]][0]
            held = [(s, v) for s, v in held if s + len(v) > keep]
        return ready

    for start, values in runs:
        if held and held[-1][0] + len(held[-1][1]) != start:
            held = []  # a gap: every unit of the previous run is complete already
        held.append((start, values))
        yield complete(start + len(values))
    yield complete(np.iinfo(np.int64).max)


def _bin_units(items: list[tuple[int, np.ndarray]], windows: Windows, counts: np.ndarray) -> None:
    """Bin trains into their rows of ``counts`` (each row written by one task only)."""
    for i, train in items:
        counts[i] = windows.count(train)


def count_trains(
    trains: Iterable[list[tuple[int, np.ndarray]]], windows: Windows, counts: np.ndarray
) -> float:
    """Bin each group of ``(row, train)`` pairs into its rows of ``counts`` as it comes (from
    :func:`streamed_trains` or :func:`batched_trains`); returns the last spike time seen.

    Each group is binned on a thread pool (one task per group): numpy's searches and
    arithmetic release the GIL, so binning uses every core while the next trains are
    fetched and inflated. At most twice as many groups as threads wait to be binned (they
    hold memory).
    """
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    workers = max(1, min(4, os.cpu_count() or 1))
    last = 0.0
    tasks: deque[Future[None]] = deque()
    with ThreadPoolExecutor(workers) as pool:
        try:
            for group in trains:
                last = max([last, *(float(train[-1]) for _, train in group if train.size)])
                if group:
                    tasks.append(pool.submit(_bin_units, group, windows, counts))
                while len(tasks) > 2 * workers:
                    tasks.popleft().result()
            while tasks:
                tasks.popleft().result()
        finally:
            for task in tasks:
                task.cancel()
    return last
