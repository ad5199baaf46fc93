"""Behavior in the real shapes: running, wheel, eye tracking, and where behavior is read from."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from ppdata.errors import NotFound, NWBError
from ppdata.mirror import behaviorgen, nwbgen_common
from ppdata.mirror.world import EPHYS_COMPLETE, EPHYS_REPROCESSED, MESOSCOPE_A
from ppdata.nwb import behavior
from ppdata.nwb.open import open_nwb
from ppdata.session import Session

RAW = "ecephys_820459_2025-11-12_14-34-33"


@pytest.fixture(scope="module", params=["hdf5", "zarr"])
def complete(request, tmp_path_factory):
    """A small NWB with exactly the behavior parts of a complete ephys NWB."""
    fmt = request.param
    path = tmp_path_factory.mktemp(f"behavior-{fmt}") / f"{RAW}_experiment1_recording1.nwb"
    rng = np.random.default_rng(3)
    with nwbgen_common.deterministic_ids(f"test:{fmt}"):
        nwbfile = nwbgen_common.new_nwbfile(
            raw_name=RAW,
            kind="test",
            subject_id="820459",
            session_start=datetime(2025, 11, 12, 22, 34, 33, tzinfo=UTC),
            description="behavior parts",
        )
        t, speed = behaviorgen.add_wheel_acquisition(nwbfile, rng, 60.0, fmt)
        behaviorgen.running_module(nwbfile, t, speed, fmt)  # running from the same wheel
        behaviorgen.add_eye_tracking(nwbfile, rng, 60.0, fmt)
        nwbgen_common.write_nwb(nwbfile, path, fmt)
    with open_nwb(path) as nwb:
        yield nwb


def test_running_module_in_the_real_shape(complete):
    assert complete.children("processing/running") == ["running_speed", "running_wheel_rotation"]
    speed = behavior.running_speed(complete)
    assert speed.attrs["unit"] == "cm/s" and speed.index.name == "time"
    assert len(speed) == 60 * 60 and speed.index.is_monotonic_increasing
    assert (speed["speed"] < 0).any() and (speed["speed"] > 5).any()  # backwards and running
    # running_wheel_rotation's timestamps are running_speed's (a link in the file)
    rotation = behavior._series_frame(
        complete, "processing/running/running_wheel_rotation", "rotation"
    )
    assert np.array_equal(rotation.index, speed.index)
    assert rotation.attrs["unit"] == "radians"


def test_wheel_acquisition_series(complete):
    assert set(behaviorgen.WHEEL_ACQUISITION) <= set(complete.children("acquisition"))
    wheel = behavior.wheel_rotation(complete)
    assert wheel.attrs["source"] == "acquisition/raw_running_wheel_rotation"
    speed = behavior.running_speed(complete)
    assert np.array_equal(wheel.index, speed.index)  # running derived from the same wheel
    assert len(wheel) == 60 * 60 and wheel.attrs["unit"] == "radians"
    volts = behavior._series_frame(complete, "acquisition/running_wheel_signal_voltage", "v")
    assert volts.attrs["unit"] == "V" and np.array_equal(volts.index, wheel.index)


def test_eye_tracking_tables_in_the_real_shape(complete):
    module = "processing/eye_tracking"
    assert complete.children(module) == [
        "corneal_reflection",
        "ellipse",
        "likely_blink_times",
        "pupil",
    ]
    for table in behaviorgen.EYE_TABLES:
        assert complete.table_columns(f"{module}/{table}") == list(behaviorgen.EYE_COLUMNS)
        assert complete.neurodata_type(f"{module}/{table}") == "DynamicTable"


def test_eye_tracking_reader_keeps_every_column(complete):
    eye = behavior.eye_tracking(complete)
    prefixes = ("pupil", "cr", "ellipse")
    expected = [f"{p}_{c}" for p in prefixes for c in behaviorgen.EYE_COLUMNS if c != "timestamps"]
    assert list(eye.columns) == [*expected, "likely_blink"]
    assert eye.index.name == "time" and len(eye) == 60 * 60
    stored = complete.read("processing/eye_tracking/pupil/timestamps")
    assert np.array_equal(eye.index, stored)
    assert eye["likely_blink"].dtype == bool and eye["likely_blink"].any()
    assert set(eye["pupil_reference_frame"]) == {"nose"}
    blink = eye["likely_blink"]
    # sentinels as stored: -1 on blink frames, pi where the fit failed; raw area unmasked
    assert (eye.loc[blink, "pupil_area"] == -1).all()
    assert (eye.loc[blink, "pupil_area_raw"] > 0).all()
    assert (eye.loc[~blink, "pupil_area"] == np.pi).any()
    # pupil area is a circle on the larger semi-axis
    fine = ~blink & (eye["pupil_area"] != np.pi)
    radius = np.maximum(eye.loc[fine, "pupil_width"], eye.loc[fine, "pupil_height"])
    assert np.allclose(eye.loc[fine, "pupil_area"], np.pi * radius**2)


def test_eye_tracking_missing_says_what_is_there(complete, tmp_path):
    path = tmp_path / "bare.nwb"
    with nwbgen_common.deterministic_ids("bare"):
        nwbfile = nwbgen_common.new_nwbfile(
            raw_name=RAW,
            kind="bare",
            subject_id="1",
            session_start=datetime(2025, 1, 1, tzinfo=UTC),
            description="no behavior",
        )
        behaviorgen.add_running(nwbfile, np.random.default_rng(0), 5.0, "hdf5")
        nwbgen_common.write_nwb(nwbfile, path, "hdf5")
    with open_nwb(path) as nwb, pytest.raises(NotFound, match=r"no eye tracking.*\['running'\]"):
        behavior.eye_tracking(nwb)


# -- where behavior is read from ---------------------------------------------------------------


def test_complete_nwb_behavior(client, world):
    expected = world.session(EPHYS_COMPLETE).current("nwb")
    with Session(EPHYS_COMPLETE, client=client) as s:
        speed = s.running_speed()
        assert len(speed) > 0 and speed.attrs["unit"] == "cm/s"
        eye = s.eye_tracking()
        assert {"pupil_area", "cr_data_x", "ellipse_angle", "likely_blink"} <= set(eye)
        opened = list(s._open)  # asset names of the NWBs opened
    assert opened == [expected.name]


def test_neuropixels_without_complete_nwb_names_the_raw_folder(client, world):
    assert "nwb" not in world.session(EPHYS_REPROCESSED).kinds
    with Session(EPHYS_REPROCESSED, client=client) as s:
        for call, folder in (
            (s.running_speed, "behavior/"),
            (s.wheel_rotation, "behavior/"),
            (s.eye_tracking, "behavior-videos/"),
        ):
            with pytest.raises(NWBError) as info:
                call()
            message = str(info.value)
            assert f"{EPHYS_REPROCESSED}/{folder}" in message and "complete NWB" in message
            assert "\n" not in message
        assert not s._open  # never opened the sorted NWB for behavior


def test_mesoscope_behavior_from_the_behavior_asset(client, world):
    timing = world.session(MESOSCOPE_A).current("behavior-timing")
    with Session(MESOSCOPE_A, client=client) as s:
        speed = s.running_speed()
        wheel = s.wheel_rotation()
        assert len(wheel) == len(speed) > 0
        assert list(s._open) == [timing.name]
        with pytest.raises(NWBError, match="no eye tracking"):
            s.eye_tracking()


# -- local time in the NWB ---------------------------------------------------------------------


def test_nwb_times_are_local_with_lmt_date_of_birth(tmp_path):
    path = tmp_path / "times.nwb"
    with nwbgen_common.deterministic_ids("times"):
        nwbfile = nwbgen_common.new_nwbfile(
            raw_name=RAW,
            kind="times",
            subject_id="820459",
            session_start=datetime(2025, 11, 12, 14, 34, 33),  # the raw name's wall time
            description="times",
        )
        nwbgen_common.write_nwb(nwbfile, path, "hdf5")
    with open_nwb(path) as nwb:
        assert nwb.read_scalar("session_start_time") == "2025-11-12T14:34:33-08:00"
        assert nwb.read_scalar("general/subject/date_of_birth").endswith("T00:00:00-07:53")
    summer = nwbgen_common.aware(datetime(2026, 6, 27, 9, 5, 10))
    assert summer.isoformat() == "2026-06-27T09:05:10-07:00"


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_behavior(run, world, tmp_path):
    complete = world.session(EPHYS_COMPLETE).current("nwb")
    table = run("behavior", EPHYS_COMPLETE, "--what", "eye")
    assert table.code == 0, table.err
    assert "pupil_area" in table.out and "cr_data_x" in table.out and "likely_blink" in table.out
    assert complete.name in table.out  # says which NWB it read
    out = tmp_path / "running.csv"
    csv = run("behavior", EPHYS_COMPLETE, "--start", "1", "--stop", "2", "--csv", str(out))
    assert csv.code == 0, csv.err
    lines = out.read_text().splitlines()
    assert lines[0] == "time,speed" and 55 <= len(lines) - 1 <= 65
    wheel = run("behavior", MESOSCOPE_A, "--what", "wheel", "--stop", "1", "--json")
    rows = json.loads(wheel.out)
    assert rows and set(rows[0]) == {"time", "rotation"} and all(r["time"] < 1 for r in rows)
    missing = run("behavior", EPHYS_REPROCESSED)
    assert missing.code == 1 and f"{EPHYS_REPROCESSED}/behavior/" in missing.err
    assert "Traceback" not in missing.err
