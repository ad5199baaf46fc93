"""Folder layouts of the Neuropixels assets (raw, sorted, CCF, complete NWB) and of the
distractors, for the synthetic world (see :mod:`ppdata.mirror.world`).

Layouts follow the data access guide and DOMAIN.md ("Neuropixels sorted asset").
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .layout_files import (
    mp4_bytes,
    npy_bytes,
    random_bytes,
    rng,
    seed_of,
    write_bytes,
    write_h5,
    write_json,
    write_metadata,
    write_png,
    write_text,
    write_zarr_array,
)
from .layout_model import EPHYS_COMPLETE
from .layout_sessions import BIG_LISTING_BENCH, BIG_LISTING_SMALL, DISTRACTORS, STRAY_OBJECTS

if TYPE_CHECKING:
    from .layout_model import Asset, Session, World

__all__ = [
    "ephys_nwb_identity",
    "write_asset",
    "write_behavior_folder",
    "write_behavior_videos",
    "write_distractors",
]


def write_asset(folder: Path, world: World, session: Session, asset: Asset) -> None:
    """Write one Neuropixels asset."""
    writers = {"raw": _raw, "sorted": _sorted, "ccf": _ccf, "nwb": _complete_nwb}
    writers[asset.kind](folder, world, session, asset)


# --- raw ------------------------------------------------------------------------------------


def write_behavior_videos(folder: Path, session: Session, cameras: tuple[str, ...]) -> None:
    """``behavior-videos/``: one tiny MP4 plus a JSON sidecar per camera."""
    stamp = session.acquired.strftime("%Y%m%dT%H%M%S")
    for i, camera in enumerate(cameras):
        stem = folder / "behavior-videos" / f"{camera}_{stamp}"
        write_bytes(stem.with_suffix(".mp4"), mp4_bytes(2048 + 512 * i, session.name, camera))
        write_json(
            stem.with_suffix(".json"),
            {
                "camera_name": camera,
                "frame_rate_hz": 60.0,
                "frame_count": 7200,
                "width": 640,
                "height": 512,
                "codec": "h264",
                "start_time": session.acquired.isoformat(),
            },
        )


def write_behavior_folder(folder: Path, session: Session) -> None:
    """``behavior/``: stimulus table, sync file, running speed."""
    g = rng("behavior", session.name)
    start = 0.0
    lines = ["stimulus_name,start_time,stop_time,orientation,contrast"]
    for i in range(24):
        stop = start + 0.25
        name = "standard_oddball" if i % 8 else "oddball_deviant"
        lines.append(f"{name},{start:.4f},{stop:.4f},{(i % 8) * 45 % 180},1.0")
        start = stop + 0.5
    write_text(folder / "behavior" / "stimulus_table.csv", "\n".join(lines) + "\n")
    t = np.arange(0, 20, 1 / 60.0)
    speed = np.clip(g.normal(5, 3, t.size).cumsum() / 50 + 5, 0, None)
    rows = "\n".join(f"{a:.4f},{b:.4f}" for a, b in zip(t, speed, strict=True))
    write_text(folder / "behavior" / "running_speed.csv", "timestamps,speed_cm_s\n" + rows + "\n")
    stamp = session.acquired.strftime("%Y%m%dT%H%M%S")
    write_h5(
        folder / "behavior" / f"{session.subject_id}_{stamp}.sync",
        {
            "data": g.integers(0, 2**16, size=(256, 2), dtype=np.uint32),
            "meta": json.dumps({"ni_daq": {"counter_output_freq": 100000.0}}),
        },
    )


def _raw(folder: Path, world: World, session: Session, asset: Asset) -> None:
    write_behavior_videos(folder, session, ("Behavior", "Eye", "Face"))
    write_behavior_folder(folder, session)
    probes = session.current("sorted").probes
    node = folder / "ecephys" / "ecephys_clipped" / "Record Node 101"
    write_text(node / "settings.xml", _settings_xml(probes))
    recording = node / "experiment1" / "recording1"
    write_text(recording / "sync_messages.txt", "Software Time: 1735693261000\n")
    streams = []
    for probe in probes:
        stream = f"Neuropix-PXI-100.{probe}-AP"
        streams.append({"folder_name": f"{stream}/", "sample_rate": 30000.0, "num_channels": 384})
        target = recording / "continuous" / stream
        key = str((target / "continuous.dat").relative_to(world.bucket_dir))
        if key == world.big_object_key:
            _write_repeating(target / "continuous.dat", world.big_object_size, session.name)
        else:
            write_bytes(target / "continuous.dat", random_bytes(16 * 1024, key))
        write_bytes(target / "sample_numbers.npy", npy_bytes(np.arange(64, dtype=np.int64)))
        write_bytes(target / "timestamps.npy", npy_bytes(np.arange(64) / 30000.0))
    write_json(recording / "structure.oebin", {"GUI version": "0.6.7", "continuous": streams})
    compressed = folder / "ecephys" / "ecephys_compressed"
    for probe in probes:
        store = compressed / f"experiment1_Record Node 101#Neuropix-PXI-100.{probe}-AP.zarr"
        write_text(store / ".zgroup", '{\n    "zarr_format": 2\n}\n')
        write_json(store / ".zattrs", {"num_segments": 1, "sampling_frequency": 30000.0})
        write_zarr_array(
            store / "traces_seg0", chunk_bytes=4096, n_chunks=4, seed=(asset.name, probe)
        )
    original = folder / "original_metadata"
    write_json(original / "session.json", {"rig_id": session.rig, "note": "as acquired"})
    write_json(original / "rig.json", {"rig_id": session.rig, "probes": list(probes)})
    write_metadata(folder, session, asset, modalities=("ecephys", "behavior-videos"))


def _write_repeating(path: Path, size: int, seed: object) -> None:
    """A large file made of one random 8 MiB block repeated (fast to write, hard to compress)."""
    block = random_bytes(8 * 1024 * 1024, "big", seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        remaining = size
        while remaining > 0:
            piece = block[: min(len(block), remaining)]
            handle.write(piece)
            remaining -= len(piece)


def _settings_xml(probes: tuple[str, ...]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<SETTINGS>", "  <SIGNALCHAIN>"]
    for probe in probes:
        lines.append(f'    <PROBE name="{probe}" serial="18005{len(lines)}" headstage="NP2"/>')
    return "\n".join([*lines, "  </SIGNALCHAIN>", "</SETTINGS>", ""])


# --- sorted ---------------------------------------------------------------------------------


def _sorted(folder: Path, world: World, session: Session, asset: Asset) -> None:
    from . import jsongen, nwbgen

    big = world.big_listing_prefix.startswith(asset.prefix)
    for probe, rec in zip(asset.probes, asset.recordings, strict=True):
        g = rng("sorted", asset.name, probe)
        n = asset.units_per_probe
        for stage in ("spikesorted", "curated"):
            base = folder / stage / rec
            props = base / "properties"
            write_bytes(props / "Amplitude.npy", npy_bytes(g.uniform(40, 400, n)))
            write_bytes(props / "ContamPct.npy", npy_bytes(g.uniform(0, 100, n)))
            labels = np.array(["good", "mua"])[g.integers(0, 2, n)]
            write_bytes(props / "KSLabel.npy", npy_bytes(labels.astype("<U4")))
            write_bytes(props / "original_cluster_id.npy", npy_bytes(np.arange(n, dtype=np.int64)))
            if stage == "curated":
                label = np.array(["noise", "mua", "sua"])[g.integers(0, 3, n)]
                write_bytes(props / f"{asset.label_column}.npy", npy_bytes(label.astype("<U5")))
                write_bytes(props / "default_qc.npy", npy_bytes(g.random(n) > 0.4))
            spikes = np.zeros(
                40 * n,
                dtype=[("sample_index", "<i8"), ("unit_index", "<i8"), ("segment_index", "<i8")],
            )
            spikes["sample_index"] = np.sort(g.integers(0, 30000 * 120, spikes.size))
            spikes["unit_index"] = g.integers(0, n, spikes.size)
            write_bytes(base / "spikes.npy", npy_bytes(spikes))
            write_json(
                base / "numpysorting_info.json", {"sampling_frequency": 30000.0, "num_segments": 1}
            )
            write_json(
                base / "si_folder.json",
                {
                    "class": "spikeinterface.core.numpyextractors.NumpyFolderSorting",
                    "version": "0.101.2",
                },
            )
            write_json(
                base / "provenance.json",
                {"class": "spikeinterface.sorters.Kilosort4Sorter", "kwargs": {}},
            )
        _postprocessed(
            folder / "postprocessed" / f"{rec}.zarr",
            asset,
            probe,
            big and probe == "ProbeA",
            world.size,
        )
        motion = folder / "preprocessed" / "motion" / rec
        write_bytes(motion / "displacement_seg0.npy", npy_bytes(g.normal(0, 2, (12, 4))))
        write_bytes(motion / "spatial_bins_um.npy", npy_bytes(np.linspace(0, 3840, 4)))
        write_bytes(motion / "temporal_bins_s_seg0.npy", npy_bytes(np.arange(12) * 10.0))
        write_json(
            folder / "preprocessed" / f"preprocessedviz_{rec}.json",
            {"recording": rec, "highpass_hz": 300.0},
        )
        write_png(folder / "visualization" / rec / "drift_map.png", asset.name, probe)
        write_png(folder / "visualization" / rec / "traces.png", asset.name, probe)
    write_json(
        folder / "visualization_output.json",
        jsongen.visualization_output(
            asset.recordings, missing=dict(asset.missing_links), asset_name=asset.name
        ),
    )
    raw = session.raw
    write_json(
        folder / "original_metadata" / "data_description.json",
        {"name": raw.name, "data_level": "raw"},
    )
    write_metadata(
        folder,
        session,
        asset,
        modalities=("ecephys",),
        qc_modality="ecephys",
        qc_groups=asset.probes,
    )
    for i, nwb_path in enumerate(asset.nwb_paths):
        nwbgen.write_ephys_nwb(folder / nwb_path, **_ephys_nwb_params(world, session, asset, i))


def ephys_nwb_identity(session: Session, asset: Asset) -> dict[str, object]:
    """Arguments of :func:`~.nwbgen.write_ephys_nwb` that an ephys asset's description fixes
    for any NWB it holds: whose session, which probes and units, the format, the unit label
    column and whether electrodes carry CCF (the hand-made and the inventory sessions alike)."""
    return {
        "raw_name": session.name,
        "subject_id": session.subject_id,
        "session_start": session.acquired,
        "probes": asset.probes,
        "shanks": dict(asset.shanks),
        "units_per_probe": asset.units_per_probe,
        "fmt": asset.nwb_format,
        "label_column": asset.label_column,
        "ccf": asset.ccf,
    }


def _ephys_nwb_params(
    world: World, session: Session, asset: Asset, index: int = 0
) -> dict[str, object]:
    """Arguments of :func:`~.nwbgen.write_ephys_nwb` for the ``index``-th NWB of an asset
    (later ones are further recordings of the session: shorter, sorted on their own)."""
    bench = world.size == "bench"
    params: dict[str, object] = {
        **ephys_nwb_identity(session, asset),
        "duration_s": session.duration_s / (1 + 3 * index),
        "seed": seed_of("nwb", asset.name, index),
        "complete": asset.kind == "nwb",
    }
    if bench and asset.current and asset.units_per_probe >= 100:
        params.update(mean_firing_rate_hz=1.5, waveform_samples=30, lfp_duration_s=60.0)
        if session.name == EPHYS_COMPLETE and index == 0:
            params["long_lfp_probes"] = asset.probes[:1]  # a 75-min LFP, for the benchmarks
    return params


def _postprocessed(store: Path, asset: Asset, probe: str, big: bool, size: str) -> None:
    """A SortingAnalyzer-like Zarr folder; the big one has >1,000 keys (2,000 larger objects
    in the bench world, for the download benchmarks)."""
    write_text(store / ".zgroup", '{\n    "zarr_format": 2\n}\n')
    write_json(
        store / ".zattrs", {"spikeinterface_version": "0.101.2", "object": "SortingAnalyzer"}
    )
    ext = store / "extensions"
    write_text(ext / ".zgroup", '{\n    "zarr_format": 2\n}\n')
    for name in ("noise_levels", "templates", "quality_metrics", "unit_locations"):
        write_text(ext / name / ".zgroup", '{\n    "zarr_format": 2\n}\n')
        write_json(ext / name / ".zattrs", {"params": {}, "run_info": {"run_completed": True}})
        write_zarr_array(
            ext / name / "data", chunk_bytes=512, n_chunks=2, seed=(asset.name, probe, name)
        )
    if not big:
        return
    waveforms = ext / "waveforms"
    write_text(waveforms / ".zgroup", '{\n    "zarr_format": 2\n}\n')
    if size != "bench":
        write_zarr_array(
            waveforms / "waveforms", chunk_bytes=96, n_chunks=BIG_LISTING_SMALL, seed=asset.name
        )
        return
    # 2,000 objects whose sizes run log-uniformly over 10-500 KB: 20 arrays of 100 chunks
    block = random_bytes(1024 * 1024, "bench-block", asset.name)
    groups = 20
    for i in range(groups):
        chunk = int(10_000 * 50 ** (i / (groups - 1)))
        write_zarr_array(
            waveforms / f"waveforms_{i:02d}",
            chunk_bytes=chunk,
            n_chunks=BIG_LISTING_BENCH // groups,
            seed=(asset.name, i),
            block=block,
        )


# --- CCF and complete NWB -------------------------------------------------------------------


def _ccf(folder: Path, world: World, session: Session, asset: Asset) -> None:
    for probe in asset.probes:
        g = rng("ccf", asset.name, probe)
        lines = ["channel,rel_x_um,rel_y_um,ccf_ap_um,ccf_dv_um,ccf_ml_um,structure_acronym"]
        areas = ["VISp6a", "VISp5", "VISp4", "VISp2/3", "VISp1", "root"]
        for ch in range(0, 384, 16):
            ap, dv, ml = 8800 + g.normal(0, 20), 3800 - ch * 10.0, 3900 + g.normal(0, 20)
            area = areas[min(len(areas) - 1, ch * len(areas) // 384)]
            lines.append(f"{ch},{16 * (ch % 4)},{20 * (ch // 2)},{ap:.1f},{dv:.1f},{ml:.1f},{area}")
        write_text(folder / "ccf_channel_locations" / f"{probe}.csv", "\n".join(lines) + "\n")
        write_json(
            folder / "probe_tracks" / f"{probe}_track.json",
            {"probe": probe, "points_ccf_um": [[8800, 1000, 3900], [8800, 3800, 3900]]},
        )
    write_metadata(
        folder,
        session,
        asset,
        modalities=("ecephys",),
        pipeline="nwb",
        process="ccf",
        input_data_name=session.name,
    )


def _complete_nwb(folder: Path, world: World, session: Session, asset: Asset) -> None:
    from . import nwbgen

    write_metadata(folder, session, asset, modalities=("ecephys", "behavior", "behavior-videos"))
    for i, nwb_path in enumerate(asset.nwb_paths):
        nwbgen.write_ephys_nwb(folder / nwb_path, **_ephys_nwb_params(world, session, asset, i))


# --- distractors ----------------------------------------------------------------------------


def write_distractors(world: World) -> None:
    """Folders of other subjects, platforms and projects, and top-level stray objects."""
    from . import jsongen

    for name in DISTRACTORS:
        folder = world.bucket_dir / name
        parts = name.split("_")
        platform, subject = parts[0], parts[1]
        acquired = _acquired(name)
        docs = jsongen.metadata_documents(
            name,
            schema=1,
            platform=platform,
            subject_id=subject,
            acquired=acquired,
            modalities=("ecephys",) if platform == "ecephys" else ("behavior",),
            project_name="Brain Wide Map" if platform == "SmartSPIM" else "Dynamic Routing",
            seed=seed_of("distractor", name),
        )
        write_json(folder / "data_description.json", docs["data_description.json"])
        write_json(folder / "subject.json", docs["subject.json"])
        if "_sorted_" in name:
            rec = "experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP_recording1"
            spikes = np.arange(100, dtype=np.int64)
            write_bytes(folder / "spikesorted" / rec / "spikes.npy", npy_bytes(spikes))
        else:
            write_text(folder / "README.txt", f"{name}: not part of Predictive Processing\n")
    index, log = STRAY_OBJECTS
    write_text(world.bucket_dir / index, "<html><body>aind-open-data</body></html>\n")
    write_text(world.bucket_dir / log, "upload started\nupload finished\n")


def _acquired(name: str) -> datetime:
    from ..naming import parse_name

    return parse_name(name).acquired or datetime(2025, 7, 1, 12, 0, 0)
