"""The synthetic NWB writers: files read back with pynwb / hdmf-zarr match DOMAIN.md."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from ppdata.mirror import nwbgen
from ppdata.nwb.open import install_safe_pickle

RAW_EPHYS = "ecephys_820454_2025-11-04_14-59-22"
RAW_OPHYS = "multiplane-ophys_832700_2026-01-24_12-06-12"
START = datetime(2025, 1, 1, 1, 1, 1)
SMALL_EPHYS = {"units_per_probe": 8, "duration_s": 30.0, "lfp_duration_s": 2.0}
PLANES = (("VISp", 0, 184), ("VISp", 1, 260), ("VISl", 4, 220))


@pytest.fixture(scope="session")
def gen_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("nwbgen")
    files = {
        "ephys_zarr": root / f"{RAW_EPHYS}_experiment1_recording1.nwb",
        "ephys_hdf5": root / "complete" / f"{RAW_EPHYS}_experiment1_recording1.nwb",
        "pophys": root / "pophys.nwb.zarr",
        "behavior": root / f"{RAW_OPHYS}.nwb",
    }
    common = {"raw_name": RAW_EPHYS, "subject_id": "820454", "session_start": START}
    nwbgen.write_ephys_nwb(files["ephys_zarr"], **common, **SMALL_EPHYS)
    nwbgen.write_ephys_nwb(
        files["ephys_hdf5"],
        **common,
        fmt="hdf5",
        probes=("ProbeA", "ProbeB", "ProbeF"),
        shanks={"ProbeF": 2},
        label_column="unitrefine_label",
        complete=True,
        ccf=True,
        **SMALL_EPHYS,
    )
    ophys = {"raw_name": RAW_OPHYS, "subject_id": "832700", "session_start": START}
    nwbgen.write_pophys_nwb(
        files["pophys"], **ophys, planes=PLANES, rois_per_plane=7, duration_s=20.0
    )
    nwbgen.write_behavior_nwb(files["behavior"], **ophys, duration_s=20.0)
    return files


def _read(path: Path):
    install_safe_pickle()
    if path.is_dir():
        from hdmf_zarr import NWBZarrIO

        return NWBZarrIO(str(path), mode="r")
    from pynwb import NWBHDF5IO

    return NWBHDF5IO(str(path), mode="r")


def _tree_digest(path: Path) -> str:
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        digest.update(p.relative_to(path.parent).as_posix().encode())
        digest.update(p.read_bytes())
    return digest.hexdigest()


def test_ephys_zarr_is_consolidated_zarr(gen_files):
    path = gen_files["ephys_zarr"]
    assert path.is_dir() and path.name.endswith(".nwb")
    assert (path / ".zmetadata").is_file() and (path / ".zgroup").is_file()
    # spike times: one 1-D array + index, chunked (not one chunk per unit)
    assert (path / "units" / "spike_times" / ".zarray").is_file()
    assert (path / "units" / "spike_times_index" / ".zarray").is_file()


def test_ephys_units_in_the_real_shape(gen_files):
    from ppdata.mirror.nwbgen_ephys import UNIT_COLUMNS

    with _read(gen_files["ephys_zarr"]) as io:
        nwb = io.read()
        assert list(nwb.units.colnames) == list(UNIT_COLUMNS)  # the 55 real columns, in order
        units = nwb.units.to_dataframe(index=True, exclude={"waveform_mean", "waveform_sd"})
        assert len(units) == 2 * SMALL_EPHYS["units_per_probe"]
        assert set(units["decoder_label"]) <= {"noise", "mua", "sua"}
        qc = (
            (units["isi_violations_ratio"] < 0.5)
            & (units["presence_ratio"] > 0.8)
            & (units["amplitude_cutoff"] < 0.1)
        )
        assert (units["default_qc"].astype(bool) == qc).all()  # the pre-2026-06-30 rule
        assert set(units["device_name"]) == {"ProbeA", "ProbeB"}
        assert set(units["shank"]) == {""}
        assert (units["depth"] == units["estimated_y"]).all()
        for times, n in zip(units["spike_times"], units["num_spikes"], strict=True):
            assert len(times) == n and np.all(np.diff(times) >= 0)
            assert times.min() >= 0 and times.max() <= SMALL_EPHYS["duration_s"]
        assert units["unit_name"].is_unique
        # electrodes per unit: all 384 of its probe; the peak channel indexes into them
        for electrodes, probe, peak in zip(
            units["electrodes"], units["device_name"], units["extremum_channel_index"], strict=True
        ):
            names = np.asarray(nwb.electrodes["group_name"].data[:])[np.asarray(electrodes)]
            assert len(electrodes) == 384 and set(names) == {probe}
            assert 0 <= peak < 384
        mean = nwb.units["waveform_mean"][0]
        assert mean.shape == (8, 384)  # samples x the full probe, zero away from the peak
        assert np.count_nonzero(np.abs(mean).sum(axis=0)) <= 20


def test_sorted_ephys_nwb_has_no_behavior(gen_files):
    with _read(gen_files["ephys_zarr"]) as io:
        nwb = io.read()
        assert set(nwb.processing) == {"ecephys"}
        assert not nwb.acquisition and not nwb.intervals
        assert nwb.session_description == "Base NWB file generated with subject metadata"


def test_ephys_electrodes_lfp_and_devices(gen_files):
    with _read(gen_files["ephys_zarr"]) as io:
        nwb = io.read()
        assert set(nwb.devices) == {"ProbeA", "ProbeB"}
        assert set(nwb.electrode_groups) == {"ProbeA", "ProbeB"}
        electrodes = nwb.electrodes.to_dataframe()
        assert len(electrodes) == 2 * 384
        assert set(electrodes["location"]) == {"unknown"}
        lfp = nwb.processing["ecephys"]["LFP"]
        assert set(lfp.electrical_series) == {
            "ElectricalSeriesProbeA-LFP",
            "ElectricalSeriesProbeB-LFP",
        }
        series = lfp["ElectricalSeriesProbeB-LFP"]
        assert series.rate is None and series.timestamps is not None
        assert series.data.shape == (2500, 96) and series.timestamps.shape == (2500,)
        stamps = series.timestamps[:]
        assert np.all(np.diff(stamps) > 0)
        assert abs(1 / np.median(np.diff(stamps)) - 1250.0) < 0.1
        assert series.data.chunks == (2500, 96)  # Zarr: chunked
        rows = series.electrodes.data[:]
        assert len(rows) == 96 and np.all(np.diff(rows) == 4)  # every 4th channel
        assert set(electrodes.iloc[rows]["group_name"]) == {"ProbeB"}


def test_complete_ephys_nwb(gen_files):
    from ppdata.mirror.nwbgen_ephys import RELEASE_2026_COLUMNS

    path = gen_files["ephys_hdf5"]
    assert path.is_file() and path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    with _read(path) as io:
        nwb = io.read()
        assert {"ecephys", "running", "stimulus", "eye_tracking"} <= set(nwb.processing)
        assert set(nwb.acquisition) == {
            "raw_running_wheel_rotation",
            "running_wheel_signal_voltage",
            "running_wheel_supply_voltage",
        }
        assert any(name.endswith("_presentations") for name in nwb.intervals)
        speed = nwb.processing["running"]["running_speed"]
        assert speed.unit == "cm/s" and len(speed.data) == len(speed.timestamps)
        assert {"pupil", "corneal_reflection", "likely_blink_times"} <= set(
            nwb.processing["eye_tracking"].data_interfaces
        )
        names = set(nwb.intervals)
        assert {"spontaneous_presentations", "Sequence mismatch block_presentations"} <= names
        gratings = nwb.intervals["Sequence mismatch block_presentations"].to_dataframe()
        assert {"start_time", "stop_time", "stim_name", "Orientation", "TrialType"} <= set(gratings)
        assert (gratings["stop_time"] > gratings["start_time"]).all()
        units = nwb.units.to_dataframe(exclude={"waveform_mean", "waveform_sd", "electrodes"})
        assert set(RELEASE_2026_COLUMNS) <= set(units)
        assert (units["unitrefine_label"] == units["decoder_label"]).all()
        rule = (
            (units["rp_contamination"] < 0.5)
            & (units["presence_ratio"] > 0.8)
            & (units["amplitude_cutoff"] < 0.1)
        )
        assert (units["default_qc"].astype(bool) == rule).all()  # the 2026-06-30 rule
        assert set(units["device_name"]) == {"ProbeA", "ProbeB", "ProbeF"}
        assert set(nwb.devices) == {"ProbeA", "ProbeB", "ProbeF"}
        assert set(nwb.electrode_groups) == {"ProbeA", "ProbeB", "ProbeF_group0", "ProbeF_group1"}
        assert set(units.loc[units["device_name"] == "ProbeF", "shank"]) <= {"0", "1"}
        electrodes = nwb.electrodes.to_dataframe()
        assert {"x", "y", "z"} <= set(electrodes)
        assert "void" in set(electrodes["location"])
        series = nwb.processing["ecephys"]["LFP"]["ElectricalSeriesProbeA-LFP"]
        assert series.data.chunks is None and series.data.compression is None
        assert series.data.dtype == np.int16 and series.conversion == pytest.approx(4.6875e-6)


def test_pophys_one_module_per_plane(gen_files):
    with _read(gen_files["pophys"]) as io:
        nwb = io.read()
        names = [f"{s}_{i}" for s, i, _ in PLANES]
        assert set(nwb.processing) == set(names)
        for (structure, _, depth), name in zip(PLANES, names, strict=True):
            plane = nwb.imaging_planes[name]
            assert plane.location == f"Structure: {structure} Depth: {depth}"
            assert plane.imaging_rate == pytest.approx(9.48)
            module = nwb.processing[name]
            table = module["image_segmentation"]["roi_table"]
            assert {"image_mask", "is_soma", "soma_probability"} <= set(table.colnames)
            assert len(table) == 7 and table["image_mask"][0].shape == (64, 64)
            assert {"average_projection", "max_projection", "segmentation_mask_image"} <= set(
                module["images"].images
            )
            traces = [
                module["dff_timeseries"]["dff_timeseries"],
                module["raw_timeseries"]["ROI_fluorescence_timeseries"],
                module["neuropil_fluorescence_timeseries"],
                module["neuropil_corrected_timeseries"],
                module["event_timeseries"],
            ]
            n_frames = int(20.0 * 9.48)
            for series in traces:
                assert series.data.shape == (n_frames, 7)  # time x ROIs
                assert len(series.timestamps) == n_frames
                assert len(series.rois) == 7


def test_behavior_nwb(gen_files):
    with _read(gen_files["behavior"]) as io:
        nwb = io.read()
        assert "raw_running_wheel_rotation" in nwb.acquisition
        assert {"running", "stimulus"} <= set(nwb.processing)
        assert "running_speed" in nwb.processing["running"].data_interfaces
        assert all(name.endswith("_presentations") for name in nwb.intervals)
        assert nwb.session_id == RAW_OPHYS and nwb.subject.subject_id == "832700"


def test_writers_are_deterministic(gen_files, tmp_path):
    again = tmp_path / gen_files["behavior"].name
    nwbgen.write_behavior_nwb(
        again, raw_name=RAW_OPHYS, subject_id="832700", session_start=START, duration_s=20.0
    )
    assert _tree_digest(again) == _tree_digest(gen_files["behavior"])
    other = tmp_path / "other" / gen_files["behavior"].name
    nwbgen.write_behavior_nwb(
        other, raw_name=RAW_OPHYS, subject_id="832700", session_start=START, duration_s=20.0,
        seed=1,
    )  # fmt: skip
    assert _tree_digest(other) != _tree_digest(gen_files["behavior"])


def test_rewrite_replaces_and_leaves_no_temporary(gen_files, tmp_path):
    path = tmp_path / "x.nwb"
    for _ in range(2):
        nwbgen.write_ephys_nwb(
            path, raw_name=RAW_EPHYS, subject_id="820454", session_start=START, fmt="hdf5",
            **SMALL_EPHYS,
        )  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["x.nwb"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="zarr"):
        nwbgen.write_ephys_nwb(
            tmp_path / "a.nwb", raw_name=RAW_EPHYS, subject_id="1", session_start=START,
            fmt="nwb",  # type: ignore[arg-type]
        )  # fmt: skip
    with pytest.raises(ValueError, match="label_column"):
        nwbgen.write_ephys_nwb(
            tmp_path / "a.nwb", raw_name=RAW_EPHYS, subject_id="1", session_start=START,
            label_column="kslabel",  # type: ignore[arg-type]
            **SMALL_EPHYS,
        )  # fmt: skip


def test_benchmark_recipe_is_at_real_scale():
    kwargs = nwbgen.benchmark_ephys_kwargs()
    units = len(kwargs["probes"]) * kwargs["units_per_probe"]
    assert 2000 <= units <= 4000 and 5 <= len(kwargs["probes"]) <= 6
    assert 3600 <= kwargs["duration_s"] <= 5400  # a 60-90 min session
    assert kwargs["long_lfp_probes"]  # at least one LFP spans it
