"""SLAP2: .dat headers and names (pure), then Session.slap2() and ``ppdata slap2`` against the
mirror, compared with the bytes the world wrote."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from ppdata.errors import NotFound, NWBError, OutOfRange, PpdataError
from ppdata.find.assets import AssetKind, classify
from ppdata.mirror.layout_slap2 import (
    CHUNK_STARTS,
    CHUNKED_TRIAL,
    DAT_GEOMETRY,
    MOVIE_SHAPE,
    TRIALS,
    dat_bytes,
    dat_samples,
    movie_pages,
)
from ppdata.mirror.world import MESOSCOPE_A, SLAP2_PILOT, SLAP2_SESSION
from ppdata.session import open_session
from ppdata.slap2.reader import (
    DAT_MAGIC,
    HEADER_PROBE,
    dat_header_bytes,
    parse_dat_header,
    parse_line_plan,
    parse_slap2_key,
)

# --- pure ---------------------------------------------------------------------------------


def _expected(session: str, dmd: int, trial: int, channel: int, lines=None) -> np.ndarray:
    """(cycles, super-pixels) of one channel, from the world's own writer."""
    per_line = dat_samples(session, dmd, trial)
    chosen = per_line if lines is None else per_line[lines[0] : lines[1]]
    return np.concatenate([line[:, channel - 1] for line in chosen], axis=1)


def test_header_and_line_plan_round_trip():
    fields = {"firstCycleOffsetBytes": 0, "bytesPerCycle": 2 * 48 + 56, "linesPerCycle": 3}
    fields |= {"lineHeaderSizeBytes": 40, "superPixelsPerCycle": 10, "numChannels": 2}
    fields |= {"channelMask": 3}
    fields["firstCycleOffsetBytes"] = len(dat_header_bytes(fields))
    raw = dat_header_bytes(fields)
    words = struct.unpack(f"<{len(raw) // 4}I", raw)
    assert words[0] == words[-1] == DAT_MAGIC and words[1] == 2 and words[2] == len(raw)
    cycle = b"".join(struct.pack("<I", size).ljust(size, b"\0") for size in (48, 48, 56))
    data = raw + cycle * 3 + b"\0" * 100
    header = parse_dat_header(data, len(data))
    assert header.cycles == 3  # the incomplete trailing cycle is not counted
    assert header.channels == [1, 2] and header.cycle_offset(2) == len(raw) + 2 * 152
    plan = parse_line_plan(cycle, header)
    assert plan.starts == (0, 48, 96) and plan.counts == (2, 2, 4) and plan.superpixels == 8
    with pytest.raises(PpdataError, match="add up to"):
        parse_line_plan(cycle[:96] + struct.pack("<I", 40).ljust(56, b"\0"), header)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: struct.pack("<I", 1) + b[4:], "magic"),
        (lambda b: b[:4] + struct.pack("<I", 3) + b[8:], "version 3"),
        (lambda b: b[:-4] + struct.pack("<I", 7), "end with the magic"),
        (lambda b: b[:20], "needs"),
    ],
)
def test_header_errors(mutate, message):
    good = dat_header_bytes({"bytesPerCycle": 10, "linesPerCycle": 1})
    with pytest.raises(PpdataError, match=message):
        parse_dat_header(mutate(good), 1000)


@pytest.mark.parametrize(
    ("name", "kind", "dmd", "trial", "cycle"),
    [
        ("activity_20250828_142403_DMD1-TRIAL000026.dat", "dat", 1, 26, None),
        ("activity_20250828_142403_DMD2-TRIAL000003-CYCLE-000400.dat", "dat", 2, 3, 400),
        ("activity_20250828_142403_DMD1.meta", "meta", 1, None, None),
        ("activity_20250828_142403_DMD2.annotation.json", "annotation", 2, None, None),
        ("reference_stack/refStack_20250828_142403_DMD1-REFERENCE.tif", "reference", 1, None, None),
        ("E1T7DMD2_REGISTERED_DOWNSAMPLED-80Hz.tif", "registered", 2, 7, None),
        ("E1T7DMD2_ALIGNMENTDATA.mat", "alignment", 2, 7, None),
        ("static_data/structure_1_DMD1.meta", "other", None, None, None),
        ("notes/session_notes.txt", "other", None, None, None),
    ],
)
def test_parse_slap2_key(name, kind, dmd, trial, cycle):
    f = parse_slap2_key(f"x/slap2/dynamic_data/{name}", 10, "x")
    assert (f.kind, f.dmd, f.trial, f.cycle_offset) == (kind, dmd, trial, cycle)


def test_classify_slap2_assets():
    corrected = f"{SLAP2_SESSION}_motion-corrected_2026-05-21_01-54-59"
    processed = f"{SLAP2_SESSION}_processed_2026-05-22_06-53-48"
    assert classify(corrected) is AssetKind.MOTION_CORRECTED
    assert classify(processed, ["DMD1/", "DMD2/", "data_description.json"]) is (
        AssetKind.SLAP2_PROCESSED
    )
    # an early pipeline output without DMD folders stays unknown
    assert classify(processed, ["pipeline_output/", "logs/"]) is AssetKind.UNKNOWN
    # a Mesoscope asset with DMD-like folders is not SLAP2
    meso = "multiplane-ophys_1_2025-04-04_04-04-04_processed_2025-05-05_05-05-05"
    assert classify(meso, ["DMD1/"]) is AssetKind.UNKNOWN


# --- against the mirror ---------------------------------------------------------------------


@pytest.fixture
def slap(client):
    with open_session(SLAP2_SESSION, client=client) as s:
        yield s.slap2()


def test_session_kinds_and_listing(client, slap):
    s = open_session(SLAP2_SESSION, client=client)
    assert s.kinds == {AssetKind.RAW, AssetKind.MOTION_CORRECTED, AssetKind.SLAP2_PROCESSED}
    assert slap.dmds() == [1, 2]
    assert slap.trials(1) == [*TRIALS, CHUNKED_TRIAL] and slap.trials(2) == list(TRIALS)
    summary = slap.summary()
    assert summary["session"] == SLAP2_SESSION and len(summary["assets"]) == 3
    dmd1 = summary["dmds"][0]
    assert dmd1["registered"] == len(TRIALS) and dmd1["meta"] and dmd1["reference_stack"]
    kinds = {f["kind"] for f in summary["files"]}
    assert {"dat", "meta", "annotation", "reference", "registered", "alignment"} <= kinds


def test_header_is_one_ranged_read(client, slap):
    assert slap.files  # the listing, once
    client.stats.reset()
    header = slap.header(1, 2)
    snap = client.stats.snapshot()
    assert snap["requests"] == 1 and snap["bytes"] <= HEADER_PROBE
    assert header.cycles == DAT_GEOMETRY["cycles"]
    assert header.lines_per_cycle == len(DAT_GEOMETRY["line_counts"])
    assert header.fields["dmdPixelsPerRow"] == 1280
    assert slap.line_plan(1, 2).counts == DAT_GEOMETRY["line_counts"]
    slap.header(1, 2)
    assert client.stats.snapshot()["requests"] == 1  # cached


@pytest.mark.parametrize("channel", [1, 2])
def test_read_whole_trial(client, slap, channel):
    expected = _expected(SLAP2_SESSION, 2, 3, channel)
    header = slap.header(2, 3)
    client.stats.reset()
    data = slap.read_trial(2, 3, channel=channel)
    assert data.dtype == np.int16 and data.shape == expected.shape
    np.testing.assert_array_equal(data, expected)
    snap = client.stats.snapshot()
    assert snap["requests"] == 1  # gaps of a few bytes are read through
    assert snap["bytes"] <= len(dat_bytes(SLAP2_SESSION, 2, 3)) - header.first_cycle_offset
    client.stats.reset()
    np.testing.assert_array_equal(slap.read_trial(2, 3, channel=channel, min_gap=0), data)
    snap3 = client.stats.snapshot()
    assert snap3["requests"] == 3 and snap3["bytes"] < snap["bytes"]


def test_request_budget_trades_requests_for_bytes(client, slap):
    """More requests skip more of the other channel: at one request per line block the
    bytes fetched are exactly the samples asked for."""
    header, plan = slap.header(1, 2), slap.line_plan(1, 2)
    expected = _expected(SLAP2_SESSION, 1, 2, 1)[20:40]
    asked = 20 * plan.superpixels * 2
    fetched = []
    for budget in (1, 3, 40, 20 * header.lines_per_cycle):
        client.stats.reset()
        data = slap.read_trial(1, 2, cycles=(20, 40), max_requests=budget, min_gap=0)
        np.testing.assert_array_equal(data, expected)
        snap = client.stats.snapshot()
        assert snap["requests"] == budget
        fetched.append(snap["bytes"])
    assert fetched == sorted(fetched, reverse=True) and fetched[0] > 2 * asked
    assert fetched[-1] == asked
    with pytest.raises(OutOfRange, match="max_requests"):
        slap.read_trial(1, 2, max_requests=0)


def test_read_cycles_and_lines(client, slap):
    header = slap.header(1, 1)
    client.stats.reset()
    data = slap.read_trial(1, 1, channel=1, cycles=slice(10, 20))
    np.testing.assert_array_equal(data, _expected(SLAP2_SESSION, 1, 1, 1)[10:20])
    assert client.stats.snapshot()["bytes"] < 10 * header.bytes_per_cycle
    # a few lines of a few cycles: one small range per cycle, fetched concurrently, once
    # the gaps are worth skipping
    client.stats.reset()
    part = slap.read_trial(1, 1, channel=2, cycles=(5, 8), lines=(2, 4), min_gap=100)
    np.testing.assert_array_equal(part, _expected(SLAP2_SESSION, 1, 1, 2, (2, 4))[5:8])
    snap = client.stats.snapshot()
    assert snap["requests"] == 3 and snap["bytes"] < 3 * header.bytes_per_cycle
    single = slap.read_trial(1, 1, cycles=7, lines=3)
    np.testing.assert_array_equal(single, _expected(SLAP2_SESSION, 1, 1, 1, (3, 4))[7:8])
    # many cycles of one line: within the budget, not one request per cycle
    client.stats.reset()
    many = slap.read_trial(1, 1, cycles=(0, 50), lines=(0, 1), min_gap=100)
    np.testing.assert_array_equal(many, _expected(SLAP2_SESSION, 1, 1, 1, (0, 1))[:50])
    assert client.stats.snapshot()["requests"] == 3
    client.stats.reset()
    np.testing.assert_array_equal(slap.read_trial(1, 1, cycles=(0, 50), lines=(0, 1)), many)
    assert client.stats.snapshot()["requests"] == 1


def test_read_across_cycle_chunks(client, slap):
    expected = _expected(SLAP2_SESSION, 1, CHUNKED_TRIAL, 1)
    chunks = [f for f in slap.files if f.kind == "dat" and f.trial == CHUNKED_TRIAL]
    assert [f.cycle_offset for f in chunks] == list(CHUNK_STARTS)
    assert slap.n_cycles(1, CHUNKED_TRIAL) == DAT_GEOMETRY["cycles"]
    client.stats.reset()
    whole = slap.read_trial(1, CHUNKED_TRIAL)
    np.testing.assert_array_equal(whole, expected)
    assert client.stats.snapshot()["requests"] == 2  # one per chunk (headers cached)
    client.stats.reset()
    np.testing.assert_array_equal(slap.read_trial(1, CHUNKED_TRIAL, min_gap=0), expected)
    assert client.stats.snapshot()["requests"] == 3  # the chunks share the budget of 3
    split = CHUNK_STARTS[1]
    window = slap.read_trial(1, CHUNKED_TRIAL, cycles=(split - 3, split + 2), lines=(1, 3))
    np.testing.assert_array_equal(
        window, _expected(SLAP2_SESSION, 1, CHUNKED_TRIAL, 1, (1, 3))[split - 3 : split + 2]
    )
    with pytest.raises(OutOfRange, match=rf"valid is 0\.\.{DAT_GEOMETRY['cycles']}"):
        slap.read_trial(1, CHUNKED_TRIAL, cycles=(0, 500))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cycles": (190, 250)}, r"cycles 190\.\.250 is out of range: valid is 0\.\.200"),
        ({"lines": (0, 9)}, r"valid is 0\.\.8"),
        ({"channel": 3}, r"channels are \[1, 2\]"),
    ],
)
def test_read_out_of_range(slap, kwargs, message):
    with pytest.raises(OutOfRange, match=message):
        slap.read_trial(1, 1, **kwargs)


def test_unknown_trial_names_valid_ones(slap):
    with pytest.raises(NotFound, match=r"DMD1 trials: \[1, 2, 3, 4\]"):
        slap.read_trial(1, 99)


def test_meta_annotation_reference(client, slap):
    meta = slap.meta(2)
    assert meta["linePeriod_s"] == pytest.approx(625e-6)
    ids = meta["superPixelIDs"]
    assert [len(i) for i in ids] == list(DAT_GEOMETRY["line_counts"])
    assert list(ids[1][:3]) == [2100, 2101, 2102]
    note = slap.annotation(1)
    assert note["intended_green_channel_target"] == "iGluSnFR4f"
    assert note["targeted_structure"] == "VISp" and "pia_depth_on_remote_focus_um" in note
    stack = slap.reference_stack(2)
    assert stack.shape == (5, 40, 40) and stack.dtype == np.uint16


def test_cycle_times(slap):
    period = 625e-6 * len(DAT_GEOMETRY["line_counts"])
    times = slap.cycle_times(1, 1, cycles=(10, 12))
    np.testing.assert_allclose(times, [10.5 * period, 11.5 * period])
    assert len(slap.cycle_times(1, 1)) == DAT_GEOMETRY["cycles"]


def test_registered_reads_only_pages_asked(client, slap, world):
    pages = movie_pages(SLAP2_SESSION, 1, 2)
    assert slap.files
    client.stats.reset()
    frames = slap.registered(1, 2, frames=(3, 5), channel=2)
    np.testing.assert_array_equal(frames, pages[[7, 9]])
    key = next(f for f in slap.files if f.kind == "registered" and f.dmd == 1 and f.trial == 2)
    assert client.stats.snapshot()["bytes"] < key.size / 2
    assert np.isnan(frames[0, 0, 0]) and not np.isnan(frames[0, 60, 60])
    with pytest.raises(OutOfRange, match=rf"valid is 0\.\.{MOVIE_SHAPE[0]}"):
        slap.registered(1, 2, frames=(0, MOVIE_SHAPE[0] + 1))


def test_not_a_slap2_session(client):
    with pytest.raises(NWBError, match="not SLAP2"):
        open_session(MESOSCOPE_A, client=client).slap2()


def test_pilot_has_raw_only(client):
    slap = open_session(SLAP2_PILOT, client=client).slap2()
    assert slap.derived == [] and slap.trials(2) == list(TRIALS)
    assert slap.mean_image(1).shape == (40, 40)  # no movie: the reference stack's mean


# --- CLI ------------------------------------------------------------------------------------


def test_cli_json_and_table(run):
    result = run("slap2", SLAP2_SESSION, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert [d["dmd"] for d in data["dmds"]] == [1, 2]
    assert data["dmds"][1]["trials"] == list(TRIALS)
    table = run("slap2", SLAP2_SESSION, "--files")
    assert table.code == 0, table.err
    assert "registered movies" in table.out and "E1T1DMD1_REGISTERED_DOWNSAMPLED-80Hz.tif" in (
        table.out
    )


def test_cli_plot(run, tmp_path):
    out = tmp_path / "mean.png"
    result = run("slap2", SLAP2_SESSION, "--plot", str(out))
    assert result.code == 0, result.err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_kind(run, tmp_path):
    out = tmp_path / "mean.svg"
    result = run("plot", "slap2-mean", SLAP2_SESSION, "--out", str(out))
    assert result.code == 0, result.err
    assert "DMD2" in out.read_text() and "µm" in out.read_text()


def test_cli_not_slap2(run):
    result = run("slap2", MESOSCOPE_A)
    assert result.code == 1 and "not SLAP2" in result.err
