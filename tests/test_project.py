"""Project scale: map_sessions and the project tables on real Dask clusters against the mirror.

Two clusters are real: a LocalCluster of worker processes (the default), and a scheduler
and a worker started as their own processes (``dask scheduler`` + ``dask worker``), as a
user's cluster is. Everything else here is pure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ppdata.callbacks import Callback
from ppdata.errors import ClusterError, PpdataError
from ppdata.mirror.world import EPHYS_COMPLETE, EPHYS_REPROCESSED, MESOSCOPE_A, SLAP2_SESSION

REPO = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")


class Seen(Callback):
    """Records ``(value, size)`` after every change."""

    def __init__(self, seen: list[tuple[int, int | None]]) -> None:
        super().__init__()
        self.seen = seen

    def call(self) -> None:
        self.seen.append((self.value, self.size))


def _units_in_world(world, platform: str = "ecephys") -> dict[str, int]:
    """Units per session in the NWB a reader uses (complete NWB first, else current sorted)."""
    out = {}
    for session in world.on_s3:
        if session.platform != platform:
            continue
        kinds = session.kinds
        asset = session.current("nwb") if "nwb" in kinds else session.current("sorted")
        out[session.name] = asset.units
    return out


def _count_assets(session) -> int:
    return len(session.assets)


# --- a LocalCluster of worker processes --------------------------------------------------


def test_units_table_cold_then_cached_then_incremental(settings, world):
    from ppdata.project import project_table, query
    from ppdata.project.store import ProjectStore

    expected = _units_in_world(world)
    cold = project_table("units", settings=settings, workers=2)
    assert not cold.failed
    assert sorted(cold.computed) == sorted(expected) and cold.cached == []
    counts = cold.frame.groupby("session").size().to_dict()
    assert counts == expected
    assert {"session", "unit_id", "probe", "label", "brain_area", "subject"} <= set(cold.frame)
    assert cold.requests > 0

    warm = project_table("units", settings=settings)
    assert warm.computed == [] and sorted(warm.cached) == sorted(expected)
    pd.testing.assert_frame_equal(
        warm.frame.sort_values(["session", "unit_id"]).reset_index(drop=True),
        cold.frame.sort_values(["session", "unit_id"]).reset_index(drop=True),
    )

    # one session's recorded asset version no longer matches: only it is computed again
    store = ProjectStore(settings)
    manifest_path = store.table_dir("units") / "_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["sessions"][EPHYS_COMPLETE]["version"] = "units/1:an-older-asset"
    manifest_path.write_text(json.dumps(manifest))
    again = project_table("units", settings=settings, workers=1)
    assert again.computed == [EPHYS_COMPLETE]
    assert sorted(again.cached) == sorted(set(expected) - {EPHYS_COMPLETE})

    sql = query(
        "SELECT session, count(*) AS n FROM units GROUP BY session ORDER BY session",
        settings=settings,
    )
    assert dict(zip(sql["session"], sql["n"], strict=True)) == expected

    filtered = project_table("units", settings=settings, where="label == 'sua'")
    assert set(filtered.frame["label"]) == {"sua"}
    assert len(filtered.frame) == int((cold.frame["label"] == "sua").sum())


def test_map_sessions_gives_an_error_row_and_keeps_the_others(settings, world):
    from ppdata import map_sessions

    def summary(session):
        if session.name == EPHYS_REPROCESSED:
            raise RuntimeError("this session is broken on purpose")
        return {"n_assets": len(session.assets), "platform": session.parsed.platform}

    names = [EPHYS_REPROCESSED, EPHYS_COMPLETE, MESOSCOPE_A]
    seen = []
    frame = map_sessions(
        summary,
        names,
        settings=settings,
        retries=1,
        workers=2,
        callback=Seen(seen),
    )
    assert list(frame.columns) == ["session", "n_assets", "platform", "error"]
    assert list(frame["session"]) == names
    rows = frame.set_index("session")
    assert rows.loc[EPHYS_REPROCESSED, "error"] == (
        "RuntimeError: this session is broken on purpose"
    )
    for name in (EPHYS_COMPLETE, MESOSCOPE_A):
        assert rows.loc[name, "error"] is None
        assert rows.loc[name, "n_assets"] == _count_assets(world.session(name))
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)


def test_rois_table_covers_every_plane(settings, world):
    from ppdata.project import project_table

    result = project_table("rois", settings=settings, workers=1)
    assert not result.failed
    for session in world.on_s3:
        if session.platform != "multiplane-ophys":
            continue
        planes = session.current("planar-ophys").planes
        got = result.frame[result.frame["session"] == session.name]
        assert got.groupby("plane").size().to_dict() == {p.name: p.rois for p in planes}


# --- a scheduler and a worker as their own processes ---------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def external_scheduler(tmp_path_factory):
    """``dask scheduler`` and ``dask worker`` subprocesses; yields the scheduler address."""
    folder = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("PPDATA_SCHEDULER", None)
    common = {"cwd": folder, "env": env, "stdout": subprocess.DEVNULL}
    with open(folder / "scheduler.log", "wb") as slog, open(folder / "worker.log", "wb") as wlog:
        scheduler = subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--dashboard-address", ":0", "--no-show"],
            stderr=slog, **common,
        )  # fmt: skip
        worker = subprocess.Popen(
            [str(DASK), "worker", address, "--nworkers", "1", "--nthreads", "2",
             "--no-dashboard", "--local-directory", str(folder)],
            stderr=wlog, **common,
        )  # fmt: skip
        try:
            from distributed import Client

            deadline = time.monotonic() + 90
            with Client(address, timeout="60s", set_as_default=False) as client:
                while not client.scheduler_info()["workers"]:
                    if time.monotonic() > deadline:
                        raise RuntimeError((folder / "worker.log").read_text())
                    time.sleep(0.2)
            yield address
        finally:
            for process in (worker, scheduler):
                process.terminate()
            for process in (worker, scheduler):
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


def test_map_sessions_on_a_users_cluster(settings, world, external_scheduler):
    from ppdata import map_sessions

    frame = map_sessions(
        lambda s: s.units()[["probe"]].value_counts().rename("units").reset_index(),
        [EPHYS_COMPLETE, SLAP2_SESSION],
        external_scheduler,
        settings=settings,
        retries=0,
    )
    ok = frame[frame["error"].isna()]
    expected = world.session(EPHYS_COMPLETE).current("nwb")
    assert dict(zip(ok["probe"], ok["units"], strict=True)) == {
        p: expected.units_per_probe for p in expected.probes
    }
    failed = frame[frame["error"].notna()]
    assert list(failed["session"]) == [SLAP2_SESSION]
    assert "NWBError" in failed["error"].iloc[0]


def test_cli_units_on_a_users_cluster_via_env(run, world, external_scheduler, monkeypatch):
    monkeypatch.setenv("PPDATA_SCHEDULER", external_scheduler)
    result = run("project", "units", "--session", EPHYS_REPROCESSED, "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert {r["session"] for r in rows} == {EPHYS_REPROCESSED}
    assert len(rows) == world.session(EPHYS_REPROCESSED).current("sorted").units
    assert "1 computed" in result.err

    again = run("project", "query", "SELECT count(*) AS n FROM units", "--json")
    assert again.code == 0, again.err
    assert json.loads(again.out) == [{"n": len(rows)}]


def test_map_sessions_from_a_script_without_a_main_guard(settings, world, tmp_path):
    # a neuroscientist's script, top-level code only: Dask's spawned workers must not run it
    script = tmp_path / "count_units.py"
    script.write_text(
        "import ppdata\n"
        "from ppdata.settings import Settings\n"
        f"s = Settings(endpoint_url={settings.endpoint_url!r}, cache_dir={str(tmp_path)!r})\n"
        "frame = ppdata.map_sessions(lambda session: {'assets': len(session.assets)},\n"
        f"                           [{EPHYS_COMPLETE!r}], workers=1, settings=s)\n"
        "print('ROWS', frame.to_json(orient='records'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("ROWS") == 1  # printed by the script once, not by each worker
    rows = json.loads(done.stdout.split("ROWS", 1)[1])
    assert rows == [
        {
            "session": EPHYS_COMPLETE,
            "assets": _count_assets(world.session(EPHYS_COMPLETE)),
            "error": None,
        }
    ]


def test_ctrl_c_cancels_the_work_on_the_cluster(settings, external_scheduler, tmp_path):
    from distributed import Client

    script = tmp_path / "slow.py"
    script.write_text(
        "import sys, time\n"
        "from ppdata import map_sessions\n"
        "from ppdata.settings import Settings\n"
        "def slow(session):\n"
        "    time.sleep(20)\n"
        "    return 1\n"
        "if __name__ == '__main__':\n"
        f"    s = Settings(endpoint_url={settings.endpoint_url!r}, cache_dir={str(tmp_path)!r})\n"
        "    names = [f'ecephys_9{i:05d}_2025-01-01_01-01-01' for i in range(6)]\n"
        "    try:\n"
        f"        map_sessions(slow, names, {external_scheduler!r}, settings=s)\n"
        "    except KeyboardInterrupt:\n"
        "        print('interrupted', flush=True)\n"
        "        sys.exit(130)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE)

    def tasks(client):
        return client.run_on_scheduler(
            lambda dask_scheduler: sum(
                k.startswith("ppdata-") for k in map(str, dask_scheduler.tasks)
            )
        )

    with Client(external_scheduler, timeout="30s", set_as_default=False) as client:
        deadline = time.monotonic() + 60
        while tasks(client) < 6:
            assert time.monotonic() < deadline and process.poll() is None, "tasks never arrived"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 130 and b"interrupted" in out
        deadline = time.monotonic() + 10
        while tasks(client):
            assert time.monotonic() < deadline, "the tasks are still on the scheduler"
            time.sleep(0.1)


# --- bad input ------------------------------------------------------------------------------


def test_unreachable_scheduler_is_a_clear_error(settings):
    from ppdata import map_sessions

    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler") as info:
        map_sessions(len, [EPHYS_COMPLETE], address, settings=settings)
    assert "--scheduler" in str(info.value) and "PPDATA_SCHEDULER" in str(info.value)


def test_cli_unreachable_scheduler(run):
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = run("project", "units", "--scheduler", address)
    assert result.code == 1
    assert "\nError: cannot reach the Dask scheduler at " + address in "\n" + result.err


def test_unknown_table_and_bad_where(settings):
    from ppdata.errors import NotFound
    from ppdata.project import project_table

    with pytest.raises(NotFound, match="tables are roi_responses, rois, stimuli"):
        project_table("neurons", settings=settings)


# --- pure parts -------------------------------------------------------------------------------


def test_resolve_scheduler():
    from ppdata.project.cluster import resolve_scheduler

    assert resolve_scheduler(None, env={}) is None
    assert resolve_scheduler(None, env={"PPDATA_SCHEDULER": " tcp://h:1 "}) == "tcp://h:1"
    assert resolve_scheduler("tcp://x:2", env={"PPDATA_SCHEDULER": "tcp://h:1"}) == "tcp://x:2"
    assert resolve_scheduler("local", env={"PPDATA_SCHEDULER": "tcp://h:1"}) is None


def test_outcomes_to_frame_shapes():
    from ppdata.project.mapping import Outcome, outcomes_to_frame

    frame = outcomes_to_frame(
        [
            Outcome("a", pd.DataFrame({"x": [1, 2]})),
            Outcome("b", {"x": 3}),
            Outcome("c", 4),
            Outcome("d", error="ValueError: bad"),
        ]
    )
    assert list(frame.columns) == ["session", "x", "value", "error"]
    assert list(frame["session"]) == ["a", "a", "b", "c", "d"]
    assert frame["x"].tolist()[:3] == [1, 2, 3]
    assert frame["error"].tolist() == [None, None, None, None, "ValueError: bad"]


def test_store_keeps_parts_by_version(tmp_path):
    from ppdata.project.store import ProjectStore
    from ppdata.settings import Settings

    store = ProjectStore(Settings(cache_dir=tmp_path, endpoint_url="http://x"))
    a = pd.DataFrame({"session": ["s1"] * 2, "v": [1.0, 2.0]})
    b = pd.DataFrame({"session": ["s2"], "v": [3.0], "only_b": ["x"]})
    store.write_parts("units", [("s1", "v1", a, {}), ("s2", "v1", b, {})])
    assert store.fresh("units", {"s1": "v1", "s2": "v2", "s3": "v1"}) == {"s1"}
    both = store.read("units", ["s1", "s2"])
    assert both["v"].tolist() == [1.0, 2.0, 3.0]
    assert both["only_b"].isna().tolist() == [True, True, False]
    with pytest.raises(PpdataError, match="can name a cache file"):
        store.part_path("units", "../escape")


def test_unit_yield_and_plot(tmp_path):
    from ppdata.project.results import plot_unit_yield, unit_yield

    units = pd.DataFrame(
        {
            "session": ["s1", "s1", "s1", "s2", "s2", "s3"],
            "probe": ["ProbeA", "ProbeA", "ProbeB", "ProbeA", "ProbeA", None],
            "label": ["sua", "mua", "sua", "sua", "sua", None],
            "brain_area": ["VISp", "VISp", "CA1", "VISp", "VISp", None],
            "error": [None] * 5 + ["NWBError: no units"],
        }
    )
    table = unit_yield(units)
    rows = {(r.probe, r.label, r.brain_area): r for r in table.itertuples()}
    assert rows[("ProbeA", "sua", "VISp")].units == 3
    assert rows[("ProbeA", "sua", "VISp")].sessions == 2
    assert rows[("ProbeA", "sua", "VISp")].per_session == 1.5
    assert rows[("ProbeB", "sua", "CA1")].per_session == 1.0
    assert len(table) == 3  # the failed session's row is not a unit
    fig = plot_unit_yield(table, tmp_path / "yield.png")
    assert fig.axes and (tmp_path / "yield.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inventory_is_the_release():
    from ppdata.find.assets import classify
    from ppdata.mirror.inventory import inventory
    from ppdata.naming import parse_name

    rows = inventory()
    assert len(rows) == 141
    assert sum(r.modality == "Neuropixels" for r in rows) == 60
    assert sum(r.modality == "Mesoscope" for r in rows) == 64
    assert sum(r.modality == "SLAP2" for r in rows) == 17
    by_name = {r.name: r for r in rows}
    assert by_name["ecephys_820459_2025-11-12_14-34-33"].asset("sorted") == (
        "ecephys_820459_2025-11-12_14-34-33_sorted_2026-06-27_09-05-10"
    )
    meso = by_name["multiplane-ophys_832700_2026-01-24_12-06-12"]
    assert (
        meso.asset("nwb") == "multiplane-ophys_832700_2026-01-24_12-06-12_nwb_2026-04-20_22-59-22"
    )
    for row in rows:
        assert parse_name(row.name).raw_name == row.name
        for kind, name in row.assets:
            assert parse_name(name).raw_name == row.name
            if kind in ("sorted", "nwb"):
                assert classify(name).value == kind


def test_bench_world_carries_the_inventory():
    from ppdata.mirror.inventory import inventory, inventory_names
    from ppdata.mirror.layout_sessions import describe_world
    from ppdata.mirror.world import added_names

    world = describe_world(Path("/nonexistent"), "bench")
    assert {s.name for s in world.sessions} == inventory_names()
    ephys = {r.name for r in inventory() if r.modality == "Neuropixels"}
    added = added_names(Path("/nonexistent"))
    assert len(ephys & added) >= 55  # the hand-made world keeps its own few
    for name in ephys & added:
        readers = [a for a in world.session(name).assets if a.nwb_path]
        assert len(readers) == 1 and 2200 <= readers[0].units <= 4346
    small = describe_world(Path("/nonexistent"), "small")
    assert not added & {s.name for s in small.sessions}


def test_response_index_and_plot(tmp_path):
    import numpy as np

    from ppdata.project.responses import plot_response_index, response_index

    index = response_index([3.0, 1.0, 0.0, -1.0], [1.0, 3.0, 0.0, 1.0])
    assert index[:2].tolist() == [0.5, -0.5] and np.isnan(index[2]) and index[3] == -1.0
    table = pd.DataFrame({"session": ["a", "a", "b"], "index": [0.5, -0.5, 0.1]})
    fig = plot_response_index(table, tmp_path / "index.svg")
    assert fig.axes and (tmp_path / "index.svg").read_text().lstrip().startswith("<?xml")


def test_cli_project_sessions_lists_what_each_table_covers(run, world):
    result = run("project", "sessions", "--json")
    assert result.code == 0, result.err
    rows = {r["session"]: r for r in json.loads(result.out)}
    for session in world.on_s3:
        assert rows[session.name]["has_units"] == (
            session.platform == "ecephys" and bool({"nwb", "sorted"} & session.kinds)
        )
        assert rows[session.name]["units_rows"] is None  # nothing cached yet


class _AlignedSession:
    """A stand-in with the aligned-response signatures of issue 9 (Session.aligned_spikes:
    unit × condition × time in spikes/s; Session.aligned_dff: roi × trial × time with a
    ``condition`` coordinate on ``trial``), for the index arithmetic alone."""

    name = "ecephys_1_2025-01-01_01-01-01"

    class parsed:
        subject_id = "1"

    def units(self):
        frame = pd.DataFrame(
            {"probe": ["ProbeA", "ProbeB"], "label": ["sua", "mua"]},
            index=pd.Index([7, 9], name="unit_id"),
        )
        return frame

    def aligned_spikes(self, units, window, bin_size):
        import numpy as np
        import xarray as xr

        time = np.arange(window[0], window[1], bin_size) + bin_size / 2
        rates = np.zeros((2, 2, time.size))
        after = (time > 0) & (time < 0.35)
        rates[0, 0, after], rates[0, 1, after] = 30.0, 10.0  # unit 7 prefers deviants
        rates[1, 0, after], rates[1, 1, after] = 5.0, 5.0  # unit 9 does not care
        rates[:, :, time < 0] = 99.0  # the baseline never enters the index
        return xr.DataArray(
            rates,
            dims=("unit", "condition", "time"),
            coords={"unit": list(units.index), "condition": ["deviant", "standard"], "time": time},
            attrs={"trials": {"deviant": 40, "standard": 400}},
        )

    def planes(self):
        return pd.DataFrame(
            {"structure": ["VISp"], "depth_um": [175.0]}, index=pd.Index(["VISp_0"], name="plane")
        )

    def aligned_dff(self, plane, window):
        import numpy as np
        import xarray as xr

        time = np.arange(window[0], window[1], 0.1) + 0.05
        condition = ["standard", "deviant", "standard", "deviant", "standard"]  # onset order
        dff = np.zeros((1, 5, time.size))
        dff[0, :, time < 0] = 1.0  # baseline 1
        for trial, kind in enumerate(condition):  # deviants +2 over baseline, standards +1
            dff[0, trial, time > 0] = 3.0 if kind == "deviant" else 2.0
        return xr.DataArray(
            dff,
            dims=("roi", "trial", "time"),
            coords={"roi": [4], "time": time, "condition": ("trial", condition)},
        )


def test_response_tables_from_aligned_responses():
    from ppdata.project.responses import roi_responses_table, unit_responses_table

    units = unit_responses_table(_AlignedSession()).set_index("unit_id")
    assert units.loc[7, "deviant_rate"] == 30.0 and units.loc[7, "standard_rate"] == 10.0
    assert units.loc[7, "index"] == 0.5 and units.loc[9, "index"] == 0.0
    assert units.loc[7, "n_deviant"] == 40 and units.loc[7, "n_standard"] == 400
    assert units.loc[9, "probe"] == "ProbeB"
    rois = roi_responses_table(_AlignedSession())
    row = rois.iloc[0]
    assert (row["plane"], row["roi_id"], row["n_deviant"], row["n_standard"]) == ("VISp_0", 4, 2, 3)
    assert row["deviant_dff"] == 2.0 and row["standard_dff"] == 1.0
    assert abs(row["index"] - 1 / 3) < 1e-12


def test_response_index_across_sessions_on_the_mirror(settings, world):
    import numpy as np

    from ppdata.project import project_table

    units = project_table("unit_responses", settings=settings, workers=2)
    complete = world.session(EPHYS_COMPLETE).current("nwb")
    assert set(units.computed) == {EPHYS_COMPLETE}
    assert "has no stimulus tables" in units.failed[EPHYS_REPROCESSED]
    got = units.frame[units.frame["session"] == EPHYS_COMPLETE]
    assert len(got) == complete.units
    assert (got["n_deviant"] > 0).all() and (got["n_standard"] > got["n_deviant"]).all()
    finite = got["index"].dropna()
    assert len(finite) and finite.between(-1, 1).all()
    assert np.allclose(
        finite,
        (
            (got["deviant_rate"] - got["standard_rate"])
            / (got["deviant_rate"] + got["standard_rate"])
        ).dropna(),
    )

    rois = project_table("roi_responses", settings=settings, workers=1)
    assert not rois.failed
    for session in world.on_s3:
        if session.platform == "multiplane-ophys":
            planes = session.current("planar-ophys").planes
            got = rois.frame[rois.frame["session"] == session.name]
            assert len(got) == sum(p.rois for p in planes)
            assert (got["n_deviant"] > 0).all()


def test_lean_units_match_the_session_units_and_read_less(settings, world):
    """The project's units reader gives what ``Session.units`` gives (labels, QC, probe,
    peak-electrode brain area) for every ecephys session, reading fewer bytes."""
    import numpy as np

    from ppdata.project.tables import units_table
    from ppdata.remote.s3 import S3Client
    from ppdata.session import Session

    checked = 0
    for name in _units_in_world(world):
        with S3Client(settings) as lean_client, S3Client(settings) as full_client:
            lean = units_table(Session(name, client=lean_client)).to_pandas().set_index("unit_id")
            full = Session(name, client=full_client).units()
            lean_bytes = lean_client.stats.snapshot().bytes
            full_bytes = full_client.stats.snapshot().bytes
        assert list(lean.index) == list(full.index)
        for column in ("label", "default_qc", "probe", "snr", "firing_rate"):
            if column in full:
                assert lean[column].astype(str).tolist() == full[column].astype(str).tolist()
        areas = full.get("brain_area")
        expected = (
            np.full(len(full), "unknown", dtype=object)
            if areas is None
            else areas.where(areas.notna(), "unknown").astype(str).to_numpy()
        )
        assert lean["brain_area"].tolist() == expected.tolist()
        assert lean["subject"].unique().tolist() == [name.split("_")[1]]
        assert lean_bytes <= full_bytes
        checked += 1
    assert checked >= 2


def test_inventory_nwbs_have_ccf_areas_except_the_three_the_release_lists():
    from ppdata.mirror.inventory import CCF_AREAS, NO_CCF
    from ppdata.mirror.layout_sessions import describe_world

    world = describe_world(Path("/nonexistent"), "bench")
    readers = {
        s.name: a
        for s in world.sessions
        if s.platform == "ecephys"
        for a in s.assets
        if a.nwb_path and a.probes and a.label_column == "decoder_label"
    }
    assert set(readers) >= NO_CCF
    assert not any(readers[n].ccf for n in NO_CCF)
    assert sum(a.ccf for a in readers.values()) >= 54
    for probe, areas in CCF_AREAS.items():
        assert areas[-1] == "void" and any(a.startswith("VIS") for a in areas), probe
