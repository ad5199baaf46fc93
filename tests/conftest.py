"""Shared fixtures: one synthetic world (built once, cached) served by one real S3 server.

The server is ``ppdata mirror serve`` in a subprocess on a free loopback port, so the code
under test talks to it over real HTTP exactly as it would to AWS.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from ppdata.remote.s3 import S3Client
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


@pytest.fixture(scope="session")
def mirror(world_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Mirror:
    from ppdata.mirror.server import serve_in_subprocess

    log = tmp_path_factory.mktemp("mirror") / "server.log"
    with serve_in_subprocess(WORLD_CACHE, log=log) as (endpoint, spreadsheet):
        yield Mirror(endpoint, spreadsheet)


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
