"""The public API: every exported name resolves, and importing has no side effects."""

from __future__ import annotations

import os
import subprocess
import sys

import ppdata


def test_all_is_sorted_and_every_name_resolves():
    assert len(set(ppdata.__all__)) == len(ppdata.__all__)  # ordered by ruff (RUF022)
    for name in ppdata.__all__:
        assert getattr(ppdata, name) is not None, name


def test_import_is_light_and_silent(tmp_path):
    code = (
        "import sys, ppdata; "
        "heavy = [m for m in ('pynwb', 'h5py', 'zarr', 'boto3', 'pandas', 'matplotlib') "
        "if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        # PYTHONPATH passes through for a source tree that is not installed (worktrees)
        env={"HOME": str(tmp_path), "PATH": "/usr/bin"}
        | {k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]" and result.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_unknown_attribute():
    import pytest

    with pytest.raises(AttributeError):
        ppdata.no_such_thing  # noqa: B018


def test_all_matches_the_exports():
    assert set(ppdata.__all__) == {"__version__", *ppdata._EXPORTS}
