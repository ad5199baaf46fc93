"""Sorting portal links from visualization_output.json."""

from __future__ import annotations

import json

import pytest

from ppdata.errors import MetadataError
from ppdata.meta.portal import PortalLinks, probe_name, read_portal_links
from ppdata.mirror.jsongen import visualization_output

NODE = "experiment1_Record Node 101#Neuropix-PXI-100"


@pytest.mark.parametrize(
    ("recording", "probe"),
    [
        (f"{NODE}.ProbeA-AP_recording1", "ProbeA"),
        (f"{NODE}.ProbeF-AP_recording2", "ProbeF"),
        (f"{NODE}.ProbeB_recording1", "ProbeB"),
        (f"{NODE}.ProbeC-LFP_recording1", "ProbeC"),
        (f"{NODE}.ProbeD", "ProbeD"),
        ("experiment2_Record Node 104#Neuropix-PXI-100.ProbeAB-AP_recording1", "ProbeAB"),
        ("ProbeE", "ProbeE"),
        (f"{NODE}.2", f"{NODE}.2"),
        ("something else", "something else"),
        ("NotAProbeA_recording1", "NotAProbeA_recording1"),
    ],
)
def test_probe_name(recording, probe):
    assert probe_name(recording) == probe


def test_generated_links_sorted_by_probe_with_missing_keys():
    recs = [f"{NODE}.Probe{p}-AP_recording1" for p in "CAB"]
    doc = visualization_output(recs, missing={recs[0]: "sorting_summary", recs[2]: "timeseries"})
    links = read_portal_links(json.dumps(doc).encode())
    assert [link.probe for link in links] == ["ProbeA", "ProbeB", "ProbeC"]
    by_probe = {link.probe: link for link in links}
    assert by_probe["ProbeC"].sorting_summary is None
    assert by_probe["ProbeC"].timeseries.startswith("https://figurl.org/")
    assert by_probe["ProbeB"].timeseries is None
    assert by_probe["ProbeA"].sorting_summary == doc[recs[1]]["sorting_summary"]
    assert by_probe["ProbeA"].recording == recs[1]
    assert by_probe["ProbeA"].recording_index == 1


def test_hand_written_variants():
    doc = {
        f"{NODE}.ProbeB-AP_recording2": {"sorting_summary": "https://figurl.org/f?b2"},
        f"{NODE}.ProbeB-AP_recording1": {
            "sorting_summary": "https://figurl.org/f?b1",
            "timeseries": "",
        },
        f"{NODE}.ProbeA-AP_recording1": None,
        "odd name": {"timeseries": "https://figurl.org/f?odd", "extra": 1},
    }
    links = read_portal_links(doc)
    assert links == [
        PortalLinks(f"{NODE}.ProbeA-AP_recording1"),
        PortalLinks(f"{NODE}.ProbeB-AP_recording1", "https://figurl.org/f?b1", None),
        PortalLinks(f"{NODE}.ProbeB-AP_recording2", "https://figurl.org/f?b2", None),
        PortalLinks("odd name", None, "https://figurl.org/f?odd"),
    ]
    assert [link.probe for link in links] == ["ProbeA", "ProbeB", "ProbeB", "odd name"]
    assert links[-1].recording_index is None


def test_empty_document():
    assert read_portal_links(b"{}") == []


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"{", r"visualization_output\.json: not valid JSON"),
        (b'["x"]', r"visualization_output\.json: expected a JSON object"),
        (b'{"rec": "https://figurl.org"}', r"key 'rec': expected an object"),
        (b'{"rec": {"timeseries": 5}}', r"key 'rec'\.timeseries: expected a URL string"),
    ],
)
def test_malformed(data, match):
    with pytest.raises(MetadataError, match=match):
        read_portal_links(data)


# Against the synthetic world on the local S3 server.


def test_world_portal_links_over_s3(client, world):
    from ppdata.meta.portal import get_portal_links

    sorted_assets = [a for a in world.assets if a.kind == "sorted"]
    assert sorted_assets
    for asset in sorted_assets:
        links = get_portal_links(asset.name, client=client)
        assert [link.probe for link in links] == sorted(asset.probes)
        missing = dict(asset.missing_links)
        for link in links:
            drop = missing.get(link.recording)
            assert (link.timeseries is None) == (drop in ("timeseries", "all", "both"))
            assert (link.sorting_summary is None) == (drop in ("sorting_summary", "all", "both"))


def test_portal_links_of_a_raw_asset(client, world):
    from ppdata.errors import NotFound
    from ppdata.meta.portal import get_portal_links

    raw = next(a for a in world.assets if a.kind == "raw")
    with pytest.raises(NotFound, match=r"visualization_output\.json"):
        get_portal_links(raw.name, client=client)
