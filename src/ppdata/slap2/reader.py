"""SLAP2 imaging from S3: the raw per-trial ``.dat`` files, read lazily with ranged GETs,
and the files around them (``.meta``, annotation JSON, reference stack, registered TIFFs).

Shapes follow REAL_SHAPES.md §12 (see ``docs/real-shapes-slap2-dandi.md``):

- raw asset, ``slap2/dynamic_data/``: ``<label>_<YYYYMMDD>_<HHMMSS>_DMD<n>-TRIAL<t>.dat``
  (newer acquisitions: ``…-TRIAL<t>-CYCLE-<offset>.dat`` chunks), one ``…_DMD<n>.meta``
  (MAT v7.3 = HDF5) and ``…_DMD<n>.annotation.json`` per DMD, and
  ``reference_stack/refStack_<date>_<time>_DMD<n>-REFERENCE.tif``;
- ``_motion-corrected_`` asset: ``E<epoch>T<trial>DMD<n>_REGISTERED_DOWNSAMPLED-80Hz.tif``
  (float32 pages, channels interleaved) and ``…_ALIGNMENTDATA.mat``.

A ``.dat`` starts with a little-endian uint32 header (parsed in :mod:`ppdata.slap2.format`).
Cycles follow from ``firstCycleOffsetBytes``, each ``bytesPerCycle`` long, all with the first
cycle's line layout: ``linesPerCycle`` lines of different sizes, each a line header (its
first uint32 is the line's size) then one block of int16 samples per channel, one sample
per super-pixel of that line — the layout the paper's extraction script reads on the real
files. The first ranged GET holds the header and the first cycle; a read then costs one
ranged GET per run of cycles.

Examples
--------
>>> s = ppdata.open_session("828408_2025-11-13_10-30-53")
>>> slap = s.slap2()
>>> slap.read_trial(dmd=1, trial=1, channel=1, cycles=(100, 110)).shape[0]
10
>>> s.close()
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Sequence
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np

from ..errors import NotFound, OutOfRange, PpdataError
from .format import (
    DAT_FIELDS,
    DAT_MAGIC,
    DatHeader,
    LinePlan,
    Slap2File,
    dat_header_bytes,
    parse_dat_header,
    parse_line_plan,
    parse_slap2_key,
)

if TYPE_CHECKING:
    from ..find.assets import Asset
    from ..remote.s3 import S3Client

__all__ = [
    "DAT_FIELDS",
    "DAT_MAGIC",
    "HEADER_PROBE",
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

#: Bytes read first: the header and, in the files we know of (cycles of ~31 KB), the whole
#: first cycle, whose line headers give the line layout. More costs one more ranged GET.
HEADER_PROBE = 64 * 2**10


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
        self._headers: dict[str, tuple[DatHeader, LinePlan | None]] = {}

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
    def _layout_of(self, key: str) -> tuple[DatHeader, LinePlan | None]:
        """Header and line plan of one ``.dat`` (one ranged GET, cached); no plan for a
        chunk without a complete cycle."""
        if key not in self._headers:
            data, size = self.client.get_first(key, HEADER_PROBE)
            where = self.client.uri(key)
            try:
                header = parse_dat_header(data, size)
            except PpdataError as exc:
                if "needs" not in str(exc):
                    raise PpdataError(f"{where}: {exc}") from None
                data, size = self.client.get_first(key, struct.unpack_from("<I", data, 8)[0])
                header = parse_dat_header(data, size)
            plan = None
            if header.cycles:
                first_end = header.cycle_offset(1)
                if len(data) < first_end:  # a cycle longer than the first read
                    data += self.client.get_bytes(key, len(data), first_end)
                try:
                    plan = parse_line_plan(data[header.first_cycle_offset : first_end], header)
                except PpdataError as exc:
                    raise PpdataError(f"{where}: {exc}") from None
            self._headers[key] = (header, plan)
        return self._headers[key]

    def _chunks(self, dmd: int, trial: int) -> list[tuple[Slap2File, DatHeader, LinePlan]]:
        """The trial's file, or its ``-CYCLE-<offset>`` chunks in order (headers read
        concurrently), checked to be contiguous."""
        files = self._of("dat", dmd, trial) or [self._one("dat", dmd, trial)]
        layouts = list(self.client.pool.map(lambda f: self._layout_of(f.key), files))
        out: list[tuple[Slap2File, DatHeader, LinePlan]] = []
        expected = 0
        for i, (f, (header, plan)) in enumerate(zip(files, layouts, strict=True)):
            if f.cycle_offset is not None and f.cycle_offset != expected:
                gap = "overlap" if f.cycle_offset < expected else "gap"
                raise PpdataError(
                    f"SLAP2 cycle chunks of DMD{dmd} trial {trial} {gap}: "
                    f"{f.key.rsplit('/', 1)[-1]} starts at cycle {f.cycle_offset}, "
                    f"the chunks before it end at {expected}"
                )
            expected += header.cycles
            if plan is None:
                if i != len(files) - 1:
                    raise PpdataError(f"{self.client.uri(f.key)} holds no complete cycle")
                continue
            if out and plan.counts != out[0][2].counts:
                raise PpdataError(f"{self.client.uri(f.key)}: line layout differs between chunks")
            out.append((f, header, plan))
        if not out:
            raise PpdataError(f"DMD{dmd} trial {trial} of {self.raw.name} holds no complete cycle")
        return out

    def header(self, dmd: int, trial: int) -> DatHeader:
        """The parsed header of a trial's (first) ``.dat`` file (one ranged GET that also
        holds the first cycle, whose line sizes :meth:`line_plan` gives; cached)."""
        return self._chunks(dmd, trial)[0][1]

    def line_plan(self, dmd: int, trial: int) -> LinePlan:
        """Where each line of a cycle is, and its super-pixel count."""
        return self._chunks(dmd, trial)[0][2]

    def n_cycles(self, dmd: int, trial: int) -> int:
        """Complete cycles of a trial (over all its chunks)."""
        return sum(h.cycles for _, h, _ in self._chunks(dmd, trial))

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
        three (concurrent) for a subset of lines; a trial split in ``-CYCLE-`` chunks costs
        that per chunk it spans.

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
        chunks = self._chunks(dmd, trial)
        h = chunks[0][1]
        if channel not in h.channels:
            raise OutOfRange(f"channel {channel} is not in this file: channels are {h.channels}")
        total = sum(ch.cycles for _, ch, _ in chunks)
        cyc = _range_selection("cycles", cycles, total)
        lin = _range_selection("lines", lines, h.lines_per_cycle)
        parts = []
        first = 0
        for f, ch, cplan in chunks:
            lo, hi = max(cyc.start, first), min(cyc.stop, first + ch.cycles)
            if lo < hi:
                parts.append(
                    self._read_span(f.key, ch, cplan, range(lo - first, hi - first), lin, channel)
                )
            first += ch.cycles
        return np.concatenate(parts, axis=0)

    def _read_span(
        self, key: str, h: DatHeader, plan: LinePlan, cyc: range, lin: range, channel: int
    ) -> np.ndarray:
        ci, nch, lh = h.channels.index(channel), h.num_channels, h.line_header_bytes
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
        chosen = _range_selection("cycles", cycles, self.n_cycles(dmd, trial))
        return (np.arange(chosen.start, chosen.stop) + 0.5) * period

    # -- other files -----------------------------------------------------------------------
    def meta(self, dmd: int) -> dict[str, Any]:
        """Fields of a DMD's ``.meta`` (MAT v7.3 = HDF5): ``linePeriod_s`` and the
        super-pixel ids per line (``AcquisitionContainer/AcquisitionPlan/superPixelIDs``,
        object references followed)."""
        import h5py

        from ..nwb.backends import S3File

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

        from ..nwb.backends import S3File

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

        from ..nwb.backends import S3File

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
