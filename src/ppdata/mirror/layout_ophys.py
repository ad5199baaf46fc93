"""Folder layouts of the Mesoscope assets (raw, planar ophys, behavior videos,
behavior/timing) and of SLAP2, for the synthetic world (see :mod:`ppdata.mirror.world`).

Layouts follow the data access guide and DOMAIN.md ("Mesoscope planar-ophys asset").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import layout_files, layout_slap2
from .layout_ephys import write_behavior_folder, write_behavior_videos
from .layout_slap2 import MARKUP_NOTE

if TYPE_CHECKING:
    from .layout_model import Asset, Plane, Session, World

__all__ = ["MARKUP_NOTE", "write_asset"]

# MARKUP_NOTE lives with the SLAP2 layouts that write it; re-exported here for its users.

_H5_FRAMES = 120  # frames in the plane h5 files (the NWB holds the full-length traces)
_CAMERAS = ("Behavior", "Eye", "Face", "Nose")


def write_asset(folder: Path, world: World, session: Session, asset: Asset) -> None:
    """Write one Mesoscope or SLAP2 asset."""
    if asset.kind in layout_slap2.KINDS or (
        asset.kind == "raw" and session.platform != "multiplane-ophys"
    ):
        layout_slap2.write_asset(folder, world, session, asset)
        return
    if asset.kind == "raw":
        _raw_mesoscope(folder, session, asset)
        return
    writers = {
        "planar-ophys": _planar,
        "behavior-videos": _videos,
        "behavior-timing": _timing,
        "unknown": _unknown,
    }
    writers[asset.kind](folder, world, session, asset)


def _stamp(session: Session) -> str:
    return session.acquired.strftime("%Y%m%dT%H%M%S")


def _tiff(path: Path, shape: tuple[int, ...], *seed: object) -> None:
    g = layout_files.rng("tiff", path.name, *seed)
    layout_files.write_bytes(
        path, layout_files.tiff_bytes(g.integers(0, 4096, size=shape, dtype=np.uint16))
    )


# --- Mesoscope raw --------------------------------------------------------------------------


def _raw_mesoscope(folder: Path, session: Session, asset: Asset) -> None:
    write_behavior_videos(folder, session, _CAMERAS)
    write_behavior_folder(folder, session)
    stem = folder / "pophys" / f"{session.subject_id}_{_stamp(session)}"
    _tiff(stem.with_name(stem.name + "_timeseries.tiff"), (4, 32, 32), session.name)
    _tiff(stem.with_name(stem.name + "_averaged_depth.tiff"), (32, 32), session.name)
    _tiff(stem.with_name(stem.name + "_averaged_surface.tiff"), (32, 32), session.name)
    layout_files.write_json(
        stem.with_name(stem.name + "_platform.json"),
        {"rig_id": session.rig, "imaging_plane_groups": 4, "frame_rate_hz": 9.48},
    )
    original = folder / "original_metadata"
    layout_files.write_json(
        original / "session.json", {"rig_id": session.rig, "note": "as acquired"}
    )
    layout_files.write_json(original / "rig.json", {"rig_id": session.rig})
    layout_files.write_metadata(
        folder, session, asset, modalities=("pophys", "behavior", "behavior-videos")
    )


# --- planar ophys ---------------------------------------------------------------------------


def _planar(folder: Path, world: World, session: Session, asset: Asset) -> None:
    from . import nwbgen

    for plane in asset.planes:
        _plane_folder(folder / plane.name, asset, plane)
    half = max(1, len(asset.planes) // 2)
    for i in range(half):
        pair = [p.name for p in asset.planes[i::half]]
        layout_files.write_text(folder / f"pair{i}.txt", "\n".join(pair) + "\n")
    _tiff(folder / "vasculature" / f"{session.subject_id}_vasculature.tif", (48, 48), asset.name)
    layout_files.write_json(
        folder / "vasculature" / "vasculature_metadata.json", {"pixel_size_um": 2.5}
    )
    g = layout_files.rng("stitched", asset.name)
    layout_files.write_h5(
        folder / "stitched_full_field_img.h5",
        {"data": g.integers(0, 4096, size=(48, 96), dtype=np.uint16)},
        {"pixel_size_um": 2.5},
    )
    layout_files.write_metadata(
        folder,
        session,
        asset,
        modalities=("pophys",),
        pipeline="pophys",
        qc_modality="pophys",
        qc_groups=tuple(p.name for p in asset.planes),
    )
    nwbgen.write_pophys_nwb(
        folder / str(asset.nwb_path),
        raw_name=session.name,
        subject_id=session.subject_id,
        session_start=session.acquired,
        planes=tuple((p.structure, p.index, p.depth_um) for p in asset.planes),
        rois_per_plane=asset.planes[0].rois,
        duration_s=session.duration_s,
        image_size=(64, 64),
        seed=layout_files.seed_of("nwb", asset.name),
    )


def _plane_folder(base: Path, asset: Asset, plane: Plane) -> None:
    name = plane.name
    g = layout_files.rng("plane", asset.name, name)
    n, frames = plane.rois, _H5_FRAMES
    movie = g.integers(0, 4096, size=(8, 32, 32), dtype=np.uint16)
    layout_files.write_h5(
        base / f"{name}.h5",
        {"data": movie},
        {"structure": plane.structure, "depth_um": plane.depth_um},
    )
    _tiff(base / f"{name}_depth.tif", (32, 32), asset.name)
    _tiff(base / f"{name}_surface.tif", (32, 32), asset.name)
    mc = base / "motion_correction"
    layout_files.write_h5(mc / f"{name}_registered.h5", {"data": movie.astype(np.int16)})
    # names as aind-ophys-nwb finds them: ``*<plane>_<part>*`` (REAL_SHAPES §7)
    layout_files.write_png(mc / f"{name}_average_projection.png", asset.name, size=(32, 32))
    layout_files.write_png(mc / f"{name}_maximum_projection.png", asset.name, size=(32, 32))
    shifts = "\n".join(f"{i},{g.normal(0, 1):.3f},{g.normal(0, 1):.3f}" for i in range(8))
    layout_files.write_text(mc / f"{name}_motion_transform.csv", "frame,x,y\n" + shifts + "\n")
    layout_files.write_json(
        mc / f"{name}_registered_metrics.json",
        {
            "plane": name,
            "frames": 8,
            "mean_shift_px": round(float(g.uniform(0.2, 2.0)), 3),
            "max_shift_px": round(float(g.uniform(2.0, 8.0)), 3),
        },
    )
    raw = g.gamma(2.0, 50.0, size=(n, frames)).astype(np.float32)
    neuropil = (raw * 0.3).astype(np.float32)
    corrected = (raw - 0.7 * neuropil).astype(np.float32)
    masks = (g.random((n, 32, 32)) > 0.97).astype(np.float32)
    layout_files.write_json(
        base / "extraction" / f"{name}_extract_traces.json",
        {"plane": name, "neuropil_coefficient": 0.7, "rois": n},
    )
    layout_files.write_h5(
        base / "extraction" / f"{name}_extraction.h5",
        {
            "traces/roi": raw,
            "traces/neuropil": neuropil,
            "traces/corrected": corrected,
            "rois/data": masks[masks > 0],
            "rois/coords": np.stack(np.nonzero(masks)).astype(np.int32),
            "rois/shape": np.array(masks.shape, dtype=np.int32),
            "meanImg": movie.mean(axis=0).astype(np.float32),
            "maxImg": movie.max(axis=0).astype(np.float32),
        },
    )
    baseline = np.median(corrected, axis=1, keepdims=True)
    dff = ((corrected - baseline) / np.maximum(baseline, 1)).astype(np.float32)
    layout_files.write_h5(
        base / "dff" / f"{name}_dff.h5",
        {
            "data": dff,
            "baseline": np.repeat(baseline, frames, 1).astype(np.float32),
            "noise": dff.std(axis=1),
        },
    )
    events = np.where(dff > 0.5, dff, 0).astype(np.float32)
    layout_files.write_h5(
        base / "events" / f"{name}{asset.events_suffix}", {"events": events, "denoised": dff}
    )
    soma = g.random(n).astype(np.float32)
    dendrite = (g.random(n) * (1 - soma)).astype(np.float32)
    layout_files.write_h5(
        base / "classification" / f"{name}_classification.h5",
        {
            "soma/probabilities": soma,
            "soma/predictions": soma > 0.5,
            "dendrites/probabilities": dendrite,
            "dendrites/predictions": dendrite > 0.5,
        },
    )
    layout_files.write_h5(base / "decrosstalk" / f"{name}_decrosstalk.h5", {"data": raw[:, :16]})
    layout_files.write_png(
        base / "movie_qc" / f"{name}_max_projection_with_rois.png", asset.name, size=(32, 32)
    )


# --- behavior videos and behavior/timing ----------------------------------------------------


def _videos(folder: Path, world: World, session: Session, asset: Asset) -> None:
    for camera in _CAMERAS:
        g = layout_files.rng("video", asset.name, camera)
        layout_files.write_png(
            folder / camera / f"{camera}_average_frame.png", asset.name, size=(40, 50)
        )
        layout_files.write_bytes(
            folder / camera / f"{camera}_motion_energy.npy",
            layout_files.npy_bytes(g.random(300).astype(np.float32)),
        )
        layout_files.write_json(
            folder / camera / f"{camera}_metadata.json", {"camera": camera, "frame_rate_hz": 60.0}
        )
    g = layout_files.rng("eye", asset.name)
    layout_files.write_h5(
        folder / "Eye" / "ellipses.h5",
        {
            f"{part}/{col}": g.normal(100, 5, 300)
            for part in ("pupil", "eye", "cr")
            for col in ("center_x", "center_y", "width", "height", "phi")
        },
    )
    layout_files.write_metadata(
        folder, session, asset, modalities=("behavior-videos",), pipeline="behavior-videos"
    )


_TIMING_PLOTS = ("photodiode", "physio", "eye", "face", "behavior")


def _timing(folder: Path, world: World, session: Session, asset: Asset) -> None:
    from . import nwbgen

    for plot in _TIMING_PLOTS:
        layout_files.write_png(folder / f"{plot}_timing_plot.png", asset.name)
    layout_files.write_png(folder / "wheel_speed.png", asset.name)
    layout_files.write_png(folder / "wheel_encoder_signal.png", asset.name)
    g = layout_files.rng("metrics", asset.name)
    layout_files.write_json(
        folder / "metrics.json",
        {
            "photodiode_delay_s": round(float(g.uniform(0.01, 0.04)), 5),
            "physio_frame_rate_hz": 9.48,
            "eye_camera_dropped_frames": int(g.integers(0, 20)),
            "face_camera_dropped_frames": int(g.integers(0, 20)),
            "stimulus_frames": int(session.duration_s * 60),
            "wheel_encoder_ok": True,
        },
    )
    layout_files.write_metadata(
        folder,
        session,
        asset,
        modalities=("behavior",),
        pipeline="behavior",
        qc_modality="behavior",
    )
    nwbgen.write_behavior_nwb(
        folder / str(asset.nwb_path),
        raw_name=session.name,
        subject_id=session.subject_id,
        session_start=session.acquired,
        duration_s=session.duration_s,
        seed=layout_files.seed_of("nwb", asset.name),
    )


def _unknown(folder: Path, world: World, session: Session, asset: Asset) -> None:
    """An early output of a pipeline in development: nothing a classifier knows."""
    layout_files.write_json(
        folder / "pipeline_output" / "run_summary.json", {"status": "partial", "trials": 3}
    )
    layout_files.write_text(folder / "logs" / "pipeline.log", "step 1/4 done\nstep 2/4 failed\n")
    layout_files.write_metadata(folder, session, asset, modalities=("slap",), pipeline="raw")
