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
ranged GET per run of cycles (at most ``max_requests``, split only at gaps of ``min_gap``
bytes). The ``_processed_`` asset's ``experiment_summary.h5`` gives ΔF/F and the other
traces per DMD (:mod:`ppdata.slap2.summary`).

Examples
--------
>>> s = ppdata.open_session("828408_2025-11-13_10-30-53")
>>> slap = s.slap2()
>>> slap.read_trial(dmd=1, trial=1, channel=1, cycles=(100, 110)).shape[0]
10
>>> slap.traces(1, frames=(0, 100)).shape  # ΔF/F from the processed asset: frames x sources
(100, 6)
>>> s.close()
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np

from ..errors import NotFound, OutOfRange, PpdataError
from . import summary as slap2_summary
from .format import (
    DAT_FIELDS,
    DAT_MAGIC,
    DatHeader,
    LinePlan,
    Slap2File,
    channel_blocks,
    dat_header_bytes,
    gather_blocks,
    parse_dat_header,
    parse_line_plan,
    parse_slap2_key,
    plan_runs,
)

if TYPE_CHECKING:
    from ..find.assets import Asset
    from ..remote.s3 import S3Client

__all__ = [
    "DAT_FIELDS",
    "DAT_MAGIC",
    "HEADER_PROBE",
    "MIN_GAP",
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
#: Gaps between the blocks asked for smaller than this are read through, not split into
#: another request: at S3's ~50 ms a round trip is worth a megabyte or more of transfer.
MIN_GAP = 2**20


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
        summaries = self._of("summary")
        return {
            "session": self.raw.session,
            "assets": [self.raw.name, *(a.name for a in self.derived)],
            "experiment_summary": summaries[-1].key if summaries else None,
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
        max_requests: int = 3,
        min_gap: int = MIN_GAP,
    ) -> np.ndarray:
        """Samples of one channel of a trial: ``(cycles, super-pixels)`` int16.

        The super-pixels are those of the lines asked for, in line order (the order of
        ``meta(dmd)["superPixelIDs"]``, which maps each to DMD pixels). Each line of the file
        holds its line header, then channel 1's samples, then channel 2's, so one channel's
        samples are many short runs. The reader fetches them in at most ``max_requests``
        concurrent ranged GETs, splitting only at the largest gaps of at least ``min_gap``
        bytes (a request costs a round trip, in which a megabyte or more would have
        arrived): one GET for a run of cycles of a real file, whose cycles are ~30 KB. A
        two-channel file then costs ≈ 2.7× the bytes asked for; with ``min_gap=0`` each
        extra request skips one more channel-2 block, and only one request per line block
        (``max_requests`` ≥ cycles × lines) fetches exactly the samples asked for — see
        ``docs/real-shapes-slap2-dandi.md`` for why ≤ 1.5× in ≤ 3 requests cannot be had.
        A trial split in ``-CYCLE-`` chunks shares the budget (at least one GET per chunk).

        Parameters
        ----------
        dmd, trial : int
        channel : int
            1-based channel number (1: green, iGluSnFR; 2: red).
        cycles, lines : slice, (start, stop), int or None
            Which cycles of the trial and lines of each cycle (default: all).
        max_requests : int
            The most ranged GETs (run concurrently on the client's pool).
        min_gap : int
            Bytes of unwanted data worth a request to skip (default 1 MiB).

        Raises
        ------
        OutOfRange
            If a range or the channel is outside the file; the message gives the valid range.
        NotFound
            If the session has no ``.dat`` for that DMD and trial.
        """
        if max_requests < 1:
            raise OutOfRange(f"max_requests is {max_requests}: it must be 1 or more")
        chunks = self._chunks(dmd, trial)
        h = chunks[0][1]
        if channel not in h.channels:
            raise OutOfRange(f"channel {channel} is not in this file: channels are {h.channels}")
        total = sum(ch.cycles for _, ch, _ in chunks)
        cyc = _range_selection("cycles", cycles, total)
        lin = _range_selection("lines", lines, h.lines_per_cycle)
        spans = []
        first = 0
        for f, ch, cplan in chunks:
            lo, hi = max(cyc.start, first), min(cyc.stop, first + ch.cycles)
            if lo < hi:
                spans.append((f, ch, cplan, range(lo - first, hi - first)))
            first += ch.cycles
        parts = []
        for i, (f, ch, cplan, span) in enumerate(spans):
            # chunks share the budget (at least one request each)
            budget = max(1, max_requests // len(spans) + (i < max_requests % len(spans)))
            blocks = channel_blocks(ch, cplan, span, lin, channel)
            runs = plan_runs(blocks, budget, min_gap)
            if len(runs) == 1:
                bufs = [self.client.get_bytes(f.key, *runs[0][:2])]
            else:  # none (lines without samples) or several, fetched concurrently
                bufs = self.client.get_ranges(f.key, [r[:2] for r in runs])
            parts.append(gather_blocks(blocks, runs, bufs, ch.bytes_per_cycle))
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

        from ..nwb.storage import S3File

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

        from ..nwb.storage import S3File

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

        from ..nwb.storage import S3File

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

    # -- the processed asset's experiment summary --------------------------------------------
    @contextmanager
    def _summary(self) -> Iterator[Any]:
        import h5py

        from ..nwb.storage import S3File

        found = self._of("summary")
        if not found:
            raise NotFound(
                f"no experiment_summary.h5 for {self.raw.name}: it is in a SLAP2 _processed_ "
                f"asset (source_extraction/), and this session has "
                f"{[a.name for a in self.derived] or 'none'}"
            )
        f = found[-1]
        # small blocks: a window of frames touches little; neighbouring blocks (a whole
        # trace dataset) still come in one ranged GET
        with h5py.File(S3File(self.client, f.key, f.size, block_size=64 * 2**10), "r") as h5:
            yield h5

    def summary_contents(self) -> dict[int, dict[str, list[int]]]:
        """Per DMD, each dataset of the experiment summary and its shape."""
        with self._summary() as h5:
            return slap2_summary.describe(h5)

    def traces(
        self,
        dmd: int,
        kind: str = "dFF",
        *,
        channel: int = 1,
        frames: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """A DMD's traces from the processed asset, ``(frames, sources)`` float32.

        ``kind``: ``dFF`` (default), ``dF``, ``F0``, ``dF_denoised``, ``dF_ls``, ``events``,
        ``user_rois/F``, ``user_rois/Fsvd`` (see :func:`ppdata.slap2.summary.traces`). Only
        the frames asked for are read.

        Raises
        ------
        NotFound
            If the session has no experiment summary, or it lacks the DMD or the kind.
        OutOfRange
            If the frames or the channel are outside the data (the message gives the range).
        """
        with self._summary() as h5:
            return slap2_summary.traces(h5, dmd, kind, channel=channel, frames=frames)

    def frame_info(self, dmd: int) -> dict[str, np.ndarray]:
        """A DMD's frame bookkeeping from the experiment summary (``trial_num_frames``,
        ``discard_frames``, ``frame_line_idxs``, motion shifts, …)."""
        with self._summary() as h5:
            return slap2_summary.frame_info(h5, dmd)

    def summary_image(self, dmd: int, name: str = "mean_im", channel: int = 1) -> np.ndarray:
        """A DMD's ``mean_im`` (per channel) or ``act_im`` from the experiment summary."""
        with self._summary() as h5:
            return slap2_summary.summary_image(h5, dmd, name, channel)

    def mean_image(self, dmd: int, source: str | None = None) -> np.ndarray:
        """A DMD's mean image (channel 1): the experiment summary's ``mean_im``, else the
        mean of the first registered movie, else the mean of its reference stack.

        Parameters
        ----------
        source : {"summary", "registered", "reference"}, optional
            Use this one only.
        """
        sources = ("summary", "registered", "reference")
        if source is not None and source not in sources:
            raise OutOfRange(f"source {source!r} is not one of {', '.join(sources)}")
        if source in (None, "summary") and self._of("summary"):
            try:
                return self.summary_image(dmd)
            except NotFound:
                if source is not None:
                    raise
        movies = self._of("registered", dmd) if source in (None, "registered") else []
        if movies:
            import warnings

            frames = self.registered(dmd, movies[0].trial or 0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # the NaN margin: all-NaN
                return np.nanmean(frames, axis=0)
        if source in (None, "reference") and self._of("reference", dmd):
            return self.reference_stack(dmd).astype(float).mean(axis=0)
        raise NotFound(
            f"no registered movie or reference stack for DMD{dmd} in {self.raw.name}; "
            f"DMDs: {self.dmds()}"
        )
