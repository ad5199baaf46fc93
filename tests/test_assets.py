"""Asset discovery and classification: pure rules, then against the real local server."""

from __future__ import annotations

import pytest

from ppdata.errors import AssetNotFound, InvalidName, SessionNotFound
from ppdata.find.assets import AssetKind, classify, find_assets, get_asset, pick_asset

P = "multiplane-ophys_832700_2026-01-24_12-06-12_processed_2026-01-25_13-22-08"


@pytest.mark.parametrize(
    ("name", "entries", "kind"),
    [
        ("ecephys_1_2025-01-01_01-01-01", None, AssetKind.RAW),
        ("828408_2025-11-13_10-30-53", None, AssetKind.RAW),
        ("ecephys_1_2025-01-01_01-01-01_sorted_2025-02-02_02-02-02", None, AssetKind.SORTED),
        ("ecephys_1_2025-01-01_01-01-01_nwb_2025-02-02_02-02-02", None, AssetKind.NWB),
        ("ecephys_1_ccf", None, AssetKind.CCF),
        (P, ["VISp_0/", "VISl_4/", "pophys.nwb.zarr/", "pair0.txt"], AssetKind.PLANAR_OPHYS),
        (
            P,
            ["Behavior/", "Eye/", "Face/", "Nose/", "quality_control.json"],
            AssetKind.BEHAVIOR_VIDEOS,
        ),
        (
            P,
            ["x.nwb/", "photodiode_timing_plot.png", "wheel_qc.png", "metrics.json"],
            AssetKind.BEHAVIOR_TIMING,
        ),
        (P, ["x.nwb/", "metrics.json"], AssetKind.BEHAVIOR_TIMING),
        (P, ["data_description.json"], AssetKind.UNKNOWN),
        (P, None, AssetKind.UNKNOWN),
        ("ecephys_1_2025-01-01_01-01-01_curated_2025-02-02_02-02-02", None, AssetKind.UNKNOWN),
    ],
)
def test_classify(name, entries, kind):
    assert classify(name, entries) is kind


def test_classify_does_not_guess_from_a_single_video_folder():
    assert classify(P, ["Eye/", "data_description.json"]) is AssetKind.UNKNOWN


def test_every_session_of_the_world_is_found_and_classified(client, world):
    for session in world.on_s3:
        found = find_assets(session.name, client)
        expected = {(a.name, a.kind, a.current) for a in session.assets}
        assert {(a.name, str(a.kind), a.current) for a in found} == expected, session.name


def test_requests_are_one_root_listing_plus_one_per_processed_asset(client, world):
    from ppdata.mirror.world import MESOSCOPE_A

    session = world.session(MESOSCOPE_A)
    processed = [a for a in session.assets if "_processed_" in a.name]
    find_assets(MESOSCOPE_A, client)
    assert client.stats.requests == {"ListObjectsV2": 1 + len(processed)}


def test_ephys_sessions_also_look_for_the_ccf_asset(client, world):
    from ppdata.mirror.world import EPHYS_COMPLETE

    found = find_assets(EPHYS_COMPLETE, client)
    assert client.stats.requests == {"ListObjectsV2": 2}
    assert {str(a.kind) for a in found} >= {"raw", "sorted", "ccf", "nwb"}


def test_prefix_look_alikes_never_match(client, world):
    from ppdata.mirror.world import EPHYS_REPROCESSED

    found = find_assets(EPHYS_REPROCESSED, client)
    mine = {a.name for a in world.session(EPHYS_REPROCESSED).assets}
    assert {a.name for a in found} == mine
    for distractor in world.distractors:
        assert distractor not in {a.name for a in found}


def test_a_derived_name_resolves_to_its_session(client, world):
    from ppdata.mirror.world import EPHYS_REPROCESSED

    sorted_asset = world.session(EPHYS_REPROCESSED).assets_of("sorted")[-1]
    found = find_assets(sorted_asset.name, client)
    assert {a.session for a in found} == {EPHYS_REPROCESSED}


def test_reprocessed_versions_newest_first_and_pickable(client, world):
    from ppdata.mirror.world import EPHYS_REPROCESSED

    expected = world.session(EPHYS_REPROCESSED).assets_of("sorted")
    assert len(expected) >= 2
    found = find_assets(EPHYS_REPROCESSED, client)
    sorted_assets = [a for a in found if a.kind is AssetKind.SORTED]
    assert [a.name for a in sorted_assets] == [a.name for a in expected]
    assert [a.current for a in sorted_assets] == [True] + [False] * (len(expected) - 1)
    assert pick_asset(found, "sorted").name == expected[0].name
    old = expected[-1]
    stamp = old.name.rsplit("_sorted_", 1)[1]
    assert pick_asset(found, "sorted", stamp).name == old.name
    assert pick_asset(found, "sorted", old.name).name == old.name
    assert pick_asset(found, "sorted", old.processed.date().isoformat()).name == old.name
    with pytest.raises(AssetNotFound, match="there are"):
        pick_asset(found, "sorted", "1999-01-01")
    with pytest.raises(AssetNotFound, match="has no planar-ophys asset"):
        pick_asset(found, "planar-ophys")


def test_unknown_session_is_not_found_with_suggestions(client):
    with pytest.raises(SessionNotFound, match="did you mean: ecephys_820454"):
        find_assets(
            "ecephys_820454_2025-11-04_14-59-23",
            client,
            suggest=lambda name: ["ecephys_820454_2025-11-04_14-59-22"],
        )


def test_malformed_name_names_the_bad_part(client):
    with pytest.raises(InvalidName, match="subject id"):
        find_assets("ecephys_61x2_345_2025-01-01_01-01-01", client)
    assert client.stats.total_requests == 0


def test_get_asset(client, world):
    from ppdata.mirror.world import EPHYS_COMPLETE

    ccf = world.session(EPHYS_COMPLETE).current("ccf")
    assert get_asset(ccf.name, client).kind is AssetKind.CCF
    with pytest.raises(AssetNotFound):
        get_asset("ecephys_820459_2025-11-12_14-34-33_sorted_1999-01-01_01-01-01", client)


def test_assets_json_contract(run, world):
    import json
    from datetime import datetime

    from ppdata.mirror.world import MESOSCOPE_B

    result = run("assets", MESOSCOPE_B, "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    kinds = {
        "raw",
        "sorted",
        "planar-ophys",
        "behavior-videos",
        "behavior-timing",
        "nwb",
        "ccf",
        "unknown",
    }
    for row in rows:
        assert {"name", "kind", "processed", "current", "uri"} <= set(row)
        assert row["kind"] in kinds
        assert row["uri"] == f"s3://aind-open-data/{row['name']}/"
        if row["processed"] is not None:
            datetime.fromisoformat(row["processed"])
        assert isinstance(row["current"], bool)
    expected = {(a.name, a.kind) for a in world.session(MESOSCOPE_B).assets}
    assert {(r["name"], r["kind"]) for r in rows} == expected


def test_assets_table_and_bad_input_in_the_cli(run):
    from ppdata.mirror.world import MESOSCOPE_A

    ok = run("assets", MESOSCOPE_A)
    assert ok.code == 0 and "planar-ophys" in ok.out and "behavior-videos" in ok.out
    bad = run("assets", "ecephys_820454_2025-13-04_14-59-22")
    assert bad.code == 1
    assert bad.err.startswith("Error: the acquisition datetime") and "Traceback" not in bad.err
    missing = run("assets", "ecephys_820454_2024-11-04_14-59-22")
    assert missing.code == 1 and "no assets of session" in missing.err


def test_without_a_catalog_suggestions_come_from_the_subjects_sessions(client):
    with pytest.raises(SessionNotFound, match="did you mean: ecephys_820454_2025-11-04_14-59-22"):
        find_assets("ecephys_820454_2025-11-04_14-59-29", client)
    with pytest.raises(SessionNotFound) as info:
        find_assets("ecephys_999999_2025-01-01_01-01-01", client)
    assert "did you mean" not in str(info.value)
