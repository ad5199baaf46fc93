"""DANDI: the path rule and blob URLs (pure), then the look-up, streaming and download through
the mirror's DANDI API stand-in (the real ``dandi`` client library talks to it over HTTP)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ppdata.dandi import blob_location, candidate_paths, find_dandi_asset, plan_dandi_download
from ppdata.errors import BucketUnreachable, DandiAssetNotFound, NotFound
from ppdata.mirror.world import (
    EPHYS_COMPLETE,
    EPHYS_REPROCESSED,
    MESOSCOPE_A,
    MESOSCOPE_B,
    SLAP2_PILOT,
    SLAP2_SESSION,
)
from ppdata.remote.s3 import S3Client
from ppdata.session import open_session
from ppdata.settings import DEFAULT_DANDI_API_URL, Settings

# --- pure ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "first"),
    [
        (
            "ecephys_820459_2025-11-12_14-34-33",
            "sub-820459/sub-820459_ses-ecephys-820459-2025-11-12-14-34-33_ecephys.nwb",
        ),
        (
            "multiplane-ophys_832700_2026-01-24_12-06-12_processed_2026-01-25_13-33-34",
            "sub-832700/sub-832700_ses-multiplane-ophys-832700-2026-01-24-12-06-12_ophys.nwb",
        ),
        (
            "828408_2025-11-13_10-30-53",
            "sub-828408/sub-828408_ses-828408-2025-11-13-10-30-53_image+ophys.nwb",
        ),
    ],
)
def test_candidate_paths_follow_the_rule(name, first):
    assert candidate_paths(name)[0] == first


def test_slap2_pilot_names_keep_their_prefix():
    # the DANDI name of SLAP2_796630_… keeps "SLAP2": the rule applies to the name as given
    assert candidate_paths("SLAP2_796630_2025-08-28_14-25-34") == [
        "sub-796630/sub-796630_ses-SLAP2-796630-2025-08-28-14-25-34_image+ophys.nwb"
    ]


def test_blob_location():
    s = Settings(endpoint_url="http://127.0.0.1:9000")
    aws, key = blob_location("https://dandiarchive.s3.amazonaws.com/blobs/a1b/2c3/a1b2c3", s)
    assert (aws.bucket, aws.endpoint_url, aws.region, key) == (
        "dandiarchive",
        None,
        "us-east-2",
        "blobs/a1b/2c3/a1b2c3",
    )
    local, key = blob_location("http://127.0.0.1:5555/dandiarchive/blobs/x/y/z", s)
    assert (local.bucket, local.endpoint_url, key) == (
        "dandiarchive",
        "http://127.0.0.1:5555",
        "blobs/x/y/z",
    )


def test_setting_default_and_env():
    assert Settings.resolve(env={}).dandi_api_url == DEFAULT_DANDI_API_URL
    env = {"PPDATA_DANDI_API_URL": "http://127.0.0.1:1/api/"}
    assert Settings.resolve(env=env).dandi_api_url == "http://127.0.0.1:1/api"


# --- against the stand-in ---------------------------------------------------------------


@pytest.fixture
def dsettings(settings, mirror):
    return settings.with_(dandi_api_url=f"{mirror.endpoint_url}/api")


@pytest.fixture
def dclient(dsettings):
    with S3Client(dsettings) as c:
        yield c


def test_find_by_rule(dsettings, world):
    found = find_dandi_asset(EPHYS_COMPLETE, dsettings)
    subject = world.session(EPHYS_COMPLETE).subject_id
    assert found.dandiset == "001637" and found.version == "draft"
    assert found.path == candidate_paths(EPHYS_COMPLETE)[0]
    assert found.path.startswith(f"sub-{subject}/") and found.matched_by == "rule"
    nwb_key = world.session(EPHYS_COMPLETE).current("nwb").nwb_key
    assert found.size == world.path(nwb_key).stat().st_size
    assert found.download_url.endswith(f"/api/assets/{found.asset_id}/download/")
    assert "/dandiarchive/blobs/" in found.s3_url
    assert found.api_requests <= 3
    p3 = find_dandi_asset(SLAP2_SESSION, dsettings)
    assert p3.dandiset == "001424" and p3.matched_by == "rule"


def test_pilot_found_by_subject_search(dsettings):
    found = find_dandi_asset(SLAP2_PILOT, dsettings)
    assert found.matched_by == "subject search"
    assert found.path.endswith("_ses-SLAP2-801381-2025-06-05-14-57-42_image+ophys.nwb")


@pytest.mark.parametrize("name", [MESOSCOPE_B, EPHYS_REPROCESSED])
def test_no_dandi_asset_names_the_s3_route(dsettings, name):
    with pytest.raises(DandiAssetNotFound, match=r"read it from S3 instead: ppdata\.open_session"):
        find_dandi_asset(name, dsettings)


def test_units_from_dandi_equal_units_from_s3(dclient):
    import pandas as pd

    with open_session(EPHYS_COMPLETE, client=dclient) as s3:
        expected = s3.units()
        probe = s3.probes()[0]
        lfp = s3.lfp(probe, 1.0, 1.5)
    with open_session(EPHYS_COMPLETE, client=dclient, source="dandi") as dandi:
        units = dandi.units()
        window = dandi.lfp(probe, 1.0, 1.5)
        for got, want in zip(window, lfp, strict=True):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
        assert np.asarray(window[0]).size > 0
        stats = dandi.stats
        assert dandi.nwb().source.startswith("s3://dandiarchive/blobs/")
        assert dandi.running_speed().shape[0] > 0
        assert set(dandi.stimulus_tables())
    pd.testing.assert_frame_equal(units, expected)
    assert stats["dandi"]["requests"] >= 1 and stats["dandi"]["api_requests"] >= 1


def test_planes_from_dandi_equal_planes_from_s3(dclient):
    import pandas as pd

    with open_session(MESOSCOPE_A, client=dclient) as s3:
        planes = s3.planes()
        plane = str(planes.index[0])
        dff = s3.dff(plane, 1.0, 3.0)
    with open_session(MESOSCOPE_A, client=dclient, source="dandi") as dandi:
        assert dandi.dandi_asset.dandiset == "001768"
        pd.testing.assert_frame_equal(dandi.planes(), planes)
        pd.testing.assert_frame_equal(dandi.dff(plane, 1.0, 3.0), dff)


def test_dandi_session_without_units(dclient):
    with open_session(SLAP2_SESSION, client=dclient, source="dandi") as s:
        with pytest.raises(Exception, match="no units table in its DANDI NWB"):
            s.units()
        assert s.nwb().exists("processing/ophys/DfOverF/DMD1_DfOverF/data")


def test_slap2_dff_from_dandi(dclient):
    """The complete SLAP2 NWB (the pilot layout, ``DfOverF/DMD1_DfOverF``): ΔF/F per DMD."""
    with open_session(SLAP2_SESSION, client=dclient, source="dandi") as s:
        whole = s.slap2_dff(1)
        assert whole.index.name == "time" and whole.shape[1] > 0
        window = s.slap2_dff(1, start=float(whole.index[10]), stop=float(whole.index[20]))
        np.testing.assert_array_equal(window.to_numpy(), whole.to_numpy()[10:20])
        with pytest.raises(NotFound, match=r"DMDs with series: \[1\]"):
            s.slap2_dff(2)
        # its stimulus table comes from the same NWB (the S3 assets hold none)
        stimuli = s.stimuli()
        assert len(stimuli) >= 1 and len(s.nwb_used) == 1  # the DANDI NWB only


def test_unreachable_api(settings):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BucketUnreachable, match="cannot reach the DANDI API"):
        find_dandi_asset(
            EPHYS_COMPLETE, settings.with_(dandi_api_url=f"http://127.0.0.1:{port}/api")
        )


def test_bad_source():
    with pytest.raises(ValueError, match="source must be"):
        open_session(EPHYS_COMPLETE, source="ftp")


def test_pagination_is_followed(dsettings, mirror):
    from dandi.dandiapi import DandiAPIClient

    with DandiAPIClient(api_url=dsettings.dandi_api_url) as api:
        api.page_size = 1
        paths = [a.path for a in api.get_dandiset("001424", "draft").get_assets()]
    assert len(paths) == 2 and paths == sorted(paths)


def test_plan_download_goes_to_the_dandi_path(dsettings, tmp_path):
    found = find_dandi_asset(SLAP2_SESSION, dsettings)
    plan, client = plan_dandi_download(found, tmp_path, dsettings)
    with client:
        assert [f.path for f in plan.files] == [tmp_path.joinpath(*found.path.split("/"))]
        assert plan.bucket == "dandiarchive" and plan.total_bytes == found.size


# --- CLI ------------------------------------------------------------------------------------


@pytest.fixture
def drun(run, mirror, monkeypatch):
    monkeypatch.setenv("PPDATA_DANDI_API_URL", f"{mirror.endpoint_url}/api")
    return run


def test_cli_dandi(drun, mirror):
    result = drun("dandi", EPHYS_COMPLETE, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["dandiset"] == "001637" and data["path"] == candidate_paths(EPHYS_COMPLETE)[0]
    assert {"version", "size", "url"} <= set(data)
    table = drun("dandi", SLAP2_PILOT)
    assert table.code == 0, table.err
    assert "001424" in table.out and "subject search" in table.out


def test_cli_dandi_api_url_option(run, mirror):
    result = run("dandi", SLAP2_SESSION, "--json", "--dandi-api-url", f"{mirror.endpoint_url}/api")
    assert result.code == 0, result.err
    assert json.loads(result.out)["dandiset"] == "001424"


def test_cli_dandi_missing(drun):
    result = drun("dandi", MESOSCOPE_B)
    assert result.code == 1
    assert "no asset of session" in result.err and "ppdata.open_session" in result.err


def test_cli_download_from_dandi(drun, tmp_path, world):
    result = drun("download", EPHYS_COMPLETE, "--source", "dandi", "--dest", str(tmp_path), "-q")
    assert result.code == 0, result.err
    path = tmp_path.joinpath(*candidate_paths(EPHYS_COMPLETE)[0].split("/"))
    nwb_key = world.session(EPHYS_COMPLETE).current("nwb").nwb_key
    assert path.read_bytes() == world.path(nwb_key).read_bytes()


def test_cli_download_dry_run_names_the_dandi_path(drun, tmp_path):
    result = drun(
        "download", SLAP2_SESSION, "--source", "dandi", "--dest", str(tmp_path), "--dry-run"
    )
    assert result.code == 0, result.err
    assert "DANDI:001424/draft/" in result.out
    assert candidate_paths(SLAP2_SESSION)[0].rsplit("/", 1)[-1] in result.out
    assert not any(tmp_path.iterdir())
