"""Shared fixtures: one synthetic world (built once, cached) served by one real S3 server.

The server is ``ppdata mirror serve`` in a subprocess on a free loopback port, so the code
under test talks to it over real HTTP exactly as it would to AWS.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ppdata.s3 import S3Client
from ppdata.settings import Settings

REPO = Path(__file__).resolve().parents[1]
WORLD_CACHE = Path(os.environ.get("PPDATA_TEST_WORLD_CACHE", REPO / ".cache" / "test-worlds"))
BUCKET = "aind-open-data"


@pytest.fixture(autouse=True)
def _no_real_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Tests never read the developer's environment or reach for AWS by accident."""
    for var in list(os.environ):
        if var.startswith("PPDATA_") and var != "PPDATA_TEST_WORLD_CACHE":
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PPDATA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def world_root() -> Path:
    from ppdata.mirror.world import ensure_world

    return Path(ensure_world(WORLD_CACHE, size="small"))


@pytest.fixture(scope="session")
def world(world_root: Path):
    from ppdata.mirror.world import load_world

    return load_world(world_root)


@dataclass
class Mirror:
    endpoint_url: str
    spreadsheet: Path
    process: subprocess.Popen


@pytest.fixture(scope="session")
def mirror(world_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Mirror:
    ready = tmp_path_factory.mktemp("mirror") / "ready"
    env = {**os.environ, "PPDATA_CACHE_DIR": str(WORLD_CACHE)}
    log = open(ready.with_name("server.log"), "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ppdata",
            "mirror",
            "serve",
            "--port",
            "0",
            "--ready-file",
            str(ready),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("mirror did not start: " + ready.with_name("server.log").read_text())
        time.sleep(0.1)
    endpoint, spreadsheet = ready.read_text().split()[:2]
    yield Mirror(endpoint, Path(spreadsheet), proc)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def settings(mirror: Mirror, tmp_path: Path) -> Settings:
    return Settings(
        endpoint_url=mirror.endpoint_url,
        bucket=BUCKET,
        cache_dir=tmp_path / "cache",
        spreadsheet=str(mirror.spreadsheet),
        retries=2,
    )


@pytest.fixture
def client(settings: Settings) -> S3Client:
    with S3Client(settings) as c:
        yield c


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run the real ``ppdata`` command line in-process against the mirror."""
    from ppdata.cli.main import main

    monkeypatch.setenv("PPDATA_ENDPOINT_URL", mirror.endpoint_url)
    monkeypatch.setenv("PPDATA_SPREADSHEET", str(mirror.spreadsheet))
    monkeypatch.setenv("PPDATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "250")

    def invoke(*args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        return Result(code, out.getvalue(), err.getvalue())

    return invoke
