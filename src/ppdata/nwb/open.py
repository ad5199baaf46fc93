"""Open an NWB file (Zarr or HDF5), local or on S3, and read its arrays directly.

:class:`NWB` is a thin handle over the file's groups and arrays. Its accessors read with
zarr or h5py, fetching only the chunks a selection needs, concurrently, and caching what
was fetched; :meth:`NWB.pynwb` gives the real ``pynwb.NWBFile`` for those who want it.

Remote Zarr goes through :class:`S3ZarrStore` (a read-only zarr v2 store over
:class:`ppdata.remote.s3.S3Client`: consolidated metadata in one request, chunk batches through
``get_many``); remote HDF5 through :class:`S3File` (a file object with ranged reads and a
block cache). Every request is counted in the client's ``stats``.

hdmf-zarr stores strings and references as pickled object arrays. Recent numcodecs refuse
to unpickle; ppdata installs a restricted decoder for the ``pickle`` codec id
(:func:`~ppdata.nwb.backends.install_safe_pickle`) that only rebuilds numpy arrays of plain
values and refuses anything else.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import threading
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFound, NWBError, PpdataError
from .backends import H5Backend, ZarrBackend, decode_value, install_safe_pickle
from .storage import S3File, S3ZarrStore, as_zarr_store

if TYPE_CHECKING:
    from .._html import NWBSummary
    from ..remote.s3 import S3Client
    from ..remote.transport import RequestCounts

__all__ = [
    "HDF5_SIGNATURE",
    "NWB",
    "NWBFormat",
    "S3File",
    "S3ZarrStore",
    "detect_format",
    "format_from_objects",
    "install_safe_pickle",
    "open_nwb",
    "summarize",
]

logger = logging.getLogger(__name__)

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Where HDF5 looks for its signature: offset 0, then 512, 1024, 2048 ... (user blocks).
_HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)
ZARR_MARKERS = (".zmetadata", ".zgroup")


#: When true (the command line sets it), an empty, reversed or out-of-range time window is an
#: :class:`~ppdata.errors.InvalidWindow` naming the valid range, instead of empty arrays.
STRICT_WINDOWS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "ppdata_strict_windows", default=False
)


class NWBFormat(StrEnum):
    """The storage backend of an NWB file."""

    ZARR = "zarr"
    HDF5 = "hdf5"


# --------------------------------------------------------------------------------------
# format detection (pure rule + I/O)
# --------------------------------------------------------------------------------------


def format_from_objects(names: Iterable[str] = (), head: bytes | None = None) -> NWBFormat | None:
    """Decide the format from what is there: Zarr markers among ``names``, or HDF5 bytes.

    Parameters
    ----------
    names : iterable of str
        Names (or keys) found inside the candidate folder.
    head : bytes, optional
        The first bytes of the candidate object (at least 8; more to find a user block).

    Returns
    -------
    NWBFormat or None
        ``None`` when neither rule matches.
    """
    if any(n.rstrip("/").rsplit("/", 1)[-1] in ZARR_MARKERS for n in names):
        return NWBFormat.ZARR
    if head is not None:
        for offset in _HDF5_OFFSETS:
            if head[offset : offset + 8] == HDF5_SIGNATURE:
                return NWBFormat.HDF5
    return None


def detect_format(source: str | Path, *, client: S3Client | None = None) -> NWBFormat:
    """Find whether ``source`` is a Zarr or an HDF5 NWB, from the objects themselves.

    Parameters
    ----------
    source : str or Path
        A local path, or (with ``client``) a key in the client's bucket.
    client : S3Client, optional
        Read ``source`` as a key of this client's bucket.

    Raises
    ------
    NWBError
        If ``source`` is neither a Zarr group nor an HDF5 file.
    """
    if client is None:
        path = Path(source)
        if path.is_dir():
            found = format_from_objects(p.name for p in path.iterdir())
        elif path.is_file():
            with path.open("rb") as fh:
                found = format_from_objects(head=fh.read(max(_HDF5_OFFSETS) + 8))
        else:
            raise NWBError(f"{path} does not exist: expected an NWB file or Zarr folder")
        if found is None:
            raise NWBError(_neither_message(str(path)))
        return found
    key = str(source).rstrip("/")
    markers = client.get_many([f"{key}/{m}" for m in ZARR_MARKERS])
    found = format_from_objects(markers)
    if found is None:
        try:
            head = client.get_bytes(key, 0, 8)
        except NotFound:
            raise NWBError(
                f"{client.uri(key)} is not an NWB: no object there and no Zarr group "
                f"({' or '.join(ZARR_MARKERS)}) under it"
            ) from None
        found = format_from_objects(head=head)
    if found is None:
        raise NWBError(_neither_message(client.uri(key)))
    return found


def _neither_message(where: str) -> str:
    return (
        f"{where} is neither a Zarr NWB (no .zgroup/.zmetadata) nor an HDF5 NWB (no HDF5 "
        "signature in its first bytes); pass the NWB folder or file itself"
    )


# --------------------------------------------------------------------------------------
# the handle
# --------------------------------------------------------------------------------------


class NWB:
    """An open NWB file: direct, cached access to its groups and arrays.

    Build it with :func:`open_nwb`. Paths are inside the file, without a leading slash
    (``"units/spike_times"``, ``"processing/VISp_0/images"``).

    Attributes
    ----------
    format : NWBFormat
        Zarr or HDF5.
    source : str
        The local path or ``s3://`` URI it was opened from.
    client : S3Client or None
        The client of a remote file (its ``stats`` count every request).
    """

    def __init__(
        self,
        backend: ZarrBackend | H5Backend,
        *,
        source: str,
        client: S3Client | None = None,
        key: str | None = None,
    ) -> None:
        self._backend = backend
        self.format = NWBFormat(backend.fmt)
        self.source = source
        self.client = client
        self.key = key
        self._cache: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._io: Any = None
        self._nwbfile: Any = None
        self._owned_client = False

    # -- life cycle -----------------------------------------------------------------------
    def __enter__(self) -> NWB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (and the pynwb reader, if one was opened)."""
        if self._io is not None:
            try:
                self._io.close()
            finally:
                self._io = None
                self._nwbfile = None
        self._backend.close()
        if self._owned_client and self.client is not None:
            self.client.close()

    def __repr__(self) -> str:
        return f"NWB({self.source!r}, format={self.format.value})"

    def _repr_html_(self) -> str:
        return summarize(self)._repr_html_()

    @property
    def name(self) -> str:
        """The file's (or folder's) name."""
        return self.source.rstrip("/").rsplit("/", 1)[-1]

    @property
    def stats(self) -> RequestCounts | None:
        """Requests and bytes counted by the client so far (``None`` for a local file)."""
        return None if self.client is None else self.client.stats.snapshot()

    # -- structure ------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        """True if the group or array exists."""
        return self._backend.exists(path.strip("/"))

    def is_group(self, path: str) -> bool:
        """True if ``path`` is a group (False for an array)."""
        return self._backend.is_group(self._check(path))

    def children(self, path: str = "") -> list[str]:
        """Names of the groups and arrays directly in a group (sorted)."""
        return sorted(self._backend.children(self._check(path)))

    def attrs(self, path: str = "") -> dict[str, Any]:
        """The attributes of a group or array (strings decoded)."""
        path = self._check(path)
        key = f"attrs:{path}"
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._guard(path, lambda: self._backend.attrs(path))
            return self._cache[key]

    def neurodata_type(self, path: str) -> str | None:
        """The NWB/hdmf type of an object (``"Units"``, ``"RoiResponseSeries"`` ...)."""
        return self.attrs(path).get("neurodata_type")

    def shape(self, path: str) -> tuple[int, ...]:
        """The shape of an array, without reading it."""
        path = self._check(path)
        return tuple(self._backend.array(path).shape)

    def array(self, path: str) -> Any:
        """The lazy array itself (``zarr.Array`` or ``h5py.Dataset``), for custom slicing."""
        return self._backend.array(self._check(path))

    # -- reading --------------------------------------------------------------------------
    def read(self, path: str, selection: Any = None) -> np.ndarray:
        """Read an array, or a selection of it (only the chunks needed are fetched).

        Parameters
        ----------
        path : str
            The array's path in the file.
        selection : slice, int, tuple, optional
            A numpy-style selection; lists/arrays select on one axis each (orthogonal).
            ``None`` reads the whole array and caches it.

        Returns
        -------
        numpy.ndarray
            Strings come back as Python ``str`` in an object array.

        Raises
        ------
        NotFound
            If there is no such array (the message lists what is there).
        NWBError
            If the array cannot be read (corrupt or truncated data).
        """
        path = self._check(path)
        if selection is not None:
            return self._guard(path, lambda: self._decode(self._backend.read(path, selection)))
        with self._lock:
            if path not in self._cache:
                self._cache[path] = self._guard(
                    path, lambda: self._decode(self._backend.read(path, None))
                )
            return self._cache[path]

    def read_scalar(self, path: str) -> Any:
        """Read a scalar dataset (stored as shape ``()`` or ``(1,)``) as a Python value."""
        value = self.read(path)
        flat = np.asarray(value).ravel()
        return decode_value(flat[0]) if flat.size else None

    def read_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> list[np.ndarray]:
        """Read several ``[start, end)`` slices of a 1-D array; chunks fetched in one batch.

        This is how ragged columns are read: the slices of ``spike_times`` for the units
        asked for, located with ``spike_times_index``.
        """
        path = self._check(path)
        ranges = [(int(a), int(b)) for a, b in ranges]

        def run() -> list[np.ndarray]:
            self._backend.prefetch_ranges(path, ranges)
            return [self._backend.read(path, slice(a, b)) for a, b in ranges]

        return self._guard(path, run)

    def link(self, path: str, name: str) -> str | None:
        """The target path of a link named ``name`` in group ``path`` (None if absent)."""
        path = self._check(path)
        for entry in self.attrs(path).get("zarr_link", []) or []:
            if isinstance(entry, dict) and entry.get("name") == name:
                return str(entry.get("path", "")).strip("/") or None
        if self.format is NWBFormat.HDF5 and self._backend.exists(f"{path}/{name}"):
            import h5py

            link = self._backend.node(path).get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                return str(link.path).strip("/") or None
            return str(self._backend.node(f"{path}/{name}").name).strip("/")
        return None

    def read_timeseries(
        self,
        path: str,
        start: float | None = None,
        stop: float | None = None,
        columns: Sequence[int] | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Read a TimeSeries' ``(times, data)`` between ``start`` and ``stop`` seconds.

        Works with explicit ``timestamps`` and with ``starting_time`` + rate; only the rows
        in ``[start, stop)`` (and the ``columns`` given, for 2-D data) are fetched.
        """
        path = self._check(path)
        n = self.shape(f"{path}/data")[0]
        strict = STRICT_WINDOWS.get()
        if strict and start is not None and stop is not None and stop <= start:
            from ..errors import InvalidWindow

            raise InvalidWindow(
                f"the time window {start:g}-{stop:g} s is "
                f"{'empty' if stop == start else 'reversed'}: stop must be after start "
                f"({self._span(path, n)})"
            )
        if self.exists(f"{path}/timestamps"):
            i0, i1, times = self._timestamp_window(
                f"{path}/timestamps", n, start, stop, data=f"{path}/data"
            )
        else:
            t0 = float(self.read_scalar(f"{path}/starting_time"))
            rate = float(self.attrs(f"{path}/starting_time").get("rate", 0.0))
            if rate <= 0:
                raise NWBError(f"{path} in {self.source} has neither timestamps nor a rate")
            i0 = 0 if start is None else max(0, int(np.ceil((start - t0) * rate - 1e-9)))
            i1 = n if stop is None else max(0, int(np.ceil((stop - t0) * rate - 1e-9)))
            i0, i1 = min(i0, n), min(max(i1, i0), n)
            times = t0 + np.arange(i0, i1) / rate
        i1 = max(i1, i0)
        if strict and i1 == i0 and n and (start is not None or stop is not None):
            from ..errors import InvalidWindow

            lo = "start" if start is None else f"{start:g}"
            hi = "end" if stop is None else f"{stop:g}"
            raise InvalidWindow(
                f"the time window {lo}-{hi} s holds no samples of {path}: {self._span(path, n)}"
            )
        if columns is None:
            data = self.read(f"{path}/data", slice(i0, i1))
        else:
            data = self.read(f"{path}/data", (slice(i0, i1), np.asarray(columns, dtype=np.int64)))
        return times, data

    def _span(self, path: str, n: int) -> str:
        """``the data covers 0.000-3.999 s (N samples)``, for window errors."""
        if self.exists(f"{path}/timestamps"):
            stamps = f"{path}/timestamps"  # only the first and the last stamp are read
            first = float(self.read(stamps, slice(0, 1))[0])
            last = float(self.read(stamps, slice(n - 1, n))[0])
        else:
            first = float(self.read_scalar(f"{path}/starting_time"))
            rate = float(self.attrs(f"{path}/starting_time").get("rate", 0.0)) or 1.0
            last = first + (n - 1) / rate
        return f"the data covers {first:.3f}-{last:.3f} s ({n:,} samples)"

    def _timestamp_window(
        self,
        path: str,
        n: int,
        start: float | None,
        stop: float | None,
        *,
        data: str | None = None,
    ) -> tuple[int, int, np.ndarray]:
        """Rows ``[i0, i1)`` of sorted timestamps in ``[start, stop)`` and their values,
        reading only the part of the array that covers the window.

        A whole window (or an array already read) reads the array; otherwise the first and
        last stamps give the mean rate, the guessed rows (plus a margin) are read and
        checked, and a binary search over single stamps takes over if the guess misses
        (gaps in the clock). In Zarr the guessed rows of ``data`` are fetched in the same
        batch as their timestamps.
        """
        n = min(n, self.shape(path)[0])
        if (start is None and stop is None) or path in self._cache or n < 4096:
            stamps = self.read(path)[:n]
            i0 = 0 if start is None else int(np.searchsorted(stamps, start, side="left"))
            i1 = n if stop is None else int(np.searchsorted(stamps, stop, side="left"))
            return i0, max(i0, i1), stamps[i0:i1]
        if self.format is NWBFormat.ZARR:  # the first and last chunks in one batch
            self._guard(path, lambda: self._backend.prefetch_ranges(path, [(0, 1), (n - 1, n)]))
        first = float(self.read(path, slice(0, 1))[0])
        last = float(self.read(path, slice(n - 1, n))[0])
        lo_t = first if start is None else start
        hi_t = last + 1.0 if stop is None else stop
        rate = (n - 1) / (last - first) if last > first else 0.0
        margin = 64
        if rate > 0:
            g0 = int(np.floor((lo_t - first) * rate)) - margin
            g1 = int(np.ceil((hi_t - first) * rate)) + margin
            a, b = min(max(g0, 0), n), min(max(g1, 0), n)
            if b > a:
                if self.format is NWBFormat.ZARR:
                    self._prefetch_rows([path, *([data] if data else [])], a, b)
                part = self.read(path, slice(a, b))
                covers_lo = a == 0 or part[0] < lo_t
                covers_hi = b == n or part[-1] >= hi_t
                if covers_lo and covers_hi:
                    j0 = int(np.searchsorted(part, lo_t, side="left"))
                    j1 = int(np.searchsorted(part, hi_t, side="left"))
                    return a + j0, a + max(j0, j1), part[j0:j1]
        i0 = 0 if start is None else self._search(path, n, start)
        i1 = n if stop is None else self._search(path, n, stop)
        i1 = max(i0, i1)
        return i0, i1, self.read(path, slice(i0, i1)) if i1 > i0 else np.empty(0)

    def _prefetch_rows(self, paths: Sequence[str], a: int, b: int) -> None:
        """Fetch, in one batch, the Zarr chunks holding rows ``[a, b)`` of these arrays."""
        store = getattr(self._backend, "store", None)
        if store is None:
            return
        keys: list[str] = []
        for path in paths:
            arr = self._backend.array(path)
            sep = getattr(arr, "_dimension_separator", None) or "."
            first = range(a // arr.chunks[0], (b - 1) // arr.chunks[0] + 1)
            rest = [range(-(-s // c)) for s, c in zip(arr.shape[1:], arr.chunks[1:], strict=True)]
            for index in itertools.product(first, *rest):
                keys.append(f"{arr.path}/{sep.join(str(i) for i in index)}")
        self._guard(", ".join(paths), lambda: store.getitems(keys))

    def _search(self, path: str, n: int, value: float) -> int:
        """``searchsorted(stamps, value, "left")`` by bisection, one stamp per probe."""
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if float(self.read(path, slice(mid, mid + 1))[0]) < value:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def prefetch(self, paths: Iterable[str]) -> None:
        """Fetch every chunk of these arrays at once (concurrently), ahead of reading them.

        Arrays already read whole (and cached) are skipped; a local file does nothing.
        """
        checked = [c for c in (self._check(p) for p in paths) if c not in self._cache]
        if checked:
            self._guard(", ".join(checked), lambda: self._backend.prefetch(checked))

    def read_table(self, path: str, columns: Sequence[str] | None = None) -> dict[str, Any]:
        """Read the plain columns of a DynamicTable (ragged and nested ones skipped).

        Returns a dict of column name to array, plus ``"id"``.
        """
        path = self._check(path)
        names = list(columns) if columns is not None else self.table_columns(path)
        ragged = {n[: -len("_index")] for n in self.children(path) if n.endswith("_index")}
        plain = [n for n in names if n not in ragged and self.exists(f"{path}/{n}")]
        plain = [n for n in plain if not self.is_group(f"{path}/{n}")]
        self.prefetch(f"{path}/{n}" for n in ["id", *plain])
        out = {"id": self.read(f"{path}/id")}
        for name in plain:
            out[name] = self.read(f"{path}/{name}")
        return out

    def table_columns(self, path: str) -> list[str]:
        """Column names of a DynamicTable, in the file's order."""
        colnames = self.attrs(path).get("colnames")
        if colnames is None:
            return [c for c in self.children(path) if c != "id"]
        if isinstance(colnames, str):
            return [colnames]
        return [str(c) for c in colnames]

    # -- pynwb ----------------------------------------------------------------------------
    def pynwb(self) -> Any:
        """The file read by pynwb (``NWBZarrIO`` or ``NWBHDF5IO``), opened once and kept.

        For a remote Zarr file hdmf-zarr reads through s3fs (anonymous, same endpoint,
        its requests counted in ``stats`` too); pynwb reads every scalar and attribute when
        it opens a file, so this costs far more requests than the accessors.
        """
        with self._lock:
            if self._nwbfile is None:
                self._nwbfile = self._guard("/", self._open_pynwb)
            return self._nwbfile

    def _open_pynwb(self) -> Any:
        install_safe_pickle()
        if self.format is NWBFormat.ZARR:
            from hdmf_zarr import NWBZarrIO

            if self.client is None:
                self._io = NWBZarrIO(self.source, mode="r")
            else:
                self._io = NWBZarrIO(
                    self.source, mode="r", storage_options=self.client.storage_options()
                )
        else:
            from pynwb import NWBHDF5IO

            self._io = NWBHDF5IO(file=self._backend.root, mode="r")
        return self._io.read()

    # -- helpers --------------------------------------------------------------------------
    def _check(self, path: str) -> str:
        path = path.strip("/")
        if self._backend.exists(path):
            return path
        parent = path.rpartition("/")[0]
        while parent and not self._backend.exists(parent):
            parent = parent.rpartition("/")[0]
        there = self._backend.children(parent) if self._backend.is_group(parent) else []
        listing = ", ".join(sorted(there)) or "nothing"
        raise NotFound(f"{path!r} is not in {self.name}: {parent or 'the root'} holds {listing}")

    def _guard(self, what: str, call: Any) -> Any:
        try:
            return call()
        except PpdataError:
            raise
        except _format_errors() as exc:
            raise NWBError(
                f"cannot read {what!r} in {self.source}: {type(exc).__name__}: {exc}. "
                "The file may be truncated or corrupt"
            ) from exc

    @staticmethod
    def _decode(data: np.ndarray) -> np.ndarray:
        if data.dtype.kind == "S":
            return np.array(
                [x.decode("utf-8", "replace") for x in data.ravel()], dtype=object
            ).reshape(data.shape)
        if data.dtype.kind == "O" and data.size and isinstance(data.flat[0], bytes):
            return np.array([decode_value(x) for x in data.ravel()], dtype=object).reshape(
                data.shape
            )
        return data


def open_nwb(
    source: str | Path,
    *,
    client: S3Client | None = None,
    format: NWBFormat | str | None = None,
    size: int | None = None,
) -> NWB:
    """Open an NWB file lazily, local or remote.

    Parameters
    ----------
    source : str or Path
        A local path (file or Zarr folder); an ``s3://`` URI; or, with ``client``, a key in
        the client's bucket.
    client : S3Client, optional
        Read remotely through this client. Without one, an ``s3://`` URI gets its own
        client from the settings (``PPDATA_*`` / defaults), closed with the NWB.
    format : {"zarr", "hdf5"}, optional
        Skip detection when the format is known (saves one or two requests).
    size : int, optional
        Size of a remote single object (an HDF5 file), if known from a listing: saves a
        HEAD request, and the Zarr probe (one object is never a Zarr folder; the HDF5
        signature is still checked).

    Returns
    -------
    NWB

    Raises
    ------
    NWBError
        If ``source`` is not an NWB, or its metadata cannot be read (truncated/corrupt).
    """
    fmt = NWBFormat(format) if format is not None else None
    if client is None and str(source).startswith("s3://"):
        from ..remote.s3 import S3Client, parse_s3_uri
        from ..settings import Settings

        own = S3Client(Settings.resolve(bucket=parse_s3_uri(str(source))[0]))
        try:
            nwb = open_nwb(source, client=own, format=fmt, size=size)
        except BaseException:
            own.close()
            raise
        nwb._owned_client = True
        return nwb
    if client is None:
        path = Path(source)
        fmt = fmt or detect_format(path)
        return _open_local(path, fmt)
    key = client.key_of(str(source)).rstrip("/")
    return _open_remote(client, key, fmt, size)


def _open_local(path: Path, fmt: NWBFormat) -> NWB:
    source = str(path)
    if fmt is NWBFormat.ZARR:
        import zarr

        install_safe_pickle()
        try:
            if (path / ".zmetadata").exists():
                root = zarr.open_consolidated(str(path), mode="r")
            else:
                root = zarr.open_group(str(path), mode="r")
        except _format_errors() as exc:
            raise NWBError(_open_message(source, ".zmetadata/.zgroup", exc)) from exc
        return NWB(ZarrBackend(root, None), source=source)
    import h5py

    try:
        root = h5py.File(path, "r")
    except _format_errors() as exc:
        raise NWBError(_open_message(source, "the HDF5 superblock", exc)) from exc
    return NWB(H5Backend(root, None), source=source)


def _open_remote(
    client: S3Client,
    key: str,
    fmt: NWBFormat | None,
    size: int | None,
    first: bytes | None = None,
    block_size: int | None = None,
) -> NWB:
    """Open a remote NWB; ``first``: its first bytes, already read with its size;
    ``block_size``: of an HDF5 file's block cache (default
    :data:`ppdata.nwb.storage.BLOCK_SIZE`)."""
    source = client.uri(key)
    store = S3ZarrStore(client, key)
    if fmt is None and size is not None:
        fmt = NWBFormat.HDF5  # a listing showed one object: not a Zarr folder
    if fmt is None or fmt is NWBFormat.ZARR:
        markers = client.get_many([f"{key}/{m}" for m in ZARR_MARKERS])
        for marker in ZARR_MARKERS:
            store.remember(marker, markers.get(f"{key}/{marker}"))
        if format_from_objects(markers) is NWBFormat.ZARR:
            fmt = NWBFormat.ZARR
        elif fmt is NWBFormat.ZARR:
            raise NWBError(f"{source} is not a Zarr NWB: no .zgroup/.zmetadata under it")
    if fmt is NWBFormat.ZARR:
        import zarr

        install_safe_pickle()
        zstore = as_zarr_store(store)
        try:
            if ".zmetadata" in store:
                root = zarr.open_consolidated(zstore, mode="r")
            else:
                root = zarr.open_group(zstore, mode="r")
        except PpdataError:
            raise
        except _format_errors() as exc:
            raise NWBError(_open_message(source, ".zmetadata/.zgroup", exc)) from exc
        return NWB(ZarrBackend(root, store), source=source, client=client, key=key)

    try:
        fileobj = (
            S3File(client, key, size)
            if block_size is None
            else S3File(client, key, size, block_size=block_size)
        )
    except NotFound:
        raise NWBError(
            f"{source} is not an NWB: no object there and no Zarr group under it"
        ) from None
    if first:
        fileobj.seed(first)
    fileobj.prefetch([(0, min(fileobj.size, fileobj.block_size))])
    head = fileobj.read(max(_HDF5_OFFSETS) + 8)
    fileobj.seek(0)
    if format_from_objects(head=head) is not NWBFormat.HDF5:
        raise NWBError(_neither_message(source))
    import h5py

    try:
        root = h5py.File(fileobj, "r")
    except PpdataError:
        raise
    except _format_errors() as exc:
        raise NWBError(_open_message(source, "the HDF5 superblock", exc)) from exc
    return NWB(H5Backend(root, fileobj), source=source, client=client, key=key)


def _format_errors() -> tuple[type[BaseException], ...]:
    """What h5py, zarr, numcodecs and hdmf raise on a file that is truncated or corrupt
    (a bug in ppdata, such as an AttributeError, is not among them and surfaces as it is)."""
    import pickle
    import zlib

    return (
        OSError,
        ValueError,
        KeyError,
        IndexError,
        RuntimeError,
        EOFError,
        zlib.error,
        pickle.UnpicklingError,
    )


def _open_message(source: str, obj: str, exc: BaseException) -> str:
    return (
        f"cannot open {source}: reading {obj} failed ({type(exc).__name__}: {exc}); "
        "the NWB may be truncated or corrupt"
    )


def summarize(nwb: NWB) -> NWBSummary:
    """What an NWB holds, from its metadata (cheap: no array data is read).

    Returns
    -------
    NWBSummary
        ``format``, ``source``, ``session_id``, ``identifier``, ``session_start_time``,
        ``acquisition``, ``processing`` (module names), ``intervals``, ``n_units``,
        ``probes`` (electrode groups), ``lfp`` (series paths), ``planes`` (modules with an
        ROI table or ΔF/F), and the client's ``stats``; a card in Jupyter, ``to_dict()``
        for JSON.
    """
    from .._html import NWBSummary

    return NWBSummary(**_summary_fields(nwb), stats=nwb.stats)


def _summary_fields(nwb: NWB) -> dict[str, Any]:
    scalars = ["session_id", "identifier", "session_start_time", "general/session_id"]
    present = [p for p in scalars if nwb.exists(p) and not nwb.is_group(p)]
    nwb.prefetch(present)

    def scalar(path: str) -> Any:
        return nwb.read_scalar(path) if path in present else None

    def names(path: str) -> list[str]:
        return nwb.children(path) if nwb.exists(path) and nwb.is_group(path) else []

    modules = names("processing")
    planes = sorted(
        (
            m
            for m in modules
            if nwb.exists(f"processing/{m}/image_segmentation")
            or nwb.exists(f"processing/{m}/dff_timeseries")
        ),
        key=lambda m: (int(m.rsplit("_", 1)[1]) if m.rsplit("_", 1)[-1].isdigit() else 10**6, m),
    )
    lfp = [
        f"processing/{m}/{c}/{s}"
        for m in modules
        for c in names(f"processing/{m}")
        if "lfp" in c.lower()
        for s in names(f"processing/{m}/{c}")
        if s.endswith("-LFP") or s.startswith("ElectricalSeries")
    ]
    groups = [
        g
        for g in names("general/extracellular_ephys")
        if g != "electrodes" and nwb.is_group(f"general/extracellular_ephys/{g}")
    ]
    return {
        "format": nwb.format.value,
        "source": nwb.source,
        "session_id": scalar("general/session_id") or scalar("session_id"),
        "identifier": scalar("identifier"),
        "session_start_time": scalar("session_start_time"),
        "acquisition": names("acquisition"),
        "processing": modules,
        "intervals": names("intervals"),
        "n_units": nwb.shape("units/id")[0] if nwb.exists("units/id") else 0,
        "probes": groups,
        "lfp": lfp,
        "planes": planes,
    }
