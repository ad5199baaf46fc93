"""Backends under :mod:`ppdata.nwb.open`: one interface over zarr groups and h5py files.

The remote storage they read through (``S3ZarrStore``, ``S3File``) is in
:mod:`ppdata.nwb.storage`.

- ``ZarrBackend`` / ``H5Backend``: one small interface over zarr groups and h5py files.
- :func:`install_safe_pickle`: hdmf-zarr stores strings and references as pickled object
  arrays; recent numcodecs refuse to unpickle. The installed codec only rebuilds numpy
  arrays of plain values (and hdmf-zarr references) and refuses anything else.
"""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from .storage import S3File, S3ZarrStore

__all__ = ["H5Backend", "ZarrBackend", "decode_value", "install_safe_pickle"]

# --------------------------------------------------------------------------------------
# safe decoding of hdmf-zarr's pickled object arrays
# --------------------------------------------------------------------------------------

_SAFE_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    # hdmf-zarr's object references: a dict subclass with no custom state
    ("hdmf_zarr.utils", "ZarrReference"),
}


def _safe_loads(data: bytes) -> Any:
    import pickle

    class _Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) in _SAFE_GLOBALS:
                return super().find_class(module, name)
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: only numpy arrays of plain values "
                "are allowed in NWB object arrays"
            )

    return _Unpickler(io.BytesIO(data)).load()


_SAFE_PICKLE_LOCK = threading.Lock()
_safe_pickle_class: type | None = None


def install_safe_pickle() -> type:
    """Register :class:`SafePickle` as the decoder of numcodecs' ``pickle`` codec id.

    Idempotent. Returns the registered class.
    """
    global _safe_pickle_class
    with _SAFE_PICKLE_LOCK:
        if _safe_pickle_class is None:
            import numcodecs
            from numcodecs.compat import ensure_contiguous_ndarray
            from numcodecs.pickles import Pickle

            class _SafePickle(Pickle):
                """numcodecs ``Pickle`` whose decode only rebuilds plain numpy arrays."""

                codec_id = "pickle"

                def decode(self, buf: Any, out: Any = None) -> Any:
                    data = ensure_contiguous_ndarray(buf).tobytes()
                    dec = _safe_loads(data)
                    if out is not None:
                        np.copyto(out, dec)
                        return out
                    return dec

            numcodecs.register_codec(_SafePickle)
            _safe_pickle_class = _SafePickle
        return _safe_pickle_class


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


R = TypeVar("R")


class _TreeBackend(Generic[R]):
    """What a zarr group and an h5py file answer alike: their nodes, by path from the root
    (``""`` is the root). ``remote`` is the storage a remote file is read through
    (``S3ZarrStore``, ``S3File``); ``None`` for a local file."""

    fmt: str

    def __init__(self, root: Any, remote: R | None) -> None:
        self.root = root
        self.remote = remote

    def node(self, path: str) -> Any:
        return self.root[path] if path else self.root

    def exists(self, path: str) -> bool:
        return not path or path in self.root

    def is_group(self, path: str) -> bool:
        return isinstance(self.node(path), self._group_type())

    def _group_type(self) -> type:
        raise NotImplementedError

    def children(self, path: str) -> list[str]:
        return list(self.node(path).keys())

    def array(self, path: str) -> Any:
        return self.node(path)


class ZarrBackend(_TreeBackend[S3ZarrStore]):
    fmt = "zarr"

    def _group_type(self) -> type:
        import zarr

        return zarr.hierarchy.Group

    def attrs(self, path: str) -> dict[str, Any]:
        return dict(self.node(path).attrs.asdict())

    def read(self, path: str, selection: Any) -> np.ndarray:
        arr = self.node(path)
        if selection is None:
            return np.asarray(arr[...])
        if isinstance(selection, tuple) and any(
            isinstance(s, (list, np.ndarray)) for s in selection
        ):
            return np.asarray(arr.oindex[selection])
        return np.asarray(arr[selection])

    def prefetch_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> None:
        """Fetch the chunks of a 1-D array covering ``[start, end)`` ranges, in one batch."""
        if self.remote is None:
            return
        arr = self.node(path)
        chunk = arr.chunks[0]
        wanted: set[int] = set()
        for start, end in ranges:
            if end > start:
                wanted.update(range(start // chunk, (end - 1) // chunk + 1))
        self.remote.getitems([f"{arr.path}/{i}" for i in sorted(wanted)])

    def prefetch(self, paths: Iterable[str]) -> None:
        """Fetch every chunk of these arrays in one concurrent batch (remote only)."""
        if self.remote is None:
            return
        keys: list[str] = []
        for path in paths:
            arr = self.node(path)
            grid = [range(-(-s // c)) for s, c in zip(arr.shape, arr.chunks, strict=True)]
            sep = getattr(arr, "_dimension_separator", None) or "."
            for idx in itertools.product(*grid):
                keys.append(f"{arr.path}/{sep.join(map(str, idx)) or '0'}")
        self.remote.getitems(keys)

    def close(self) -> None:
        pass


class H5Backend(_TreeBackend[S3File]):
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
        for idx in itertools.product(*bounds):
            coords = tuple(i * c for i, c in zip(idx, ds.chunks, strict=True))
            try:
                info = ds.id.get_chunk_info_by_coord(coords)
            except (KeyError, ValueError, RuntimeError, OSError):  # no such chunk
                continue
            if info.byte_offset is not None:
                out.append((info.byte_offset, info.byte_offset + info.size))
        return out

    def _read_contiguous(self, ds: Any, selection: Any) -> np.ndarray | None:
        """Rows of an uncompressed contiguous dataset read straight from their byte range
        (one ranged GET of exactly the rows asked for, not the blocks around them);
        ``None`` when the layout or the selection does not allow it."""
        if self.remote is None or ds.chunks is not None or ds.ndim == 0:
            return None
        if ds.dtype.kind not in "iuf" or ds.id.get_offset() is None:
            return None
        sel = selection if isinstance(selection, tuple) else (selection,)
        first = sel[0]
        if not isinstance(first, slice) or first.step not in (None, 1):
            return None
        r0, r1, _ = first.indices(ds.shape[0])
        r1 = max(r0, r1)
        row_bytes = ds.dtype.itemsize * int(np.prod(ds.shape[1:], dtype=np.int64))
        offset = ds.id.get_offset()
        if r1 == r0:
            data = np.empty((0, *ds.shape[1:]), dtype=ds.dtype)
        else:
            raw = self.remote.read_range(offset + r0 * row_bytes, offset + r1 * row_bytes)
            data = np.frombuffer(raw, dtype=ds.dtype).reshape((r1 - r0, *ds.shape[1:]))
        rest = _whole_axes(sel[1:])
        data = data[(slice(None), *rest)] if rest else data
        return np.array(_take_lists(data, sel[1:], axis=1))

    def read(self, path: str, selection: Any) -> np.ndarray:
        import h5py

        ds = self.node(path)
        if selection is not None:
            direct = self._read_contiguous(ds, selection)
            if direct is not None:
                return direct
        if self.remote is not None:
            self.remote.prefetch(
                self._ranges_for(ds, slice(None) if selection is None else selection)
            )
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
        if data.dtype.kind in "OS":
            data = np.array([decode_value(x) for x in data.ravel().tolist()], dtype=object).reshape(
                data.shape
            )
        return data

    def prefetch_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> None:
        """Fetch the chunks of a 1-D dataset covering ``[start, end)`` ranges, together."""
        if self.remote is None:
            return
        ds = self.node(path)
        byte_ranges: list[tuple[int, int]] = []
        for start, end in ranges:
            if end > start:
                byte_ranges.extend(self._ranges_for(ds, slice(start, end)))
        self.remote.prefetch(byte_ranges)

    def prefetch(self, paths: Iterable[str]) -> None:
        if self.remote is None:
            return
        ranges: list[tuple[int, int]] = []
        for path in paths:
            ranges.extend(self._ranges_for(self.node(path), slice(None)))
        self.remote.prefetch(ranges)

    def close(self) -> None:
        try:
            self.root.close()
        finally:
            if self.remote is not None:  # h5py does not close a file object it was given
                self.remote.close()
