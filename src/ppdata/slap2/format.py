"""SLAP2 file formats, pure: the ``.dat`` v2 header and line layout, and the names of the
SLAP2 files (see :mod:`ppdata.slap2.reader` and ``docs/real-shapes-slap2-dandi.md``)."""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any, overload

import numpy as np

from ..errors import PpdataError

__all__ = [
    "DAT_FIELDS",
    "DAT_MAGIC",
    "ChannelBlocks",
    "DatHeader",
    "LinePlan",
    "Slap2File",
    "channel_blocks",
    "dat_header_bytes",
    "gather_blocks",
    "parse_dat_header",
    "parse_line_plan",
    "parse_slap2_key",
    "plan_runs",
]

DAT_MAGIC = 322379495
#: Header field ids, in id order (0 and 3 are confirmed by the packaging code; the rest
#: follow the order SLAP2_Utils lists them in).
DAT_FIELDS = (
    "firstCycleOffsetBytes",
    "lineHeaderSizeBytes",
    "laserPathIdx",
    "bytesPerCycle",
    "linesPerCycle",
    "superPixelsPerCycle",
    "dmdPixelsPerRow",
    "dmdPixelsPerColumn",
    "numChannels",
    "channelMask",
    "numSlices",
    "channelsInterleave",
    "fpgaSystemClock_Hz",
    "referenceTimestamp_lower",
    "referenceTimestamp_upper",
)
_PATTERNS = {
    "dat": re.compile(
        r"_(?P<stamp>\d{8}_\d{6})_DMD(?P<dmd>\d+)-TRIAL(?P<trial>\d+)"
        r"(?:-CYCLE-(?P<cycle>\d+))?\.dat$",
        re.IGNORECASE,
    ),
    "meta": re.compile(r"_\d{8}_\d{6}_DMD(?P<dmd>\d+)\.meta$"),
    "annotation": re.compile(r"_\d{8}_\d{6}_DMD(?P<dmd>\d+)\.annotation\.json$"),
    "reference": re.compile(r"refStack_.*_DMD(?P<dmd>\d+)-REFERENCE\.tif$"),
    "registered": re.compile(
        r"E(?P<epoch>\d+)T(?P<trial>\d+)DMD(?P<dmd>\d+)_REGISTERED_DOWNSAMPLED-\d+Hz\.tif$"
    ),
    "alignment": re.compile(
        r"E(?P<epoch>\d+)T(?P<trial>\d+)DMD(?P<dmd>\d+)_ALIGNMENTDATA\.(mat|h5)$"
    ),
    "summary": re.compile(r"^experiment_summary\.h5$"),
}


# --- the .dat header --------------------------------------------------------------------


class _RequiredField:
    """A header field the geometry needs, read as an ``int`` attribute of
    :class:`DatHeader`; a header without it raises :class:`PpdataError` naming it."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, header: None, owner: type) -> _RequiredField: ...
    @overload
    def __get__(self, header: DatHeader, owner: type) -> int: ...
    def __get__(self, header: DatHeader | None, owner: type) -> int | _RequiredField:
        if header is None:
            return self
        try:
            return int(header.fields[self.name])
        except KeyError:
            raise PpdataError(
                f"SLAP2 .dat header has no {self.name}; fields: {sorted(header.fields)}"
            ) from None


@dataclass(frozen=True)
class DatHeader:
    """A parsed ``.dat`` header and the geometry it implies.

    Returned by :func:`parse_dat_header` and :meth:`ppdata.Slap2.header` (a trial's first
    ``.dat`` file).

    Attributes
    ----------
    header_bytes : int
        Length of the header.
    fields : dict
        Field name (or ``field<id>`` for an id we do not know) -> value.
    file_size : int
        Size of the file, for the cycle count.
    """

    header_bytes: int
    fields: Mapping[str, int]
    file_size: int

    first_cycle_offset = _RequiredField("firstCycleOffsetBytes")
    bytes_per_cycle = _RequiredField("bytesPerCycle")
    lines_per_cycle = _RequiredField("linesPerCycle")
    line_header_bytes = _RequiredField("lineHeaderSizeBytes")
    num_channels = _RequiredField("numChannels")

    @property
    def channels(self) -> list[int]:
        """Channel numbers (1-based) from ``channelMask``, or 1..numChannels."""
        mask = int(self.fields.get("channelMask", 0))
        found = [bit + 1 for bit in range(32) if mask >> bit & 1]
        return found if len(found) == self.num_channels else list(range(1, self.num_channels + 1))

    @property
    def interleaved(self) -> bool:
        return bool(self.fields.get("channelsInterleave", 0))

    @property
    def cycles(self) -> int:
        """Complete cycles in the file (an incomplete trailing cycle is not counted)."""
        return max(0, (self.file_size - self.first_cycle_offset) // self.bytes_per_cycle)

    def cycle_offset(self, cycle: int) -> int:
        """Byte offset of a cycle."""
        return self.first_cycle_offset + cycle * self.bytes_per_cycle

    def to_dict(self) -> dict[str, Any]:
        return {
            "header_bytes": self.header_bytes,
            "cycles": self.cycles,
            "lines_per_cycle": self.lines_per_cycle,
            "channels": self.channels,
            **{k: int(v) for k, v in self.fields.items()},
        }


@dataclass(frozen=True)
class LinePlan:
    """Where each line of a cycle is: lines differ in size (each carries the samples of its
    own super-pixels), and every cycle repeats the first one's layout.

    Attributes
    ----------
    starts : tuple of int
        Byte offset of each line inside a cycle.
    sizes : tuple of int
        Bytes of each line (``lineSizeBytes``, the first uint32 of its line header).
    counts : tuple of int
        Samples per channel of each line (its super-pixel count).
    """

    starts: tuple[int, ...]
    sizes: tuple[int, ...]
    counts: tuple[int, ...]

    @property
    def superpixels(self) -> int:
        return sum(self.counts)


def parse_line_plan(cycle: bytes, header: DatHeader) -> LinePlan:
    """The line layout from the bytes of one whole cycle.

    Raises
    ------
    PpdataError
        If the line sizes do not add up to ``bytesPerCycle``.
    """
    starts, sizes, counts = [], [], []
    cursor = 0
    lh, nch = header.line_header_bytes, header.num_channels
    for _ in range(header.lines_per_cycle):
        if cursor + 4 > len(cycle):
            raise PpdataError("SLAP2 .dat cycle ends inside a line header")
        size = struct.unpack_from("<I", cycle, cursor)[0]
        if size < lh or (size - lh) % (2 * nch):
            raise PpdataError(f"SLAP2 .dat line at byte {cursor} has an invalid size {size}")
        starts.append(cursor)
        sizes.append(size)
        counts.append((size - lh) // 2 // nch)
        cursor += size
    if cursor != header.bytes_per_cycle:
        raise PpdataError(
            f"SLAP2 .dat lines add up to {cursor} bytes, the header says {header.bytes_per_cycle}"
        )
    return LinePlan(tuple(starts), tuple(sizes), tuple(counts))


def parse_dat_header(data: bytes, file_size: int) -> DatHeader:
    """Parse a SLAP2 ``.dat`` v2 header from the file's first bytes.

    Parameters
    ----------
    data : bytes
        At least the header (its length is at word 2; :data:`HEADER_PROBE` bytes suffice
        for the headers we know).
    file_size : int
        The file's size.

    Raises
    ------
    PpdataError
        If the magic numbers, version or sizes are wrong, or ``data`` is too short (the
        message says how many bytes the header needs).
    """
    if len(data) < 16:
        raise PpdataError("SLAP2 .dat too short: a v2 header needs at least 16 bytes")
    magic, version, header_bytes = struct.unpack_from("<3I", data)
    if magic != DAT_MAGIC:
        raise PpdataError(f"not a SLAP2 .dat: magic {magic}, expected {DAT_MAGIC}")
    if version != 2:
        raise PpdataError(f"SLAP2 .dat version {version} is not supported (expected 2)")
    if header_bytes < 16 or header_bytes % 4 or (header_bytes // 4 - 4) % 2:
        raise PpdataError(f"SLAP2 .dat header size {header_bytes} is invalid")
    if len(data) < header_bytes:
        raise PpdataError(f"SLAP2 .dat header needs {header_bytes} bytes, got {len(data)}")
    words = np.frombuffer(data[:header_bytes], dtype="<u4")
    if words[-1] != DAT_MAGIC:
        raise PpdataError("SLAP2 .dat header does not end with the magic number")
    fields: dict[str, int] = {}
    for i in range(3, len(words) - 1, 2):
        fid = int(words[i])
        name = DAT_FIELDS[fid] if fid < len(DAT_FIELDS) else f"field{fid}"
        fields[name] = int(words[i + 1])
    header = DatHeader(header_bytes, fields, int(file_size))
    if header.bytes_per_cycle <= 0 or header.lines_per_cycle <= 0:
        raise PpdataError("SLAP2 .dat header has no bytesPerCycle/linesPerCycle")
    return header


# --- one channel's bytes: blocks, runs of blocks, and the samples out of them ------------


@dataclass(frozen=True)
class ChannelBlocks:
    """Where one channel's samples of some cycles and lines are in a ``.dat``.

    Attributes
    ----------
    starts : ndarray
        ``(cycles, lines)`` byte offset of each block in the file; row-major order is file
        order (lines ascend in a cycle, cycles ascend).
    lengths : ndarray
        Bytes of each line's block (the same in every cycle).
    counts : ndarray
        Samples of that channel per line (0-sample lines are left out).
    step, phase : int
        Sample-interleaved files (``channelsInterleave`` ≠ 0, unverified) keep every
        ``step``-th sample from ``phase``; otherwise 1 and 0.
    """

    starts: np.ndarray
    lengths: np.ndarray
    counts: np.ndarray
    step: int = 1
    phase: int = 0

    @property
    def asked_bytes(self) -> int:
        """Bytes of the samples asked for."""
        return int(self.starts.shape[0] * self.counts.sum() * 2)


def channel_blocks(
    header: DatHeader, plan: LinePlan, cycles: range, lines: range, channel: int
) -> ChannelBlocks:
    """The blocks holding ``channel`` for these cycles and lines (pure).

    Each line is its line header, then channel 1's ``count`` int16 samples, then channel
    2's (SLAP2_Utils ``getLineData``: channel offset ``samples_per_channel × (ch − 1)``).
    """
    ci, nch, lh = header.channels.index(channel), header.num_channels, header.line_header_bytes
    chosen = [line for line in lines if plan.counts[line]]
    counts = np.array([plan.counts[line] for line in chosen], dtype=np.int64)
    base = np.array([plan.starts[line] + lh for line in chosen], dtype=np.int64)
    if header.interleaved:
        offsets, lengths, step, phase = base, counts * 2 * nch, nch, ci
    else:
        offsets, lengths, step, phase = base + ci * counts * 2, counts * 2, 1, 0
    cyc = np.arange(cycles.start, cycles.stop, dtype=np.int64)
    starts = (header.first_cycle_offset + cyc * header.bytes_per_cycle)[:, None] + offsets[None, :]
    return ChannelBlocks(starts.reshape(len(cyc), len(chosen)), lengths, counts, step, phase)


def plan_runs(
    blocks: ChannelBlocks, max_requests: int, min_gap: int = 0
) -> list[tuple[int, int, int, int]]:
    """Group the blocks into at most ``max_requests`` byte runs, splitting at the largest
    gaps of at least ``min_gap`` bytes (pure): ``(start, end, first block, stop block)`` per
    run, blocks counted in file order. No grouping into that many runs reads fewer bytes."""
    flat = blocks.starts.ravel()
    if not flat.size:
        return []
    ends = flat + np.tile(blocks.lengths, blocks.starts.shape[0])
    gaps = flat[1:] - ends[:-1]
    splits = min(max_requests - 1, int(np.count_nonzero(gaps >= max(min_gap, 1))))
    cut: list[int] = []
    if splits > 0:
        cut = [int(i) + 1 for i in np.sort(np.argpartition(-gaps, splits - 1)[:splits])]
    bounds = [0, *cut, flat.size]
    return [(int(flat[a]), int(ends[b - 1]), a, b) for a, b in pairwise(bounds)]


def gather_blocks(
    blocks: ChannelBlocks,
    runs: list[tuple[int, int, int, int]],
    buffers: list[bytes],
    bytes_per_cycle: int,
) -> np.ndarray:
    """The samples of the blocks, ``(cycles, samples)`` int16, from the bytes of each run
    (pure). A line's blocks in one run sit ``bytes_per_cycle`` apart: one strided view each."""
    n_cyc, n_lines = blocks.starts.shape
    columns = np.concatenate([[0], np.cumsum(blocks.counts)])
    out = np.empty((n_cyc, int(columns[-1])), dtype="<i2")
    for (run_start, _, a, b), buf in zip(runs, buffers, strict=True):
        for j in range(n_lines):
            c0, c1 = -(-(a - j) // n_lines), (b - 1 - j) // n_lines
            if c0 > c1:
                continue
            view = np.ndarray(
                (c1 - c0 + 1, int(blocks.lengths[j])),
                dtype=np.uint8,
                buffer=buf,
                offset=int(blocks.starts[c0, j]) - run_start,
                strides=(bytes_per_cycle, 1),
            )
            samples = np.ascontiguousarray(view).view("<i2")[:, blocks.phase :: blocks.step]
            out[c0 : c1 + 1, columns[j] : columns[j + 1]] = samples
    return out


def dat_header_bytes(fields: Mapping[str, int]) -> bytes:
    """Encode a v2 header (the inverse of :func:`parse_dat_header`; the mirror uses it)."""
    pairs = [(DAT_FIELDS.index(name), int(value)) for name, value in fields.items()]
    size = 4 * (3 + 2 * len(pairs) + 1)
    words = [DAT_MAGIC, 2, size, *(x for pair in pairs for x in pair), DAT_MAGIC]
    return struct.pack(f"<{len(words)}I", *words)


# --- files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Slap2File:
    """One SLAP2 file of a session.

    Listed by :attr:`ppdata.Slap2.files`; :func:`parse_slap2_key` classifies one key.

    Attributes
    ----------
    key : str
        Its S3 key.
    size : int
        Its size in bytes, from the listing (0 when the key was classified without one).
    kind : str
        ``dat``, ``meta``, ``annotation``, ``reference``, ``registered``, ``alignment``,
        ``summary`` (the processed asset's ``experiment_summary.h5``) or ``other``.
    asset : str
        The asset holding it.
    dmd, trial : int or None
        Its DMD and trial, where its name says.
    cycle_offset : int or None
        First cycle of a ``-CYCLE-<offset>`` chunk.
    """

    key: str
    size: int
    kind: str
    asset: str
    dmd: int | None = None
    trial: int | None = None
    cycle_offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every field but ``cycle_offset``."""
        return {k: v for k, v in asdict(self).items() if k != "cycle_offset"}


def parse_slap2_key(key: str, size: int = 0, asset: str = "") -> Slap2File:
    """Classify one key by its file name (pure)."""
    name = key.rsplit("/", 1)[-1]
    for kind, pattern in _PATTERNS.items():
        m = pattern.search(name)
        if m:
            groups = m.groupdict()
            return Slap2File(
                key,
                size,
                kind,
                asset,
                dmd=int(groups["dmd"]) if groups.get("dmd") else None,
                trial=int(groups["trial"]) if groups.get("trial") else None,
                cycle_offset=int(groups["cycle"]) if groups.get("cycle") else None,
            )
    return Slap2File(key, size, "other", asset)
