"""The command line as a user runs it: listings, JSON, errors without tracebacks, the tour."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import WORLD_CACHE


def test_help_lists_the_commands(run):
    result = run("--help")
    assert result.code == 0
    for command in ("assets", "ls", "mirror", "tour", "name"):
        assert command in result.out


def test_the_command_table_names_what_each_module_registers():
    import importlib
    import pkgutil

    import click

    import ppdata.cli
    from ppdata.cli.main import COMMANDS

    registering = {
        m.name
        for m in pkgutil.iter_modules(ppdata.cli.__path__)
        if hasattr(importlib.import_module(f"ppdata.cli.{m.name}"), "register")
    }
    assert registering == set(COMMANDS.values())  # a new command module is in the table
    for module in set(COMMANDS.values()):
        group = click.Group()
        importlib.import_module(f"ppdata.cli.{module}").register(group)
        assert sorted(group.commands) == sorted(n for n, m in COMMANDS.items() if m == module)


def test_a_command_imports_only_its_own_module():
    code = (
        "import sys\n"
        "from ppdata.cli.main import main\n"
        "try:\n"
        "    main(['download', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('ppdata.cli.') or m == 'numpy'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = ast.literal_eval(out.strip().splitlines()[-1])
    assert "ppdata.cli.download" in loaded
    assert not {"numpy", "ppdata.cli.nwb", "ppdata.cli.web", "ppdata.cli.project"} & set(loaded)


def test_name_parses_without_network(run):
    result = run("name", "828408_2025-11-13_10-30-53_processed_2026-05-22_06-53-48", "--json")
    assert result.code == 0
    (row,) = json.loads(result.out)
    assert row["platform"] is None and row["process"] == "processed"
    assert row["raw_name"] == "828408_2025-11-13_10-30-53"


def test_ls_session_asset_subpath_and_url(run, world):
    from ppdata.mirror.world import EPHYS_REPROCESSED

    session = world.session(EPHYS_REPROCESSED)
    sorted_asset = session.current("sorted")
    top = run("ls", EPHYS_REPROCESSED)
    assert top.code == 0
    assert {line.rstrip("/") for line in top.out.split()} == {a.name for a in session.assets}
    inside = run("ls", sorted_asset.name, "--json")
    names = {e["name"] for e in json.loads(inside.out)}
    assert {"nwb/", "quality_control/", "visualization_output.json"} <= names
    sub = run("ls", f"{sorted_asset.name}/quality_control", "--long")
    # QC figures sit under the full recording name (a space and a '#' in a folder name)
    assert sub.code == 0 and "experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP" in sub.out
    url = run("ls", f"s3://aind-open-data/{sorted_asset.name}/quality_control/", "-r", "--json")
    entries = json.loads(url.out)
    assert entries and all(e["name"].endswith(".png") for e in entries)
    assert all(e["size"] > 0 for e in entries)
    long = run("ls", f"{sorted_asset.name}/quality_control/", "-r", "--long")
    assert " kB" in long.out or " B " in long.out


def test_ls_errors(run):
    nothing = run("ls", "ecephys_820454_2025-11-04_14-59-22/no/such/folder")
    assert nothing.code == 1 and nothing.err.startswith("Error: nothing at s3://")
    other = run("ls", "s3://another-bucket/x")
    assert other.code == 1 and "--bucket another-bucket" in other.err
    bad = run("ls", "not-a-session")
    assert bad.code == 1 and "Traceback" not in bad.err


def test_debug_shows_the_traceback(run):
    with pytest.raises(Exception, match="acquisition datetime"):
        run("assets", "ecephys_820454_2025-13-04_14-59-22", "--debug")


def test_unreachable_endpoint_is_one_line(run):
    result = run(
        "assets", "ecephys_820454_2025-11-04_14-59-22", "--endpoint-url", "http://127.0.0.1:9"
    )
    assert result.code == 1
    assert result.err.count("\n") == 1 and "cannot reach the bucket" in result.err
    assert "ppdata mirror serve" in result.err


def test_mirror_serve_on_a_port_in_use(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = {**os.environ, "PPDATA_CACHE_DIR": str(WORLD_CACHE)}
        result = subprocess.run(
            [sys.executable, "-m", "ppdata", "mirror", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_tour_end_to_end(tmp_path, world_root):
    """The README's main job, as a subprocess with its own embedded mirror."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PPDATA_")}
    env["PPDATA_CACHE_DIR"] = str(WORLD_CACHE)
    out = tmp_path / "plots"
    result = subprocess.run(
        [sys.executable, "-m", "ppdata", "tour", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "ecephys_820454_2025-11-04_14-59-22" in text
    assert "sorted" in text and "raw" in text
    assert list(Path(out).glob("*.png")), "the tour writes at least one plot"
    # the dataset's question: deviant vs standard, from the session with a complete NWB
    assert "6. Deviant vs standard stimuli: ecephys_820459_2025-11-12_14-34-33" in text
    assert "Sequence mismatch block" in text and "units aligned to" in text
    assert (out / "psth_deviant_vs_standard.png").stat().st_size > 10_000


def test_download_cli_dry_run_fetch_rerun_verify(run, world, tmp_path):
    from ppdata.mirror.world import EPHYS_REPROCESSED

    asset = world.session(EPHYS_REPROCESSED).current("sorted")
    dest = tmp_path / "data"
    args = (
        "download",
        EPHYS_REPROCESSED,
        "--kind",
        "sorted",
        "--include",
        "nwb/*",
        "--dest",
        str(dest),
    )
    dry = run(*args, "--dry-run", "--json")
    assert dry.code == 0, dry.err
    plan = json.loads(dry.out)
    nwb_folder = world.path(f"{asset.name}/nwb")  # every NWB of the asset (two recordings)
    on_disk = [p for p in nwb_folder.rglob("*") if p.is_file()]
    assert plan["count"] == len(on_disk) and not dest.exists()
    first = run(*args, "--json")
    assert first.code == 0, first.err
    summary = json.loads(first.out)
    assert summary["fetched"] == plan["count"] and summary["failed"] == 0
    for f in plan["files"]:
        assert Path(f["path"]).read_bytes() == world.path(f["key"]).read_bytes()
    again = run(*args, "--json")
    assert json.loads(again.out)["skipped"] == plan["count"]
    assert json.loads(again.out)["requests"].get("GetObject", 0) == 0
    verified = run("download", "--verify", str(dest))
    assert verified.code == 0 and "0 problems" in verified.out
    victim = Path(plan["files"][0]["path"])
    victim.write_bytes(b"changed")
    broken = run("download", "--verify", str(dest))
    assert broken.code == 1 and victim.name in broken.out


def test_download_cli_asks_before_a_large_download(run, tmp_path):
    from ppdata.mirror.world import EPHYS_REPROCESSED

    result = run(
        "download", EPHYS_REPROCESSED, "--dest", str(tmp_path / "d"), "--confirm-above", "0.000001"
    )
    assert result.code == 1 and "--yes" in result.err and "streaming the NWB" in result.err
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").rglob("*.json"))


def test_download_cli_bad_targets(run, tmp_path):
    missing = run("download", "ecephys_820454_2024-11-04_14-59-22", "--dest", str(tmp_path))
    assert missing.code == 1 and missing.err.startswith("Error: ")
    nothing = run(
        "download",
        "ecephys_820454_2025-11-04_14-59-22",
        "--include",
        "*.xyz",
        "--dest",
        str(tmp_path),
    )
    assert nothing.code == 1 and "*.xyz" in nothing.err and "Traceback" not in nothing.err


def test_settings_flags_reach_the_client(run):
    slow = run(
        "assets",
        "ecephys_820454_2025-11-04_14-59-22",
        "--no-qc",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--retries",
        "0",
        "--connect-timeout",
        "0.5",
        "--read-timeout",
        "1",
    )
    assert slow.code == 1 and "cannot reach" in slow.err
    bad = run("assets", "x", "--retries", "-1")
    assert bad.code == 2 and "--retries" in bad.err


def test_flags_override_environment(monkeypatch):
    from ppdata.cli.app import App
    from ppdata.cli.main import cli

    monkeypatch.setenv("PPDATA_RETRIES", "7")
    monkeypatch.setenv("PPDATA_BUCKET", "from-env")
    args = ["--retries", "0", "--connect-timeout", "0.5", "--read-timeout", "2", "name", "x"]
    with cli.make_context("ppdata", args) as ctx:
        settings = App(ctx).settings
    assert (settings.retries, settings.connect_timeout, settings.read_timeout) == (0, 0.5, 2.0)
    assert settings.bucket == "from-env"
