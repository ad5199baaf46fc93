"""The project's notebooks (``docs/notebooks/``) run from top to bottom against the mirror.

Each notebook is executed by nbclient in a kernel of this interpreter (the project's venv),
with ``PPDATA_ENDPOINT_URL`` and ``PPDATA_SPREADSHEET`` pointing at the session's mirror, the
way a reader runs them after ``ppdata mirror serve``. A failing cell fails the test with the
notebook's name and the cell's number and source. Notebooks are kept without outputs in git.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "docs" / "notebooks").glob("*.ipynb"))

#: HTML each notebook must show once run: ppdata's cards (``_repr_html_``) and progress bars.
SHOWS: dict[str, tuple[str, ...]] = {
    "01_stream_an_nwb": ("ppdata-card", "ppdata-progress"),
    "02_ephys_complete_nwb": ("ppdata-card",),
    "03_mesoscope_session": ("ppdata-card",),
    "04_across_sessions": ("ppdata-progress",),
}


def _missing(nb) -> list[str]:
    """The ``module:attribute`` names a notebook's metadata says it needs and this tree lacks
    (a notebook written against another branch's API, before that branch is merged)."""
    import importlib

    missing = []
    for spec in nb.metadata.get("ppdata", {}).get("requires", []):
        module, _, attrs = spec.partition(":")
        try:
            value = importlib.import_module(module)
            for attr in filter(None, attrs.split(".")):
                value = getattr(value, attr)
        except (ImportError, AttributeError):
            missing.append(spec)
    return missing


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 4, "docs/notebooks/ should hold the four journeys"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert not cell.get("outputs"), f"{path.name} cell {index} has stored outputs: strip them"
        assert cell.get("execution_count") is None, f"{path.name} cell {index} has a count"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path: Path, mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("PPDATA_ENDPOINT_URL", mirror.endpoint_url)
    monkeypatch.setenv("PPDATA_SPREADSHEET", str(mirror.spreadsheet))
    monkeypatch.setenv("PPDATA_CACHE_DIR", str(tmp_path / "cache"))
    nb = nbformat.read(path, as_version=4)
    missing = _missing(nb)
    if missing:
        pytest.skip(f"{path.name} needs {', '.join(missing)}, not in this tree yet")
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        failed = _failed_cell(nb)
        where = f"cell {failed[0]}:\n{failed[1]}" if failed else "a cell"
        pytest.fail(f"{path.name} failed at {where}\n{exc}", pytrace=False)
    images = sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    )
    assert images >= 1, f"{path.name} should show at least one figure inline"
    html = "".join(
        out.get("data", {}).get("text/html", "")
        if isinstance(out.get("data", {}).get("text/html", ""), str)
        else "".join(out["data"]["text/html"])
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
    for marker in SHOWS.get(path.stem, ()):
        assert marker in html, f"{path.name} should show a {marker} (a ppdata object's HTML)"


def _failed_cell(nb) -> tuple[int, str] | None:
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                return index, cell.source
    return None
