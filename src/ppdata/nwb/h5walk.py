"""Fetch the HDF5 metadata h5py will read, ahead of it, in concurrent batches.

h5py holds one global lock while it reads, so each block it misses on a remote file is a
round trip that every other thread of the process waits for. Opening ``/units`` and its
columns takes a chain of such misses (the root group's symbol table node, the group's
header and its continuation, its symbol table nodes, each column's header), each known
only from the one before. This module follows that chain itself, from the raw bytes,
outside h5py's lock: at each step it reads every address it has learned, across every
path asked for, in one concurrent batch through the file's block cache
(:meth:`ppdata.nwb.storage.S3File.prefetch`), then h5py finds all it needs cached.

It knows the structures h5py and pynwb write by default (HDF5 ``libver="earliest"``):
superblock version 0 or 1, version-1 object headers, groups as symbol tables (a v1 B-tree
of symbol table nodes over a local heap), attributes of variable-length strings in global
heap collections. On anything else (a newer superblock, a version-2 object header, a link
table) it stops and leaves the rest to h5py: the walk only ever saves round trips, it never
changes what is read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["WholeMembers", "prefetch_group"]

#: Byte ranges ``[start, end)`` a step needs before it can go on.
Need = list[tuple[int, int]]
Walk = Generator[Need, None, Any]

_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_DATASPACE, _DATATYPE, _LAYOUT, _FILTERS, _ATTRIBUTE = 0x01, 0x03, 0x08, 0x0B, 0x0C
_CONTINUATION, _SYMBOL_TABLE = 0x10, 0x11
_VLEN = 9
#: A bound on anything read by size from the file (a header chunk, a heap, a collection).
_MAX_PIECE = 8 * 2**20
#: The size limit of an array fetched whole whatever its size.
_NO_LIMIT = 2**62
#: The members of a group whose data a walk fetches whatever their size: their names, or a
#: function that chooses them from the names of the group's members.
WholeMembers: TypeAlias = Sequence[str] | Callable[[Collection[str]], Iterable[str]]
#: Bound on chained steps (B-tree levels, header continuations): a corrupt file ends here.
_MAX_STEPS = 16


class _Stop(Exception):
    """The file is not what the walk knows: stop and leave the rest to h5py."""


@dataclass(frozen=True)
class _Entry:
    """A symbol table entry: the object's header, and its group's B-tree and heap if the
    entry caches them."""

    header: int
    btree: int | None = None
    heap: int | None = None


class _File:
    """The superblock's sizes and root entry, and reads of cached bytes."""

    def __init__(self, fileobj: Any) -> None:
        self.fileobj = fileobj
        head = self.read(0, 128)
        if head[:8] != _SIGNATURE or head[8] not in (0, 1):
            raise _Stop("not a version 0/1 superblock")
        self.o, self.l = head[13], head[14]
        if self.o not in (4, 8) or self.l not in (4, 8):
            raise _Stop("unusual sizes of offsets or lengths")
        self.leaf_k, self.node_k = struct.unpack_from("<HH", head, 16)
        #: K of chunk B-trees: in a version-1 superblock, else HDF5's default
        self.chunk_k = struct.unpack_from("<H", head, 24)[0] if head[8] == 1 else 32
        self.undefined = (1 << (8 * self.o)) - 1
        root = 24 + (4 if head[8] == 1 else 0) + 4 * self.o
        self.root = self.entry(head, root)
        self.entry_size = 2 * self.o + 24
        self.node_size = 8 + 2 * self.o + (2 * self.node_k + 1) * self.l + 2 * self.node_k * self.o
        self.snod_size = 8 + 2 * self.leaf_k * self.entry_size
        #: whether a large array's chunk index is fetched (see :func:`prefetch_group`)
        self.large_indexes = True

    def cached(self, need: Need) -> bool:
        """Whether the file object already holds every byte of ``need`` (one that cannot
        say is taken not to)."""
        check = getattr(self.fileobj, "cached", None)
        return bool(check is not None and check(need))

    def read(self, start: int, size: int) -> bytes:
        if size < 0 or size > _MAX_PIECE or start < 0 or start + size > self.fileobj.size:
            raise _Stop(f"a read of {size} bytes at {start} is outside the file")
        return bytes(self.fileobj.read_range(start, start + size))

    def off(self, data: bytes, at: int) -> int:
        return int.from_bytes(data[at : at + self.o], "little")

    def length(self, data: bytes, at: int) -> int:
        return int.from_bytes(data[at : at + self.l], "little")

    def entry(self, data: bytes, at: int) -> _Entry:
        header = self.off(data, at + self.o)
        (cache,) = struct.unpack_from("<I", data, at + 2 * self.o)
        if cache == 1:
            scratch = at + 2 * self.o + 8
            return _Entry(header, self.off(data, scratch), self.off(data, scratch + self.o))
        return _Entry(header)


def prefetch_group(
    fileobj: Any,
    group: str,
    *,
    others: Sequence[str] = (),
    data_limit: int = 2**20,
    large_indexes: bool = True,
    whole: WholeMembers = (),
) -> dict[str, int]:
    """Fetch what h5py reads to open ``group``, list its members, open each of them and
    read the small ones, and to open and read the objects at the paths ``others``: in one
    concurrent batch per step.

    Parameters
    ----------
    fileobj : S3File
        The remote file (its first block already read, as :func:`ppdata.nwb.open` does).
    group : str
        A group's path, e.g. ``"units"``.
    others : sequence of str
        Paths of other objects to open (``"general/extracellular_ephys/electrodes"``).
    data_limit : int
        Arrays whose stored data are at most this many bytes (a column of one number per
        unit) are fetched whole: their chunk index, their chunks and, for variable-length
        strings, the global heap collections holding them. Larger ones (spike times,
        waveforms) only get their header and chunk index fetched.
    large_indexes : bool
        Whether to fetch the chunk index of the larger arrays (to read parts of them next);
        without, only their header.
    whole : sequence of str, or callable
        Members of ``group`` whose data are fetched whatever their size (a column a join
        reads whole): beside the other steps, not in a round trip after the walk. A
        function is given the names of the group's members and returns those to fetch
        (so that a join's column is fetched only where the join will be made).

    Returns
    -------
    dict
        Member name -> address of its object header; empty when the file is not one the
        walk knows (then nothing is lost: h5py reads as it would have).

    Notes
    -----
    A file object with a ``walked`` dict (:class:`~ppdata.nwb.storage.S3File`) keeps each
    walk's result there, and the same walk again returns it without walking: what it
    fetched is in the file's block cache (or, evicted since, read by h5py as it goes).
    """
    # the same walk again on the same file (an open's prepare, then the read it prepared
    # for) is CPU only, all of it cached: its result is kept on the file object
    done = getattr(fileobj, "walked", None)
    chosen = whole if callable(whole) else tuple(whole)
    key = (group, tuple(others), data_limit, large_indexes, chosen)
    if done is not None and key in done:
        return dict(done[key])
    found = _walk(fileobj, group, others, data_limit, large_indexes, whole)
    if done is not None:
        done[key] = dict(found)
    return found


def _walk(
    fileobj: Any,
    group: str,
    others: Sequence[str],
    data_limit: int,
    large_indexes: bool,
    whole: WholeMembers,
) -> dict[str, int]:
    try:
        f = _File(fileobj)
        f.large_indexes = large_indexes
        walks = [
            _header(f, f.root.header),  # h5py reads it (and its continuations) to open the file
            _members(f, _parts(group), data_limit, whole),
            *(_object(f, _parts(p), data_limit) for p in others),
        ]
        results = _drive(fileobj, _parallel(f, *walks))
    except (_Stop, struct.error, IndexError, ValueError):
        return {}
    return results[1] or {}


def _parts(path: str) -> list[str]:
    return [p for p in path.strip("/").split("/") if p]


def _drive(fileobj: Any, walk: Walk) -> Any:
    """Run a walk: fetch each step's ranges (one concurrent batch), resume it."""
    try:
        need = next(walk)
        while True:
            fileobj.prefetch(need)
            need = walk.send(None)
    except StopIteration as done:
        return done.value


def _parallel(f: _File, *walks: Walk) -> Walk:
    """Walks run side by side: each step fetches what all of them need next. A walk whose
    next need is already cached goes on at once instead of waiting for the others' fetch,
    so a chain of cached links (a group path whose headers share a block) costs no round
    trip of its own."""
    results: list[Any] = [None] * len(walks)
    live: dict[int, Need] = {}

    def advance(i: int, started: bool) -> None:
        walk = walks[i]
        try:
            need = walk.send(None) if started else next(walk)
            while f.cached(need):
                need = walk.send(None)
            live[i] = need
        except StopIteration as done:
            results[i] = done.value
            live.pop(i, None)

    for i in range(len(walks)):
        advance(i, started=False)
    while live:
        yield [r for need in live.values() for r in need]
        for i in list(live):
            advance(i, started=True)
    return results


# --- walks -------------------------------------------------------------------------------


def _members(f: _File, parts: list[str], limit: int, whole: WholeMembers = ()) -> Walk:
    """Open a group (its header and attributes), list it, and fetch every member's header
    and chunk index, and the data of the small ones and of those ``whole`` names."""
    entry = yield from _open(f, parts, read_last=False)
    if entry is None:
        return None
    if entry.btree is not None and entry.heap is not None:
        _, members = yield from _parallel(
            f, _header(f, entry.header), _entries(f, entry.btree, entry.heap)
        )
    else:
        messages = yield from _header(f, entry.header)
        members = yield from _entries(f, *_symbol_table(f, messages))
    chosen = set(whole(list(members)) if callable(whole) else whole)
    yield from _parallel(
        f,
        *(_dataset(f, e.header, _NO_LIMIT if n in chosen else limit) for n, e in members.items()),
    )
    return {name: e.header for name, e in members.items()}


def _object(f: _File, parts: list[str], limit: int) -> Walk:
    """Open the object at a path and, if it is a small array, fetch its data."""
    entry = yield from _open(f, parts, read_last=False)
    if entry is not None:
        yield from _dataset(f, entry.header, limit)


def _dataset(f: _File, address: int, limit: int) -> Walk:
    """An object's header and, for an array, its chunk index and (if at most ``limit``
    bytes) its data, with the collections its variable-length strings are in. A member
    the walk does not know is left to h5py; the others go on.

    Where the header's first chunk already has the array's layout and it continues
    elsewhere (attributes added later), the chunk index and data are fetched beside the
    rest of the header: h5py reads both, and neither needs the other.
    """
    try:
        chunks = yield from _first_chunk(f, address)
        messages, following = _parse(f, chunks)
        layout = _message(messages, _LAYOUT)
        if following and layout is not None and _early(f, messages, layout, limit):
            rest, pieces = yield from _parallel(f, _messages(f, following), _data(f, layout, limit))
            messages += rest
        else:
            messages += yield from _messages(f, following)
            layout = _message(messages, _LAYOUT)
            if layout is None or layout[0] != 3:  # a group, or an older/newer layout
                return None
            if layout[1] == 2 and not f.large_indexes and _nbytes(f, messages) > limit:
                return None
            pieces = yield from _data(f, layout, limit)
        if pieces is None:
            return None
        datatype = _message(messages, _DATATYPE) or b""
        filtered = _message(messages, _FILTERS) is not None
        if datatype and datatype[0] & 0x0F == _VLEN and not filtered:
            # an element: its length, its collection's address, its index there
            element = struct.Struct("<I" + ("Q" if f.o == 8 else "I") + "I")
            heaps: set[int] = set()
            for start, n in pieces:
                data = memoryview(f.read(start, n))[: n - n % element.size]
                # HDF5 reads an element's collection even for an empty string (length 0):
                # only a null address has none
                heaps.update(heap for _, heap, _ in element.iter_unpack(data))
            heaps.discard(0)
            yield from _collections(f, sorted(heaps))
    except _Stop:
        return None
    return None


def _early(f: _File, messages: list[tuple[int, bytes]], layout: bytes, limit: int) -> bool:
    """Whether an array's data can be walked before the rest of its header is read: its
    layout is one the walk knows and, where large arrays get no chunk index, its
    dataspace shows it small whatever its datatype (at most 16 bytes an element, a
    variable-length string's size)."""
    if layout[0] != 3 or layout[1] not in (1, 2):
        return False
    if layout[1] == 1 or f.large_indexes:
        return True
    space = _message(messages, _DATASPACE)
    return space is not None and _elements(f, space) * 16 <= limit


def _data(f: _File, layout: bytes, limit: int) -> Walk:
    """The pieces ``(address, bytes)`` of an array's stored data (its chunk index walked),
    fetched if at most ``limit`` bytes in all; ``None`` if not fetched."""
    if layout[1] == 1:  # contiguous
        pieces = [(f.off(layout, 2), f.length(layout, 2 + f.o))]
    elif layout[1] == 2:  # chunked: a v1 B-tree of chunks
        found = yield from _chunks(f, f.off(layout, 3), layout[2], limit)
        if found is None:
            return None
        pieces = found
    else:
        return None
    pieces = [(a, n) for a, n in pieces if a != f.undefined and n > 0]
    if not pieces or sum(n for _, n in pieces) > limit:
        return None
    yield [(a, a + n) for a, n in pieces]
    return pieces


def _message(messages: list[tuple[int, bytes]], kind: int) -> bytes | None:
    """The body of a header's first message of ``kind``."""
    return next((body for k, body in messages if k == kind), None)


def _chunks(f: _File, btree: int, rank: int, limit: int) -> Walk:
    """``(address, bytes)`` of every chunk of an array, from its v1 chunk B-tree; ``None``
    if the index alone would be larger than ``limit``."""
    key = 8 + 8 * rank
    size = 8 + 2 * f.o + (2 * f.chunk_k + 1) * key + 2 * f.chunk_k * f.o
    nodes = [btree]
    for _ in range(_MAX_STEPS):
        if btree == f.undefined or len(nodes) * size > limit:
            return None
        yield [(n, n + size) for n in nodes]
        level, children = 0, []
        for node in nodes:
            data = f.read(node, min(size, f.fileobj.size - node))
            if data[:4] != b"TREE" or data[4] != 1:
                raise _Stop("no chunk B-tree node where the layout says")
            level = data[5]
            (used,) = struct.unpack_from("<H", data, 6)
            for k in range(min(used, 2 * f.chunk_k)):
                at = 8 + 2 * f.o + k * (key + f.o)
                (nbytes,) = struct.unpack_from("<I", data, at)
                children.append((f.off(data, at + key), nbytes))
        if level == 0:
            return children
        nodes = [c for c, _ in children]
    raise _Stop("a chunk B-tree deeper than the walk goes")


def _open(f: _File, parts: list[str], *, read_last: bool = True) -> Walk:
    """Follow a path from the root, group by group, reading what h5py reads to open the
    object there (its header, unless ``read_last`` is false); its entry, ``None`` if
    absent."""
    entry = f.root
    for name in parts:
        btree, heap = entry.btree, entry.heap
        if btree is None or heap is None:
            messages = yield from _header(f, entry.header)
            btree, heap = _symbol_table(f, messages)
        members = yield from _entries(f, btree, heap)
        if name not in members:
            return None
        entry = members[name]
    if read_last:
        yield from _header(f, entry.header)
    return entry


def _entries(f: _File, btree: int, heap: int) -> Walk:
    """A symbol table's entries by name: its heap, its B-tree level by level, then all its
    symbol table nodes at once."""
    heap_size = 8 + 2 * f.l + f.o
    yield [(heap, heap + heap_size), (btree, btree + f.node_size)]
    head = f.read(heap, heap_size)
    if head[:4] != b"HEAP":
        raise _Stop("no local heap where the symbol table says")
    data_size, data_at = f.length(head, 8), f.off(head, 8 + 2 * f.l)
    nodes = [btree]
    for _ in range(_MAX_STEPS):
        level, children = 0, []
        for node in nodes:
            level, kids = _node(f, node)
            children.extend(kids)
        if level == 0:
            break
        yield [(c, c + f.node_size) for c in children]
        nodes = children
    else:
        raise _Stop("a B-tree deeper than the walk goes")
    yield [(data_at, data_at + data_size), *((c, c + f.snod_size) for c in children)]
    names = f.read(data_at, data_size)
    out: dict[str, _Entry] = {}
    for snod in children:
        table = f.read(snod, f.snod_size)
        if table[:4] != b"SNOD":
            raise _Stop("no symbol table node where the B-tree says")
        (count,) = struct.unpack_from("<H", table, 6)
        for k in range(min(count, 2 * f.leaf_k)):
            at = 8 + k * f.entry_size
            name_at = f.off(table, at)
            name = names[name_at : names.index(b"\0", name_at)].decode("utf-8", "replace")
            out[name] = f.entry(table, at)
    return out


def _node(f: _File, address: int) -> tuple[int, list[int]]:
    """A group B-tree node's level and children."""
    data = f.read(address, f.node_size)
    if data[:4] != b"TREE" or data[4] != 0:
        raise _Stop("no group B-tree node where expected")
    level = data[5]
    (used,) = struct.unpack_from("<H", data, 6)
    at = 8 + 2 * f.o
    children = [f.off(data, at + f.l + k * (f.l + f.o)) for k in range(min(used, 2 * f.node_k))]
    return level, children


def _header(f: _File, address: int, *, attributes: bool = True) -> Walk:
    """A version-1 object header's messages ``(type, body)``, continuations followed, and
    (``attributes``) the global heap collections its variable-length attributes point to,
    fetched."""
    chunks = yield from _first_chunk(f, address)
    messages, following = _parse(f, chunks)
    messages += yield from _messages(f, following)
    if attributes:
        yield from _collections(
            f, sorted({c for kind, body in messages if kind == _ATTRIBUTE for c in _vlen(f, body)})
        )
    return messages


def _first_chunk(f: _File, address: int) -> Walk:
    """Fetch a version-1 object header's prefix and its first chunk ``[(start, bytes)]``."""
    yield [(address, address + 16)]
    prefix = f.read(address, 16)
    if prefix[0] != 1:
        raise _Stop("not a version-1 object header")
    (size,) = struct.unpack_from("<I", prefix, 8)
    chunks = [(address + 16, size)]
    yield [(a, a + n) for a, n in chunks]
    return chunks


def _messages(f: _File, chunks: list[tuple[int, int]]) -> Walk:
    """The messages of header chunks ``[(start, bytes)]`` and of the chunks their
    continuations lead to, fetched level by level."""
    messages: list[tuple[int, bytes]] = []
    for _ in range(_MAX_STEPS):
        if not chunks:
            return messages
        yield [(a, a + n) for a, n in chunks]
        found, chunks = _parse(f, chunks)
        messages += found
    raise _Stop("a header continued further than the walk goes")


def _parse(
    f: _File, chunks: list[tuple[int, int]]
) -> tuple[list[tuple[int, bytes]], list[tuple[int, int]]]:
    """The messages of cached header chunks, and the chunks their continuations name."""
    messages: list[tuple[int, bytes]] = []
    following = []
    for start, n in chunks:
        data = f.read(start, n)
        pos = 0
        while pos + 8 <= n:
            kind, body_size = struct.unpack_from("<HH", data, pos)
            body = data[pos + 8 : pos + 8 + body_size]
            messages.append((kind, body))
            if kind == _CONTINUATION:
                following.append((f.off(body, 0), f.length(body, f.o)))
            pos += 8 + body_size
    return messages, following


def _collections(f: _File, addresses: list[int]) -> Walk:
    """Fetch global heap collections (where variable-length strings are): their size
    first, then the rest of each."""
    addresses = [a for a in addresses if a != f.undefined]
    if addresses:
        yield [(c, c + 16) for c in addresses]
        sizes = [(c, f.length(f.read(c, 16), 8)) for c in addresses]
        yield [(c, c + min(n, _MAX_PIECE)) for c, n in sizes]


def _symbol_table(f: _File, messages: list[tuple[int, bytes]]) -> tuple[int, int]:
    for kind, body in messages:
        if kind == _SYMBOL_TABLE:
            return f.off(body, 0), f.off(body, f.o)
    raise _Stop("a group without a symbol table (a link table: newer HDF5)")


def _vlen(f: _File, body: bytes) -> list[int]:
    """The global heap collections a variable-length attribute's values are in."""
    version = body[0]
    name_size, type_size, space_size = struct.unpack_from("<HHH", body, 2)
    if version == 1:
        pad = _pad8
        at = 8
    elif version in (2, 3):
        pad = _same
        at = 8 if version == 2 else 9
    else:
        return []
    at += pad(name_size)
    datatype = body[at : at + type_size]
    at += pad(type_size)
    space = body[at : at + space_size]
    at += pad(space_size)
    if not datatype or datatype[0] & 0x0F != _VLEN:
        return []
    count = _elements(f, space)
    item = 4 + f.o + 4
    return [
        f.off(body, at + k * item + 4) for k in range(count) if at + (k + 1) * item <= len(body)
    ]


def _elements(f: _File, space: bytes) -> int:
    version, ndims = space[0], space[1]
    if version == 1:
        at = 8
    elif version == 2:
        if space[3] == 2:  # a null dataspace
            return 0
        at = 4
    else:
        return 0
    count = 1
    for k in range(ndims):
        count *= f.length(space, at + k * f.l)
    return count


def _nbytes(f: _File, messages: list[tuple[int, bytes]]) -> int:
    """An array's size in bytes as stored uncompressed (elements times element size)."""
    space = next((body for kind, body in messages if kind == _DATASPACE), b"")
    datatype = next((body for kind, body in messages if kind == _DATATYPE), b"")
    if not space or len(datatype) < 8:
        raise _Stop("an array without a dataspace or a datatype")
    return _elements(f, space) * struct.unpack_from("<I", datatype, 4)[0]


def _pad8(n: int) -> int:
    return (n + 7) // 8 * 8


def _same(n: int) -> int:
    return n
