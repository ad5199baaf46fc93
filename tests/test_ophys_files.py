"""The Mesoscope planar-ophys asset's per-plane files, named as the pipeline names them."""

from __future__ import annotations

import pytest

from ppdata.errors import NotFound
from ppdata.mirror.world import MESOSCOPE_A, MESOSCOPE_B
from ppdata.nwb.ophys import PLANE_FILE_PARTS, find_plane_files, plane_files, read_classification


def test_plane_files_by_part():
    keys = [
        "a/VISp_0/motion_correction/VISp_0_maximum_projection.png",
        "a/VISp_0/motion_correction/VISp_0_average_projection.png",
        "a/VISp_0/classification/VISp_0_classification.h5",
        "a/VISl_4/dff/VISl_4_dff.h5",
        "a/VISl_4/events/VISl_4_events.h5",  # the older events name
        "a/VISp_0/motion_correction/VISp_0_max_projection.png",  # not a pipeline name
        "a/VISp_0/movie_qc/VISp_0_maximum_projection_with_rois.png",
        "a/VISp_0/VISp_0.h5",
    ]
    files = plane_files(keys)
    assert list(files) == ["VISp_0", "VISl_4"]
    assert files["VISp_0"] == {
        "average_projection": keys[1],
        "maximum_projection": keys[0],
        "classification": keys[2],
    }
    assert files["VISl_4"] == {"dff": keys[3], "events": keys[4]}
    assert plane_files(keys, "VISl_4") == {"VISl_4": files["VISl_4"]}
    assert plane_files([]) == {}


@pytest.mark.parametrize("session", [MESOSCOPE_A, MESOSCOPE_B])
def test_world_planar_asset_has_the_pipeline_names(client, world, session):
    asset = world.session(session).current("planar-ophys")
    table = find_plane_files(client, asset.name)
    assert set(table["plane"]) == {p.name for p in asset.planes}
    events = asset.events_suffix.removeprefix("_").removesuffix(".h5")
    expected = {p.rsplit(".", 1)[0] for p in PLANE_FILE_PARTS} - {"events", "events_oasis"}
    for plane, parts in table.groupby("plane"):
        assert set(parts["part"]) == expected | {events}, plane
    assert not table["key"].str.contains("_max_projection").any()
    assert (table["size"] > 0).all()
    with pytest.raises(NotFound, match=r"maximum_projection\.png"):
        find_plane_files(client, asset.name, plane="VISx_9")


def test_world_classification_groups(client, world):
    asset = world.session(MESOSCOPE_A).current("planar-ophys")
    plane = asset.planes[0]
    key = plane_files([o.key for o in client.iter_objects(f"{asset.name}/{plane.name}/")])[
        plane.name
    ]["classification"]
    table = read_classification(client.get_bytes(key))
    assert list(table.columns) == [
        "soma_prediction",
        "soma_probability",
        "dendrite_prediction",
        "dendrite_probability",
    ]
    assert len(table) == plane.rois and table["soma_prediction"].dtype == bool
    assert ((table["soma_probability"] > 0.5) == table["soma_prediction"]).all()


def test_classification_without_groups_says_what_is_there(tmp_path):
    import h5py

    path = tmp_path / "VISp_0_classification.h5"
    with h5py.File(path, "w") as f:
        f["labels"] = [1, 2]
    with pytest.raises(NotFound, match=r"no soma/ or dendrites/.*\['labels'\]"):
        read_classification(path)
