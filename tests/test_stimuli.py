"""Stimulus tables in the real shapes: blocks, presentations, TrialType, the deviant flag."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ppdata.errors import NotFound, NWBError
from ppdata.mirror import stimgen
from ppdata.mirror.world import EPHYS_COMPLETE, EPHYS_REPROCESSED, MESOSCOPE_A
from ppdata.nwb import stimuli
from ppdata.session import Session

SEQUENCE = "Sequence mismatch block"
STANDARD = "Standard mismatch block"


# -- the mirror writes the real shapes ------------------------------------------------------


def test_schedule_has_the_real_blocks_and_timing():
    ephys = {b.name: b for b in stimgen.schedule(120.0, "ephys")}
    assert {SEQUENCE, "Control block 1", "RF mapping", "spontaneous", "Trippy",
            "40 hz pulse train"} <= set(ephys)  # fmt: skip
    rows = ephys[SEQUENCE].rows
    # 90-45-0-45-blank; the blank is sequence_omission; deviants replace element 3
    first = [r["Orientation"] for r in rows[:4]]
    assert first == [90.0, 45.0, 0.0, 45.0] and rows[4]["TrialType"] == "sequence_omission"
    assert all(r["TrialType"] == "sequence_omission" for r in rows[4::5])
    deviants = [r for r in rows if r["TrialType"] in stimgen.DEVIANT_TYPES]
    assert deviants and all(r["TrialInSequence"] == 2.0 for r in deviants)
    starts = np.array([r["start_time"] for r in rows])
    assert np.allclose(np.diff(starts), stimgen.SEQUENCE_ROW)  # contiguous 266.9 ms rows
    meso = {b.name: b for b in stimgen.schedule(120.0, "mesoscope")}
    assert "Trippy" not in meso and "raised_cosine" not in meso
    standard = [r for r in meso[STANDARD].rows]
    assert np.allclose(np.diff([r["start_time"] for r in standard]), 0.700)
    assert all(abs(r["stop_time"] - r["start_time"] - 0.367) < 1e-9 for r in standard)
    assert {r["BlockLabel"] for r in meso["Control block 1"].rows} == {
        "Control block 1.1",
        "Control block 1.2",
    }


def test_ephys_tables_store_numbers_as_strings_and_mesoscope_as_numbers(client, world):
    with Session(EPHYS_COMPLETE, client) as s:
        nwb = s._stimulus_nwb()
        raw = nwb.read(f"intervals/{SEQUENCE}_presentations/Orientation")
        assert raw.dtype == object and isinstance(raw[0], str)
        tables = s.stimulus_tables()
    with Session(MESOSCOPE_A, client) as s:
        raw = s._stimulus_nwb().read(f"intervals/{STANDARD}_presentations/Orientation")
        assert raw.dtype.kind == "f"
        meso = s.stimulus_tables()
    # the reader makes both numeric
    for table in (tables[f"{SEQUENCE}_presentations"], meso[f"{STANDARD}_presentations"]):
        assert table["Orientation"].dtype.kind == "f"
        assert table["TrialNumber"].dtype.kind == "f"
        assert table["TrialType"].map(type).eq(str).all()
        assert list(table.columns[:4]) == ["start_time", "stop_time", "stim_name", "stim_type"]


def test_timeseries_points_at_one_onset_per_presentation(client):
    with Session(EPHYS_COMPLETE, client) as s:
        nwb = s._stimulus_nwb()
        onsets = nwb.read("processing/stimulus/timestamps/timestamps")
        tables = s.stimulus_tables()
    total = sum(len(t) for t in tables.values())
    assert len(onsets) == total
    for table in tables.values():
        idx = table["onset_index"].to_numpy()
        assert np.allclose(onsets[idx], table["start_time"].to_numpy())


# -- readers ----------------------------------------------------------------------------------


def test_blocks_of_a_sequence_session(client):
    with Session(EPHYS_COMPLETE, client) as s:
        blocks = s.stimuli()
    assert list(blocks["start_time"]) == sorted(blocks["start_time"])
    row = blocks.set_index("block").loc[SEQUENCE]
    assert row["block_type"] == "sequential_oddball"
    counts = row["trial_types"]
    assert {"standard", "sequence_omission", "orientation_90", "halt", "omission"} <= set(counts)
    assert row["deviants"] == sum(
        counts[k] for k in ("orientation_45", "orientation_90", "halt", "omission")
    )
    assert row["presentations"] == sum(counts.values())
    assert "40 hz pulse train" in set(blocks["block"])


def test_deviant_flag_follows_the_real_rule(client):
    with Session(EPHYS_COMPLETE, client) as s:
        every = s.presentations()
        seq = s.presentations("sequence MISMATCH block_presentations")
    assert set(seq["block"]) == {SEQUENCE}
    assert not seq.loc[seq["trial_type"] == "sequence_omission", "deviant"].any()
    assert not seq.loc[seq["trial_type"] == "standard", "deviant"].any()
    assert seq.loc[seq["trial_type"].isin(["orientation_90", "halt"]), "deviant"].all()
    control = every[every["block"].str.startswith("Control block")]
    assert "omission" in set(control["trial_type"]) and not control["deviant"].any()
    assert set(every.loc[every["deviant"], "block"]) == {SEQUENCE}
    assert stimuli.is_deviant("motor_orientation_90", "Sensory-motor mismatch block")
    assert not stimuli.is_deviant("motor_halt", "Control block 4", "open_loop_prerecorded")
    assert stimuli.is_deviant("jitter", "Duration mismatch block", "jitter_oddball")


def test_unknown_block_lists_the_valid_ones(client):
    with Session(EPHYS_COMPLETE, client) as s, pytest.raises(NotFound) as info:
        s.presentations("gratings")
    assert "'Sequence mismatch block'" in str(info.value) and "RF mapping" in str(info.value)


def test_no_stimulus_tables_says_where_they_would_be(client):
    s = Session(EPHYS_REPROCESSED, client)
    with pytest.raises(NWBError, match=r"complete NWB .*_nwb_<date>.*behavior/ folder"):
        s.stimuli()


# -- command line -----------------------------------------------------------------------------


def test_cli_stimuli_blocks_and_presentations(run, tmp_path):
    res = run("stimuli", EPHYS_COMPLETE, "--json")
    assert res.code == 0, res.err
    blocks = json.loads(res.out)
    names = [b["block"] for b in blocks]
    assert SEQUENCE in names and blocks[0]["start_time"] <= blocks[-1]["start_time"]
    table = run("stimuli", EPHYS_COMPLETE)
    assert table.code == 0 and SEQUENCE in table.out and "sequential_oddball" in table.out
    out = tmp_path / "p.csv"
    res = run("stimuli", EPHYS_COMPLETE, "--block", SEQUENCE, "--csv", str(out))
    assert res.code == 0, res.err
    import pandas as pd

    frame = pd.read_csv(out)
    assert {"trial_type", "deviant", "TrialType", "Orientation", "start_time"} <= set(frame)
    assert frame["deviant"].any() and set(frame["block"]) == {SEQUENCE}
    bad = run("stimuli", EPHYS_COMPLETE, "--block", "nope")
    assert bad.code != 0 and "RF mapping" in bad.err
