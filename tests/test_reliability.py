"""The fast subset of ``benchmarks/reliability.py``: one or two trials of every fault.

Each scenario must end with no file corrupt under its final name, no hang past the
timeouts, and only clear errors; downloads must end exact after a resume. The full run (50+
kills, more trials) writes benchmarks/RELIABILITY.md.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from conftest import WORLD_CACHE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reliability as rel


@pytest.fixture(scope="module")
def lab(world_root, tmp_path_factory):
    """A mirror of our own (the scratch objects and policy changes stay out of the shared
    one), with the scratch objects the download trials fetch."""
    from ppdata.mirror.server import serve_in_subprocess

    with serve_in_subprocess(WORLD_CACHE) as (endpoint, spreadsheet):
        yield rel.Lab(endpoint, spreadsheet, tmp_path_factory.mktemp("reliability"), big_mb=4)


def _ok(tally: rel.Tally) -> None:
    assert tally.corrupt == 0, tally.notes
    assert tally.hangs == 0, tally.notes
    assert tally.clear == tally.errors, tally.notes
    assert tally.trials > 0


@pytest.mark.parametrize("kind", rel.FAULT_KINDS)
def test_download_faults(lab, kind):
    tally = rel.download_faults(lab, kind, 1, random.Random(kind))
    _ok(tally)
    assert tally.faults >= 1
    assert tally.exact == tally.files, "after a resume every file is exact"


def test_object_changed_mid_download(lab):
    tally = rel.changed_mid_download(lab, 1, random.Random(2))
    _ok(tally)
    assert tally.faults == 1 and tally.exact == tally.files == 1


@pytest.mark.parametrize("kind", ["503", "reset-before", "truncate", "stall", "403"])
def test_nwb_read_faults(lab, kind):
    tally = rel.nwb_faults(lab, kind, 1, random.Random(kind))
    _ok(tally)
    assert tally.faults >= 1
    if kind != "403":
        assert tally.exact == tally.files, "retried reads return the same data"


def test_kill_and_resume(lab):
    tally = rel.kill_and_resume(lab, 2, random.Random(3))
    _ok(tally)
    assert tally.faults >= 1 and tally.exact == tally.files


def test_ctrl_c_says_how_to_resume(lab):
    tally = rel.ctrl_c(lab, 1, random.Random(4))
    _ok(tally)
    assert tally.exact == tally.files


def test_two_processes_one_destination(lab):
    tally = rel.two_processes(lab, 1)
    _ok(tally)
    assert tally.exact == tally.files


def test_disk_full(lab):
    tally = rel.disk_full(lab)
    _ok(tally)
    assert tally.errors >= 1, "running out of room is reported"
    assert tally.exact == tally.files, "a resume with room completes"


def test_corrupt_catalog_and_manifest(lab):
    tally = rel.corrupt_files(lab)
    _ok(tally)
    assert tally.exact == tally.files


def test_fuzzing(lab):
    tally = rel.fuzz(lab, 25)
    _ok(tally)
