"""``make_plot`` / ``aligned_figure``: each kind takes the options ``PLOT_OPTIONS`` lists for
it and refuses the others; ``ppdata plot`` passes each kind only what it takes."""

from __future__ import annotations

import itertools

import pytest

from ppdata.errors import NotFound
from ppdata.mirror.world import EPHYS_COMPLETE, MESOSCOPE_A, SLAP2_SESSION
from ppdata.plots.make import (
    PLOT_KINDS,
    PLOT_OPTIONS,
    PlotOptions,
    aligned_figure,
    make_plot,
    options_for,
)
from ppdata.session import Session

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def meso(client):
    with Session(MESOSCOPE_A, client=client) as s:
        yield s


def test_every_kind_declares_its_options_among_the_plot_options():
    assert tuple(PLOT_OPTIONS) == PLOT_KINDS
    declared = set(itertools.chain.from_iterable(PLOT_OPTIONS.values()))
    assert declared == set(PlotOptions.__annotations__)  # each option is some kind's


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("dff", {"probe": "ProbeA"}, r"make_plot\('dff'\) got an unexpected keyword argument "
         "'probe'; it takes plane, start, stop"),
        ("rois", {"plane": "p", "start": 1.0}, "'start'; it takes plane$"),
        ("unit-quality", {"unit_ids": [1]}, "'unit_ids'; it takes probe$"),
        ("raster", {"units": [1]}, "'units'; it takes unit_ids, probe, start, stop$"),  # misspelt
        ("slap2-mean", {"stop": 2.0}, "'stop'; it takes no keyword arguments$"),
        ("psth", {"plane": "p"}, r"make_plot\('psth'\) got an unexpected keyword argument 'plane'"),
        ("aligned-dff", {"start": 0.0}, "'start'; it takes to, vs, block, window, plane, rois$"),
    ],
)  # fmt: skip
def test_an_option_the_kind_does_not_take_is_refused_before_anything_is_read(
    meso, tmp_path, kind, options, message
):
    before = meso.client.stats.snapshot()
    with pytest.raises(TypeError, match=message):
        make_plot(kind, meso, tmp_path / "x.png", **options)
    assert meso.client.stats.snapshot().requests == before.requests
    assert not (tmp_path / "x.png").exists()


def test_aligned_figure_takes_the_options_of_its_kind_only(meso):
    with pytest.raises(TypeError, match=r"aligned_figure\('aligned-dff'\) got an unexpected "
                       "keyword argument 'start'; it takes to, vs"):  # fmt: skip
        aligned_figure("aligned-dff", meso, start=10.0)
    with pytest.raises(TypeError, match=r"aligned_figure\('psth'\) .* 'rois'; it takes to"):
        aligned_figure("psth", meso, rois=[1])
    with pytest.raises(NotFound, match="unknown plot kind 'dff'; choose one of psth, aligned-dff"):
        aligned_figure("dff", meso)


def test_options_for_keeps_what_the_kind_takes():
    given = {"unit_ids": None, "probe": "ProbeA", "plane": "p", "start": 1.0, "to": "deviant"}
    assert options_for("raster", given) == {"unit_ids": None, "probe": "ProbeA", "start": 1.0}
    assert options_for("slap2-mean", given) == {}
    assert options_for("nonsense", given) == {}  # make_plot then says which kinds there are


def test_cli_plot_each_kind_with_its_options_and_another_kinds(run, tmp_path, meso, client):
    """Every ``ppdata plot`` kind draws with the options it takes; the options of other
    kinds on the same command line are let go, as before."""
    plane = str(meso.planes().index[0])
    with Session(EPHYS_COMPLETE, client=client) as ephys:
        units = ephys.units()
    probe, unit = str(units["probe"].iloc[0]), str(units.index[0])
    cases = {
        "raster": (EPHYS_COMPLETE, "--unit", unit, "--probe", probe, "--start", "0", "--stop",
                   "60", "--plane", plane, "--to", "omission"),
        "unit-quality": (EPHYS_COMPLETE, "--probe", probe, "--start", "1", "--roi", "0"),
        "dff": (MESOSCOPE_A, "--plane", plane, "--start", "0", "--stop", "20", "--probe", "x"),
        "rois": (MESOSCOPE_A, "--plane", plane, "--stop", "5", "--unit", "3"),
        "running": (MESOSCOPE_A, "--start", "0", "--stop", "30", "--plane", plane),
        "slap2-mean": (SLAP2_SESSION, "--start", "0", "--probe", "x"),
        "psth": (EPHYS_COMPLETE, "--to", "deviant", "--vs", "standard", "--probe", probe,
                 "--window", "-0.2", "0.5", "--plane", plane, "--stop", "9"),
        "aligned-dff": (MESOSCOPE_A, "--plane", plane, "--roi", "0", "--window", "-0.5", "1.5",
                        "--unit", unit, "--start", "3"),
    }  # fmt: skip
    assert set(cases) == set(PLOT_KINDS)
    for kind, (session, *options) in cases.items():
        out = tmp_path / f"{kind}.png"
        result = run("plot", kind, session, "--out", str(out), *options)
        assert result.code == 0, (kind, result.err)
        assert out.read_bytes()[:8] == PNG, kind
