"""Backends under :mod:`ppdata.nwb.open`: one interface over zarr groups and h5py files.

The remote storage they read through (``S3ZarrStore``, ``S3File``) is in
:mod:`ppdata.nwb.storage`.

- :class:`Backend`: what the :class:`~ppdata.nwb.file.NWB` handle asks of a file;
  ``ZarrBackend`` / ``H5Backend`` answer it over zarr groups and h5py files. The HDF5 one
  reads numbers stored as they are straight from their bytes (one reader for every
  caller: :meth:`NWB.read`, :meth:`NWB.read_ranges`, the project's units scan).
- The codec that decodes hdmf-zarr's pickled object arrays safely is in
  :mod:`ppdata.nwb.safepickle`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np

from ..errors import NWBError
from .storage import S3File, S3ZarrStore

if TYPE_CHECKING:
    from ..remote.s3 import S3Client
    from .h5walk import WholeMembers

__all__ = ["Backend", "H5Backend", "ZarrBackend", "decode_value"]

# --------------------------------------------------------------------------------------
# backends: one interface over zarr and h5py
# --------------------------------------------------------------------------------------


def decode_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _whole_axes(selection: tuple[Any, ...]) -> tuple[Any, ...]:
    """``selection`` with each list of indices replaced by its whole axis."""
    return tuple(slice(None) if isinstance(s, (list, np.ndarray)) else s for s in selection)


def _take_lists(data: Any, selection: tuple[Any, ...], axis: int = 0) -> Any:
    """Apply the index lists of ``selection`` to ``data`` read with :func:`_whole_axes`
    (``selection``'s first axis is ``data``'s ``axis``), one axis at a time."""
    for s in selection:
        if isinstance(s, (list, np.ndarray)):
            data = np.take(data, np.asarray(s, dtype=np.int64), axis=axis)
        if not isinstance(s, (int, np.integer)):  # an integer index drops its axis
            axis += 1
    return data


def _chunk_keys(arr: Any, ranges: Iterable[tuple[int, int]] | None = None) -> list[str]:
    """Keys of a zarr array's chunks holding rows ``[start, end)`` of ``ranges`` (on the
    first axis; every chunk of the other axes), or all of its chunks when ``None``."""
    if arr.ndim == 0:
        return [f"{arr.path}/0"]
    per = arr.chunks[0]
    if ranges is None:
        first: Iterable[int] = range(-(-arr.shape[0] // per))
    else:
        first = sorted({i for a, b in ranges if b > a for i in range(a // per, (b - 1) // per + 1)})
    rest = [range(-(-s // c)) for s, c in zip(arr.shape[1:], arr.chunks[1:], strict=True)]
    sep = getattr(arr, "_dimension_separator", None) or "."
    return [f"{arr.path}/{sep.join(map(str, i))}" for i in itertools.product(first, *rest)]


def _stored_ranges(ds: Any, spans: Sequence[tuple[int, int]]) -> list[list[tuple[int, int]]] | None:
    """For each span ``[a, b)`` of an h5py dataset's rows (first axis), the byte ranges of
    the file that hold those rows as they are stored, in order: when the dataset holds
    numbers stored as they are (contiguous, or in chunks without filters that span whole
    rows). ``None`` otherwise: compressed, strings or references, compact or external
    storage, chunks never written (those read as the fill value), a short storage. The
    spans are within the rows (:func:`_rows`)."""
    # h5py reads each property from the file's structures again: once each here
    shape, dtype, chunks = ds.shape, ds.dtype, ds.chunks
    if not shape or dtype.kind not in "biuf":
        return None
    row = dtype.itemsize * math.prod(shape[1:])
    if chunks is None:
        offset = ds.id.get_offset()
        if offset is None or ds.id.get_storage_size() != shape[0] * row:
            return None
        return [[(offset + a * row, offset + b * row)] if b > a else [] for a, b in spans]
    if tuple(chunks[1:]) != tuple(shape[1:]) or ds.id.get_create_plist().get_nfilters():
        return None
    per = int(chunks[0])
    offsets: dict[int, int] = {}
    out: list[list[tuple[int, int]]] = []
    for a, b in spans:
        pieces = []
        for c in range(a // per, (b - 1) // per + 1) if b > a else ():
            if c not in offsets:
                try:
                    info = ds.id.get_chunk_info_by_coord((c * per, *[0] * (len(shape) - 1)))
                except (KeyError, ValueError, RuntimeError, OSError):  # never written
                    return None
                if info.byte_offset is None or info.size != per * row:
                    return None
                offsets[c] = int(info.byte_offset)
            lo, hi = max(a, c * per) - c * per, min(b, (c + 1) * per) - c * per
            pieces.append((offsets[c] + lo * row, offsets[c] + hi * row))
        out.append(pieces)
    return out


def _rows(start: int | None, stop: int | None, n: int) -> tuple[int, int]:
    """Rows ``[start:stop]`` of ``n`` as a span within them (numpy's rules), never reversed."""
    a, b, _ = slice(start, stop).indices(n)
    return a, max(a, b)


def _from_bytes(
    dtype: np.dtype, shape: tuple[int, ...], parts: Sequence[bytes], where: str
) -> np.ndarray:
    """A new (writable) array of ``shape`` from its bytes, given in pieces (of ``where``)."""
    out = np.empty(shape, dtype=dtype)
    flat = out.reshape(-1).view(np.uint8)
    pos = 0
    for part in parts:
        flat[pos : pos + len(part)] = np.frombuffer(part, dtype=np.uint8)
        pos += len(part)
    if pos != out.nbytes:
        raise NWBError(
            f"cannot read {where}: got {pos:,} of the {out.nbytes:,} bytes its layout "
            "promises. The file may be truncated or corrupt"
        )
    return out


R = TypeVar("R")


class Backend(Protocol):
    """What :class:`ppdata.nwb.file.NWB` asks of a file's backend (:class:`ZarrBackend`,
    :class:`H5Backend`). Paths are inside the file, without a leading slash (``""`` is the
    root); an *array* is what :meth:`array` returns (a ``zarr.Array``, an ``h5py.Dataset``).
    The ``prefetch*`` methods fetch concurrently, ahead of the reads, and do nothing on a
    local file."""

    fmt: str
    root: Any

    def node(self, path: str) -> Any: ...

    def exists(self, path: str) -> bool: ...

    def is_group(self, path: str) -> bool: ...

    def children(self, path: str) -> list[str]: ...

    def array(self, path: str) -> Any: ...

    def attrs(self, path: str) -> dict[str, Any]: ...

    def read(self, path: str, selection: Any) -> np.ndarray: ...

    def read_array(self, array: Any, selection: Any = None, *, raw: bool = False) -> np.ndarray:
        """An open array, or a numpy-style ``selection`` of it; ``raw``: strings as stored."""
        ...

    def read_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> list[np.ndarray]:
        """Slices ``[start, end)`` of an array's rows, fetched in one concurrent batch."""
        ...

    def prefetch(self, paths: Iterable[str]) -> None: ...

    def prefetch_arrays(self, arrays: Iterable[Any]) -> None:
        """Fetch every chunk of these open arrays in one concurrent batch."""
        ...

    def prefetch_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> None:
        """Fetch the chunks holding rows ``[start, end)`` of an array, in one batch."""
        ...

    def prefetch_rows(self, paths: Sequence[str], ranges: Sequence[tuple[int, int]]) -> None:
        """Fetch, in one batch, what reading rows ``[start, end)`` of several arrays will
        need, where each read would otherwise wait for its own round trip (Zarr chunks);
        nothing where a read of rows fetches their exact bytes itself (HDF5)."""
        ...

    def prefetch_group(
        self, path: str, others: Sequence[str] = (), whole: WholeMembers = ()
    ) -> None:
        """Fetch the metadata of opening the group at ``path``, listing it and opening its
        members (and the data of its small arrays and of the members named in ``whole``),
        and of opening the arrays at ``others``: in one concurrent batch per step of the
        chain."""
        ...

    @property
    def hdf5_file(self) -> S3File | None:
        """The remote HDF5 file read through (``None`` for a local or a Zarr file)."""
        ...

    def link(self, path: str, name: str) -> str | None:
        """The target path of the link named ``name`` in the group at ``path`` (``None`` if
        there is none)."""
        ...

    def open_pynwb(self, source: str, client: S3Client | None) -> Any:
        """pynwb's reader of the file (``NWBZarrIO``, ``NWBHDF5IO``), opened, not read."""
        ...

    def close(self) -> None: ...


class _TreeBackend(Generic[R]):
    """What a zarr group and an h5py file answer alike: their nodes, by path from the root
    (``""`` is the root). ``remote`` is the storage a remote file is read through
    (``S3ZarrStore``, ``S3File``); ``None`` for a local file."""

    fmt: str

    def __init__(self, root: Any, remote: R | None) -> None:
        self.root = root
        self.remote = remote
        # the nodes looked up so far: a file is only read, and each look-up costs the
        # library a walk of the path (a units table's read looks each column up 3-4 times)
        self._nodes: dict[str, Any] = {}

    def node(self, path: str) -> Any:
        found = self._nodes.get(path)
        if found is None:
            found = self._nodes[path] = self.root[path] if path else self.root
        return found

    def exists(self, path: str) -> bool:
        return not path or path in self._nodes or path in self.root

    def is_group(self, path: str) -> bool:
        return isinstance(self.node(path), self._group_type())

    def _group_type(self) -> type:
        raise NotImplementedError

    def children(self, path: str) -> list[str]:
        return list(self.node(path).keys())

    def array(self, path: str) -> Any:
        return self.node(path)

    def read(self, path: str, selection: Any) -> np.ndarray:
        return self.read_array(self.node(path), selection)

    def read_array(self, array: Any, selection: Any = None, *, raw: bool = False) -> np.ndarray:
        raise NotImplementedError

    def prefetch(self, paths: Iterable[str]) -> None:
        """Fetch every chunk of the arrays at these paths in one concurrent batch."""
        if self.remote is not None:
            self.prefetch_arrays([self.node(path) for path in paths])

    def prefetch_arrays(self, arrays: Iterable[Any]) -> None:
        raise NotImplementedError

    def prefetch_group(
        self, path: str, others: Sequence[str] = (), whole: WholeMembers = ()
    ) -> None:
        """Nothing to do but for a remote HDF5 file (a Zarr's metadata is consolidated)."""


class ZarrBackend(_TreeBackend[S3ZarrStore]):
    fmt = "zarr"

    def _group_type(self) -> type:
        import zarr

        return zarr.hierarchy.Group

    def attrs(self, path: str) -> dict[str, Any]:
        return dict(self.node(path).attrs.asdict())

    def read_array(self, array: Any, selection: Any = None, *, raw: bool = False) -> np.ndarray:
        """``raw`` changes nothing here: zarr gives strings as they are stored."""
        if selection is None:
            return np.asarray(array[...])
        if isinstance(selection, tuple) and any(
            isinstance(s, (list, np.ndarray)) for s in selection
        ):
            return np.asarray(array.oindex[selection])
        return np.asarray(array[selection])

    def read_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> list[np.ndarray]:
        self.prefetch_ranges(path, ranges)
        arr = self.node(path)
        return [self.read_array(arr, slice(a, b)) for a, b in ranges]

    def prefetch_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> None:
        self.prefetch_rows([path], ranges)

    def prefetch_rows(self, paths: Sequence[str], ranges: Sequence[tuple[int, int]]) -> None:
        """Fetch the chunks holding rows ``[start, end)`` of several arrays, in one batch."""
        if self.remote is not None:
            self.remote.getitems([k for p in paths for k in _chunk_keys(self.node(p), ranges)])

    def prefetch_arrays(self, arrays: Iterable[Any]) -> None:
        if self.remote is not None:
            self.remote.getitems([k for arr in arrays for k in _chunk_keys(arr)])

    @property
    def hdf5_file(self) -> S3File | None:
        return None

    def link(self, path: str, name: str) -> str | None:
        """hdmf-zarr keeps a group's links in its ``zarr_link`` attribute."""
        for entry in self.attrs(path).get("zarr_link", []) or []:
            if isinstance(entry, dict) and entry.get("name") == name:
                return str(entry.get("path", "")).strip("/") or None
        return None

    def open_pynwb(self, source: str, client: S3Client | None) -> Any:
        """hdmf-zarr's reader; a remote file through s3fs (anonymous, the same endpoint,
        its requests counted in the client's stats)."""
        from hdmf_zarr import NWBZarrIO

        if client is None:
            return NWBZarrIO(source, mode="r")
        return NWBZarrIO(source, mode="r", storage_options=client.storage_options())

    def close(self) -> None:
        pass


class H5Backend(_TreeBackend[S3File]):
    """h5py's file. Numbers stored as they are (contiguous, or chunks without filters) are
    read from a remote file by their byte ranges, not through h5py's reader: one ranged GET
    of exactly the rows a selection asks for, and no h5py CPU for a whole array."""

    fmt = "hdf5"

    def _group_type(self) -> type:
        import h5py

        return h5py.Group

    def attrs(self, path: str) -> dict[str, Any]:
        import h5py

        out = {}
        for k, v in self.node(path).attrs.items():
            if isinstance(v, h5py.Reference):
                v = {"path": self.root[v].name}
            elif isinstance(v, np.ndarray) and v.dtype.kind in "OS":
                v = [decode_value(x) for x in v.tolist()]
            out[k] = decode_value(v)
        return out

    def _ranges_for(self, ds: Any, selection: Any) -> list[tuple[int, int]]:
        """Byte ranges of the chunks a selection touches (to prefetch them together)."""
        if ds.chunks is None:
            offset = ds.id.get_offset()
            return [] if offset is None else [(offset, offset + ds.id.get_storage_size())]
        sel = selection if isinstance(selection, tuple) else (selection,)
        bounds = []
        for dim, (size, chunk) in enumerate(zip(ds.shape, ds.chunks, strict=True)):
            s = sel[dim] if dim < len(sel) else slice(None)
            if isinstance(s, slice):
                start, stop, _ = s.indices(size)
            elif isinstance(s, (list, np.ndarray)):
                idx = np.asarray(s)
                start, stop = (int(idx.min()), int(idx.max()) + 1) if idx.size else (0, 0)
            else:
                start, stop = int(s), int(s) + 1
            if stop <= start:
                return []
            bounds.append(range(start // chunk, (stop - 1) // chunk + 1))
        out = []
        for position in itertools.product(*bounds):
            coords = tuple(i * c for i, c in zip(position, ds.chunks, strict=True))
            try:
                info = ds.id.get_chunk_info_by_coord(coords)
            except (KeyError, ValueError, RuntimeError, OSError):  # no such chunk
                continue
            if info.byte_offset is not None:
                out.append((info.byte_offset, info.byte_offset + info.size))
        return out

    def _read_stored(self, ds: Any, selection: Any) -> np.ndarray | None:
        """A selection read from the stored bytes (:func:`_stored_ranges`), by their exact
        byte ranges: rows ``[a:b]`` (then any selection of the other axes) or the whole
        array. A whole array of at most a block goes through the block cache (what is read
        next often sits beside it: headers, other columns); a larger one would only push
        those out. ``None`` for a local file, another layout or another selection."""
        if self.remote is None:
            return None
        sel = () if selection is None else selection
        sel = sel if isinstance(sel, tuple) else (sel,)
        first = sel[0] if sel else slice(None)
        if not isinstance(first, slice) or first.step not in (None, 1):
            return None
        shape = ds.shape
        if not shape:
            return None
        r0, r1 = _rows(first.start, first.stop, shape[0])
        stored = _stored_ranges(ds, [(r0, r1)])
        if stored is None:
            return None
        if selection is None and sum(b - a for a, b in stored[0]) <= self.remote.block_size:
            self.remote.prefetch(stored[0])
        data = _from_bytes(
            ds.dtype, (r1 - r0, *shape[1:]), self.remote.read_ranges(stored[0]), self._where(ds)
        )
        rest = sel[1:]
        if not rest:
            return data
        data = _take_lists(data[(slice(None), *_whole_axes(rest))], rest, axis=1)
        return np.ascontiguousarray(data)

    def _where(self, ds: Any) -> str:
        return f"{ds.name.lstrip('/')!r} in {self.remote.name if self.remote else self.root}"

    def _read_h5py(self, ds: Any, selection: Any, raw: bool) -> np.ndarray:
        import h5py

        if selection is None:
            data = ds[()]
        elif isinstance(selection, tuple) and any(
            isinstance(s, (list, np.ndarray)) for s in selection
        ):
            # h5py fancy indexing wants increasing indices, one axis at a time
            data = _take_lists(ds[_whole_axes(selection)], selection)
        else:
            data = ds[selection]
        data = np.asarray(data)
        if h5py.check_dtype(ref=ds.dtype) is not None:
            paths = [{"path": self.root[r].name if r else None} for r in data.ravel().tolist()]
            return np.array(paths, dtype=object).reshape(data.shape)
        if data.dtype.kind in "OS" and not raw:
            items = data.ravel().tolist()
            if all(type(x) is bytes for x in items):  # variable-length strings: all bytes
                decoded = [x.decode("utf-8", errors="replace") for x in items]
            else:
                decoded = [decode_value(x) for x in items]
            data = np.array(decoded, dtype=object).reshape(data.shape)
        return data

    def read_array(self, array: Any, selection: Any = None, *, raw: bool = False) -> np.ndarray:
        """``raw``: strings as h5py gives them (bytes), not decoded one by one."""
        stored = self._read_stored(array, selection)
        if stored is not None:
            return stored
        if self.remote is not None:
            self.remote.prefetch(
                self._ranges_for(array, slice(None) if selection is None else selection)
            )
        return self._read_h5py(array, selection, raw)

    def read_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> list[np.ndarray]:
        """Numbers stored as they are: the exact bytes of every range, in one concurrent
        batch (neighbours merged into one GET); anything else: the chunks covering them,
        then h5py."""
        ds = self.node(path)
        spans = [_rows(a, b, ds.shape[0]) for a, b in ranges] if ds.ndim else []
        if self.remote is None or not ds.ndim or (stored := _stored_ranges(ds, spans)) is None:
            self.prefetch_ranges(path, ranges)
            return [self._read_h5py(ds, slice(a, b), False) for a, b in ranges]
        datas = iter(self.remote.read_ranges([r for pieces in stored for r in pieces]))
        where = self._where(ds)
        return [
            _from_bytes(ds.dtype, (b - a, *ds.shape[1:]), [next(datas) for _ in pieces], where)
            for (a, b), pieces in zip(spans, stored, strict=True)
        ]

    def prefetch_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> None:
        """Fetch the chunks of a dataset covering rows ``[start, end)``, together."""
        if self.remote is None:
            return
        ds = self.node(path)
        byte_ranges: list[tuple[int, int]] = []
        for start, end in ranges:
            if end > start:
                byte_ranges.extend(self._ranges_for(ds, slice(start, end)))
        self.remote.prefetch(byte_ranges)

    def prefetch_rows(self, paths: Sequence[str], ranges: Sequence[tuple[int, int]]) -> None:
        """Nothing: a read of rows fetches what it needs itself (the rows' exact bytes, for
        numbers stored plain: :meth:`read_array`), where a prefetch by chunk would fetch a
        contiguous array whole."""

    def prefetch_arrays(self, arrays: Iterable[Any]) -> None:
        if self.remote is not None:
            self.remote.prefetch([r for ds in arrays for r in self._ranges_for(ds, slice(None))])

    def prefetch_group(
        self, path: str, others: Sequence[str] = (), whole: WholeMembers = ()
    ) -> None:
        """Follow the group's HDF5 metadata from the raw bytes, outside h5py's lock
        (:func:`ppdata.nwb.h5walk.prefetch_group`), so that h5py then finds it cached."""
        if self.remote is not None:
            self.walk(self.remote, path, others, whole)

    @staticmethod
    def walk(fileobj: S3File, path: str, others: Sequence[str], whole: WholeMembers) -> None:
        """:meth:`prefetch_group`'s walk on a remote file (also before h5py opens it: the
        open's ``prepare``). Large arrays get no chunk index: a read fetches its rows'."""
        from .h5walk import prefetch_group

        prefetch_group(fileobj, path, others=others, whole=whole, large_indexes=False)

    @property
    def hdf5_file(self) -> S3File | None:
        return self.remote

    def link(self, path: str, name: str) -> str | None:
        """A soft link's target, or the path of a hard-linked object."""
        import h5py

        full = f"{path}/{name}" if path else name
        if not self.exists(full):
            return None
        link = self.node(path).get(name, getlink=True)
        if isinstance(link, h5py.SoftLink):
            return str(link.path).strip("/") or None
        return str(self.node(full).name).strip("/")

    def open_pynwb(self, source: str, client: S3Client | None) -> Any:
        """pynwb's reader on the h5py file already open (its reads go through the same
        block cache)."""
        from pynwb import NWBHDF5IO

        return NWBHDF5IO(file=self.root, mode="r")

    def close(self) -> None:
        try:
            self.root.close()
        finally:
            if self.remote is not None:  # h5py does not close a file object it was given
                self.remote.close()
