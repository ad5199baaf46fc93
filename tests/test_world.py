"""The synthetic world against DOMAIN.md and the data access guide.

One small world is built fresh for this module (``fresh``); determinism is checked against
the cached world of ``conftest.py`` (built by another process with the same code).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import threading
import zlib
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

from ppdata.errors import MirrorError, NotFound
from ppdata.mirror import world as world_module
from ppdata.mirror.world import (
    EPHYS_COMPLETE,
    EPHYS_REPROCESSED,
    KINDS,
    MESOSCOPE_A,
    MESOSCOPE_B,
    NONDETERMINISTIC_KEYS,
    NOT_ON_S3,
    SLAP2_PILOT,
    SLAP2_SESSION,
    SPREADSHEET_SESSION_COLUMN,
    STAMP_NAME,
    World,
    build_world,
    describe_world,
    ensure_world,
    load_world,
    recording_name,
    world_dir,
)
from ppdata.naming import NameKind, parse_name

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("fresh-world"), size="small")


def _files(top: Path) -> dict[str, Path]:
    return {
        str(Path(dirpath, name).relative_to(top)).replace(os.sep, "/"): Path(dirpath, name)
        for dirpath, _, names in os.walk(top)
        for name in names
    }


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _png_ok(path: Path) -> bool:
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return False
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8 : start - 4], "big")
    zlib.decompress(data[start : start + length])
    return data.endswith(b"IEND\xaeB`\x82")


# --- names and the top level ----------------------------------------------------------------


def test_main_session_names_follow_the_guide():
    assert parse_name(EPHYS_REPROCESSED).platform == "ecephys"
    assert parse_name(MESOSCOPE_A).platform == "multiplane-ophys"
    assert len(parse_name(EPHYS_COMPLETE).subject_id) == 6
    assert len(parse_name(MESOSCOPE_B).subject_id) == 6
    slap2 = parse_name(SLAP2_SESSION)
    assert slap2.kind is NameKind.RAW and slap2.platform is None


def test_every_asset_name_parses_with_the_right_form(fresh: World):
    process_of = {
        "sorted": "sorted",
        "planar-ophys": "processed",
        "behavior-videos": "processed",
        "behavior-timing": "processed",
        "nwb": "nwb",
        "motion-corrected": "motion-corrected",
        "slap2-processed": "processed",
        "unknown": "processed",
    }
    for session in fresh.sessions:
        assert parse_name(session.name).kind is NameKind.RAW
        for asset in session.assets:
            assert asset.kind in KINDS
            parsed = parse_name(asset.name)
            if asset.kind == "raw":
                assert parsed.kind is NameKind.RAW and asset.name == session.name
            elif asset.kind == "ccf":
                assert parsed.kind is NameKind.CCF and parsed.subject_id == session.subject_id
            else:
                assert parsed.kind is NameKind.DERIVED
                assert parsed.raw_name == session.name
                assert parsed.process == process_of[asset.kind]
                assert parsed.processed == asset.processed


def test_top_level_is_our_assets_distractors_and_strays(fresh: World):
    entries = {p.name: p for p in fresh.bucket_dir.iterdir()}
    ours = {a.name for a in fresh.assets}
    assert set(entries) == ours | set(fresh.distractors) | set(fresh.stray_objects)
    assert all(entries[name].is_dir() for name in ours | set(fresh.distractors))
    assert all(entries[name].is_file() for name in fresh.stray_objects)
    assert not (fresh.bucket_dir / NOT_ON_S3).exists()
    for name in fresh.distractors:
        parse_name(name)  # valid names: only the prefix rule can tell them apart


def test_distractors_share_our_prefixes_but_not_our_sessions(fresh: World):
    for name in fresh.distractors:
        for session in fresh.on_s3:
            assert not name.startswith(session.name + "_") and name != session.name
    names = fresh.distractors
    assert any(n.startswith("ecephys_8204541") for n in names)  # subject 820454 extended
    assert any(n.startswith("ecephys_8204597") and n.endswith("_ccf") for n in names)
    assert any(parse_name(n).subject_id == "820454" and n.startswith("SmartSPIM") for n in names)
    # a stray object sits under a session's listing prefix
    assert any(s.startswith(EPHYS_REPROCESSED + "_") for s in fresh.stray_objects)
    # another project's metadata
    projects = {
        _json(fresh.bucket_dir / n / "data_description.json")["project_name"] for n in names
    }
    assert "OpenScope Predictive Processing" not in projects


def test_session_assets_and_versions(fresh: World):
    s1 = fresh.session(EPHYS_REPROCESSED)
    sorted_assets = s1.assets_of("sorted")
    assert len(sorted_assets) == 2
    new, old = sorted_assets
    assert new.processed > old.processed and new.current and not old.current
    assert new.units != old.units
    assert (new.label_column, old.label_column) == ("unitrefine_label", "decoder_label")
    assert (new.schema, new.qc_schema, old.schema, old.qc_schema) == (2, 2, 1, 1)
    s2 = fresh.session(EPHYS_COMPLETE)
    assert s2.kinds == {"raw", "sorted", "ccf", "nwb"}
    assert s2.current("nwb").nwb_format == "hdf5"
    for name in (MESOSCOPE_A, MESOSCOPE_B):
        meso = fresh.session(name)
        processed = [a for a in meso.assets if a.kind != "raw"]
        assert len(processed) == 3 and all("_processed_" in a.name for a in processed)
    assert fresh.session(SLAP2_PILOT).kinds == {"raw", "unknown"}
    assert fresh.session(SLAP2_SESSION).kinds == {"raw", "motion-corrected", "slap2-processed"}
    with pytest.raises(NotFound):
        fresh.session(SLAP2_SESSION).current("sorted")
    with pytest.raises(NotFound):
        fresh.session("ecephys_000000_2025-01-01_01-01-01")


def test_mesoscope_kinds_cannot_be_guessed_from_timestamp_order(fresh: World):
    orders = []
    for name in (MESOSCOPE_A, MESOSCOPE_B):
        processed = [a for a in fresh.session(name).assets if a.kind != "raw"]
        orders.append([a.kind for a in sorted(processed, key=lambda a: a.processed)])
    assert orders[0] != orders[1]
    assert sorted(orders[0]) == sorted(orders[1])


# --- layouts --------------------------------------------------------------------------------


def test_raw_assets(fresh: World):
    modality = {"ecephys": "ecephys", "multiplane-ophys": "pophys", None: "slap2"}
    for session in fresh.on_s3:
        folder = fresh.bucket_dir / session.name
        videos = sorted((folder / "behavior-videos").iterdir())
        mp4 = [p for p in videos if p.suffix == ".mp4"]
        assert mp4 and all(p.with_suffix(".json").exists() for p in mp4)
        assert all(p.read_bytes()[4:8] == b"ftyp" for p in mp4)
        assert any((folder / "behavior").iterdir())
        assert (folder / modality[session.platform]).is_dir()
        v1 = session.raw.schema == 1
        assert (folder / "session.json").exists() == v1
        assert (folder / "rig.json").exists() == v1
        assert (folder / "acquisition.json").exists() == (not v1)
        assert (folder / "instrument.json").exists() == (not v1)
        if session.platform != "ecephys":
            continue
        ephys = folder / "ecephys"
        assert {p.name for p in ephys.iterdir()} == {"ecephys_clipped", "ecephys_compressed"}
        assert (folder / "original_metadata").is_dir()


def test_slap2_raw_layout(fresh: World):
    folder = fresh.bucket_dir / SLAP2_SESSION / "slap2"
    dynamic = folder / "dynamic_data"
    assert any((dynamic / "reference_stack").iterdir())
    tifs = list(dynamic.glob("*_REGISTERED_DOWNSAMPLED-80Hz.tif"))
    mats = list(dynamic.glob("*_ALIGNMENTDATA.mat"))
    assert tifs and len(mats) == len(tifs)
    assert all(p.read_bytes()[:4] == b"II*\x00" for p in tifs)
    assert all(p.read_bytes().startswith(b"MATLAB 5.0 MAT-file") for p in mats)
    static = {p.suffix for p in (folder / "static_data").iterdir()}
    assert {".tif", ".json", ".dat", ".meta"} <= static
    assert any((folder / "notes").iterdir())
    data_description = _json(fresh.bucket_dir / SLAP2_SESSION / "data_description.json")
    assert data_description["schema_version"].startswith("2.")


def test_sorted_asset_layout(fresh: World):
    for session in (fresh.session(EPHYS_REPROCESSED), fresh.session(EPHYS_COMPLETE)):
        for asset in session.assets_of("sorted"):
            folder = fresh.bucket_dir / asset.name
            for probe, rec in zip(asset.probes, asset.recordings, strict=True):
                assert "#" in rec and " " in rec and probe in rec
                assert (folder / "spikesorted" / rec / "spikes.npy").exists()
                assert any((folder / "spikesorted" / rec / "properties").glob("*.npy"))
                assert any((folder / "spikesorted" / rec).glob("*.json"))
                assert (folder / "curated" / rec / "spikes.npy").exists()
                assert (folder / "postprocessed" / f"{rec}.zarr" / ".zgroup").exists()
                assert (folder / "preprocessed" / "motion" / rec).is_dir()
                assert any((folder / "visualization" / rec).iterdir())
                pngs = list((folder / "quality_control" / rec).glob("*.png"))
                assert pngs and all(_png_ok(p) for p in pngs)
                labels = np.load(
                    folder / "curated" / rec / "properties" / f"{asset.label_column}.npy"
                )
                assert len(labels) == asset.units_per_probe
            links = _json(folder / "visualization_output.json")
            assert set(links) == set(asset.recordings)
            for rec, key in asset.missing_links:
                assert key not in links[rec]
            nwb = folder / str(asset.nwb_path)
            assert nwb.parent.name == "nwb" and nwb.name.endswith("_experiment1_recording1.nwb")
            assert nwb.name.startswith(session.name)
            assert nwb.is_dir() and (nwb / ".zgroup").exists() and (nwb / ".zmetadata").exists()
            for name in ("quality_control.json", "data_description.json", "metadata.nd.json"):
                assert (folder / name).exists()
    incomplete = fresh.session(EPHYS_COMPLETE).current("sorted")
    assert incomplete.missing_links


def test_ccf_and_complete_nwb_assets(fresh: World):
    session = fresh.session(EPHYS_COMPLETE)
    ccf = fresh.bucket_dir / session.current("ccf").name
    tables = list(ccf.rglob("*.csv"))
    assert tables and (ccf / "data_description.json").exists()
    header = tables[0].read_text().splitlines()[0].split(",")
    assert {"channel", "ccf_ap_um", "ccf_dv_um", "ccf_ml_um"} <= set(header)
    complete = session.current("nwb")
    path = fresh.bucket_dir / complete.name / str(complete.nwb_path)
    assert complete.nwb_path == f"{session.name}_experiment1_recording1.nwb"
    assert path.is_file() and path.read_bytes()[:8] == HDF5_SIGNATURE


def test_planar_ophys_layout(fresh: World):
    for name in (MESOSCOPE_A, MESOSCOPE_B):
        asset = fresh.session(name).current("planar-ophys")
        folder = fresh.bucket_dir / asset.name
        assert asset.planes
        for plane in asset.planes:
            p = folder / plane.name
            assert (p / f"{plane.name}.h5").exists()
            assert list(p.glob(f"{plane.name}_*.tif"))
            assert (p / "dff" / f"{plane.name}_dff.h5").exists()
            assert (p / "events" / f"{plane.name}{asset.events_suffix}").exists()
            assert (p / "extraction" / f"{plane.name}_extraction.h5").exists()
            assert (p / "classification" / f"{plane.name}_classification.h5").exists()
            assert (p / "motion_correction" / f"{plane.name}_registered.h5").exists()
            assert (p / "decrosstalk").is_dir() and (p / "movie_qc").is_dir()
        assert (folder / "pophys.nwb.zarr" / ".zgroup").exists()
        assert (folder / "pair0.txt").exists() and (folder / "vasculature").is_dir()
        assert (folder / "stitched_full_field_img.h5").exists()
        assert not list(folder.glob("*.nwb"))
    suffixes = {
        fresh.session(n).current("planar-ophys").events_suffix for n in (MESOSCOPE_A, MESOSCOPE_B)
    }
    assert suffixes == {"_events_oasis.h5", "_events.h5"}
    planes = [p.name for p in fresh.session(MESOSCOPE_A).current("planar-ophys").planes]
    assert {"VISp_0", "VISl_4"} <= set(planes)
    assert sorted(
        p.name
        for p in (fresh.bucket_dir / fresh.session(MESOSCOPE_A).current("planar-ophys").name).glob(
            "pair*.txt"
        )
    ) == [f"pair{i}.txt" for i in range(4)]


def test_plane_h5_contents(fresh: World):
    import h5py

    asset = fresh.session(MESOSCOPE_A).current("planar-ophys")
    plane = asset.planes[0]
    base = fresh.bucket_dir / asset.name / plane.name
    with h5py.File(base / "extraction" / f"{plane.name}_extraction.h5", "r") as f:
        assert {"traces", "rois", "meanImg", "maxImg"} <= set(f)
        assert {"roi", "neuropil", "corrected"} <= set(f["traces"])
        assert f["traces/roi"].shape[0] == plane.rois
    with h5py.File(base / "dff" / f"{plane.name}_dff.h5", "r") as f:
        assert {"data", "baseline", "noise"} <= set(f)
    with h5py.File(base / "events" / f"{plane.name}{asset.events_suffix}", "r") as f:
        assert {"events", "denoised"} <= set(f)


def test_behavior_videos_and_timing_layouts(fresh: World):
    for name in (MESOSCOPE_A, MESOSCOPE_B):
        session = fresh.session(name)
        videos = fresh.bucket_dir / session.current("behavior-videos").name
        for camera in ("Behavior", "Eye", "Face", "Nose"):
            assert any((videos / camera).iterdir())
        timing_asset = session.current("behavior-timing")
        timing = fresh.bucket_dir / timing_asset.name
        assert list(timing.glob("*_timing_plot.png")) and list(timing.glob("wheel_*.png"))
        assert all(_png_ok(p) for p in timing.glob("*.png"))
        assert (timing / "metrics.json").exists()
        assert timing_asset.nwb_path == f"{session.name}.nwb"
        assert (timing / f"{session.name}.nwb" / ".zgroup").exists()


def test_no_empty_folders(fresh: World):
    for dirpath, dirnames, filenames in os.walk(fresh.bucket_dir):
        assert dirnames or filenames, f"empty folder {dirpath} (not an S3 object)"


def test_folder_with_more_than_1000_keys(fresh: World):
    folder = fresh.bucket_dir / fresh.big_listing_prefix
    assert fresh.big_listing_prefix.endswith("/")
    assert len(_files(folder)) > 1000
    big = fresh.path(fresh.big_object_key)
    assert big.stat().st_size == fresh.big_object_size


def test_small_world_is_small(fresh: World):
    total = sum(p.stat().st_size for p in _files(fresh.bucket_dir).values())
    assert total < 60 * 1024**2


# --- metadata and QC ------------------------------------------------------------------------


def test_metadata_versions(fresh: World):
    seen = set()
    for asset in fresh.assets:
        folder = fresh.bucket_dir / asset.name
        description = _json(folder / "data_description.json")
        major = int(description["schema_version"].split(".")[0])
        assert major == asset.schema, asset.name
        assert "describedBy" in description
        assert ("object_type" in description) == (major == 2)
        assert ("modalities" in description) == (major == 2)
        assert description["name"] == asset.name
        assert description["data_level"] == ("raw" if asset.kind == "raw" else "derived")
        seen.add(major)
    assert seen == {1, 2}


def _overall(document: dict) -> str:
    if "evaluations" in document:
        statuses = [ev["latest_status"] for ev in document["evaluations"]]
    else:
        statuses = list(document["status"].values())
    return "Fail" if "Fail" in statuses else "Pending" if "Pending" in statuses else "Pass"


def test_quality_control_shapes_and_statuses(fresh: World):
    statuses = set()
    for asset in fresh.assets:
        path = fresh.bucket_dir / asset.name / "quality_control.json"
        assert path.exists() == (asset.qc_schema is not None), asset.name
        if asset.qc_schema is None:
            continue
        document = _json(path)
        assert int(document["schema_version"].split(".")[0]) == asset.qc_schema
        assert ("evaluations" in document) == (asset.qc_schema == 1)
        assert ("metrics" in document and "status" in document) == (asset.qc_schema == 2)
        assert _overall(document) == asset.qc_status, asset.name
        statuses.add(asset.qc_status)
    assert {"Pass", "Fail", "Pending"} <= statuses


# --- spreadsheet ----------------------------------------------------------------------------


def test_spreadsheet(fresh: World):
    text = fresh.spreadsheet.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    assert header[7] == SPREADSHEET_SESSION_COLUMN == "New Session id (Code Ocean)"
    assert {"QC status", "Notes", "Date", "Mouse ID", "Rig", "Experimenter"} <= set(header)
    names = [r[7] for r in body]
    assert set(filter(None, names)) == {s.name for s in fresh.sessions}
    assert "" in names  # a row without a session id
    assert NOT_ON_S3 in names and not fresh.session(NOT_ON_S3).on_s3
    qc = {r[7]: r[header.index("QC status")] for r in body if r[7]}
    assert {"Pass", "Fail", "Pending", ""} <= set(qc.values())
    notes = [r[header.index("Notes")] for r in body]
    assert any("," in n and '"' in n for n in notes)
    assert all(len(r) == len(header) for r in body)

    import pandas as pd

    frame = pd.read_csv(fresh.spreadsheet, dtype=str)
    assert frame.columns[7] == SPREADSHEET_SESSION_COLUMN
    assert set(frame[SPREADSHEET_SESSION_COLUMN].dropna()) == {s.name for s in fresh.sessions}


# --- NWB contents read back -----------------------------------------------------------------


def _read_zarr(path: Path):
    from hdmf_zarr import NWBZarrIO

    return NWBZarrIO(str(path), mode="r")


def _check_ephys_shapes(nwb, asset) -> None:
    """The real shapes of REAL_SHAPES.md §4-5, common to sorted and complete NWBs."""
    from ppdata.mirror.nwbgen_ephys import LFP_CONVERSION, RELEASE_2026_COLUMNS, UNIT_COLUMNS

    assert set(nwb.devices) == set(asset.probes)  # probes are the devices
    assert set(nwb.electrode_groups) == set(asset.electrode_groups)
    assert len(nwb.electrodes) == 384 * len(asset.probes)
    assert list(nwb.electrodes.colnames[:10]) == [
        "location",
        "group",
        "group_name",
        "channel_name",
        "gain_to_physical_unit",
        "rel_y",
        "physical_unit",
        "offset_to_physical_unit",
        "rel_x",
        "inter_sample_shift",
    ]
    units = nwb.units
    release = asset.label_column == "unitrefine_label"
    expected = [*UNIT_COLUMNS, *(RELEASE_2026_COLUMNS if release else ())]
    assert list(units.colnames) == expected
    assert len(units) == asset.units and units.description == "Units from Kilosort4"
    assert units.waveform_unit == "volts"
    # electrodes per unit = every electrode of its probe; waveforms over the whole probe
    ends = np.asarray(units["electrodes"].data[:])
    rows = np.asarray(units["electrodes"].target.data[:])
    assert (np.diff(np.concatenate([[0], ends])) == 384).all()
    assert list(rows[:384]) == list(range(384))  # the first unit: all of the first probe
    assert units["waveform_mean"][0].shape[1] == 384 and units["waveform_sd"][0].shape[1] == 384
    qc = units.to_dataframe(index=True, exclude={"spike_times", "electrodes"})
    metric = "rp_contamination" if release else "isi_violations_ratio"
    rule = (qc[metric] < 0.5) & (qc["presence_ratio"] > 0.8) & (qc["amplitude_cutoff"] < 0.1)
    assert (qc["default_qc"].astype(bool) == rule).all()
    if release:
        assert set(qc["bombcell_label"]) <= {"good", "mua", "noise", "non_soma"}
        assert (qc["unitrefine_label"] == qc["decoder_label"]).all()
    lfp = nwb.processing["ecephys"]["LFP"]
    assert set(lfp.electrical_series) == {f"ElectricalSeries{p}-LFP" for p in asset.probes}
    series = lfp.electrical_series[f"ElectricalSeries{asset.probes[0]}-LFP"]
    assert series.data.shape[1] == 96 and series.data.dtype == np.int16
    assert series.timestamps is not None and series.rate is None  # explicit timestamps
    assert len(series.timestamps) == series.data.shape[0]
    rate = (len(series.timestamps) - 1) / (series.timestamps[-1] - series.timestamps[0])
    assert abs(rate - 1250.0) < 0.1
    assert series.conversion == pytest.approx(LFP_CONVERSION)
    assert list(series.electrodes.data[:3]) == [0, 4, 8]  # every 4th channel


def test_sorted_nwb_contents(fresh: World):
    """Sorted NWBs hold electrodes, LFP and units, and no behavior at all."""
    session = fresh.session(EPHYS_REPROCESSED)
    several = session.current("sorted")
    assert len(several.nwb_paths) == 2
    assert [p.rsplit("_", 2)[-2:] for p in several.nwb_paths] == [
        ["experiment1", "recording1.nwb"],
        ["experiment1", "recording2.nwb"],
    ]
    for asset in session.assets_of("sorted"):
        for path in asset.nwb_paths:
            with _read_zarr(fresh.bucket_dir / asset.name / path) as io_:
                nwb = io_.read()
                _check_ephys_shapes(nwb, asset)
                assert set(nwb.processing) == {"ecephys"}
                assert not nwb.acquisition and not nwb.intervals
                assert nwb.session_id == EPHYS_REPROCESSED
                assert set(nwb.electrodes["location"][:]) == {"unknown"}  # pre-CCF
    labels = {a.label_column for a in session.assets_of("sorted")}
    assert labels == {"decoder_label", "unitrefine_label"}


def test_complete_hdf5_nwb_contents(fresh: World):
    import h5py
    from pynwb import NWBHDF5IO

    session = fresh.session(EPHYS_COMPLETE)
    asset = session.current("nwb")
    path = fresh.bucket_dir / str(asset.nwb_key)
    assert asset.nwb_path == f"{EPHYS_COMPLETE}_experiment1_recording1.nwb"
    with NWBHDF5IO(str(path), mode="r") as io_:
        nwb = io_.read()
        _check_ephys_shapes(nwb, asset)
        assert {"ecephys", "eye_tracking", "running", "stimulus"} <= set(nwb.processing)
        assert set(nwb.acquisition) == {
            "raw_running_wheel_rotation",
            "running_wheel_signal_voltage",
            "running_wheel_supply_voltage",
        }
        assert any(name.endswith("_presentations") for name in nwb.intervals)
        # probe letters skip; a probe of two electrode groups is one device
        assert list(asset.probes) == ["ProbeA", "ProbeB", "ProbeD", "ProbeF"]
        assert {"ProbeF_group0", "ProbeF_group1"} <= set(nwb.electrode_groups)
        electrodes = nwb.electrodes.to_dataframe()
        assert {"x", "y", "z"} <= set(electrodes.columns)
        assert np.isfinite(electrodes[["x", "y", "z"]].to_numpy()).all()
        assert "void" in set(electrodes["location"]) and "VISp5" in set(electrodes["location"])
    with h5py.File(path, "r") as f:  # LFP contiguous and uncompressed, as in the real files
        data = f["processing/ecephys/LFP/ElectricalSeriesProbeA-LFP/data"]
        stamps = f["processing/ecephys/LFP/ElectricalSeriesProbeA-LFP/timestamps"]
        assert data.chunks is None and data.compression is None and stamps.chunks is None


def test_pophys_nwb_contents(fresh: World):
    asset = fresh.session(MESOSCOPE_A).current("planar-ophys")
    with _read_zarr(fresh.bucket_dir / str(asset.nwb_key)) as io_:
        nwb = io_.read()
        assert {p.name for p in asset.planes} <= set(nwb.processing)
        assert "ophys" not in nwb.processing
        for plane in asset.planes:
            module = nwb.processing[plane.name]
            for name in ("dff_timeseries", "event_timeseries", "raw_timeseries", "images"):
                assert name in module.data_interfaces
            roi_table = module["image_segmentation"]["roi_table"]
            assert {"image_mask", "is_soma", "soma_probability"} <= set(roi_table.colnames)
            assert len(roi_table) == plane.rois
            location = nwb.imaging_planes[plane.name].location
            assert location == f"Structure: {plane.structure} Depth: {plane.depth_um}"


def test_timing_nwb_contents(fresh: World):
    asset = fresh.session(MESOSCOPE_B).current("behavior-timing")
    with _read_zarr(fresh.bucket_dir / str(asset.nwb_key)) as io_:
        nwb = io_.read()
        assert "raw_running_wheel_rotation" in nwb.acquisition
        assert {"running", "stimulus"} <= set(nwb.processing)
        assert any(name.endswith("_presentations") for name in nwb.intervals)


# --- determinism and the cache --------------------------------------------------------------


def _digests(top: Path) -> dict[str, str]:
    return {
        key: hashlib.sha256(path.read_bytes()).hexdigest()
        for key, path in _files(top).items()
        if not any(fnmatch(key, pattern) for pattern in NONDETERMINISTIC_KEYS)
    }


def test_build_is_deterministic(fresh: World, world_root: Path):
    """Same code, same size: byte-identical files (the cached world came from ensure_world,
    possibly in another process or an earlier run)."""
    cached = load_world(world_root)
    assert cached.size == fresh.size == "small"
    a, b = _digests(fresh.bucket_dir), _digests(cached.bucket_dir)
    assert set(a) == set(b)
    assert [k for k in a if a[k] != b[k]] == []
    assert fresh.spreadsheet.read_bytes() == cached.spreadsheet.read_bytes()
    assert (fresh.root / STAMP_NAME).read_bytes() == (world_root / STAMP_NAME).read_bytes()


def test_describe_world_is_pure(tmp_path: Path):
    described = describe_world(tmp_path / "nowhere", "bench")
    assert not (tmp_path / "nowhere").exists()
    assert described.big_object_size == 1024**3
    assert described.session(EPHYS_REPROCESSED).current("sorted").units >= 600
    with pytest.raises(ValueError, match="size"):
        describe_world(tmp_path, "huge")  # type: ignore[arg-type]


def test_recording_name():
    assert (
        recording_name("ProbeF")
        == "experiment1_Record Node 101#Neuropix-PXI-100.ProbeF-AP_recording1"
    )


def test_load_world_needs_a_stamp(tmp_path: Path):
    (tmp_path / "bucket").mkdir()
    with pytest.raises(MirrorError, match="no complete synthetic world"):
        load_world(tmp_path)


def _fake_build(calls: list[Path], *, fail: bool = False):
    """A stand-in for build_world that writes a few files: the cache logic is what is tested."""

    def build(root: Path, *, size: str = "small", callback=None):
        calls.append(root)
        (root / "bucket" / "a").mkdir(parents=True)
        (root / "bucket" / "a" / "b.txt").write_text("x")
        if fail:
            raise OSError("disk full")
        (root / STAMP_NAME).write_text(json.dumps(world_module._stamp(size)))
        return describe_world(root, size)  # type: ignore[arg-type]

    return build


def test_ensure_world_builds_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls: list[Path] = []
    monkeypatch.setattr(world_module, "build_world", _fake_build(calls))
    first = ensure_world(tmp_path)
    second = ensure_world(tmp_path)
    assert first == second == world_dir(tmp_path, "small") and len(calls) == 1
    assert calls[0] != first  # built elsewhere, then moved into place
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        first.name
    ]


def test_ensure_world_concurrent_callers_build_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    calls: list[Path] = []
    monkeypatch.setattr(world_module, "build_world", _fake_build(calls))
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_world(tmp_path))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1 and len(results) == 4


def test_interrupted_build_leaves_no_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls: list[Path] = []
    monkeypatch.setattr(world_module, "build_world", _fake_build(calls, fail=True))
    with pytest.raises(MirrorError, match="disk full"):
        ensure_world(tmp_path)
    assert not world_dir(tmp_path).exists()
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == []


def test_leftovers_do_not_count_as_a_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    final = world_dir(tmp_path)
    # a killed build's temp folder, even one that got as far as the stamp ...
    leftover = tmp_path / f".{final.name}.tmp-99999999"
    (leftover / "bucket").mkdir(parents=True)
    (leftover / STAMP_NAME).write_text(json.dumps(world_module._stamp("small")))
    # ... and a final folder without a stamp, or with another version's stamp
    (final / "bucket").mkdir(parents=True)
    (final / STAMP_NAME).write_text(json.dumps({"world_version": "0", "size": "small"}))
    calls: list[Path] = []
    monkeypatch.setattr(world_module, "build_world", _fake_build(calls))
    assert ensure_world(tmp_path) == final
    assert len(calls) == 1 and not leftover.exists()
    assert load_world(final).size == "small"
