"""Remote storage under :mod:`ppdata.nwb.open`: a Zarr store and an HDF5 file object.

- :class:`S3ZarrStore`: a read-only zarr v2 store of one Zarr folder in the bucket, with an
  LRU cache; chunk batches go through ``S3Client.get_many`` (concurrent).
- :class:`S3File`: a seekable file object over one object, with ranged reads and a block
  cache; h5py opens it directly.
"""

from __future__ import annotations

import bisect
import io
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, NWBError

if TYPE_CHECKING:
    from ..remote.s3 import S3Client

__all__ = ["BLOCK_SIZE", "S3File", "S3ZarrStore", "as_zarr_store"]


# --------------------------------------------------------------------------------------
# remote storage: a zarr store and a file object over S3Client
# --------------------------------------------------------------------------------------


#: A Zarr chunk's name (``0``, ``3.1.0``): the keys whose absence means "fill value".
_CHUNK = re.compile(r"\d+(\.\d+)*")


class _LRUBytes:
    """A byte-bounded LRU map of keys to bytes (thread-safe)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def __contains__(self, key: Any) -> bool:
        with self._lock:
            return key in self._items


class S3ZarrStore(MutableMapping[str, bytes]):
    """A read-only zarr v2 store of one Zarr folder in the bucket.

    Parameters
    ----------
    client : S3Client
        Where to read from (requests and bytes are counted in ``client.stats``).
    prefix : str
        Key of the Zarr folder (e.g. ``<asset>/nwb/<raw>_experiment1_recording1.nwb``).
    cache_bytes : int
        Size of the LRU cache of fetched objects (default 256 MiB).

    Notes
    -----
    ``getitems`` fetches a batch of chunks concurrently (``client.get_many``); zarr uses it
    for every multi-chunk selection. Missing keys raise ``KeyError`` (zarr then uses the
    fill value). Writes raise :class:`~ppdata.errors.NWBError`.
    """

    def __init__(self, client: S3Client, prefix: str, *, cache_bytes: int = 256 * 2**20) -> None:
        self.client = client
        self.prefix = prefix.strip("/")
        self._cache = _LRUBytes(cache_bytes)
        self._missing: set[str] = set()
        self._keys: list[str] | None = None

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def remember(self, key: str, value: bytes | None) -> None:
        """Seed the cache with an object already fetched (``None``: known to be missing)."""
        if value is None:
            self._missing.add(key)
        else:
            self._cache.put(key, value)

    def __getitem__(self, key: str) -> bytes:
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if key in self._missing:
            raise KeyError(key)
        try:
            value = self.client.get_bytes(self._full(key))
        except NotFound:
            self._absent(key)
            self._missing.add(key)
            raise KeyError(key) from None
        self._cache.put(key, value)
        return value

    def getitems(
        self, keys: Sequence[str], *, contexts: Mapping[str, Any] | None = None
    ) -> dict[str, bytes]:
        """Fetch many keys at once (concurrently); missing keys are left out."""
        out: dict[str, bytes] = {}
        need: list[str] = []
        for key in keys:
            hit = self._cache.get(key)
            if hit is not None:
                out[key] = hit
            elif key not in self._missing:
                need.append(key)
        if need:
            fetched = self.client.get_many([self._full(k) for k in need])
            for key in need:
                value = fetched.get(self._full(key))
                if value is None:
                    self._absent(key)
                self.remember(key, value)
                if value is not None:
                    out[key] = value
        return out

    def _absent(self, key: str) -> None:
        """A chunk the server says is not there reads as the fill value (Zarr's rule), unless
        the folder's listing has it: then the object vanished or the server is failing, and
        silently reading fill values would be wrong data."""
        if not _CHUNK.fullmatch(key.rsplit("/", 1)[-1]) or key not in set(self._all_keys()):
            return
        raise NWBError(
            f"s3://{self.client.bucket}/{self._full(key)} is listed, but the server says it "
            "does not exist (it changed on the server, or the server is failing); try again"
        )

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def _all_keys(self) -> list[str]:
        if self._keys is None:
            start = len(self.prefix) + 1 if self.prefix else 0
            base = f"{self.prefix}/" if self.prefix else ""
            self._keys = [o.key[start:] for o in self.client.list_objects(base)]
        return self._keys

    def listdir(self, path: str = "") -> list[str]:
        """Names directly under ``path`` (one recursive listing, then cached)."""
        path = path.strip("/")
        base = f"{path}/" if path else ""
        names = {k[len(base) :].split("/", 1)[0] for k in self._all_keys() if k.startswith(base)}
        return sorted(names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._all_keys())

    def __len__(self) -> int:
        return len(self._all_keys())

    def __setitem__(self, key: str, value: bytes) -> None:
        raise NWBError(f"{self.client.uri(self.prefix)} is read-only")

    def __delitem__(self, key: str) -> None:
        raise NWBError(f"{self.client.uri(self.prefix)} is read-only")

    def __repr__(self) -> str:
        return f"S3ZarrStore({self.client.uri(self.prefix)!r})"


_zarr_adapter_class: type | None = None


def as_zarr_store(store: S3ZarrStore) -> Any:
    """Wrap a :class:`S3ZarrStore` in a zarr ``BaseStore`` so zarr keeps ``getitems``."""
    global _zarr_adapter_class
    if _zarr_adapter_class is None:
        from zarr.storage import BaseStore

        class _Adapter(BaseStore):
            _readable = True
            _writeable = False
            _erasable = False
            _listable = True

            def __init__(self, inner: S3ZarrStore) -> None:
                self.inner = inner

            def __getitem__(self, key: str) -> bytes:
                return self.inner[key]

            def __contains__(self, key: object) -> bool:
                return key in self.inner

            def getitems(self, keys: Sequence[str], *, contexts: Any = None) -> Any:
                return self.inner.getitems(keys, contexts=contexts)

            def listdir(self, path: str = "") -> list[str]:
                return self.inner.listdir(path)

            def __iter__(self) -> Iterator[str]:
                return iter(self.inner)

            def __len__(self) -> int:
                return len(self.inner)

            def __setitem__(self, key: str, value: Any) -> None:
                self.inner[key] = value

            def __delitem__(self, key: str) -> None:
                del self.inner[key]

        _zarr_adapter_class = _Adapter
    return _zarr_adapter_class(store)


#: Bytes per cached block of a remote HDF5 file (see :class:`S3File`).
BLOCK_SIZE = 2 * 2**20
#: Byte ranges read by :meth:`S3File.read_ranges` less than this apart share one GET (the
#: bytes between cost less than another request).
READ_GAP = 64 * 2**10


class S3File(io.RawIOBase):
    """A read-only, seekable file object over one S3 object, with a block cache.

    Reads are served from aligned blocks (``block_size`` bytes) kept in an LRU cache;
    missing neighbouring blocks are fetched in one ranged GET, separate runs concurrently.
    h5py opens it directly (``h5py.File(S3File(...), "r")``).

    Parameters
    ----------
    client : S3Client
        Where to read from.
    key : str
        The object's key.
    size : int, optional
        The object's size; found with one HEAD request if not given.
    block_size : int
        Bytes per cached block (default 2 MiB). h5py's metadata reads are small and
        scattered, each a round trip on a miss: bigger blocks mean fewer of them but more
        bytes read that nobody asked for; runs of neighbouring blocks (array chunks) are
        fetched in one ranged GET whatever the block size. HDF5 writers put an object's
        header next to what was written at the same time, so the headers a read needs
        cluster in a few places: on the bench world's 282 MB complete NWB, opening it and
        reading the units table touches 5 blocks of 1 MiB but 4 of 2 MiB (7 MB in all).
    cache_bytes : int
        Bytes of blocks kept (default 256 MiB).
    """

    def __init__(
        self,
        client: S3Client,
        key: str,
        size: int | None = None,
        *,
        block_size: int = BLOCK_SIZE,
        cache_bytes: int = 256 * 2**20,
    ) -> None:
        super().__init__()
        self.client = client
        self.key = key
        self.size = client.head(key).size if size is None else int(size)
        self.block_size = int(block_size)
        self._blocks = _LRUBytes(cache_bytes)
        self._pos = 0
        self._lock = threading.Lock()
        #: the metadata walks made on this file, by their arguments (see
        #: :func:`ppdata.nwb.h5walk.prefetch_group`)
        self.walked: dict[Hashable, dict[str, int]] = {}

    @property
    def name(self) -> str:
        return self.client.uri(self.key)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def seed(self, data: bytes, start: int = 0) -> None:
        """Cache bytes of the object already read: ``data`` from byte ``start`` (default:
        its first bytes; ``size - len(data)``: its last). Only the whole blocks among them
        are kept (the object's last block, shorter, is whole when it ends at the end)."""
        end, size = start + len(data), self.block_size
        for b in range(-(-start // size), -(-min(end, self.size) // size)):
            if min((b + 1) * size, self.size) <= end:
                self._blocks.put(b, data[b * size - start : (b + 1) * size - start])

    def ends(self) -> list[tuple[int, int]]:
        """The byte ranges of the object's first and last blocks."""
        last = max(0, self.size - 1) // self.block_size * self.block_size
        return [(0, min(self.size, self.block_size)), (last, self.size)]

    def _missing(self, ranges: Iterable[tuple[int, int]]) -> list[int]:
        """The blocks covering byte ranges ``[start, end)`` that are not cached, in order."""
        wanted: set[int] = set()
        for start, end in ranges:
            end = min(end, self.size)
            if end > start:
                wanted.update(range(start // self.block_size, (end - 1) // self.block_size + 1))
        return sorted(b for b in wanted if b not in self._blocks)

    def cached(self, ranges: Iterable[tuple[int, int]]) -> bool:
        """Whether every byte of these ranges ``[start, end)`` is cached (nothing to fetch)."""
        return not self._missing(ranges)

    def prefetch(self, ranges: Iterable[tuple[int, int]]) -> None:
        """Make sure the blocks covering byte ranges ``[start, end)`` are cached."""
        missing = self._missing(ranges)
        if not missing:
            return
        runs: list[tuple[int, int]] = []
        for b in missing:
            if runs and runs[-1][1] == b:
                runs[-1] = (runs[-1][0], b + 1)
            else:
                runs.append((b, b + 1))
        byte_ranges = [
            (b0 * self.block_size, min(self.size, b1 * self.block_size)) for b0, b1 in runs
        ]
        if len(byte_ranges) == 1:
            datas = [self.client.get_bytes(self.key, *byte_ranges[0])]
        else:
            datas = self.client.get_ranges(self.key, byte_ranges)
        for (b0, b1), data in zip(runs, datas, strict=True):
            # each block its own copy: a view would keep the whole reply alive for as long as
            # any of its blocks is cached, past the cache's bound
            for b in range(b0, b1):
                off = (b - b0) * self.block_size
                self._blocks.put(b, bytes(data[off : off + self.block_size]))

    def read_range(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``: :meth:`read_ranges` of one range."""
        return self.read_ranges([(start, end)])[0]

    def read_ranges(self, ranges: Sequence[tuple[int, int]], *, gap: int = READ_GAP) -> list[bytes]:
        """The bytes of each range ``[start, end)``, for reads of array data by exact byte
        range: from the cached blocks when they hold all of a range, the others in ranged
        GETs of just those bytes (ranges less than ``gap`` apart share one GET), made
        concurrently. What is fetched is not cached as blocks."""
        out: list[bytes | None] = []
        missing: list[tuple[int, int]] = []
        for start, end in ranges:
            end = min(end, self.size)
            data = self._cached(start, end) if end > start else b""
            out.append(data)
            if data is None:
                missing.append((start, end))
        if not missing:
            return out  # type: ignore[return-value]
        spans: list[list[int]] = []
        for start, end in sorted(set(missing)):
            if spans and start - spans[-1][1] < gap:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        if len(spans) == 1:
            got = [self.client.get_bytes(self.key, *spans[0])]
        else:
            got = self.client.get_ranges(self.key, [(a, b) for a, b in spans])
        starts = [a for a, _ in spans]
        for i, data in enumerate(out):
            if data is None:
                start, end = ranges[i][0], min(ranges[i][1], self.size)
                k = bisect.bisect_right(starts, start) - 1
                out[i] = got[k][start - spans[k][0] : end - spans[k][0]]
        return out  # type: ignore[return-value]

    def _cached(self, start: int, end: int) -> bytes | None:
        """Bytes ``[start, end)`` if the cached blocks hold all of them."""
        first, last = start // self.block_size, (end - 1) // self.block_size
        blocks = [self._blocks.get(b) for b in range(first, last + 1)]
        if any(b is None for b in blocks):
            return None
        off = start - first * self.block_size
        # the bytes asked for copied once (not the whole blocks joined, then cut)
        views = [memoryview(b) for b in blocks if b is not None]
        if first == last:
            return bytes(views[0][off : off + end - start])
        views[-1] = views[-1][: end - last * self.block_size]
        views[0] = views[0][off:]
        return b"".join(views)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        with self._lock:
            start = self._pos
            end = min(self.size, start + len(view))
            if end <= start:
                return 0
            self.prefetch([(start, end)])
            written = 0
            pos = start
            while pos < end:
                b = pos // self.block_size
                block = self._blocks.get(b)
                if block is None:  # evicted in between: fetch again
                    self.prefetch([(pos, end)])
                    continue
                off = pos - b * self.block_size
                n = min(end - pos, len(block) - off)
                if n <= 0:
                    raise NWBError(f"{self.name} is shorter than its size {self.size}")
                view[written : written + n] = memoryview(block)[off : off + n]
                written += n
                pos += n
            self._pos = end
            return written

    def __repr__(self) -> str:
        return f"S3File({self.name!r}, size={self.size})"
