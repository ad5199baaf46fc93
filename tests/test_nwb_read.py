"""Reading NWB files: format detection, the NWB handle, ephys/ophys/behavior accessors, plots.

Local files first (values must equal what pynwb reads), then the same files served by a
real S3 server (moto, in this process) through ppdata.remote.s3.S3Client, counting requests.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from ppdata.errors import NotFound, NWBError
from ppdata.mirror import nwbgen
from ppdata.nwb import behavior, ephys, lfp, ophys
from ppdata.nwb.open import NWBFormat, detect_format, format_from_objects, open_nwb
from ppdata.plots import figures as plots

RAW_EPHYS = "ecephys_820454_2025-11-04_14-59-22"
RAW_OPHYS = "multiplane-ophys_832700_2026-01-24_12-06-12"
START = datetime(2025, 1, 1, 1, 1, 1)
EPHYS = {"units_per_probe": 10, "duration_s": 30.0, "lfp_duration_s": 2.0}
PLANES = (("VISp", 0, 184), ("VISl", 4, 220))
BUCKET = "ppdata-nwb-tests"
COMPLETE_H5 = f"{RAW_EPHYS}_nwb_2025-05-05_05-05-05"
OLDER_RAW = "ecephys_600001_2024-01-01_01-01-01"
COMPLETE_OLDER = f"{OLDER_RAW}_nwb_2024-03-03_03-03-03"


@pytest.fixture(scope="session")
def nwb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small NWB files of every kind, laid out like keys of a bucket."""
    root = tmp_path_factory.mktemp("nwb-read")
    ids = {"raw_name": RAW_EPHYS, "subject_id": "820454", "session_start": START}
    nwbgen.write_ephys_nwb(root / "ephys.nwb", **ids, **EPHYS)  # a sorted NWB
    nwbgen.write_ephys_nwb(
        root / "complete" / "ephys_h5.nwb", **ids, fmt="hdf5", label_column="unitrefine_label",
        complete=True, ccf=True, **EPHYS,
    )  # fmt: skip
    for name, fmt in (("long_lfp.nwb", "zarr"), ("long_lfp.h5", "hdf5")):  # 120-s LFP
        nwbgen.write_ephys_nwb(
            root / "long" / name, **ids, fmt=fmt, probes=("ProbeA",), units_per_probe=2,
            duration_s=120.0, long_lfp_probes=("ProbeA",),
        )  # fmt: skip
    ophys_ids = {"raw_name": RAW_OPHYS, "subject_id": "832700", "session_start": START}
    nwbgen.write_pophys_nwb(
        root / "pophys.nwb.zarr", **ophys_ids, planes=PLANES, rois_per_plane=6, duration_s=30.0
    )
    nwbgen.write_behavior_nwb(root / f"{RAW_OPHYS}.nwb", **ophys_ids, duration_s=30.0)
    (root / "not-nwb").mkdir()
    (root / "not-nwb" / "notes.txt").write_text("hello")
    return root


@pytest.fixture(scope="session")
def pynwb_files(nwb_dir: Path):
    """The reference: the same files read by pynwb."""
    from hdmf_zarr import NWBZarrIO
    from pynwb import NWBHDF5IO

    from ppdata.nwb.open import install_safe_pickle

    install_safe_pickle()
    ios = {
        "ephys": NWBZarrIO(str(nwb_dir / "ephys.nwb"), mode="r"),
        "ephys_h5": NWBHDF5IO(str(nwb_dir / "complete" / "ephys_h5.nwb"), mode="r"),
        "pophys": NWBZarrIO(str(nwb_dir / "pophys.nwb.zarr"), mode="r"),
    }
    yield {name: io.read() for name, io in ios.items()}
    for io in ios.values():
        io.close()


@pytest.fixture(params=["ephys.nwb", "complete/ephys_h5.nwb"], ids=["zarr", "hdf5"])
def ephys_nwb(request, nwb_dir):
    with open_nwb(nwb_dir / request.param) as nwb:
        yield nwb


@pytest.fixture
def pophys_nwb(nwb_dir):
    with open_nwb(nwb_dir / "pophys.nwb.zarr") as nwb:
        yield nwb


# -- detection --------------------------------------------------------------------------


def test_format_rule_is_pure():
    assert format_from_objects([".zattrs", ".zgroup"]) is NWBFormat.ZARR
    assert format_from_objects(["a/b.nwb/.zmetadata"]) is NWBFormat.ZARR
    assert format_from_objects(head=b"\x89HDF\r\n\x1a\n" + b"\0" * 8) is NWBFormat.HDF5
    user_block = b"\0" * 512 + b"\x89HDF\r\n\x1a\n"
    assert format_from_objects(head=user_block) is NWBFormat.HDF5
    assert format_from_objects(["x.json"], head=b"PK\x03\x04") is None


def test_detect_format_from_contents_not_name(nwb_dir, tmp_path):
    assert detect_format(nwb_dir / "ephys.nwb") is NWBFormat.ZARR
    assert detect_format(nwb_dir / "complete" / "ephys_h5.nwb") is NWBFormat.HDF5
    # an HDF5 file named like a Zarr folder is still HDF5
    renamed = tmp_path / "looks.nwb.zarr"
    shutil.copy(nwb_dir / "complete" / "ephys_h5.nwb", renamed)
    assert detect_format(renamed) is NWBFormat.HDF5
    with pytest.raises(NWBError, match="neither a Zarr NWB"):
        detect_format(nwb_dir / "not-nwb")
    with pytest.raises(NWBError, match="does not exist"):
        open_nwb(tmp_path / "missing.nwb")


# -- the handle ---------------------------------------------------------------------------


def test_handle_structure_and_pynwb(ephys_nwb):
    assert {"units", "processing", "general"} <= set(ephys_nwb.children())
    assert ephys_nwb.neurodata_type("units") == "Units"
    assert ephys_nwb.read_scalar("session_start_time").startswith("2025-01-01T01:01:01")
    nwbfile = ephys_nwb.pynwb()
    assert nwbfile.session_id == RAW_EPHYS
    assert ephys_nwb.pynwb() is nwbfile  # opened once
    with pytest.raises(NotFound, match=r"units holds .*spike_times"):
        ephys_nwb.read("units/no_such_column")


# -- ephys -----------------------------------------------------------------------------------


def _reference(ephys_nwb, pynwb_files):
    """The pynwb reading of the same file (the Zarr sorted or the HDF5 complete NWB)."""
    return pynwb_files["ephys" if ephys_nwb.format is NWBFormat.ZARR else "ephys_h5"]


def test_links_resolve_in_both_formats(ephys_nwb):
    groups = [
        g
        for g in ephys_nwb.children("general/extracellular_ephys")
        if ephys_nwb.is_group(f"general/extracellular_ephys/{g}") and g != "electrodes"
    ]
    assert groups
    for g in groups:
        target = ephys_nwb.link(f"general/extracellular_ephys/{g}", "device")
        assert target is not None and target.startswith("general/devices/"), (g, target)
        assert ephys_nwb.is_group(target)
    assert ephys_nwb.link(f"general/extracellular_ephys/{groups[0]}", "no_such_link") is None


def test_units_match_pynwb(ephys_nwb, pynwb_files):
    reference = _reference(ephys_nwb, pynwb_files).units.to_dataframe()
    frame = ephys.units(ephys_nwb)
    assert list(frame.index) == list(reference.index)
    for column in ("snr", "firing_rate", "presence_ratio", "num_spikes", "ks_unit_id"):
        np.testing.assert_array_equal(frame[column].to_numpy(), reference[column].to_numpy())
    assert list(frame["label"]) == list(reference["decoder_label"])
    assert list(frame["probe"]) == list(reference["device_name"])
    assert frame["default_qc"].dtype == bool
    assert "spike_times" not in frame


def test_a_table_read_looks_each_column_up_once(ephys_nwb):
    """The backend keeps the nodes it has looked up (a file is only read): reading the units
    table asks the library for each column's node once, not at each of the existence check,
    the group check and the read."""
    backend = ephys_nwb._backend
    root, asked = backend.root, []

    class Counting:
        def __getitem__(self, path):
            asked.append(path)
            return root[path]

        def __contains__(self, path):
            return path in root

        def __getattr__(self, name):
            return getattr(root, name)

    backend.root = Counting()
    try:
        columns = ephys_nwb.read_table("units")
    finally:
        backend.root = root
    assert len(columns) > 10
    assert asked and len(asked) == len(set(asked)), sorted(asked)


def test_units_filters(ephys_nwb):
    frame = ephys.units(ephys_nwb)
    sua = ephys.units(ephys_nwb, label="sua")
    assert len(sua) == (frame["label"] == "sua").sum() and set(sua["label"]) <= {"sua"}
    both = ephys.units(ephys_nwb, label=["sua", "mua"], default_qc=True, probe="ProbeB")
    assert both["default_qc"].all() and set(both["probe"]) <= {"ProbeB"}
    by_query = ephys.units(ephys_nwb, where="snr > 5 and firing_rate >= 1")
    by_map = ephys.units(ephys_nwb, where={"snr": (">", 5), "firing_rate": (">=", 1)})
    assert list(by_query.index) == list(by_map.index)
    assert ((by_query["snr"] > 5) & (by_query["firing_rate"] >= 1)).all()


def test_units_bad_filters_list_valid_values(ephys_nwb):
    with pytest.raises(NotFound, match=r"valid probes are \['ProbeA', 'ProbeB'\]"):
        ephys.units(ephys_nwb, probe="ProbeZ")
    with pytest.raises(NotFound, match="valid labels are"):
        ephys.units(ephys_nwb, label="good")
    with pytest.raises(NotFound, match="columns are"):
        ephys.units(ephys_nwb, where={"nonsense": (">", 1)})


def test_spike_times_equal_pynwb(ephys_nwb, pynwb_files):
    units = _reference(ephys_nwb, pynwb_files).units
    wanted = [0, 7, 19]
    got = ephys.spike_times(ephys_nwb, wanted)
    assert list(got) == wanted
    for unit in wanted:
        np.testing.assert_array_equal(got[unit], units["spike_times"][unit])
    assert ephys.spike_times(ephys_nwb, 3)[3].size == units["num_spikes"][3]
    with pytest.raises(NotFound, match=r"valid unit ids are 0\.\.19"):
        ephys.spike_times(ephys_nwb, [5, 500])


def test_electrodes_and_probes(ephys_nwb):
    table = ephys.electrodes(ephys_nwb)
    assert len(table) == 2 * 384
    assert {"location", "group_name", "channel_name", "rel_x", "rel_y"} <= set(table.columns)
    assert ephys.list_probes(ephys_nwb) == ["ProbeA", "ProbeB"]
    assert lfp.list_lfp_probes(ephys_nwb) == ["ProbeA", "ProbeB"]


def test_lfp_window_and_channels(ephys_nwb, pynwb_files):
    series = _reference(ephys_nwb, pynwb_files).processing["ecephys"]["LFP"][
        "ElectricalSeriesProbeB-LFP"
    ]
    stamps = series.timestamps[:]  # explicit: a start offset and a clock off the nominal rate
    full = lfp.lfp(ephys_nwb, "ProbeB", scaled=False)
    np.testing.assert_array_equal(full.data, series.data[:])
    np.testing.assert_array_equal(full.times, stamps)
    window = lfp.lfp(ephys_nwb, "ProbeB", start=1.0, stop=1.1)
    i0, i1 = np.searchsorted(stamps, [1.0, 1.1])
    assert window.data.shape == (i1 - i0, 96) and window.data.dtype == np.float32
    np.testing.assert_array_equal(window.times, stamps[i0:i1])
    np.testing.assert_allclose(window.data, series.data[i0:i1] * series.conversion, rtol=1e-6)
    ids = list(full.channels[[2, 5]])
    picked = lfp.lfp(ephys_nwb, "ProbeB", start=1.0, stop=1.1, channels=ids)
    np.testing.assert_array_equal(picked.channels, ids)
    np.testing.assert_array_equal(picked.data, window.data[:, [2, 5]])
    by_name = lfp.lfp(ephys_nwb, "ProbeB", 1.0, 1.1, channels=["AP9"])
    assert by_name.data.shape == (i1 - i0, 1)
    assert picked.to_dataframe().shape == (i1 - i0, 2)
    assert len(lfp.lfp(ephys_nwb, "ProbeB", 100.0, 101.0).times) == 0  # after its end
    with pytest.raises(NotFound, match=r"probes with LFP are \['ProbeA', 'ProbeB'\]"):
        lfp.lfp(ephys_nwb, "ProbeC")
    with pytest.raises(NotFound, match="not in the LFP of ProbeB"):
        lfp.lfp(ephys_nwb, "ProbeB", channels=[1])


def test_timestamp_window_search_matches_searchsorted(tmp_path):
    """The windowed timestamp search (rate guess, then bisection) equals a full read."""
    import h5py

    stamps = np.concatenate([np.arange(20000) / 1250.0, 40.0 + np.arange(20000) / 1250.0])
    path = tmp_path / "gap.h5"
    with h5py.File(path, "w") as f:  # a clock with a gap: the rate guess misses
        f["series/timestamps"] = stamps
        f["series/data"] = np.arange(stamps.size, dtype=np.int16)
    with open_nwb(path) as nwb:
        for start, stop in ((0.5, 0.6), (15.9, 40.2), (41.0, 41.5), (-5.0, 0.01), (60, 70)):
            times, data = nwb.read_timeseries("series", start, stop)
            i0, i1 = np.searchsorted(stamps, [start, stop])
            np.testing.assert_array_equal(times, stamps[i0:i1])
            np.testing.assert_array_equal(data, np.arange(stamps.size, dtype=np.int16)[i0:i1])


def test_units_brain_area_qc_rule_and_probes(nwb_dir):
    """brain_area is the peak channel's location; probes are devices, shanks beneath."""
    with open_nwb(nwb_dir / "complete" / "ephys_h5.nwb") as nwb:
        frame = ephys.units(nwb)
        table = ephys.electrodes(nwb)
        ref = nwb.pynwb().units
        for i in (0, 3, len(frame) - 1):
            peak = int(frame["extremum_channel_index"].iloc[i])
            assert frame["brain_area"].iloc[i] == ref["electrodes"][i].iloc[peak]["location"]
        assert set(frame["brain_area"]) <= set(table["location"])
        assert "waveform_mean" not in frame and "electrodes" not in frame
        rule = ephys.default_qc_rule(frame.columns)
        assert rule is not None and rule.startswith("rp_contamination < 0.5")
        assert ephys.default_qc_rule(["isi_violations_ratio", "presence_ratio", "amplitude_cutoff"])
        assert ephys.default_qc_rule(["snr"]) is None
    with open_nwb(nwb_dir / "ephys.nwb") as nwb:
        assert set(ephys.units(nwb)["brain_area"]) == {"unknown"}  # pre-CCF


def test_default_qc_computed_when_not_stored():
    import pandas as pd

    from ppdata.nwb.ephys import _default_qc

    frame = pd.DataFrame(
        {
            "rp_contamination": [0.1, 0.9, 0.1],
            "isi_violations_ratio": [0.9, 0.1, 0.1],
            "presence_ratio": [0.9, 0.9, 0.5],
            "amplitude_cutoff": [0.01, 0.01, 0.01],
        }
    )
    assert list(_default_qc(frame)) == [True, False, False]  # the current rule
    older = frame.drop(columns="rp_contamination")
    assert list(_default_qc(older)) == [False, True, False]  # the older rule
    assert older.attrs["default_qc_rule"].startswith("isi_violations_ratio")


def test_waveforms_on_request(nwb_dir):
    with open_nwb(nwb_dir / "complete" / "ephys_h5.nwb") as nwb:
        ref = nwb.pynwb().units
        got = ephys.waveforms(nwb, [5, 2])
        assert got.dims == ("unit", "sample", "channel") and list(got["unit"]) == [5, 2]
        assert got.shape[2] == 384 and got.attrs["units"] == "volts"
        np.testing.assert_allclose(got.sel(unit=2).values, ref["waveform_mean"][2])
        sd = ephys.waveforms(nwb, 5, sd=True)
        np.testing.assert_allclose(sd.sel(unit=5).values, ref["waveform_sd"][5])
        with pytest.raises(NotFound, match="valid unit ids"):
            ephys.waveforms(nwb, [999])


def test_probes_are_devices_shanks_are_groups(tmp_path):
    path = tmp_path / "shanks.nwb"
    nwbgen.write_ephys_nwb(
        path, raw_name=RAW_EPHYS, subject_id="820454", session_start=START,
        probes=("ProbeA", "ProbeF"), shanks={"ProbeF": 2}, units_per_probe=4, duration_s=10.0,
        lfp_duration_s=1.0,
    )  # fmt: skip
    with open_nwb(path) as nwb:
        assert ephys.list_probes(nwb) == ["ProbeA", "ProbeF"]
        assert ephys.electrode_groups(nwb) == {
            "ProbeA": "ProbeA",
            "ProbeF_group0": "ProbeF",
            "ProbeF_group1": "ProbeF",
        }
        assert set(ephys.units(nwb)["probe"]) == {"ProbeA", "ProbeF"}


def test_unitrefine_label_is_preferred(nwb_dir):
    with open_nwb(nwb_dir / "complete" / "ephys_h5.nwb") as nwb:
        frame = ephys.units(nwb)
        assert (frame["label"] == frame["unitrefine_label"]).all()


# -- ophys -----------------------------------------------------------------------------------


def test_planes(pophys_nwb):
    frame = ophys.planes(pophys_nwb)
    assert list(frame.index) == ["VISp_0", "VISl_4"]
    assert list(frame["structure"]) == ["VISp", "VISl"]
    assert list(frame["depth_um"]) == [184.0, 220.0]
    assert np.allclose(frame["rate_hz"], 9.48)
    assert list(frame["n_rois"]) == [6, 6]
    assert (frame["n_frames"] == int(30 * 9.48)).all()
    assert "n_soma" in ophys.summary(pophys_nwb)


def test_traces_equal_pynwb(pophys_nwb, pynwb_files):
    module = pynwb_files["pophys"].processing["VISl_4"]
    references = {
        "dff": module["dff_timeseries"]["dff_timeseries"],
        "events": module["event_timeseries"],
        "raw": module["raw_timeseries"]["ROI_fluorescence_timeseries"],
        "neuropil": module["neuropil_fluorescence_timeseries"],
        "neuropil_corrected": module["neuropil_corrected_timeseries"],
    }
    for kind, series in references.items():
        frame = ophys.traces(pophys_nwb, "VISl_4", kind)
        np.testing.assert_array_equal(frame.to_numpy(), series.data[:])
        np.testing.assert_array_equal(frame.index.to_numpy(), series.timestamps[:])
    window = ophys.dff(pophys_nwb, "VISl_4", start=10.0, stop=12.0, rois=[4, 1])
    stamps = references["dff"].timestamps[:]
    rows = (stamps >= 10.0) & (stamps < 12.0)
    assert list(window.columns) == [4, 1]
    np.testing.assert_array_equal(window.to_numpy(), references["dff"].data[:][rows][:, [4, 1]])


def test_rois_masks_projections(pophys_nwb, pynwb_files):
    table = pynwb_files["pophys"].processing["VISp_0"]["image_segmentation"]["roi_table"]
    frame = ophys.rois(pophys_nwb, "VISp_0")
    assert {"is_soma", "soma_probability"} <= set(frame.columns)
    assert "image_mask" not in frame
    np.testing.assert_array_equal(frame["soma_probability"], table["soma_probability"][:])
    masks = ophys.roi_masks(pophys_nwb, "VISp_0", [3, 0])
    np.testing.assert_array_equal(masks[0], table["image_mask"][3])
    np.testing.assert_array_equal(masks[1], table["image_mask"][0])
    with_masks = ophys.rois(pophys_nwb, "VISp_0", masks=True)
    assert with_masks["image_mask"].iloc[0].shape == (64, 64)
    images = ophys.projections(pophys_nwb, "VISp_0")
    assert set(images) == {"average_projection", "max_projection", "segmentation_mask_image"}


def test_ophys_errors_list_valid_values(pophys_nwb, ephys_nwb):
    with pytest.raises(NotFound, match="planes are VISp_0, VISl_4"):
        ophys.dff(pophys_nwb, "VISp_3")
    with pytest.raises(NotFound, match="ROI ids are"):
        ophys.dff(pophys_nwb, "VISp_0", rois=[99])
    with pytest.raises(NotFound, match="kinds are"):
        ophys.traces(pophys_nwb, "VISp_0", "spikes")
    with pytest.raises(NotFound, match="not an ophys NWB"):
        ophys.dff(ephys_nwb, "VISp_0")


# -- behavior ---------------------------------------------------------------------------------


def test_behavior_accessors(nwb_dir):
    with open_nwb(nwb_dir / f"{RAW_OPHYS}.nwb") as nwb:
        speed = behavior.running_speed(nwb)
        assert speed.index.name == "time" and list(speed.columns) == ["speed"]
        assert len(behavior.wheel_rotation(nwb)) == len(speed)
        tables = behavior.stimulus_tables(nwb)
        assert {"spontaneous_presentations", "Standard mismatch block_presentations"} <= set(tables)
        standard = tables["Standard mismatch block_presentations"]
        assert {"start_time", "stop_time", "stim_name", "TrialType"} <= set(standard)
        epochs = behavior.stimulus_epochs(nwb)
        assert list(epochs["stimulus"])[:3] == [
            "spontaneous",
            "Control block 1",
            "Standard mismatch block",
        ]
        with pytest.raises(NotFound, match="no eye tracking"):
            behavior.eye_tracking(nwb)


def test_eye_tracking(nwb_dir):
    with open_nwb(nwb_dir / "complete" / "ephys_h5.nwb") as nwb:
        eye = behavior.eye_tracking(nwb)
        assert {"pupil_data_x", "pupil_width", "pupil_area", "cr_data_x"} <= set(eye)
        assert eye["likely_blink"].dtype == bool


# -- corrupt input ----------------------------------------------------------------------------


def test_corrupt_zarr_chunk_names_the_object(nwb_dir, tmp_path):
    copy = tmp_path / "ephys.nwb"
    shutil.copytree(nwb_dir / "ephys.nwb", copy)
    (copy / "units" / "spike_times" / "0").write_bytes(b"garbage")
    with open_nwb(copy) as nwb, pytest.raises(NWBError, match="'units/spike_times'"):
        ephys.spike_times(nwb, [0])
    (copy / ".zmetadata").write_text("{not json")
    with pytest.raises(NWBError, match=r"\.zmetadata"):
        open_nwb(copy)


def test_truncated_hdf5_is_an_nwb_error(nwb_dir, tmp_path):
    data = (nwb_dir / "complete" / "ephys_h5.nwb").read_bytes()
    cut = tmp_path / "cut.nwb"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(NWBError, match=r"cut\.nwb.*truncated"):
        open_nwb(cut)


# -- plots ------------------------------------------------------------------------------------


def test_plots_return_figures_and_write_files_when_asked(nwb_dir, tmp_path):
    with open_nwb(nwb_dir / "ephys.nwb") as nwb:
        units = ephys.units(nwb)
        spikes = ephys.spike_times(nwb, units.index[:6])
        out = [
            plots.plot_raster(spikes, tmp_path / "raster.png", labels=units["label"].to_dict()),
            plots.plot_unit_quality(units, tmp_path / "quality.svg"),
        ]
    with open_nwb(nwb_dir / "complete" / "ephys_h5.nwb") as nwb:  # behavior: complete NWB only
        out += [
            plots.plot_running(
                behavior.running_speed(nwb), tmp_path / "running.png",
                epochs=behavior.stimulus_epochs(nwb),
            ),
        ]  # fmt: skip
    with open_nwb(nwb_dir / "pophys.nwb.zarr") as nwb:
        table = ophys.rois(nwb, "VISp_0")
        out.append(plots.plot_dff(ophys.dff(nwb, "VISp_0"), tmp_path / "dff.png"))
        out.append(
            plots.plot_roi_masks(
                ophys.roi_masks(nwb, "VISp_0"), ophys.projections(nwb, "VISp_0")["max_projection"],
                tmp_path / "rois.pdf", roi_ids=list(table.index), is_soma=list(table["is_soma"]),
            )
        )  # fmt: skip
    from matplotlib.figure import Figure

    assert all(isinstance(fig, Figure) for fig in out)
    assert isinstance(plots.plot_unit_quality(units), Figure)  # no out: nothing written
    out = [
        tmp_path / name
        for name in ("raster.png", "quality.svg", "running.png", "dff.png", "rois.pdf")
    ]
    for path in out:
        assert path.is_file() and path.stat().st_size > 1000
    assert out[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in out[1].read_bytes()[:400]
    with pytest.raises(ValueError, match="use one of"):
        plots.plot_raster(spikes, tmp_path / "raster.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in out)


# -- remote: the same files on a real S3 server ---------------------------------------------


#: An HDF5 file with one array of numbers per storage layout (see :func:`_write_layouts`).
LAYOUTS = "layouts/arrays.h5"
ROWS, CHUNK = 120_000, 25_000


def _write_layouts(path: Path) -> None:
    """Float64 arrays of ``ROWS`` x 4 values, well past the first block: stored contiguous,
    in chunks without filters, gzip-chunked, and in chunks of which only some are written
    (the others read as the fill value)."""
    import h5py

    values = np.arange(ROWS * 4, dtype=np.float64).reshape(ROWS, 4) / 7
    path.parent.mkdir(parents=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("padding", data=np.zeros(4 * 2**20, dtype=np.uint8))  # past block 1
        f.create_dataset("contiguous", data=values)
        f.create_dataset("chunked", data=values, chunks=(CHUNK, 4))
        f.create_dataset("gzip", data=values, chunks=(CHUNK, 4), compression="gzip")
        sparse = f.create_dataset(
            "sparse", shape=values.shape, dtype="f8", chunks=(CHUNK, 4), fillvalue=-1.0
        )
        sparse[CHUNK : 2 * CHUNK] = values[CHUNK : 2 * CHUNK]
        f.create_dataset("ints", data=np.arange(ROWS, dtype=">i4"), chunks=(CHUNK,))


@pytest.fixture(scope="session")
def bucket_client(nwb_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A moto S3 server (real HTTP, in this process) holding the test files, and a client."""
    from ppdata.mirror.server import MirrorServer, load_directory
    from ppdata.remote.s3 import S3Client
    from ppdata.settings import Settings

    staged = tmp_path_factory.mktemp("bucket")
    shutil.copytree(nwb_dir, staged, dirs_exist_ok=True)
    # the same Zarr NWB without consolidated metadata (older writers)
    shutil.copytree(nwb_dir / "pophys.nwb.zarr", staged / "unconsolidated.nwb")
    (staged / "unconsolidated.nwb" / ".zmetadata").unlink()
    # complete-NWB assets: the HDF5 file at its usual name, and an older layout (a Zarr
    # folder one level down with a .nwb.zarr suffix) where only a listing finds it
    usual = staged / COMPLETE_H5 / f"{RAW_EPHYS}_experiment1_recording1.nwb"
    usual.parent.mkdir()
    shutil.copy(nwb_dir / "complete" / "ephys_h5.nwb", usual)
    older = f"{OLDER_RAW}_nwb/{OLDER_RAW}_experiment1_recording1.nwb.zarr"
    shutil.copytree(nwb_dir / "ephys.nwb", staged / COMPLETE_OLDER / older)
    _write_layouts(staged / LAYOUTS)
    with MirrorServer() as server:
        load_directory(server.endpoint_url, BUCKET, staged, in_process=True)
        settings = Settings(
            endpoint_url=server.endpoint_url, bucket=BUCKET, retries=1,
            cache_dir=tmp_path_factory.mktemp("cache"),
        )  # fmt: skip
        with S3Client(settings) as client:
            yield client


@pytest.fixture
def client(bucket_client):
    bucket_client.stats.reset()
    return bucket_client


def test_remote_detect_format(client):
    assert detect_format("ephys.nwb", client=client) is NWBFormat.ZARR
    assert detect_format("complete/ephys_h5.nwb", client=client) is NWBFormat.HDF5
    with pytest.raises(NWBError, match="neither a Zarr NWB"):
        detect_format("not-nwb/notes.txt", client=client)
    with pytest.raises(NWBError, match="no object there"):
        detect_format("nothing/here.nwb", client=client)


def test_remote_zarr_units_and_spikes_in_few_requests(client, nwb_dir):
    with open_nwb(f"s3://{BUCKET}/ephys.nwb", client=client) as nwb:
        assert nwb.format is NWBFormat.ZARR
        assert client.stats.total_requests <= 2  # .zmetadata and .zgroup, concurrently
        client.stats.reset()
        remote = ephys.units(nwb)
        columns = len(
            [c for c in nwb.table_columns("units") if c not in ("spike_times", "electrodes")]
        )
        # one request per column chunk (+ id), never one per unit
        assert client.stats.total_requests <= columns + 2
        client.stats.reset()
        spikes = ephys.spike_times(nwb, [3, 17])
        assert client.stats.total_requests <= 3
        client.stats.reset()
        again = ephys.spike_times(nwb, [3])
        assert client.stats.total_requests == 0  # cached
        client.stats.reset()
        window = lfp.lfp(nwb, "ProbeA", start=0.2, stop=0.4)
        assert client.stats.total_requests <= 4
        assert nwb.stats.requests == client.stats.total_requests
    with open_nwb(nwb_dir / "ephys.nwb") as local:
        assert remote.equals(ephys.units(local))
        expected = ephys.spike_times(local, [3, 17])
        np.testing.assert_array_equal(spikes[3], expected[3])
        np.testing.assert_array_equal(spikes[17], expected[17])
        np.testing.assert_array_equal(again[3], expected[3])
        np.testing.assert_array_equal(window.data, lfp.lfp(local, "ProbeA", 0.2, 0.4).data)


def _sent_while_held(proxy, held: str, read, enough) -> list[str]:
    """Run ``read`` in a thread while ``proxy`` holds back, for 1.5 s, the reply of the
    request whose path has ``held`` in it; the paths of the requests sent meanwhile (once
    ``enough(paths)`` is true, or after 1.2 s, while that reply is still held)."""
    import threading
    import time

    from ppdata.mirror.proxy import Fault

    sent: list[str] = []
    take = proxy._take_fault

    def record(method: str, path: str) -> Fault | None:
        sent.append(path)
        return take(method, path)

    proxy._take_fault = record
    proxy.add_fault(Fault("stall", match=held, stall=1.5))
    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 1.2
    while time.monotonic() < deadline and not enough(sent):
        time.sleep(0.01)
    during = list(sent)
    reader.join()
    proxy._take_fault = take
    return during


def test_remote_zarr_units_fetch_the_brain_area_join_with_the_columns(bucket_client):
    """The arrays of the brain-area join (the units' electrodes and the electrodes'
    location) go out in the batch of the units' columns: while one column's reply is held
    back, they are already sent (one round trip, not three more after the columns)."""
    from ppdata.mirror.proxy import LatencyProxy
    from ppdata.remote.s3 import S3Client

    join = ("units/electrodes_index/", "units/electrodes/", "electrodes/location/")

    def all_sent(sent: list[str]) -> bool:
        return all(any(j in p for p in sent) for j in join)

    frame: list[object] = []
    with LatencyProxy(bucket_client.settings.endpoint_url) as proxy:
        settings = bucket_client.settings.with_(endpoint_url=proxy.endpoint_url)
        with S3Client(settings) as c, open_nwb(f"s3://{BUCKET}/ephys.nwb", client=c) as nwb:
            during = _sent_while_held(
                proxy, "/units/id/", lambda: frame.append(ephys.units(nwb)), all_sent
            )
    assert frame and "brain_area" in frame[0]  # type: ignore[operator]
    assert any("/units/id/" in p for p in during)
    assert all(any(j in p for p in during) for j in join), during


def test_remote_hdf5_through_block_cache(client, nwb_dir):
    key = "complete/ephys_h5.nwb"
    size = (nwb_dir / key).stat().st_size
    with open_nwb(key, client=client, format="hdf5", size=size) as nwb:
        assert nwb.format is NWBFormat.HDF5
        remote = ephys.units(nwb)
        spikes = ephys.spike_times(nwb, [2])
        window = lfp.lfp(nwb, "ProbeB", 0.1, 0.3, channels=None)
        assert client.stats.bytes.get("GetObject", 0) <= size  # never more than the file
        assert "HeadObject" not in client.stats.requests  # size was given
    with open_nwb(nwb_dir / key) as local:
        assert remote.equals(ephys.units(local))
        np.testing.assert_array_equal(spikes[2], ephys.spike_times(local, [2])[2])
        np.testing.assert_array_equal(window.data, lfp.lfp(local, "ProbeB", 0.1, 0.3).data)


@pytest.mark.parametrize("name", ["long_lfp.h5", "long_lfp.nwb"])
def test_remote_lfp_window_reads_only_the_covering_timestamps(client, nwb_dir, name):
    """A 1-s window of an LFP with explicit timestamps: bytes <= 1.5x (its data + the
    timestamp chunks covering it; HDF5 contiguous: their byte ranges), never the whole
    timestamps array."""
    key = f"long/{name}"
    series = "processing/ecephys/LFP/ElectricalSeriesProbeA-LFP"
    with open_nwb(key, client=client) as nwb:
        stamps = nwb.array(f"{series}/timestamps")
        first = float(stamps[0])
        lfp.lfp(nwb, "ProbeA", first, first)  # the series' metadata, as an open reads it
        client.stats.reset()
        window = lfp.lfp(nwb, "ProbeA", 60.0, 61.0)
        got = client.stats.bytes.get("GetObject", 0)
        i0, i1 = np.searchsorted(stamps[:], [60.0, 61.0])
        assert len(window.times) == i1 - i0 > 1200
        if nwb.format is NWBFormat.HDF5:
            floor = (i1 - i0) * (96 * 2 + 8)
        else:
            floor = 0
            for part, suffix in (("data", ".0"), ("timestamps", "")):
                chunk = nwb.array(f"{series}/{part}").chunks[0]
                for c in range(i0 // chunk, (i1 - 1) // chunk + 1):
                    floor += client.head(f"{key}/{series}/{part}/{c}{suffix}").size
        assert 0 < got <= 1.5 * floor, (got, floor)
        if nwb.format is NWBFormat.HDF5:
            # the data plus far less than the timestamps array
            assert got < (i1 - i0) * 96 * 2 + stamps.size * 8 / 20
    with open_nwb(nwb_dir / key) as local:
        expected = lfp.lfp(local, "ProbeA", 60.0, 61.0)
        np.testing.assert_array_equal(window.data, expected.data)
        np.testing.assert_array_equal(window.times, expected.times)


def test_remote_hdf5_numbers_are_read_by_their_exact_bytes(client, tmp_path):
    """Numbers stored as they are, contiguous or in chunks without filters, are read by the
    exact bytes of the rows asked for (whole chunks and blocks are not fetched), in one
    concurrent batch for several slices; the other layouts read as before. Every value
    equals what h5py reads from the file itself."""
    import h5py

    local = tmp_path / "arrays.h5"
    local.write_bytes(client.get_bytes(LAYOUTS))
    client.stats.reset()
    row = 4 * 8
    a, b = 4 * CHUNK - 100, 4 * CHUNK + 300  # across two chunks, far from the chunk index
    spans = [(10, 20), (a, b), (ROWS - 5, ROWS + 50)]  # the last runs past the end
    with h5py.File(local, "r") as expected, open_nwb(LAYOUTS, client=client) as nwb:
        for name in ("contiguous", "chunked"):
            width = row
            nwb.read(name, slice(0, 1))  # its header and chunk index (metadata, in blocks)
            before = client.stats.snapshot()
            got = nwb.read(name, slice(a, b))
            spent = client.stats.snapshot() - before
            np.testing.assert_array_equal(got, expected[name][a:b])
            assert (spent.requests, spent.bytes) == (1, (b - a) * width), name
            before = client.stats.snapshot()
            parts = nwb.read_ranges(name, spans)
            spent = client.stats.snapshot() - before
            for (start, end), part in zip(spans, parts, strict=True):
                np.testing.assert_array_equal(part, expected[name][start:end])
            assert spent.requests <= len(spans), name
            assert spent.bytes <= sum(len(p) for p in parts) * width, name
        # a selection of columns, an integer row, a whole array (writable, like h5py's)
        np.testing.assert_array_equal(
            nwb.read("chunked", (slice(a, b), [3, 0])), expected["chunked"][a:b][:, [3, 0]]
        )
        np.testing.assert_array_equal(nwb.read("chunked", 7), expected["chunked"][7])
        whole = nwb.read("chunked")
        np.testing.assert_array_equal(whole, expected["chunked"][()])
        whole[0, 0] = -2.0
        ints = nwb.read_ranges("ints", spans)  # big-endian, as stored
        for (start, end), part in zip(spans, ints, strict=True):
            assert part.dtype == np.dtype(">i4")
            np.testing.assert_array_equal(part, expected["ints"][start:end])
        # compressed, and chunks never written: through h5py
        for name in ("gzip", "sparse"):
            np.testing.assert_array_equal(nwb.read(name, slice(a, b)), expected[name][a:b])
            parts = nwb.read_ranges(name, spans)
            for (start, end), part in zip(spans, parts, strict=True):
                np.testing.assert_array_equal(part, expected[name][start:end])
        assert (nwb.read("sparse")[:CHUNK] == -1.0).all()


def test_open_arrays_prefetched_in_one_batch(client, nwb_dir):
    """:meth:`NWB.prefetch_arrays` fetches open arrays' chunks together (Zarr: one GET per
    chunk, HDF5: the blocks holding them); reading them then makes no request."""
    names = ("id", "spike_times_index", "electrodes_index")
    for key in ("ephys.nwb", "complete/ephys_h5.nwb"):
        with open_nwb(key, client=client) as nwb:
            units = nwb.array("units")
            columns = [units[c] for c in names]
            nwb.prefetch_arrays(columns)
            fetched = client.stats.snapshot()
            values = [nwb.read_array(c) for c in columns]
            assert (client.stats.snapshot() - fetched).requests == 0, key
            with open_nwb(nwb_dir / key) as local:
                for c, v in zip(names, values, strict=True):
                    np.testing.assert_array_equal(v, local.read(f"units/{c}"))
                local.prefetch_arrays([local.array("units/id")])  # local: nothing to fetch


def test_remote_zarr_window_fetches_stamps_and_data_together(client, monkeypatch):
    """A window of a long Zarr series: the chunks of the guessed rows of its timestamps and
    its data are fetched in one concurrent batch (not the stamps, then the data)."""
    from ppdata.nwb.storage import S3ZarrStore

    series = "processing/ecephys/LFP/ElectricalSeriesProbeA-LFP"
    batches: list[list[str]] = []
    real = S3ZarrStore.getitems

    def recording(self, keys, *, contexts=None):
        batches.append(list(keys))
        return real(self, keys, contexts=contexts)

    monkeypatch.setattr(S3ZarrStore, "getitems", recording)
    with open_nwb("long/long_lfp.nwb", client=client) as nwb:
        times, _ = nwb.read_timeseries(series, 60.0, 61.0)
    assert len(times) > 1200
    assert any(
        any(f"{series}/timestamps/" in k for k in keys)
        and any(f"{series}/data/" in k for k in keys)
        for keys in batches
    ), batches


def test_remote_hdf5_detects_and_heads(client):
    with open_nwb("complete/ephys_h5.nwb", client=client) as nwb:
        assert nwb.format is NWBFormat.HDF5
        assert client.stats.requests.get("HeadObject") == 1
        assert nwb.pynwb().session_id == RAW_EPHYS


def test_complete_hdf5_nwb_opens_from_its_usual_name(client, nwb_dir):
    from ppdata.session import Session

    with Session(RAW_EPHYS, client=client) as s:
        units = s.units()
    # one root listing (no CCF listing, no listing of the asset), no HEAD: the first GET
    # of <raw>_experiment1_recording1.nwb tells the format and the size
    assert client.stats.requests.get("ListObjectsV2") == 1
    assert "HeadObject" not in client.stats.requests
    with open_nwb(nwb_dir / "complete" / "ephys_h5.nwb") as local:
        assert units.equals(ephys.units(local))


def test_complete_nwb_elsewhere_is_found_by_listing(client, nwb_dir):
    from ppdata.find.nwbs import probe_complete_hdf5
    from ppdata.nwb.storage import BLOCK_SIZE
    from ppdata.session import Session

    with Session(OLDER_RAW, client=client) as s:
        (asset,) = s.assets
        assert probe_complete_hdf5(asset, BLOCK_SIZE, client=client) is None  # nothing at the name
        nwb = s.nwb()
        assert nwb.format is NWBFormat.ZARR and nwb.key.endswith(".nwb.zarr")
        units = s.units()
    with open_nwb(nwb_dir / "ephys.nwb") as local:
        assert units.equals(ephys.units(local))


def test_lfp_as_xarray(client, nwb_dir):
    with open_nwb(nwb_dir / "ephys.nwb") as local:
        window = lfp.lfp(local, "ProbeA", 0.5, 1.0, channels=[0, 4])
    arr = window.to_xarray()
    assert arr.dims == ("time", "channel") and arr.name == "ProbeA LFP"
    np.testing.assert_array_equal(arr.coords["time"].values, window.times)
    np.testing.assert_array_equal(arr.coords["channel"].values, window.channels)
    np.testing.assert_array_equal(arr.sel(channel=window.channels[1]).values, window.data[:, 1])
    assert arr.attrs["units"] == "volts"


def test_pynwb_on_remote_zarr_is_counted(client):
    with open_nwb("ephys.nwb", client=client) as nwb:
        before = client.stats.total_requests
        nwbfile = nwb.pynwb()  # hdmf-zarr reads through s3fs, with our counting session
        assert nwbfile.session_id == RAW_EPHYS
        assert client.stats.total_requests > before + 10
        assert client.stats.bytes.get("GetObject", 0) > 0


def test_remote_ophys_and_behavior(client, nwb_dir):
    with open_nwb("pophys.nwb.zarr", client=client) as nwb:
        planes = ophys.planes(nwb)
        dff = ophys.dff(nwb, "VISl_4", start=5, stop=10, rois=[2])
    with open_nwb(f"{RAW_OPHYS}.nwb", client=client) as nwb:
        tables = behavior.stimulus_tables(nwb)
    with open_nwb(nwb_dir / "pophys.nwb.zarr") as local:
        assert planes.equals(ophys.planes(local))
        assert dff.equals(ophys.dff(local, "VISl_4", start=5, stop=10, rois=[2]))
    assert "Standard mismatch block_presentations" in tables


def test_remote_zarr_without_consolidated_metadata(client, nwb_dir):
    with open_nwb("unconsolidated.nwb", client=client) as nwb:
        assert ophys.list_planes(nwb) == ["VISp_0", "VISl_4"]
        dff = ophys.dff(nwb, "VISp_0", rois=[0, 5])
    with open_nwb(nwb_dir / "pophys.nwb.zarr") as local:
        assert dff.equals(ophys.dff(local, "VISp_0", rois=[0, 5]))


def test_s3_zarr_store_is_a_read_only_mapping(client):
    from ppdata.nwb.open import S3ZarrStore

    store = S3ZarrStore(client, "ephys.nwb")
    assert ".zgroup" in store and "nope/.zarray" not in store
    got = store.getitems([".zgroup", "nope/.zarray"])
    assert list(got) == [".zgroup"]
    before = client.stats.total_requests
    assert store[".zgroup"] == got[".zgroup"]
    with pytest.raises(KeyError):
        store["nope/.zarray"]
    assert client.stats.total_requests == before  # both answers cached
    assert "units" in store.listdir("")
    with pytest.raises(NWBError, match="read-only"):
        store["x"] = b"y"


def test_s3_file_reads_like_a_local_file(client, nwb_dir):
    from ppdata.nwb.open import S3File

    key = "complete/ephys_h5.nwb"
    data = (nwb_dir / key).read_bytes()
    remote = S3File(client, key, block_size=4096)
    assert remote.size == len(data)
    remote.seek(5000)
    assert remote.read(10000) == data[5000:15000]
    assert remote.tell() == 15000
    remote.seek(-100, 2)
    assert remote.read() == data[-100:]
    assert remote.read(10) == b""
    requests = client.stats.total_requests
    remote.seek(6000)
    assert remote.read(100) == data[6000:6100]
    assert client.stats.total_requests == requests  # served from cached blocks


def test_s3_file_keeps_its_cache_within_its_bound(client, nwb_dir):
    """Blocks fetched in one run are each their own bytes, not views of the run's reply (a
    view would keep the whole reply alive while any of its blocks is cached, so an evicted
    block would free nothing and the cache would hold more than its bound)."""
    from ppdata.nwb.open import S3File

    key = "complete/ephys_h5.nwb"
    data = (nwb_dir / key).read_bytes()
    block = 4096
    remote = S3File(client, key, block_size=block, cache_bytes=2 * block)
    runs = min(len(data) // (16 * block), 8)
    assert runs >= 2
    requests = client.stats.total_requests
    for r in range(runs):  # runs of 16 blocks, one request each; 2 blocks stay cached
        remote.prefetch([(r * 16 * block, (r + 1) * 16 * block)])
    assert client.stats.total_requests == requests + runs
    cached = list(remote._blocks._items.values())
    assert len(cached) == 2
    # what each cached block keeps alive: its own bytes only
    assert all(len(memoryview(b).obj) == block for b in cached)
    remote.seek((runs * 16 - 1) * block)
    assert remote.read(block) == data[(runs * 16 - 1) * block : runs * 16 * block]
    assert client.stats.total_requests == requests + runs  # served from the cache


def test_s3_file_caches_the_whole_blocks_of_its_last_bytes(client, nwb_dir):
    from ppdata.nwb.open import S3File

    key = "complete/ephys_h5.nwb"
    data = (nwb_dir / key).read_bytes()
    remote = S3File(client, key, block_size=4096)
    last_block = (len(data) - 1) // 4096 * 4096
    assert remote.ends() == [(0, 4096), (last_block, len(data))]
    tail = data[-(len(data) - last_block + 4096 + 10) :]  # 2 blocks and a bit
    remote.seed(tail, len(data) - len(tail))
    requests = client.stats.total_requests
    remote.seek(last_block - 4096)
    assert remote.read() == data[last_block - 4096 :]
    assert client.stats.total_requests == requests  # the two whole blocks: no request
    remote.seek(last_block - 4096 - 5)
    assert remote.read(10) == data[last_block - 4096 - 5 : last_block - 4096 + 5]
    assert client.stats.total_requests == requests + 1  # the block cut short was not kept


def test_s3_uri_without_client_uses_settings(bucket_client, monkeypatch):
    monkeypatch.setenv("PPDATA_ENDPOINT_URL", bucket_client.settings.endpoint_url)
    with open_nwb(f"s3://{BUCKET}/{RAW_OPHYS}.nwb") as nwb:
        assert nwb.client is not None and nwb.client is not bucket_client
        assert len(behavior.running_speed(nwb)) == 30 * 60
        assert nwb.stats.requests >= 2


def test_summarize(nwb_dir, client):
    from ppdata.nwb.open import summarize

    with open_nwb(nwb_dir / "ephys.nwb") as nwb:
        info = summarize(nwb)
        again = summarize(nwb)
    assert info.format == "zarr" and info.session_id == RAW_EPHYS
    assert info.n_units == 20 and info.probes == ("ProbeA", "ProbeB")
    assert info.lfp == (
        "processing/ecephys/LFP/ElectricalSeriesProbeA-LFP",
        "processing/ecephys/LFP/ElectricalSeriesProbeB-LFP",
    )
    assert hash(info) == hash(again)  # tuples, not lists: frozen all through, so hashable
    with open_nwb("pophys.nwb.zarr", client=client) as nwb:
        client.stats.reset()
        info = summarize(nwb)
        assert client.stats.total_requests <= 3  # a few scalars; structure is in .zmetadata
    assert info.planes == ("VISp_0", "VISl_4") and info.n_units == 0


@pytest.mark.parametrize("name", ["long/long_lfp.nwb", "long/long_lfp.h5"])
def test_each_backend_prefetches_rows_as_it_gains_by_it(client, name):
    """``Backend.prefetch_rows``: Zarr fetches the chunks of the rows of both arrays in one
    batch, so reading them costs nothing more; HDF5 fetches nothing (its reads of rows fetch
    their exact bytes), and the window read is the same either way."""
    series = "processing/ecephys/LFP/ElectricalSeriesProbeA-LFP"
    paths = [f"{series}/timestamps", f"{series}/data"]
    with open_nwb(name, client=client) as nwb:
        rows = slice(60_000, 60_100)
        before = client.stats.snapshot()
        nwb._backend.prefetch_rows(paths, [(rows.start, rows.stop)])
        prefetched = (client.stats.snapshot() - before).requests
        values = [nwb.read(p, rows) for p in paths]
        read = (client.stats.snapshot() - before).requests - prefetched
        if nwb.format is NWBFormat.ZARR:
            assert prefetched >= 2 and read == 0
        else:
            assert prefetched == 0 and read >= 1
    with open_nwb(name, client=client) as nwb:
        np.testing.assert_array_equal(values[0], nwb.read(paths[0], rows))


def test_hdf5_read_ranges_is_the_same_remote_by_bytes_and_local_by_h5py(client, nwb_dir):
    """``H5Backend.read_ranges`` has two ways: a remote file's plain numbers by their exact
    bytes, a local file through h5py; both give the same rows (empty ranges too)."""
    series = "processing/ecephys/LFP/ElectricalSeriesProbeA-LFP"
    ranges = [(0, 3), (59_990, 60_010), (70_000, 70_000), (119_000, 119_500)]
    with open_nwb("long/long_lfp.h5", client=client) as remote:
        before = client.stats.snapshot()
        got = remote.read_ranges(f"{series}/timestamps", ranges)
        assert (client.stats.snapshot() - before).requests >= 1
    with open_nwb(nwb_dir / "long" / "long_lfp.h5") as local:
        expected = local.read_ranges(f"{series}/timestamps", ranges)
        whole = local.read(f"{series}/timestamps")
    for (a, b), g, e in zip(ranges, got, expected, strict=True):
        np.testing.assert_array_equal(g, whole[a:b])
        np.testing.assert_array_equal(e, whole[a:b])


def test_a_roi_read_sends_the_data_with_the_roi_ids_when_it_reads_it_all(bucket_client):
    """One ROI's ΔF/F: the data (one chunk across the ROIs and one along time, so read
    whole whichever ROI and window are asked for) goes out in the batch of the ROI ids,
    rois and timestamps, one round trip instead of two. Where a window reads only some of
    the data (several chunks along time, or an unchunked dataset), it waits for the
    timestamps: see the next test."""
    from ppdata.mirror.proxy import LatencyProxy
    from ppdata.remote.s3 import S3Client

    series = "processing/VISp_0/dff_timeseries/dff_timeseries"

    def sent_during_stall(**read: object) -> int:
        def dff() -> None:
            ophys.dff(nwb, "VISp_0", **read)

        return len(_sent_while_held(proxy, "dff_timeseries/rois/", dff, lambda s: len(s) >= 4))

    with LatencyProxy(bucket_client.settings.endpoint_url) as proxy:
        settings = bucket_client.settings.with_(endpoint_url=proxy.endpoint_url)
        with S3Client(settings) as c, open_nwb("pophys.nwb.zarr", client=c) as nwb:
            data = nwb.array(f"{series}/data")
            assert data.chunks[0] >= data.shape[0] and data.chunks[1] >= data.shape[1]
            assert sent_during_stall(rois=[1]) == 4  # ids, rois, timestamps and the data
        with S3Client(settings) as c, open_nwb("pophys.nwb.zarr", client=c) as nwb:
            assert sent_during_stall(start=1.0, stop=2.0) == 4


def test_a_windowed_trace_read_fetches_the_data_early_only_when_it_reads_it_all(
    client, monkeypatch
):
    """Which time x ROI arrays a read fetches whole (so early, with the ROI ids): with a
    window, only those of one chunk along time (not 120,000 rows in 25,000-row chunks, nor
    an unchunked dataset, of which a window reads only its rows' bytes); without one, any
    whose chunks span the ROIs; never one larger than PREFETCH_DATA_BYTES."""
    with open_nwb(LAYOUTS, client=client) as nwb:
        for name in ("contiguous", "chunked", "gzip"):
            assert not ophys._read_whole(nwb, name, None, windowed=True), name
            assert ophys._read_whole(nwb, name, [1], windowed=False), name
        monkeypatch.setattr(ophys, "PREFETCH_DATA_BYTES", nwb.array("chunked").nbytes - 1)
        assert not ophys._read_whole(nwb, "chunked", None, windowed=False)
