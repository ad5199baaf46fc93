"""The :class:`NWB` handle: direct, cached access to an open file's groups and arrays.

Its accessors read with zarr or h5py (through the backends of :mod:`ppdata.nwb.backends`),
fetching only the chunks a selection needs, concurrently, and caching what was fetched;
:meth:`NWB.pynwb` gives the real ``pynwb.NWBFile`` for those who want it. Build one with
:func:`ppdata.nwb.open.open_nwb`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFound, NWBError, PpdataError
from . import STRICT_WINDOWS
from .backends import Backend, decode_value
from .formats import NWBFormat, format_errors
from .safepickle import install_safe_pickle
from .summary import summarize

if TYPE_CHECKING:
    from ..remote.s3 import S3Client
    from ..remote.stats import RequestCounts
    from .h5walk import WholeMembers
    from .storage import S3File

__all__ = ["NWB", "STRICT_WINDOWS"]

logger = logging.getLogger(__name__)


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
        backend: Backend,
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

    @property
    def hdf5_file(self) -> S3File | None:
        """The remote HDF5 file this reads through, for reads by byte range past h5py
        (``None`` for a local or a Zarr file)."""
        return self._backend.hdf5_file

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
        """Read several ``[start, end)`` slices of an array's rows, fetched in one batch.

        This is how ragged columns are read: the slices of ``spike_times`` for the units
        asked for, located with ``spike_times_index``. Numbers an HDF5 file stores as they
        are (contiguous, or chunks without filters) are fetched by the exact bytes of the
        slices; otherwise the chunks covering them are.
        """
        path = self._check(path)
        ranges = [(int(a), int(b)) for a, b in ranges]
        return self._guard(path, lambda: self._backend.read_ranges(path, ranges))

    def read_array(self, array: Any, selection: Any = None, *, decode: bool = True) -> np.ndarray:
        """Read an array already open (from :meth:`array`), or a selection of it, as
        :meth:`read` does, without looking it up by its path again (nothing is cached).

        Parameters
        ----------
        array : zarr.Array or h5py.Dataset
            An array of this file, from :meth:`array` or from its group.
        selection : slice, int, tuple, optional
            As for :meth:`read`; ``None`` reads the whole array.
        decode : bool
            ``False`` leaves strings as the file stores them (``bytes`` in HDF5) instead of
            decoding each one: for callers that decode a whole column at once (Arrow).

        Examples
        --------
        >>> s = ppdata.open_session("ecephys_820459_2025-11-12_14-34-33")
        >>> nwb = s.nwb()
        >>> units = nwb.array("units")
        >>> columns = [units["id"], units["snr"]]
        >>> nwb.prefetch_arrays(columns)  # both fetched in one concurrent batch
        >>> ids, snr = (nwb.read_array(c) for c in columns)
        >>> len(ids) == len(snr) == nwb.shape("units/id")[0]
        True
        >>> s.close()
        """
        what = str(array.name).strip("/")

        def run() -> np.ndarray:
            data = self._backend.read_array(array, selection, raw=not decode)
            return self._decode(data) if decode else data

        return self._guard(what, run)

    def prefetch_arrays(self, arrays: Iterable[Any]) -> None:
        """Fetch every chunk of these open arrays (from :meth:`array` or their group) in one
        concurrent batch, ahead of reading them with :meth:`read_array`.

        :meth:`prefetch` does the same by path; this spares looking each array up again
        when the caller holds them already. A local file does nothing.
        """
        arrays = list(arrays)
        what = ", ".join(str(a.name).strip("/") for a in arrays)
        self._guard(what, lambda: self._backend.prefetch_arrays(arrays))

    def link(self, path: str, name: str) -> str | None:
        """The target path of a link named ``name`` in group ``path`` (None if absent)."""
        path = self._check(path)
        return self._guard(f"{path}/{name}", lambda: self._backend.link(path, name))

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
        (gaps in the clock). The guessed rows of ``data`` are prefetched in the same batch as
        their timestamps where the backend gains by it (Zarr: ``Backend.prefetch_rows``).
        """
        n = min(n, self.shape(path)[0])
        if (start is None and stop is None) or path in self._cache or n < 4096:
            stamps = self.read(path)[:n]
            i0 = 0 if start is None else int(np.searchsorted(stamps, start, side="left"))
            i1 = n if stop is None else int(np.searchsorted(stamps, stop, side="left"))
            return i0, max(i0, i1), stamps[i0:i1]
        self._prefetch_rows([path], [(0, 1), (n - 1, n)])  # the first and last, in one batch
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
                self._prefetch_rows([path, *([data] if data else [])], [(a, b)])
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

    def _prefetch_rows(self, paths: Sequence[str], ranges: Sequence[tuple[int, int]]) -> None:
        """Fetch, in one batch, what reading these rows of these arrays will need (the
        backend's :meth:`~ppdata.nwb.backends.Backend.prefetch_rows`)."""
        self._guard(", ".join(paths), lambda: self._backend.prefetch_rows(paths, ranges))

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

    def prefetch_group(
        self, path: str, *, others: Sequence[str] = (), whole: WholeMembers = ()
    ) -> None:
        """Fetch what opening the group at ``path``, listing it, opening its members and
        reading its small arrays (columns of one value per row) will read, and what opening
        the arrays at ``others`` will, ahead of it: on a remote HDF5 file one concurrent
        batch per step of its metadata chain, where h5py would make one round trip per
        block it misses. Nothing is read that h5py would not, but the data of the members
        ``whole`` chooses (names, or a function of the member names: see
        :func:`ppdata.nwb.h5walk.prefetch_group`), which the caller will read next. The
        Zarr metadata is consolidated and a local file is read as it is, so both do nothing.

        A missing path, or a file laid out in a way the walk does not know, fetches less
        and raises nothing: the reads that follow find what they find.

        Examples
        --------
        >>> s = ppdata.open_session("ecephys_820459_2025-11-12_14-34-33")
        >>> nwb = s.nwb()
        >>> nwb.prefetch_group("units", others=["general/extracellular_ephys/electrodes/location"])
        >>> before = nwb.stats.requests
        >>> snr = nwb.read("units/snr")  # its header, chunk index and data were all fetched
        >>> nwb.stats.requests == before
        True
        >>> s.close()
        """
        paths = [p.strip("/") for p in others]
        self._guard(path, lambda: self._backend.prefetch_group(path.strip("/"), paths, whole))

    def prefetch_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> None:
        """Fetch the chunks holding rows ``[start, end)`` of an array, for every range, in
        one concurrent batch (ahead of reading them chunk by chunk); a local file does
        nothing."""
        path = self._check(path)
        ranges = [(int(a), int(b)) for a, b in ranges]
        self._guard(path, lambda: self._backend.prefetch_ranges(path, ranges))

    def read_table(
        self, path: str, columns: Sequence[str] | None = None, *, others: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Read the plain columns of a DynamicTable (ragged and nested ones skipped).

        ``others`` are paths of arrays fetched in the same concurrent batch as the columns,
        for reads that follow (a join with another table): one round trip instead of one
        more per array.

        Returns a dict of column name to array, plus ``"id"``.
        """
        path = self._check(path)
        names = list(columns) if columns is not None else self.table_columns(path)
        ragged = {n[: -len("_index")] for n in self.children(path) if n.endswith("_index")}
        plain = [n for n in names if n not in ragged and self.exists(f"{path}/{n}")]
        plain = [n for n in plain if not self.is_group(f"{path}/{n}")]
        self.prefetch([*(f"{path}/{n}" for n in ["id", *plain]), *others])
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
        self._io = self._backend.open_pynwb(self.source, self.client)
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
        except format_errors() as exc:
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
