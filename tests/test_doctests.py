"""Docstring examples are true: every ``ppdata`` module's doctests run against the mirror.

The examples read the way a user types them (``ppdata.open_session("<real name>")``); the
environment points ppdata at the test mirror, as ``ppdata mirror serve`` does for a reader,
and each module runs in a fresh temporary folder so examples that write files stay there.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import ppdata

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(ppdata.__path__, prefix="ppdata.")
    if not info.name.startswith("ppdata.__main__")
)
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _tests(name: str) -> list[doctest.DocTest]:
    importlib.import_module("ppdata.cli.main")  # registers every command on the group
    module = importlib.import_module(name)
    found = doctest.DocTestFinder(exclude_empty=True).find(
        module, name, extraglobs={"ppdata": ppdata}
    )
    return [t for t in found if t.examples]


def test_modules_are_found() -> None:
    assert {
        "ppdata.session.core",
        "ppdata.nwb.ephys",
        "ppdata.transfer.api",
        "ppdata.mirror.world",
    } <= set(MODULES)


def test_examples_run_against_the_mirror_somewhere() -> None:
    """At least the session, NWB and download examples are live, not ``+SKIP``."""
    live = set()
    for name in ("ppdata.session.core", "ppdata.nwb.ephys", "ppdata.transfer.api"):
        for test in _tests(name):
            if any(not ex.options.get(doctest.SKIP) for ex in test.examples):
                live.add(name)
    assert live == {"ppdata.session.core", "ppdata.nwb.ephys", "ppdata.transfer.api"}


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str, mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tests = _tests(name)
    if not tests:
        pytest.skip(f"{name} has no examples")
    monkeypatch.setenv("PPDATA_ENDPOINT_URL", mirror.endpoint_url)
    monkeypatch.setenv("PPDATA_SPREADSHEET", str(mirror.spreadsheet))
    monkeypatch.setenv("PPDATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PPDATA_DANDI_API_URL", f"{mirror.endpoint_url}/api")  # its stand-in
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    failures: list[str] = []
    for test in tests:
        out: list[str] = []
        result = runner.run(test, out=out.append, clear_globs=True)
        if result.failed:
            failures.append("".join(out))
    assert not failures, f"{name}: docstring examples failed\n" + "\n".join(failures)
