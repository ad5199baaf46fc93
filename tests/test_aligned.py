"""Stimulus-aligned responses: PSTHs of units and trial-aligned ΔF/F, Python, CLI, plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ppdata.errors import NotFound
from ppdata.mirror.world import EPHYS_COMPLETE, MESOSCOPE_A
from ppdata.nwb import aligned, spikebins
from ppdata.plots import figures as plots
from ppdata.session import Session

SEQUENCE = "Sequence mismatch block"


@pytest.fixture
def ephys(client):
    with Session(EPHYS_COMPLETE, client=client) as s:
        yield s


@pytest.fixture
def meso(client):
    with Session(MESOSCOPE_A, client=client) as s:
        yield s


def test_psth_shape_counts_and_units(ephys):
    psth = ephys.aligned_spikes(to="orientation_90", vs="standard", bin_size=0.05)
    units = ephys.units()
    assert psth.dims == ("unit", "condition", "time")
    assert list(psth["condition"].values) == ["orientation_90", "standard"]
    assert list(psth["unit"].values) == list(units.index)
    assert psth.attrs["units"] == "spikes/s" and psth.attrs["blocks"] == [SEQUENCE]
    seq = ephys.presentations(SEQUENCE)
    assert psth.attrs["trials"] == {
        "orientation_90": int((seq["trial_type"] == "orientation_90").sum()),
        "standard": int((seq["trial_type"] == "standard").sum()),
    }
    assert len(psth["time"]) == 30 and np.isclose(psth["time"].values[0], -0.475)
    assert set(psth["probe"].values) == set(units["probe"])


def test_spike_times_are_read_in_bulk_not_per_unit(client, monkeypatch):
    """The spike_times chunks come in a few ranged GETs of neighbouring chunks (counted at
    the client), never one read per unit; the units table is not read whole."""
    with Session(EPHYS_COMPLETE, client=client) as s:
        units = s.units()
        s.presentations(SEQUENCE)
        nwb = s._ephys()
        stored = nwb.array("units/spike_times").id.get_storage_size()
        reads: list[tuple[int, int]] = []
        original = client.get_bytes

        def counting(key, start=None, end=None):
            reads.append((start or 0, end or 0))
            return original(key, start, end)

        monkeypatch.setattr(client, "get_bytes", counting)
        before = s.stats.requests
        psth = s.aligned_spikes(units, to="deviant", vs="standard")
        spent = s.stats.requests - before
    assert psth.sizes["unit"] == len(units) > 20
    assert 1 <= len(reads) <= -(-stored // spikebins.GROUP_BYTES) + 1, reads
    assert sum(b - a for a, b in reads) <= stored * 1.01  # exact chunk ranges, no padding
    assert spent <= 5


def test_psth_units_reads_only_ids_probe_and_area(ephys):
    """Without a units table the PSTH labels units from ids and probes alone."""
    light = aligned.psth_units(ephys._ephys())
    full = ephys.units()
    assert list(light.index) == list(full.index)
    assert (light["probe"].to_numpy() == full["probe"].to_numpy()).all()
    assert "snr" in full and "snr" not in light


def test_psth_matches_a_unit_by_unit_count(ephys):
    """The bulk computation equals counting each unit's spikes trial by trial."""
    units = ephys.units().index[:5]
    psth = ephys.aligned_spikes(list(units), to="deviant", vs="standard", window=(-0.2, 0.4),
                                bin_size=0.1)  # fmt: skip
    seq = ephys.presentations(SEQUENCE)
    onsets = seq.loc[seq["deviant"], "start_time"].to_numpy()
    edges = np.linspace(-0.2, 0.4, 7)
    for unit, spikes in ephys.spike_times(list(units)).items():
        counts = sum(np.histogram(spikes - t, bins=edges)[0] for t in onsets)
        expected = counts / (len(onsets) * 0.1)
        assert np.allclose(psth.sel(unit=unit, condition="deviant").values, expected)


@pytest.mark.parametrize("batch_spikes", [spikebins.BATCH_SPIKES, 5_000])
def test_streamed_and_local_reads_give_the_same_psth(ephys, world, monkeypatch, batch_spikes):
    """The remote path (chunks by byte range, binned as they arrive) and the local one
    (batches through h5py; one batch, or many read one ahead) count the same spikes."""
    from ppdata.nwb.open import open_nwb

    monkeypatch.setattr(spikebins, "BATCH_SPIKES", batch_spikes)

    remote = ephys._ephys()
    assert aligned._remote_plain(remote, "units/spike_times") is not None
    seq = ephys.presentations(SEQUENCE)
    streamed = aligned.aligned_spikes(remote, seq, to="deviant", vs="standard", bin_size=0.05)
    key = world.session(EPHYS_COMPLETE).current("nwb").nwb_key
    with open_nwb(world.path(key)) as local:
        assert aligned._remote_plain(local, "units/spike_times") is None
        batched = aligned.aligned_spikes(
            local, lambda: seq, to="deviant", vs="standard", bin_size=0.05
        )
    assert streamed.sizes["unit"] > 20
    assert np.array_equal(streamed.values, batched.values)
    assert np.array_equal(streamed["unit"].values, batched["unit"].values)
    with open_nwb(world.path(key)) as local:
        for nwb in (remote, local):  # no unit: nothing to read, an empty PSTH
            none = aligned.aligned_spikes(nwb, seq, units=[], window=(-0.5, 0.5))
            assert none.sizes["unit"] == 0 and none.sizes["time"] > 0


def test_deviants_drive_a_subset_of_units_harder(ephys):
    psth = ephys.aligned_spikes(to="deviant", vs="standard", window=(-0.5, 0.5), bin_size=0.02)
    t = psth["time"].values
    early = (t > 0.04) & (t < 0.24)
    response = psth.isel(time=early).mean("time")
    diff = (response.sel(condition="deviant") - response.sel(condition="standard")).values
    assert (diff > 10).sum() >= 0.2 * len(diff)  # a responsive subset
    assert np.median(diff) < (diff > 10).mean() * 100  # not every unit
    baseline = psth.isel(time=t < 0).mean(("time", "unit"))
    assert abs(float(baseline.sel(condition="deviant") - baseline.sel(condition="standard"))) < 5


def test_bad_conditions_blocks_and_windows(ephys):
    with pytest.raises(
        NotFound, match=r"no trial type 'oddball'.*valid: deviant, .*orientation_90"
    ):
        ephys.aligned_spikes(to="oddball")
    with pytest.raises(NotFound, match=r"no stimulus block 'nope'; blocks are .*'RF mapping'"):
        ephys.aligned_spikes(block="nope")
    with pytest.raises(NotFound, match=r"reaches outside the data .*valid windows lie within"):
        ephys.aligned_spikes(window=(-500.0, 1.0))
    with pytest.raises(NotFound, match="empty"):
        ephys.aligned_spikes(window=(1.0, 0.5))
    # a control block's rows are never deviants, but their trial types can be compared
    psth = ephys.aligned_spikes(to="omission", vs="single", block="Control block 1")
    assert psth.attrs["blocks"] == ["Control block 1"] and psth.attrs["trials"]["single"] > 0


def test_unit_counts_by_trial_and_by_spike_agree_with_histograms():
    """Few trials are searched in the train, many trials (more than the train's spikes in
    the block) are found spike by spike: both count what per-trial histograms count, for
    sorted and shuffled onsets."""
    from ppdata.nwb.windows import unit_counts

    rng = np.random.default_rng(7)
    train = np.sort(rng.uniform(0, 100, 300))
    edges = -0.5 + np.arange(16) * 0.1
    for onsets in (np.sort(rng.uniform(5, 95, 12)), np.sort(rng.uniform(5, 95, 2000))):
        expected = sum(np.histogram(train - t, bins=edges)[0] for t in onsets)
        for trials in (onsets, rng.permutation(onsets)):
            assert unit_counts(train, trials, edges).tolist() == expected.tolist()


@pytest.mark.parametrize("spacing", ["regular", "bunched", "repeated"])
def test_windows_count_every_condition_as_histograms_do(spacing):
    """Two conditions counted together equal each one's per-trial histograms, whether the
    trials' table search takes a step or two (regular onsets), falls back to a binary
    search (onsets bunched far closer than the table's cells) or meets equal onsets."""
    from ppdata.nwb import windows

    rng = np.random.default_rng(11)
    edges = -0.25 + np.arange(31) * 0.05
    if spacing == "regular":
        every = 10.0 + np.arange(600) * 0.27
    elif spacing == "bunched":
        every = np.concatenate([np.sort(rng.uniform(10, 11, 300)), rng.uniform(11, 170, 300)])
    else:
        every = np.repeat(10.0 + np.arange(200) * 0.8, 2)
    chosen = rng.random(len(every)) < 0.1
    onsets = [rng.permutation(every[chosen]), every[~chosen]]
    counter = windows.Windows(onsets, edges)
    assert (counter._lookup.width > windows.MAX_WIDTH) == (spacing == "bunched")
    for size in (0, 5, 400, 20_000):
        train = np.sort(rng.uniform(0, 180, size))
        expected = [
            sum((np.histogram(train - t, bins=edges)[0] for t in o), np.zeros(30, int))
            for o in onsets
        ]
        assert counter.count(train).tolist() == [e.tolist() for e in expected]
    # a trial without an onset (NaN) has no window: it counts nothing, and breaks nothing
    nan = windows.Windows([np.append(onsets[0], np.nan), onsets[1]], edges)
    assert nan.count(train).tolist() == counter.count(train).tolist()


def test_psth_from_spikes_counts_edges():
    spikes = np.array([0.05, 0.15, 1.05, 1.95, 0.5, 1.5])  # unit 0: 4 spikes, unit 1: 2
    ends = np.array([4, 6])
    counts = aligned.psth_from_spikes(spikes, ends, np.array([0, 1]), np.array([0.0, 1.0]),
                                      np.array([0.0, 0.1, 0.2]))  # fmt: skip
    assert counts.tolist() == [[2, 1], [0, 0]]


def test_aligned_dff(meso):
    plane = str(meso.planes().index[0])
    data = meso.aligned_dff(plane, to="deviant", vs="standard", window=(-1.0, 2.0))
    assert data.dims == ("roi", "trial", "time")
    assert set(data["condition"].values) == {"deviant", "standard"}
    counts = data.attrs["trials"]
    assert (data["condition"].values == "deviant").sum() == counts["deviant"] > 0
    assert set(data["trial_type"].values) <= {"standard", "orientation_45", "orientation_90",
                                              "halt", "omission"}  # fmt: skip
    assert np.all(np.diff(data["onset"].values) > 0)
    t = data["time"].values
    assert t[0] == pytest.approx(-1.0, abs=0.06) and t[-1] == pytest.approx(2.0, abs=0.06)
    late = (t > 0.2) & (t < 1.2)
    by_roi = data.isel(time=late).groupby("condition").mean(("trial", "time"))
    diff = (by_roi.sel(condition="deviant") - by_roi.sel(condition="standard")).values
    assert (diff > 0.2).any() and (diff < 0.1).any()
    with pytest.raises(NotFound, match="no trial type 'orientation_90x'"):
        meso.aligned_dff(plane, to="orientation_90x")
    with pytest.raises(NotFound, match="reaches outside the data"):
        meso.aligned_dff(plane, window=(-100.0, 2.0))


def test_figures_are_returned_and_labelled(ephys, meso, tmp_path):
    psth = ephys.aligned_spikes(to="deviant", vs="standard", bin_size=0.05)
    fig = plots.psth_figure(psth)
    top, heat = fig.axes[0], fig.axes[1]
    assert top.get_ylabel() == "firing rate (spikes/s)"
    assert heat.get_xlabel() == "time from stimulus onset (s)"
    assert top.get_legend().get_texts()[0].get_text().startswith("deviant (")
    assert any(line.get_xdata()[0] == 0.0 for line in top.get_lines())  # time 0 marked
    assert not list(tmp_path.iterdir())  # nothing written unless asked
    plots.psth_figure(psth, tmp_path / "psth.png")
    assert (tmp_path / "psth.png").stat().st_size > 1000
    data = meso.aligned_dff(str(meso.planes().index[0]))
    fig = plots.aligned_dff_figure(data)
    assert fig.axes[0].get_ylabel().startswith("ΔF/F")


# -- command line -----------------------------------------------------------------------------


def test_cli_psth(run, tmp_path):
    res = run("psth", EPHYS_COMPLETE, "--to", "orientation_90", "--vs", "standard", "--json",
              "--bin-size", "0.1")  # fmt: skip
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["conditions"] == ["orientation_90", "standard"] and len(data["time"]) == 15
    assert data["units"] and len(data["units"][0]["orientation_90"]) == 15
    res = run("psth", EPHYS_COMPLETE, "--window", "-0.2", "0.3", "--bin-size", "0.1", "--json")
    assert res.code == 0, res.err
    assert json.loads(res.out)["window"] == [-0.2, 0.3] and len(json.loads(res.out)["time"]) == 5
    table = run("psth", EPHYS_COMPLETE, "--probe", "ProbeA", "--top", "5")
    assert table.code == 0, table.err
    assert "deviant (" in table.out and "difference" in table.out
    out = tmp_path / "psth.csv"
    res = run("psth", EPHYS_COMPLETE, "--unit", "0", "--unit", "1", "--csv", str(out))
    assert res.code == 0, res.err
    import pandas as pd

    frame = pd.read_csv(out)
    assert sorted(frame["unit_id"].unique()) == [0, 1] and set(frame["condition"]) == {
        "deviant",
        "standard",
    }
    bad = run("psth", EPHYS_COMPLETE, "--to", "nope")
    assert bad.code == 1 and "valid: deviant" in bad.err


def test_cli_aligned_dff_and_plots(run, tmp_path, meso):
    plane = str(meso.planes().index[0])
    res = run("aligned-dff", MESOSCOPE_A, "--plane", plane, "--to", "deviant", "--vs", "standard")
    assert res.code == 0, res.err
    assert plane in res.out and "difference" in res.out
    out = tmp_path / "psth.png"
    res = run("plot", "psth", EPHYS_COMPLETE, "--out", str(out), "--to", "deviant")
    assert res.code == 0, res.err
    assert out.stat().st_size > 1000
    out = tmp_path / "dff.svg"
    res = run("plot", "aligned-dff", MESOSCOPE_A, "--out", str(out), "--plane", plane,
              "--window", "-0.5", "1.5")  # fmt: skip
    assert res.code == 0, res.err
    assert out.read_text().startswith("<?xml")
