"""The SLAP2 processed asset's experiment summary: the pure readers on both layouts (older
``DMD<n>`` 2-D traces, newer ``Path<n>`` per-channel traces), then ``Slap2.traces`` and
``ppdata slap2 --traces`` against the mirror."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from ppdata.errors import NotFound, OutOfRange
from ppdata.find.assets import AssetKind, classify
from ppdata.mirror.layout_slap2 import (
    MOVIE_SHAPE,
    SUMMARY_SOURCES,
    SUMMARY_TRIAL_FRAMES,
    movie_pages,
    summary_arrays,
)
from ppdata.mirror.world import SLAP2_PILOT, SLAP2_SESSION
from ppdata.session import open_session
from ppdata.slap2 import summary as slap2_summary

N_FRAMES = sum(SUMMARY_TRIAL_FRAMES)


def _processed_name(slap) -> str:
    return next(a.name for a in slap.derived if a.kind is AssetKind.SLAP2_PROCESSED)


def test_classify_by_source_extraction_folder():
    processed = f"{SLAP2_SESSION}_processed_2026-05-22_06-53-48"
    entries = ["source_extraction/", "data_description.json", "processing.json"]
    assert classify(processed, entries) is AssetKind.SLAP2_PROCESSED
    meso = "multiplane-ophys_1_2025-04-04_04-04-04_processed_2025-05-05_05-05-05"
    assert classify(meso, entries) is AssetKind.UNKNOWN


def test_older_layout(tmp_path):
    """``DMD<n>`` groups, ``dFF`` stored as ``(frames, sources)`` (or MATLAB-transposed)."""
    g = np.random.default_rng(0)
    dff = g.normal(size=(50, 3)).astype(np.float32)
    path = tmp_path / "experiment_summary.h5"
    with h5py.File(path, "w") as h5:
        for name, data in (("DMD1", dff), ("DMD2", dff.T)):
            h5[f"{name}/sources/temporal/dFF"] = data
            h5[f"{name}/frame_info/trial_start_idxs"] = np.array([[1, 26]])
            h5[f"{name}/frame_info/discard_frames"] = np.zeros((50, 1))
            h5[f"{name}/visualizations/mean_im"] = np.ones((8, 9))
        h5["params"] = np.zeros(1)
    with h5py.File(path, "r") as h5:
        assert slap2_summary.planes(h5) == {1: "DMD1", 2: "DMD2"}
        np.testing.assert_array_equal(slap2_summary.traces(h5, 1, frames=(5, 9)), dff[5:9])
        np.testing.assert_array_equal(slap2_summary.traces(h5, 2, frames=(5, 9)), dff[5:9])
        assert slap2_summary.frame_info(h5, 1)["trial_start_idxs"].tolist() == [1, 26]
        assert slap2_summary.summary_image(h5, 1).shape == (8, 9)
        assert slap2_summary.describe(h5)[2]["sources/temporal/dFF"] == [3, 50]
        with pytest.raises(NotFound, match=r"traces: \['dFF'\]"):
            slap2_summary.traces(h5, 1, "F0")


@pytest.fixture
def slap(client):
    with open_session(SLAP2_SESSION, client=client) as s:
        yield s.slap2()


def test_traces_from_the_mirror(client, slap):
    arrays = summary_arrays(_processed_name(slap), 1)
    f0, d_f = arrays["sources/temporal/F0"], arrays["sources/temporal/dF_denoised"]
    summary = slap.summary()
    assert summary["experiment_summary"].endswith("source_extraction/experiment_summary.h5")
    size = next(f.size for f in slap.files if f.kind == "summary")
    dff = slap.traces(1)
    assert dff.shape == (N_FRAMES, SUMMARY_SOURCES[1]) and dff.dtype == np.float32
    np.testing.assert_allclose(dff, d_f[:, 0] / (f0[:, 0] + 1e-6), rtol=1e-6)
    # a window of frames: the blocks holding it and the metadata, not the file
    client.stats.reset()
    window = slap.traces(2, "F0", channel=2, frames=(100, 110))
    np.testing.assert_array_equal(
        window, summary_arrays(_processed_name(slap), 2)["sources/temporal/F0"][100:110, 1]
    )
    assert client.stats.snapshot()["bytes"] < size / 2
    rois = slap.traces(1, "user_rois/F")
    np.testing.assert_array_equal(rois, arrays["user_rois/F"][:, 0])
    info = slap.frame_info(2)
    assert info["trial_num_frames"].tolist() == list(SUMMARY_TRIAL_FRAMES)
    assert info["discard_frames"].shape == (N_FRAMES,)
    mean_red = slap.summary_image(1, "mean_im", channel=2)
    np.testing.assert_array_equal(mean_red, arrays["visualizations/mean_im"][1, 0])
    assert slap.summary_image(2, "act_im").shape == MOVIE_SHAPE[1:]
    shapes = slap.summary_contents()
    assert shapes[2]["sources/temporal/events"] == [N_FRAMES, 2, SUMMARY_SOURCES[2]]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.traces(3), NotFound, r"DMDs: \[1, 2\]"),
        (lambda s: s.traces(1, "dF"), NotFound, r"traces: \['F0', 'dF_denoised'"),
        (lambda s: s.traces(1, frames=(0, 100_000)), OutOfRange, rf"valid is 0\.\.{N_FRAMES}"),
        (lambda s: s.traces(1, channel=3), OutOfRange, r"valid is 1\.\.2"),
        (lambda s: s.summary_image(1, "per_trial_act_im"), NotFound, r"images: \['act_im'"),
    ],
)
def test_summary_errors(slap, call, error, message):
    with pytest.raises(error, match=message):
        call(slap)


def test_mean_image_sources(slap):
    arrays = summary_arrays(_processed_name(slap), 1)
    np.testing.assert_array_equal(slap.mean_image(1), arrays["visualizations/mean_im"][0, 0])
    movie = slap.mean_image(1, source="registered")
    pages = movie_pages(SLAP2_SESSION, 1, 1)
    np.testing.assert_allclose(movie[60, 60], pages[0::2, 60, 60].mean(), rtol=1e-5)
    with pytest.raises(OutOfRange, match="summary, registered, reference"):
        slap.mean_image(1, source="movie")


def test_no_summary_names_the_processed_asset(client):
    slap = open_session(SLAP2_PILOT, client=client).slap2()
    with pytest.raises(NotFound, match="_processed_ asset"):
        slap.traces(1)


def test_cli_traces(run, tmp_path):
    listing = run("slap2", SLAP2_SESSION)
    assert listing.code == 0 and f"ppdata slap2 {SLAP2_SESSION} --traces DMD" in listing.err
    result = run("slap2", SLAP2_SESSION, "--traces", "2", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["frames"] == N_FRAMES and len(data["sources"]) == SUMMARY_SOURCES[2]
    out = tmp_path / "dff.csv"
    result = run("slap2", SLAP2_SESSION, "--traces", "1", "--frames", "0", "20", "--out", str(out))
    assert result.code == 0, result.err
    lines = out.read_text().splitlines()
    assert lines[0].startswith("source_0,") and len(lines) == 21
    bad = run("slap2", SLAP2_SESSION, "--traces", "5")
    assert bad.code != 0 and "DMDs: [1, 2]" in bad.err
