"""From a session name to data: locating NWBs, the Session facade and the NWB commands."""

from __future__ import annotations

import json

import pytest

from ppdata.errors import NotFound, NWBError
from ppdata.find.nwbs import find_nwbs
from ppdata.mirror.world import EPHYS_COMPLETE, EPHYS_REPROCESSED, MESOSCOPE_A, MESOSCOPE_B
from ppdata.session import Session


def test_complete_nwb_is_preferred(client, world):
    expected = world.session(EPHYS_COMPLETE).current("nwb")
    (first, *_rest) = find_nwbs(EPHYS_COMPLETE, client=client)
    assert first.key == expected.nwb_key and first.complete and not first.is_folder
    assert first.size == world.path(expected.nwb_key).stat().st_size


def test_partial_nwbs_by_asset_kind(client, world):
    session = world.session(MESOSCOPE_B)
    keys = {loc.key for loc in find_nwbs(MESOSCOPE_B, client=client)}
    expected = {a.nwb_key for a in session.assets if a.nwb_key and a.current}
    assert keys == expected
    sorted_keys = [loc.key for loc in find_nwbs(EPHYS_REPROCESSED, client=client)]
    current = world.session(EPHYS_REPROCESSED).current("sorted")
    assert sorted_keys == [f"{current.name}/{p}" for p in current.nwb_paths]  # both recordings


def test_pick_an_older_version(client, world):
    old = world.session(EPHYS_REPROCESSED).assets_of("sorted")[-1]
    stamp = old.name.rsplit("_sorted_", 1)[1]
    (loc,) = find_nwbs(EPHYS_REPROCESSED, client=client, kind="sorted", version=stamp)
    assert loc.key == old.nwb_key


def _sent_while_held(proxy, match: str, action, wanted: int = 2) -> tuple[int, object]:
    """Run ``action`` while the first request whose path contains ``match`` is held back
    by the proxy: how many requests went out meanwhile (waiting up to 2.5 s for
    ``wanted``), and what ``action`` returned."""
    import threading
    import time

    from ppdata.mirror.proxy import Fault

    proxy.reset_counts()
    proxy.add_fault(Fault("stall", match=match, stall=3.0))
    got: list = []
    worker = threading.Thread(target=lambda: got.append(action()))
    worker.start()
    deadline = time.monotonic() + 2.5
    while proxy.total_requests < wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    during = proxy.total_requests
    worker.join()
    return during, got[0] if got else None


@pytest.fixture
def proxied(mirror, tmp_path):
    """A client through a latency proxy (no latency) in front of the mirror, and the proxy."""
    from ppdata.mirror.proxy import LatencyProxy
    from ppdata.remote.s3 import S3Client
    from ppdata.settings import Settings

    with LatencyProxy(mirror.endpoint_url) as proxy:
        settings = Settings(endpoint_url=proxy.endpoint_url, cache_dir=tmp_path)
        with S3Client(settings) as c:
            yield c, proxy


def test_a_sorted_assets_nwb_folder_is_listed_beside_its_root(proxied, world):
    from ppdata.find.assets import get_asset
    from ppdata.find.nwbs import nwbs_in_asset

    c, proxy = proxied
    current = world.session(EPHYS_REPROCESSED).current("sorted")
    asset = get_asset(current.name, client=c)
    # while the root listing's reply is held back: the root listing and the nwb/ folder's
    during, found = _sent_while_held(
        proxy, f"{current.name}%2F&", lambda: nwbs_in_asset(asset, client=c)
    )
    assert during == 2
    assert [loc.key for loc in found] == [f"{current.name}/{p}" for p in current.nwb_paths]


def test_a_complete_nwbs_start_and_end_are_read_together(proxied, world):
    c, proxy = proxied
    expected = world.session(EPHYS_COMPLETE).current("nwb")
    with Session(EPHYS_COMPLETE, client=c) as s:
        assert s.kinds  # the session's assets are listed
        # while the first GET's reply is held back: the file's first block and its last
        name = expected.nwb_key.rsplit("/", 1)[1]
        during, opened = _sent_while_held(proxy, name, lambda: s.nwb("nwb"))
        assert during == 2
        assert opened.format == "hdf5"
        assert len(s.units()) == expected.units


def test_asset_without_nwb_names_what_is_there(client, world):
    videos = world.session(MESOSCOPE_A).current("behavior-videos")
    with pytest.raises(NWBError, match=r"no NWB in .*behavior-videos asset.*found there: .*Eye/"):
        find_nwbs(videos.name, client=client)


def test_session_units_match_the_world(client, world):
    expected = world.session(EPHYS_REPROCESSED).current("sorted")
    s = Session(EPHYS_REPROCESSED, client=client)
    units = s.units()
    assert len(units) == expected.units
    assert set(units["probe"]) == set(expected.probes)
    assert set(units["label"]) <= {"noise", "mua", "sua"}
    sua = s.units(label="sua")
    assert len(sua) == (units["label"] == "sua").sum()
    unit = int(units.index[0])
    spikes = s.spike_times([unit])[unit]
    assert len(spikes) == units.loc[unit, "num_spikes"]


def test_several_nwbs_in_one_asset_are_listed_and_selectable(client, world):
    asset = world.session(EPHYS_REPROCESSED).current("sorted")
    s = Session(EPHYS_REPROCESSED, client=client)
    recordings = [loc.recording for loc in s.nwb_locations() if loc.asset.name == asset.name]
    assert recordings == ["experiment1_recording1", "experiment1_recording2"]
    first = s.units()
    assert s.several_nwbs and s.nwb_used[0].rstrip("/").endswith("experiment1_recording1.nwb")
    nwb = next(iter(s._open.values()))
    store = nwb._backend.remote
    assert nwb.format == "zarr" and nwb.hdf5_file is None  # byte-range reads are HDF5's
    cached = list(store._cache._items)
    assert any(k.startswith("units/presence_ratio/") for k in cached), cached[:20]
    assert not any(k.startswith("units/waveform_") for k in cached)  # never for the table
    waves = s.waveforms(first.index[:2])
    assert waves.shape[0] == 2 and waves.shape[2] == 384
    assert any(k.startswith("units/waveform_mean/") for k in store._cache._items)
    second = Session(EPHYS_REPROCESSED, client=client, recording="recording2")
    other = second.units()
    assert second.nwb_used[0].rstrip("/").endswith("experiment1_recording2.nwb")
    assert len(other) == len(first) and other["num_spikes"].sum() < first["num_spikes"].sum()
    with pytest.raises(NWBError, match="experiment1_recording2"):
        Session(EPHYS_REPROCESSED, client=client, recording="recording7").units()


def test_session_real_units_columns_probes_and_waveforms(client, world):
    asset = world.session(EPHYS_COMPLETE).current("nwb")
    with Session(EPHYS_COMPLETE, client=client) as s:
        units = s.units()
        assert s.probes() == list(asset.probes)  # devices; ProbeF's two groups are shanks
        assert set(units["probe"]) == set(asset.probes)
        assert "void" in set(s.electrodes()["location"])
        assert units["brain_area"].notna().all() and "unknown" not in set(units["brain_area"])
        wave = s.waveforms(units.index[:3])
        assert wave.shape[0] == 3 and wave.shape[2] == 384
        area = str(units["brain_area"].iloc[0])
        in_area = s.units(area=area)
        assert len(in_area) == (units["brain_area"] == area).sum() > 0
        with pytest.raises(NotFound, match="areas here are"):
            s.units(area="Nowhere")
        # a structure keeps its layers (VISp5, VISp2/3 ...), as a neuroscientist asks for it
        layered = units["brain_area"].astype(str).str.match(r"VISp\d")
        assert len(s.units(area="VISp")) == layered.sum() > 0
        opened = list(s._open.values())
    assert s._closed and all(n._backend.root.id.valid == 0 for n in opened)  # closed


def test_session_methods_are_the_nwb_functions_on_its_nwb():
    """``Session.units`` ... are ``nwb.*`` functions bound to the session's NWB: their
    signature (``nwb`` as ``self``), name and docstring; the module loads at the first call."""
    import inspect
    import subprocess
    import sys

    from ppdata.nwb import ephys, lfp, ophys

    for method, function in [(Session.lfp, lfp.lfp), (Session.traces, ophys.traces),
                             (Session.probes, ephys.list_probes)]:  # fmt: skip
        ours, theirs = inspect.signature(method), inspect.signature(function)
        assert next(iter(ours.parameters)) == "self"
        assert list(ours.parameters.values())[1:] == list(theirs.parameters.values())[1:]
        assert ours.return_annotation == theirs.return_annotation
        assert method.__doc__.startswith(inspect.getdoc(function))
    assert Session.units.__qualname__ == "Session.units"
    bound = Session.__new__(Session).units
    assert bound.__name__ == "units" and "nwb" not in inspect.signature(bound).parameters
    code = "import sys; import ppdata.session; print('numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_older_version_of_a_session(client, world):
    old = world.session(EPHYS_REPROCESSED).assets_of("sorted")[-1]
    s = Session(EPHYS_REPROCESSED, client=client, versions={"sorted": old.name})
    assert len(s.units()) == old.units


def test_session_ophys_and_behavior(client, world):
    session = world.session(MESOSCOPE_A)
    planar = session.current("planar-ophys")
    s = Session(MESOSCOPE_A, client=client)
    planes = s.planes()
    assert list(planes.index) == [p.name for p in planar.planes]
    plane = planar.planes[0]
    dff = s.dff(plane.name, 0, 10)
    assert dff.shape[1] == plane.rois and 0 < len(dff) <= 10 * 9.48 + 1
    with pytest.raises(NotFound, match="VISp_0"):
        s.dff("VISx_9")
    assert len(s.running_speed()) > 0
    assert any(name.endswith("_presentations") for name in s.stimulus_tables())


def test_ophys_session_has_no_units(client):
    with pytest.raises(NWBError, match="no units table"):
        Session(MESOSCOPE_A, client=client).units()


def test_cli_nwb_units_planes_dff_plot(run, world, tmp_path):
    nwb = run("nwb", EPHYS_COMPLETE, "--json", "--stats")
    assert nwb.code == 0, nwb.err
    rows = json.loads(nwb.out)
    assert rows[0]["complete"] and rows[0]["format"] == "hdf5" and rows[0]["units"] > 0
    assert "HTTP requests" in nwb.err

    expected = world.session(EPHYS_REPROCESSED).current("sorted")
    units = run("units", EPHYS_REPROCESSED, "--json")
    assert len(json.loads(units.out)) == expected.units
    csv = tmp_path / "units.csv"
    assert run("units", EPHYS_REPROCESSED, "--label", "sua", "--csv", str(csv)).code == 0
    assert csv.read_text().startswith("unit_id,")
    bad_probe = run("units", EPHYS_REPROCESSED, "--probe", "ProbeZ")
    assert bad_probe.code == 1 and "ProbeA" in bad_probe.err
    complete = run("units", EPHYS_COMPLETE, "--area", "void", "--json")
    assert complete.code == 0 and {r["brain_area"] for r in json.loads(complete.out)} == {"void"}
    second = run("units", EPHYS_REPROCESSED, "--nwb", "recording2", "--json")
    assert second.code == 0 and "experiment1_recording2.nwb" in second.err  # says which
    assert json.loads(second.out) != json.loads(units.out)
    assert "experiment1_recording1.nwb" in units.err  # several NWBs: the default is named

    planes = run("planes", MESOSCOPE_A, "--json")
    assert json.loads(planes.out)[0]["plane"] == "VISp_0"
    dff = run("dff", MESOSCOPE_A, "--plane", "VISp_0", "--stop", "5", "--csv", "-")
    assert dff.code == 0 and dff.out.count("\n") > 10
    bad_plane = run("dff", MESOSCOPE_A, "--plane", "VISx_9")
    assert bad_plane.code == 1 and "VISp_0" in bad_plane.err

    lfp = run("lfp", EPHYS_REPROCESSED, "--probe", "ProbeA", "--start", "1", "--stop", "1.5",
              "--channel", "0", "--channel", "4", "--json")  # fmt: skip
    assert lfp.code == 0, lfp.err
    doc = json.loads(lfp.out)  # compact columns: channels x samples
    assert doc["channels"] == [0, 4] and len(doc["data"]) == 2
    assert doc["times"] and all(1 <= t < 1.5 for t in doc["times"])
    assert all(len(row) == len(doc["times"]) for row in doc["data"])
    table = run("lfp", EPHYS_REPROCESSED, "--probe", "ProbeA", "--start", "1", "--stop", "1.2")
    assert table.code == 0 and "µV" in table.out
    bad_probe = run("lfp", EPHYS_REPROCESSED, "--probe", "ProbeZ")
    assert bad_probe.code == 1 and "ProbeA" in bad_probe.err and "Traceback" not in bad_probe.err

    for kind, session in (
        ("raster", EPHYS_REPROCESSED),
        ("running", MESOSCOPE_A),
        ("rois", MESOSCOPE_A),
    ):
        out = tmp_path / f"{kind}.png"
        result = run("plot", kind, session, "--out", str(out))
        assert result.code == 0, result.err
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _spy_on_close(client, monkeypatch) -> list[str]:
    """Record when the client's connections are closed (the transport's close)."""
    closed: list[str] = []
    real = client.transport.close

    def close() -> None:
        closed.append("transport")
        real()

    monkeypatch.setattr(client.transport, "close", close)
    return closed


def test_session_closes_what_it_opens(settings, monkeypatch):
    from ppdata.errors import SessionClosed
    from ppdata.session import open_session

    s = open_session(EPHYS_COMPLETE, settings=settings)
    assert len(s.units()) > 0
    client, nwbs = s._client, list(s._open.values())
    closed = _spy_on_close(client, monkeypatch)
    files = [n.hdf5_file for n in nwbs]
    assert nwbs and files and not any(f.closed for f in files)  # an NWB read over S3
    requests = s.stats.requests
    s.close()
    assert closed == ["transport"] and client._pool is None  # connections and threads
    assert all(f.closed for f in files)  # the S3 file objects h5py read through
    assert all(not n._backend.root.id.valid for n in nwbs)  # the HDF5 handles
    s.close()  # again: nothing to do
    assert closed == ["transport"]
    assert s.stats.requests == requests  # what it read stays readable
    with pytest.raises(SessionClosed, match="is closed"):
        s.units()
    with pytest.raises(SessionClosed):
        s.client  # noqa: B018


def test_session_leaves_a_shared_client_open(client, monkeypatch):
    closed = _spy_on_close(client, monkeypatch)
    with Session(EPHYS_COMPLETE, client=client) as s:
        s.probes()
    assert closed == [] and client.list(f"{EPHYS_COMPLETE}/").names  # still in use
