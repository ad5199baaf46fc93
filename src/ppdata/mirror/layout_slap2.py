"""Folder layouts of the SLAP2 assets (raw, ``_motion-corrected_``, ``_processed_``) for the
synthetic world (see :mod:`ppdata.mirror.world`).

Shapes follow REAL_SHAPES.md §12: per-trial ``.dat`` files with the v2 header, a per-DMD
``.meta`` (MAT v7.3, i.e. HDF5 behind a 512-byte MATLAB header) and ``.annotation.json``,
a reference stack TIFF; the motion-corrected asset holds float32 BigTIFF movies (channels
interleaved, 50-px NaN margin) and ``_ALIGNMENTDATA.mat``. The raw asset also keeps the
older stand-ins the world had before (registered TIFFs in ``dynamic_data``,
``static_data``). The SLAP2 ``_processed_`` asset holds
``source_extraction/experiment_summary.h5`` (GIAnT's summary, ``Path<n>`` groups).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..slap2.format import DAT_MAGIC, dat_header_bytes
from .layout_ephys import write_behavior_videos
from .layout_files import (
    mat_bytes,
    random_bytes,
    rng,
    tiff_bytes,
    write_bytes,
    write_h5,
    write_json,
    write_metadata,
    write_text,
)

if TYPE_CHECKING:
    from .layout_model import Asset, Session, World

__all__ = [
    "CHUNKED_TRIAL",
    "CHUNK_STARTS",
    "DAT_GEOMETRY",
    "KINDS",
    "MARKUP_NOTE",
    "MOVIE_SHAPE",
    "SUMMARY_SOURCES",
    "SUMMARY_TRIAL_FRAMES",
    "TRIALS",
    "dat_bytes",
    "dat_samples",
    "movie_pages",
    "summary_arrays",
    "write_asset",
]

#: A file in the SLAP2 raw asset's ``slap2/notes/`` whose name is markup (``<script>``, an
#: ``<img onerror>``): the web page's XSS test looks for it (a ``/`` cannot be in a name).
MARKUP_NOTE = "<script>window.ppdataXss=1<script><img src=x onerror=window.ppdataXss=2>.txt"
#: Asset kinds written here besides ``raw``.
KINDS = ("motion-corrected", "slap2-processed")
DMDS = (1, 2)
TRIALS = (1, 2, 3)
#: Geometry of the raw ``.dat`` files (small: a few hundred KB each). Lines differ in size,
#: as on the real files: each holds its own super-pixels (counts per line below).
DAT_GEOMETRY: dict[str, Any] = {
    "cycles": 200,
    "line_counts": (32, 30, 28, 26, 32, 30, 28, 26),
    "line_header_bytes": 40,
    "channels": 2,
}
#: A trial written as ``-CYCLE-<offset>`` chunks (DMD1 only), split at these cycles.
CHUNKED_TRIAL = 4
CHUNK_STARTS = (0, 120)
#: Registered movies: frames (80 Hz) and the cropped field of view, before the NaN margin.
MOVIE_SHAPE = (6, 12, 12)
_MARGIN = 50
_LINE_PERIOD_S = 625e-6


def write_asset(folder: Path, world: World, session: Session, asset: Asset) -> None:
    """Write one SLAP2 asset."""
    if asset.kind == "raw":
        _raw_slap2(folder, session, asset)
        _raw_real(folder, session)
    elif asset.kind == "motion-corrected":
        _motion_corrected(folder, session, asset)
    elif asset.kind == "slap2-processed":
        _processed(folder, session, asset)
    else:
        raise ValueError(f"not a SLAP2 asset kind: {asset.kind!r}")


def _stamp(session: Session) -> str:
    return session.acquired.strftime("%Y%m%dT%H%M%S")


def _tiff(path: Path, shape: tuple[int, ...], *seed: object) -> None:
    g = rng("tiff", path.name, *seed)
    write_bytes(path, tiff_bytes(g.integers(0, 4096, size=shape, dtype=np.uint16)))


def dat_samples(session_name: str, dmd: int, trial: int) -> list[np.ndarray]:
    """The samples of each line: ``(cycles, channels, count)`` int16 per line."""
    g = DAT_GEOMETRY
    r = rng("dat", session_name, dmd, trial)
    out = []
    for count in g["line_counts"]:
        samples = r.integers(-200, 3000, size=(g["cycles"], g["channels"], count), dtype=np.int16)
        samples[:, 1] //= 4  # channel 2 (red, structural) is dimmer than channel 1
        out.append(samples)
    return out


def dat_bytes(
    session_name: str, dmd: int, trial: int, chunk: tuple[int, int] | None = None
) -> bytes:
    """One raw trial file: the v2 header, then cycles of lines, each line a 40-byte line
    header (lineSizeBytes, magic, line number, acquisition number, flags, x/y offsets,
    timestamp, z offset, z feedback) and one block of int16 samples per channel.
    ``chunk``: only these cycles (``[start, stop)``), for a ``-CYCLE-<start>`` file."""
    g = DAT_GEOMETRY
    lh, nch, counts = g["line_header_bytes"], g["channels"], g["line_counts"]
    sizes = [lh + 2 * nch * count for count in counts]
    fields = {
        "firstCycleOffsetBytes": 0,  # patched below: right after the header, as on real files
        "lineHeaderSizeBytes": lh,
        "laserPathIdx": 1,
        "bytesPerCycle": sum(sizes),
        "linesPerCycle": len(counts),
        "superPixelsPerCycle": sum(counts),
        "dmdPixelsPerRow": 1280,
        "dmdPixelsPerColumn": 800,
        "numChannels": nch,
        "channelMask": 0b11,
        "numSlices": 1,
        "channelsInterleave": 0,
        "fpgaSystemClock_Hz": 200_000_000,
        "referenceTimestamp_lower": 1_000_000 * trial,
        "referenceTimestamp_upper": 0,
    }
    fields["firstCycleOffsetBytes"] = len(dat_header_bytes(fields))
    cycles = g["cycles"]
    samples = dat_samples(session_name, dmd, trial)
    lines = []
    for i, (size, data) in enumerate(zip(sizes, samples, strict=True)):
        header = np.zeros((cycles, lh), dtype=np.uint8)
        words = header[:, :20].view("<u4")
        words[:, 0] = size
        words[:, 1] = DAT_MAGIC
        words[:, 2] = i
        words[:, 3] = np.arange(cycles)
        header[:, 24:32] = ((np.arange(cycles, dtype="<u8") * len(sizes) + i) * 125_000)[
            :, None
        ].view(np.uint8)
        lines.append(header)
        lines.append(data.astype("<i2").reshape(cycles, -1).view(np.uint8))
    body = np.concatenate(lines, axis=1)
    if chunk is not None:
        body = body[chunk[0] : chunk[1]]
    return dat_header_bytes(fields) + body.tobytes()


def _meta(path: Path, dmd: int) -> None:
    """A MAT v7.3 file: HDF5 with a 512-byte user block holding the MATLAB text header."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    g = DAT_GEOMETRY
    with h5py.File(path, "w", userblock_size=512) as h5:
        h5.create_dataset("linePeriod_s", data=np.array([[_LINE_PERIOD_S]]), track_times=False)
        refs_group = h5.create_group("#refs#", track_times=False)
        refs = []
        for line, count in enumerate(g["line_counts"]):
            ids = np.arange(count, dtype=float) + 1000 * dmd + 100 * line
            ds = refs_group.create_dataset(f"l{line}", data=ids[None, :], track_times=False)
            refs.append(ds.ref)
        plan = h5.create_group("AcquisitionContainer/AcquisitionPlan", track_times=False)
        plan.create_dataset(
            "superPixelIDs",
            data=np.array(refs, dtype=h5py.ref_dtype)[:, None],
            track_times=False,
        )
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Nov 13 10:30:53 2025 HDF5"
    with open(path, "r+b") as handle:
        handle.write(text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")


def _raw_real(folder: Path, session: Session) -> None:
    """The raw files in their real shapes (REAL_SHAPES.md §12)."""
    dynamic = folder / "slap2" / "dynamic_data"
    date, time = session.acquired.strftime("%Y%m%d"), session.acquired.strftime("%H%M%S")
    stem = f"activity_{date}_{time}"
    for i, dmd in enumerate(DMDS):
        for trial in TRIALS:
            write_bytes(
                dynamic / f"{stem}_DMD{dmd}-TRIAL{trial:06d}.dat",
                dat_bytes(session.name, dmd, trial),
            )
        if dmd == 1:
            ends = (*CHUNK_STARTS[1:], DAT_GEOMETRY["cycles"])
            for start, end in zip(CHUNK_STARTS, ends, strict=True):
                write_bytes(
                    dynamic / f"{stem}_DMD1-TRIAL{CHUNKED_TRIAL:06d}-CYCLE-{start:06d}.dat",
                    dat_bytes(session.name, 1, CHUNKED_TRIAL, (start, end)),
                )
        _meta(dynamic / f"{stem}_DMD{dmd}.meta", dmd)
        write_json(
            dynamic / f"{stem}_DMD{dmd}.annotation.json",
            {
                "intended_green_channel_target": "iGluSnFR4f",
                "intended_red_channel_target": "jRGECO1a" if i else "RCaMP3",
                "targeted_structure": "VISp",
                "pia_depth_on_remote_focus_um": 110 + 40 * i,
            },
        )
        _tiff(
            dynamic / "reference_stack" / f"refStack_{date}_{time}_DMD{dmd}-REFERENCE.tif",
            (5, 40, 40),
            dmd,
        )


def movie_pages(session_name: str, dmd: int, trial: int) -> np.ndarray:
    """The pages of a registered movie: ``(frames * 2, y, x)`` float32, channels
    interleaved, with the NaN margin."""
    frames, h, w = MOVIE_SHAPE
    g = rng("movie", session_name, dmd, trial)
    pages = np.full((frames * 2, h + 2 * _MARGIN, w + 2 * _MARGIN), np.nan, dtype=np.float32)
    base = g.uniform(100, 400, size=(h, w)).astype(np.float32)
    for f in range(frames):
        pages[2 * f, _MARGIN:-_MARGIN, _MARGIN:-_MARGIN] = base + g.normal(0, 20, (h, w))
        pages[2 * f + 1, _MARGIN:-_MARGIN, _MARGIN:-_MARGIN] = base / 4 + g.normal(0, 5, (h, w))
    return pages


def _motion_corrected(folder: Path, session: Session, asset: Asset) -> None:
    import tifffile

    for dmd in DMDS:
        for trial in TRIALS:
            stem = folder / f"DMD{dmd}" / f"E1T{trial}DMD{dmd}"
            path = stem.with_name(stem.name + "_REGISTERED_DOWNSAMPLED-80Hz.tif")
            path.parent.mkdir(parents=True, exist_ok=True)
            # one page per write: a MATLAB-like file of uniform pages (no tifffile series
            # metadata, no timestamps), so the bytes are reproducible
            with tifffile.TiffWriter(path, bigtiff=True) as tif:
                for page in movie_pages(session.name, dmd, trial):
                    tif.write(page, software=False, metadata=None, resolution=(40000, 40000))
            shifts = rng("align", asset.name, dmd, trial).normal(0, 1, size=(2, MOVIE_SHAPE[0]))
            write_bytes(
                stem.with_name(stem.name + "_ALIGNMENTDATA.mat"),
                mat_bytes(
                    {"alignHz": np.array([80.0]), "motionDSr": shifts[0], "motionDSc": shifts[1]},
                    created="Thu May 21 01:54:59 2026",
                ),
            )
    write_metadata(folder, session, asset, modalities=("slap",))


#: The processed asset's experiment summary: frames per trial and sources per DMD.
SUMMARY_TRIAL_FRAMES = (1200, 1200, 1600)
SUMMARY_SOURCES = {1: 6, 2: 4}


def summary_arrays(asset_name: str, dmd: int) -> dict[str, np.ndarray]:
    """The datasets of one DMD's group (``Path<dmd>``) of ``experiment_summary.h5``, in
    the newer GIAnT layout: traces ``(frames, channels, sources)``, MATLAB-style ``(1, n)``
    vectors, ``mean_im`` ``(channels, z, rows, cols)``, one drawn ROI on DMD1."""
    g = rng("summary", asset_name, dmd)
    frames, sources = sum(SUMMARY_TRIAL_FRAMES), SUMMARY_SOURCES[dmd]
    h, w = MOVIE_SHAPE[1:]
    f0 = g.uniform(200, 400, size=(1, 2, sources)) * np.ones((frames, 1, 1))
    d_f = np.clip(g.normal(0, 20, size=(frames, 2, sources)), 0, None)
    out = {
        "frame_info/trial_num_frames": np.array([SUMMARY_TRIAL_FRAMES], dtype=float),
        "frame_info/frame_line_idxs": (np.arange(frames, dtype=float) * 100 + 1)[None, :],
        "frame_info/discard_frames": (g.uniform(size=(frames, 1)) < 0.02).astype(np.uint8),
        "frame_info/onlineXshifts": g.normal(0, 1, size=(1, frames)),
        "sources/temporal/F0": f0.astype(np.float32),
        "sources/temporal/dF_denoised": d_f.astype(np.float32),
        "sources/temporal/dF_ls": (d_f + g.normal(0, 5, size=d_f.shape)).astype(np.float32),
        "sources/temporal/events": (d_f > 40).astype(np.float32),
        "visualizations/mean_im": g.uniform(100, 400, size=(2, 1, h, w)).astype(np.float32),
        "visualizations/act_im": g.uniform(0, 1, size=(1, h, w)).astype(np.float32),
    }
    if dmd == 1:
        out["user_rois/F"] = g.uniform(100, 300, size=(frames, 2, 1)).astype(np.float32)
        out["user_rois/Fsvd"] = out["user_rois/F"] * 0.9
    return out


def _processed(folder: Path, session: Session, asset: Asset) -> None:
    """``source_extraction/experiment_summary.h5`` (the path the packaging code reads)."""
    datasets = {
        f"Path{dmd}/{key}": value
        for dmd in DMDS
        for key, value in summary_arrays(asset.name, dmd).items()
    }
    write_h5(folder / "source_extraction" / "experiment_summary.h5", datasets)
    write_metadata(folder, session, asset, modalities=("slap",))


# --- the world's earlier SLAP2 stand-ins (moved here from layout_ophys) ---------------------


def _raw_slap2(folder: Path, session: Session, asset: Asset) -> None:
    write_behavior_videos(folder, session, ("Eye", "Face"))
    g = rng("harp", session.name)
    harp = folder / "behavior" / "harp"
    for register in (32, 33, 44):
        write_bytes(harp / f"Behavior_{register}.bin", random_bytes(600, session.name, register))
    write_text(
        folder / "behavior" / "stimulus_log.csv",
        "trial,start_time,stimulus\n"
        + "".join(f"{t},{t * 4.0 + g.uniform(0, 0.01):.4f},grating_{t % 4}\n" for t in range(12)),
    )
    slap2 = folder / "slap2"
    dynamic = slap2 / "dynamic_data"
    stem = f"acquisition_{_stamp(session)}"
    for dmd in (1, 2):
        _tiff(
            dynamic / "reference_stack" / f"{stem}_DMD{dmd}_reference_stack.tif", (3, 24, 24), dmd
        )
        for trial in (1, 2, 3):
            name = f"{stem}_DMD{dmd}-trial{trial:03d}"
            _tiff(dynamic / f"{name}_REGISTERED_DOWNSAMPLED-80Hz.tif", (4, 16, 24), dmd, trial)
            shifts = rng("align", name).normal(0, 1, size=(2, 16))
            write_bytes(
                dynamic / f"{name}_ALIGNMENTDATA.mat",
                mat_bytes(
                    {"motionDSr": shifts[0], "motionDSc": shifts[1]},
                    created="Tue Sep  9 09:09:09 2025",
                ),
            )
        static = slap2 / "static_data" / f"structure_1_DMD{dmd}"
        _tiff(static.with_name(static.name + ".tif"), (24, 24), dmd)
        write_json(
            static.with_name(static.name + ".annotation.json"),
            {
                "rois": [
                    {"id": i, "center": [4 + 3 * i, 6 + 2 * i], "radius_px": 2} for i in range(5)
                ]
            },
        )
        write_bytes(static.with_name(static.name + ".dat"), random_bytes(2048, session.name, dmd))
        write_text(
            static.with_name(static.name + ".meta"), f"dmd = {dmd}\nlines = 24\npixels = 24\n"
        )
    write_text(
        slap2 / "notes" / "session_notes.txt", "Good expression in DMD1; DMD2 slightly dim.\n"
    )
    # A note whose name holds markup: pages that show key names must show it as text.
    write_text(slap2 / "notes" / MARKUP_NOTE, "A file name with markup in it.\n")
    write_metadata(folder, session, asset, modalities=("slap", "behavior", "behavior-videos"))
