"""How ppdata is installed and layered: the library and its non-mirror commands work without
the [mirror] extra, and the import contracts (pyproject's [tool.importlinter]) hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What a plain `pip install ppdata` leaves out: the mirror's server and loader.
_WITHOUT_MIRROR = (
    "import sys\n"
    "for name in ('moto', 'werkzeug', 'boto3', 'flask'):\n"
    "    sys.modules[name] = None  # import fails, find_spec says missing\n"
    "from ppdata.cli.main import main\n"
    "main(sys.argv[1:])\n"
)


def _ppdata(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_MIRROR, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_without_the_mirror_extra_the_library_works_and_the_mirror_says_what_to_install(
    mirror, world, tmp_path
):
    from ppdata.mirror.world import EPHYS_REPROCESSED

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PPDATA_")},
        "PYTHONPATH": str(REPO / "src"),
        "PPDATA_ENDPOINT_URL": mirror.endpoint_url,
        "PPDATA_CACHE_DIR": str(tmp_path / "cache"),
    }
    listed = _ppdata("ls", EPHYS_REPROCESSED, env=env)
    assert listed.returncode == 0, listed.stderr
    names = {line.rstrip("/") for line in listed.stdout.split()}
    assert names == {a.name for a in world.session(EPHYS_REPROCESSED).assets}
    served = _ppdata("mirror", "serve", "--port", "0", env=env)
    assert served.returncode == 1
    assert "pip install 'ppdata[mirror]'" in served.stderr
    assert "Traceback" not in served.stderr


def test_import_contracts_hold():
    pytest.importorskip("importlinter")
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache", "--config", str(REPO / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
