"""SLAP2 imaging from S3: the raw per-trial ``.dat`` files, read lazily with ranged GETs,
and the files around them (``.meta``, annotation JSON, reference stack, registered TIFFs).

Shapes follow REAL_SHAPES.md §12 (see ``docs/real-shapes-slap2-dandi.md``):

- raw asset, ``slap2/dynamic_data/``: ``<label>_<YYYYMMDD>_<HHMMSS>_DMD<n>-TRIAL<t>.dat``
  (newer acquisitions: ``…-TRIAL<t>-CYCLE-<offset>.dat`` chunks), one ``…_DMD<n>.meta``
  (MAT v7.3 = HDF5) and ``…_DMD<n>.annotation.json`` per DMD, and
  ``reference_stack/refStack_<date>_<time>_DMD<n>-REFERENCE.tif``;
- ``_motion-corrected_`` asset: ``E<epoch>T<trial>DMD<n>_REGISTERED_DOWNSAMPLED-80Hz.tif``
  (float32 pages, channels interleaved) and ``…_ALIGNMENTDATA.mat``.

A ``.dat`` starts with a little-endian uint32 header: magic, version 2, header bytes,
``(field id, value)`` pairs, magic. Cycles follow from ``firstCycleOffsetBytes``, each
``bytesPerCycle`` long; inside a cycle, ``linesPerCycle`` lines of ``lineHeaderSizeBytes``
then int16 samples per channel per super-pixel. The line layout (per-line channel blocks,
or samples interleaved when ``channelsInterleave`` is 1) is **unverified** on real files.

Examples
--------
>>> s = ppdata.open_session("828408_2025-11-13_10-30-53")  # doctest: +SKIP
>>> slap = s.slap2()  # doctest: +SKIP
>>> slap.read_trial(dmd=1, trial=1, channel=1).shape  # doctest: +SKIP
(200, 8, 32)
"""

from __future__ import annotations

import json
import logging
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np

from .errors import NotFound, OutOfRange, PpdataError

if TYPE_CHECKING:
    from .assets import Asset
    from .s3 import S3Client

__all__ = [
    "DAT_FIELDS",
    "DAT_MAGIC",
    "DatHeader",
    "LinePlan",
    "Slap2",
    "Slap2File",
    "dat_header_bytes",
    "parse_dat_header",
    "parse_line_plan",
    "parse_slap2_key",
]

logger = logging.getLogger(__name__)

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
#: Bytes read first: the header and, in the files we know of (cycles of ~31 KB), the whole
#: first cycle, whose line headers give the line layout. More costs one more ranged GET.
HEADER_PROBE = 64 * 2**10

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
}


# --- the .dat header --------------------------------------------------------------------


@dataclass(frozen=True)
class DatHeader:
    """A parsed ``.dat`` header and the geometry it implies.

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

    def _field(self, name: str) -> int:
        try:
            return int(self.fields[name])
        except KeyError:
            raise PpdataError(
                f"SLAP2 .dat header has no {name}; fields: {sorted(self.fields)}"
            ) from None

    @property
    def first_cycle_offset(self) -> int:
        return self._field("firstCycleOffsetBytes")

    @property
    def bytes_per_cycle(self) -> int:
        return self._field("bytesPerCycle")

    @property
    def lines_per_cycle(self) -> int:
        return self._field("linesPerCycle")

    @property
    def line_header_bytes(self) -> int:
        return self._field("lineHeaderSizeBytes")

    @property
    def num_channels(self) -> int:
        return self._field("numChannels")

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

    Attributes
    ----------
    key : str
        Its S3 key.
    size : int
    kind : str
        ``dat``, ``meta``, ``annotation``, ``reference``, ``registered``, ``alignment`` or
        ``other``.
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
        return {
            "key": self.key,
            "size": self.size,
            "kind": self.kind,
            "asset": self.asset,
            "dmd": self.dmd,
            "trial": self.trial,
        }


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
                dmd=int(groups["dmd"]),
                trial=int(groups["trial"]) if groups.get("trial") else None,
                cycle_offset=int(groups["cycle"]) if groups.get("cycle") else None,
            )
    return Slap2File(key, size, "other", asset)


def _range_selection(what: str, asked: Any, total: int) -> range:
    """A ``slice``, ``(start, stop)``, int or ``None`` as a range, checked against ``total``."""
    if asked is None:
        return range(total)
    if isinstance(asked, int):
        start, stop = asked, asked + 1
    elif isinstance(asked, slice):
        if asked.step not in (None, 1):
            raise OutOfRange(f"{what}: only contiguous ranges are supported (step 1)")
        start = 0 if asked.start is None else asked.start
        stop = total if asked.stop is None else asked.stop
    else:
        start, stop = asked
    if not (0 <= start < stop <= total):
        raise OutOfRange(
            f"{what} {start}..{stop} is out of range: valid is 0..{total} (stop exclusive)"
        )
    return range(start, stop)


# --- the session's SLAP2 data ---------------------------------------------------------


class Slap2:
    """The SLAP2 files of one session, read lazily from S3.

    Parameters
    ----------
    client : S3Client
    raw : Asset
        The raw asset.
    derived : sequence of Asset
        Its ``_motion-corrected_`` and SLAP2 ``_processed_`` assets (current ones).
    """

    def __init__(self, client: S3Client, raw: Asset, derived: Sequence[Asset] = ()) -> None:
        self.client = client
        self.raw = raw
        self.derived = list(derived)
        self._headers: dict[str, tuple[DatHeader, LinePlan]] = {}

    def __repr__(self) -> str:
        return f"Slap2({self.raw.name!r})"

    @cached_property
    def files(self) -> list[Slap2File]:
        """Every file under the raw ``slap2/`` folder and in the derived assets."""

        def listing(prefix: str, asset: str) -> list[Slap2File]:
            return [parse_slap2_key(o.key, o.size, asset) for o in self.client.list_objects(prefix)]

        prefixes = [(f"{self.raw.prefix}slap2/", self.raw.name)]
        prefixes += [(a.prefix, a.name) for a in self.derived]
        out: list[Slap2File] = []
        for found in self.client.pool.map(lambda p: listing(*p), prefixes):
            out.extend(found)
        return out

    def _of(self, kind: str, dmd: int | None = None, trial: int | None = None) -> list[Slap2File]:
        return sorted(
            (
                f
                for f in self.files
                if f.kind == kind
                and (dmd is None or f.dmd == dmd)
                and (trial is None or f.trial == trial)
            ),
            key=lambda f: (f.dmd or 0, f.trial or 0, f.cycle_offset or 0, f.key),
        )

    def dmds(self) -> list[int]:
        """DMD numbers with raw trials or registered movies."""
        return sorted({f.dmd for f in self.files if f.dmd is not None})

    def trials(self, dmd: int | None = None) -> list[int]:
        """Trial numbers of the raw ``.dat`` files (of one DMD, or of any)."""
        return sorted({f.trial for f in self._of("dat", dmd) if f.trial is not None})

    def summary(self) -> dict[str, Any]:
        """DMDs, trials and file counts (the ``ppdata slap2 --json`` contract)."""
        per_dmd = []
        for dmd in self.dmds():
            per_dmd.append(
                {
                    "dmd": dmd,
                    "trials": self.trials(dmd),
                    "dat_bytes": sum(f.size for f in self._of("dat", dmd)),
                    "registered": len(self._of("registered", dmd)),
                    "meta": bool(self._of("meta", dmd)),
                    "annotation": bool(self._of("annotation", dmd)),
                    "reference_stack": bool(self._of("reference", dmd)),
                }
            )
        return {
            "session": self.raw.session,
            "assets": [self.raw.name, *(a.name for a in self.derived)],
            "dmds": per_dmd,
            "files": [f.to_dict() for f in self.files if f.kind != "other"],
        }

    def _one(self, kind: str, dmd: int, trial: int | None = None) -> Slap2File:
        found = self._of(kind, dmd, trial)
        if not found:
            have = self.dmds() if trial is None else self.trials(dmd) or "none"
            what = f"DMD{dmd}" + (f" trial {trial}" if trial is not None else "")
            valid = "DMDs" if trial is None else f"DMD{dmd} trials"
            raise NotFound(f"no SLAP2 {kind} file for {what} in {self.raw.name}; {valid}: {have}")
        return found[0]

    # -- raw .dat --------------------------------------------------------------------------
    def _layout(self, dmd: int, trial: int) -> tuple[str, DatHeader, LinePlan]:
        f = self._one("dat", dmd, trial)
        if f.key not in self._headers:
            data, size = self.client.get_first(f.key, HEADER_PROBE)
            where = self.client.uri(f.key)
            try:
                header = parse_dat_header(data, size)
            except PpdataError as exc:
                if "needs" not in str(exc):
                    raise PpdataError(f"{where}: {exc}") from None
                data, size = self.client.get_first(f.key, struct.unpack_from("<I", data, 8)[0])
                header = parse_dat_header(data, size)
            if header.cycles == 0:
                raise PpdataError(f"{where} holds no complete cycle")
            first_end = header.cycle_offset(1)
            if len(data) < first_end:  # a cycle longer than the first read
                data += self.client.get_bytes(f.key, len(data), first_end)
            try:
                plan = parse_line_plan(data[header.first_cycle_offset : first_end], header)
            except PpdataError as exc:
                raise PpdataError(f"{where}: {exc}") from None
            self._headers[f.key] = (header, plan)
        header, plan = self._headers[f.key]
        return f.key, header, plan

    def header(self, dmd: int, trial: int) -> DatHeader:
        """The parsed header of a trial's ``.dat`` file (one ranged GET that also holds the
        first cycle, whose line sizes :meth:`line_plan` gives; cached)."""
        return self._layout(dmd, trial)[1]

    def line_plan(self, dmd: int, trial: int) -> LinePlan:
        """Where each line of a cycle is, and its super-pixel count."""
        return self._layout(dmd, trial)[2]

    def read_trial(
        self,
        dmd: int,
        trial: int,
        *,
        channel: int = 1,
        cycles: Any = None,
        lines: Any = None,
    ) -> np.ndarray:
        """Samples of one channel of a trial: ``(cycles, super-pixels)`` int16.

        The super-pixels are those of the lines asked for, in line order (the order of
        ``meta(dmd)["superPixelIDs"]``, which maps each to DMD pixels). Only the byte ranges
        of those cycles and lines are read: one ranged GET for a run of whole cycles, at most
        three (concurrent) for a subset of lines.

        Parameters
        ----------
        dmd, trial : int
        channel : int
            1-based channel number (1: green, iGluSnFR; 2: red).
        cycles, lines : slice, (start, stop), int or None
            Which cycles of the trial and lines of each cycle (default: all).

        Raises
        ------
        OutOfRange
            If a range or the channel is outside the file; the message gives the valid range.
        NotFound
            If the session has no ``.dat`` for that DMD and trial.
        """
        if any(f.cycle_offset is not None for f in self._of("dat", dmd, trial)):
            raise PpdataError(
                "cycle-chunked .dat files (-CYCLE-<offset>) are listed but not read yet; "
                "download them with ppdata download"
            )
        key, h, plan = self._layout(dmd, trial)
        if channel not in h.channels:
            raise OutOfRange(f"channel {channel} is not in this file: channels are {h.channels}")
        ci, nch, lh = h.channels.index(channel), h.num_channels, h.line_header_bytes
        cyc = _range_selection("cycles", cycles, h.cycles)
        lin = _range_selection("lines", lines, h.lines_per_cycle)
        lo = plan.starts[lin.start]
        hi = plan.starts[lin.stop - 1] + plan.sizes[lin.stop - 1]
        per_cycle = [(h.cycle_offset(c) + lo, h.cycle_offset(c) + hi) for c in cyc]
        runs = _coalesce(per_cycle)
        if len(runs) > 3:  # a few lines of many cycles: one read over the whole span
            runs = [(per_cycle[0][0], per_cycle[-1][1])]
        datas = (
            [self.client.get_bytes(key, *runs[0])]
            if len(runs) == 1
            else self.client.get_ranges(key, runs)
        )
        parts = []
        first = 0
        for (start, end), buf in zip(runs, datas, strict=True):
            n = sum(1 for a, _ in per_cycle[first:] if start <= a < end)
            # (cycles, bytes of the lines asked for): cycles sit bytesPerCycle apart
            view = np.ndarray(
                (n, hi - lo),
                dtype=np.uint8,
                buffer=buf,
                offset=per_cycle[first][0] - start,
                strides=(h.bytes_per_cycle, 1),
            )
            columns = []
            for line in lin:
                count = plan.counts[line]
                if not count:
                    continue
                data_start = plan.starts[line] - lo + lh
                block = view[:, data_start : data_start + 2 * nch * count]
                samples = np.ascontiguousarray(block).view("<i2")
                if h.interleaved:
                    columns.append(samples[:, ci::nch])
                else:
                    columns.append(samples[:, ci * count : (ci + 1) * count])
            parts.append(np.concatenate(columns, axis=1) if columns else np.empty((n, 0), "<i2"))
            first += n
        return np.concatenate(parts, axis=0)

    def cycle_times(self, dmd: int, trial: int, cycles: Any = None) -> np.ndarray:
        """Times (s from the trial's start) of the middle of each cycle asked for: a cycle
        lasts ``linePeriod_s`` (from the ``.meta``) times ``linesPerCycle``."""
        h = self.header(dmd, trial)
        period = self.meta(dmd)["linePeriod_s"] * h.lines_per_cycle
        chosen = _range_selection("cycles", cycles, h.cycles)
        return (np.arange(chosen.start, chosen.stop) + 0.5) * period

    # -- other files -----------------------------------------------------------------------
    def meta(self, dmd: int) -> dict[str, Any]:
        """Fields of a DMD's ``.meta`` (MAT v7.3 = HDF5): ``linePeriod_s`` and the
        super-pixel ids per line (``AcquisitionContainer/AcquisitionPlan/superPixelIDs``,
        object references followed)."""
        import h5py

        from .nwbstore import S3File

        f = self._one("meta", dmd)
        with h5py.File(S3File(self.client, f.key, f.size, block_size=256 * 2**10), "r") as h5:
            out: dict[str, Any] = {}
            if "linePeriod_s" in h5:
                out["linePeriod_s"] = float(np.asarray(h5["linePeriod_s"]).ravel()[0])
            path = "AcquisitionContainer/AcquisitionPlan/superPixelIDs"
            if path in h5:
                refs = np.asarray(h5[path]).ravel()
                out["superPixelIDs"] = [np.asarray(h5[r]).ravel().astype(int) for r in refs]
        return out

    def annotation(self, dmd: int) -> dict[str, Any]:
        """A DMD's ``.annotation.json`` (targets, structure, depth)."""
        f = self._one("annotation", dmd)
        try:
            return json.loads(self.client.get_bytes(f.key))
        except ValueError as exc:
            raise PpdataError(f"{self.client.uri(f.key)} is not valid JSON: {exc}") from exc

    def reference_stack(self, dmd: int) -> np.ndarray:
        """A DMD's reference stack, ``(z, y, x)``."""
        import tifffile

        from .nwbstore import S3File

        f = self._one("reference", dmd)
        with tifffile.TiffFile(cast("IO[bytes]", S3File(self.client, f.key, f.size))) as tif:
            return tif.asarray()

    def registered(
        self, dmd: int, trial: int, *, frames: Any = None, channel: int = 1, channels: int = 2
    ) -> np.ndarray:
        """Frames of a registered (motion-corrected, 80 Hz) movie: ``(frames, y, x)`` float32.

        Only the TIFF pages of the frames asked for are read (pages are channel-interleaved:
        page ``frame * channels + channel - 1``). NaN margins are kept.

        Raises
        ------
        OutOfRange
            If the frame range is outside the movie; the message gives the valid range.
        """
        import tifffile

        from .nwbstore import S3File

        f = self._one("registered", dmd, trial)
        if not 1 <= channel <= channels:
            raise OutOfRange(f"channel {channel} is out of range: valid is 1..{channels}")
        fileobj = S3File(self.client, f.key, f.size, block_size=64 * 2**10)
        with tifffile.TiffFile(cast("IO[bytes]", fileobj)) as tif:
            first = tif.pages.first
            # Pages of these movies are uniform and contiguous: page k's IFD is at a fixed
            # stride, so reading frame k touches only its own IFD and data, not the chain.
            try:
                second = tif.pages[1]
            except IndexError:
                second = None
            stride = (second.offset - first.offset) if second is not None else f.size
            n_pages = -(-(f.size - first.offset) // stride)
            sel = _range_selection("frames", frames, n_pages // channels)
            out = np.empty((len(sel), *first.shape), dtype=first.dtype)
            indices = [fr * channels + channel - 1 for fr in sel]
            # fetch every page asked for at once (concurrent ranged GETs), then parse them
            ifd_start = min(first.offset, *first.dataoffsets)
            fileobj.prefetch(
                (ifd_start + k * stride, ifd_start + (k + 1) * stride) for k in indices
            )
            for i, index in enumerate(indices):
                tif.filehandle.seek(first.offset + index * stride)
                page = tifffile.TiffPage(tif, index)
                if page.shape != first.shape:
                    raise PpdataError(f"{self.client.uri(f.key)}: page {index} is not uniform")
                out[i] = page.asarray()
            return out

    def mean_image(self, dmd: int) -> np.ndarray:
        """A DMD's mean image: mean of the first registered movie (channel 1), else the mean
        of its reference stack."""
        movies = self._of("registered", dmd)
        if movies:
            import warnings

            frames = self.registered(dmd, movies[0].trial or 0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # the NaN margin: all-NaN
                return np.nanmean(frames, axis=0)
        if self._of("reference", dmd):
            return self.reference_stack(dmd).astype(float).mean(axis=0)
        raise NotFound(
            f"no registered movie or reference stack for DMD{dmd} in {self.raw.name}; "
            f"DMDs: {self.dmds()}"
        )


def _coalesce(ranges: Sequence[tuple[int, int]], gap: int = 0) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
