"""The CLI contract: every command x every output mode x every session kind of the mirror.

Commands are discovered from the click group, so a new command without a row in
``EXAMPLES`` fails :func:`test_every_command_has_examples`. Each example runs in every
output mode its command has (table, ``--json``, ``--csv -``, a plot file) for every session
kind; the output must be valid: JSON parses (strictly: no NaN), CSV has a header and rows,
PNG opens and is not blank, tables keep every session/asset name whole at 100 and 120
columns. Where a command does not apply to a kind of session (units of a Mesoscope
session), it must fail with one clear ``Error:`` line, never a traceback.

To add a command: add its row to ``EXAMPLES`` (the placeholders are filled from the mirror's
``World``, see :func:`_fill`).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from ppdata.mirror.world import (
    EPHYS_COMPLETE,
    EPHYS_REPROCESSED,
    MESOSCOPE_A,
    MESOSCOPE_B,
    SLAP2_SESSION,
)

#: The mirror's session kinds, by a short label.
KINDS = {
    "ephys": EPHYS_REPROCESSED,
    "ephys-complete": EPHYS_COMPLETE,
    "mesoscope": MESOSCOPE_A,
    "mesoscope-b": MESOSCOPE_B,
    "slap2": SLAP2_SESSION,
}
ALL = tuple(KINDS)
EPHYS = ("ephys", "ephys-complete")
MESO = ("mesoscope", "mesoscope-b")
PLOT_ON = ("ephys", "ephys-complete", "mesoscope", "slap2")  # plots are slow: one Mesoscope


@dataclass(frozen=True)
class Example:
    """One invocation of a command.

    ``args`` may hold ``{session}``, ``{subject}``, ``{probe}``, ``{unit}``, ``{plane}``,
    ``{sorted}`` (the current sorted asset), ``{tmp}`` and ``{png}``. ``works_for`` are the
    session kinds it must succeed on; the others must give a clear error. ``works_for=None``
    means the example names no session and runs once.
    """

    args: tuple[str, ...]
    works_for: tuple[str, ...] | None = ALL
    skip: str = ""
    on: tuple[str, ...] = ALL  #: the kinds to run it on (fewer for slow examples)


def ex(
    *args: str,
    works_for: tuple[str, ...] | None = ALL,
    skip: str = "",
    on: tuple[str, ...] = ALL,
) -> Example:
    return Example(tuple(args), works_for, skip, on)


#: Example invocations per command path. The lead adds the rows of new commands at merge.
EXAMPLES: dict[str, list[Example]] = {
    "name": [ex("name", "{session}")],
    "assets": [ex("assets", "{session}")],
    "ls": [
        ex("ls", "{session}"),
        ex("ls", "{session}", "-l"),
        ex("ls", "{sorted}", "-r", "-l", on=("ephys",)),
    ],
    "metadata": [ex("metadata", "{session}")],
    "qc": [ex("qc", "{session}")],
    "portal": [ex("portal", "{session}", works_for=EPHYS)],
    "sessions": [ex("sessions", works_for=None), ex("sessions", "--subject", "{subject}")],
    "catalog refresh": [ex("catalog", "refresh", "{session}")],
    "catalog info": [ex("catalog", "info", works_for=None)],
    "nwb": [ex("nwb", "{session}", works_for=(*EPHYS, *MESO))],
    "units": [ex("units", "{session}", works_for=EPHYS)],
    "spikes": [ex("spikes", "{session}", "{unit}", works_for=EPHYS)],
    "planes": [ex("planes", "{session}", works_for=MESO)],
    "dff": [ex("dff", "{session}", "--plane", "{plane}", "--stop", "5", works_for=MESO)],
    "lfp": [
        ex(
            "lfp",
            "{session}",
            "--probe",
            "{probe}",
            "--start",
            "1",
            "--stop",
            "1.2",
            works_for=EPHYS,
        )
    ],
    "plot": [
        ex("plot", "raster", "{session}", "--out", "{png}", works_for=EPHYS, on=PLOT_ON),
        ex("plot", "unit-quality", "{session}", "--out", "{png}", works_for=EPHYS, on=PLOT_ON),
        ex(
            "plot", "dff", "{session}", "--out", "{png}", "--stop", "20", works_for=MESO, on=PLOT_ON
        ),
        ex("plot", "rois", "{session}", "--out", "{png}", works_for=MESO, on=PLOT_ON),
        ex(
            "plot",
            "running",
            "{session}",
            "--out",
            "{png}",
            works_for=("ephys-complete", *MESO),
            on=PLOT_ON,
        ),
    ],
    "download": [
        ex("download", "{session}", "--include", "*.json", "--dest", "{tmp}/dry", "--dry-run"),
        ex(
            "download",
            "{session}",
            "--include",
            "*.json",
            "--dest",
            "{tmp}/data",
            "-q",
            on=("ephys", "mesoscope", "slap2"),
        ),
    ],
    "tour": [ex("tour", "--out", "{tmp}/tour", works_for=None)],
    "mirror build": [ex(skip="builds a world (a minute): covered by tests/test_world.py")],
    "mirror serve": [ex(skip="serves until Ctrl-C: covered by conftest's mirror fixture")],
    "web": [ex(skip="serves until Ctrl-C: covered by tests/test_web.py over HTTP")],
    **{
        f"project {name}": [ex(skip="project scale on a Dask cluster: tests/test_project*.py")]
        for name in ("query", "responses", "rois", "sessions", "stimuli", "units", "yield")
    },
    "stimuli": [ex("stimuli", "{session}", works_for=("ephys-complete", *MESO))],
    "psth": [ex("psth", "{session}", works_for=("ephys-complete",))],
    "aligned-dff": [ex("aligned-dff", "{session}", "--plane", "{plane}", works_for=MESO)],
    "behavior": [ex("behavior", "{session}", works_for=("ephys-complete", *MESO))],
    "dandi": [ex("dandi", "{session}", works_for=("ephys-complete", "mesoscope", "slap2"))],
    "slap2": [ex("slap2", "{session}", works_for=("slap2",))],
}


def _leaves(group, prefix: str = ""):
    import click

    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _leaves(command, path + " ")
        else:
            yield path, command


def _command(path: str):
    from ppdata.cli.main import cli

    return dict(_leaves(cli))[path]


def _modes(path: str) -> list[str]:
    """The output modes a command has, from its options (so a new option is covered)."""
    names = {opt for p in _command(path).params for opt in getattr(p, "opts", [])}
    modes = ["table"]
    if "--json" in names:
        modes.append("json")
    if "--csv" in names:
        modes.append("csv")
    return modes


def test_every_command_has_examples():
    from ppdata.cli.main import cli

    found = {path for path, _ in _leaves(cli)}
    missing = sorted(found - set(EXAMPLES))
    assert not missing, f"add rows to EXAMPLES in {__file__} for: {', '.join(missing)}"
    stale = sorted(set(EXAMPLES) - found)
    assert not stale, f"EXAMPLES has rows for commands that do not exist: {stale}"


def _fill(arg: str, world, kind: str | None, tmp: Path, n: int) -> str:
    values = {"tmp": str(tmp), "png": str(tmp / f"plot-{n}.png")}
    if kind is not None:
        session = world.session(KINDS[kind])
        values.update(session=session.name, subject=session.subject_id)
        sorted_assets = [a for a in session.assets if a.kind == "sorted" and a.current]
        planar = [a for a in session.assets if a.planes and a.current]
        values["probe"] = sorted_assets[0].probes[0] if sorted_assets else "ProbeA"
        values["sorted"] = sorted_assets[0].name if sorted_assets else session.name
        values["unit"] = "0"
        values["plane"] = planar[0].planes[0].name if planar else "VISp_0"
    return arg.format(**values)


_CASES = [
    pytest.param(path, i, kind, id=f"{path.replace(' ', '-')}-{i}-{kind or 'none'}")
    for path, examples in EXAMPLES.items()
    for i, example in enumerate(examples)
    if not example.skip
    for kind in (example.on if example.works_for is not None else [None])
]

_TOKEN = re.compile(r"[\w-]{10,}")


@pytest.fixture(scope="module")
def cut_names(world) -> frozenset[str]:
    """Every proper prefix (10+ characters) of a session or asset name of the mirror that
    is not itself a name: seeing one as a whole word in a table means a name was cut."""
    names = {s.name for s in world.sessions} | {a.name for s in world.sessions for a in s.assets}
    prefixes = {n[:i] for n in names for i in range(10, len(n))}
    return frozenset(p for p in prefixes - names if "_" in p and any(c.isdigit() for c in p))


def _assert_names_whole(text: str, cut: frozenset[str]) -> None:
    for line in text.splitlines():
        for token in _TOKEN.findall(line):
            assert token not in cut, f"a name is cut in the table: {token!r} in {line!r}"


def _strict_json(text: str):
    def refuse(constant: str):
        raise AssertionError(f"{constant} in JSON output (not valid JSON)")

    return json.loads(text, parse_constant=refuse)


def _check_png(path: Path) -> None:
    import matplotlib.image

    assert path.exists() and path.stat().st_size > 0, f"no plot written at {path}"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    assert float(image[..., :3].std()) > 0.01, f"{path} is blank"


#: Commands whose table output is short or absent: one width is enough (they are slow).
_ONE_WIDTH = {"plot": ("100",), "tour": ("120",)}


@pytest.mark.parametrize(("path", "index", "kind"), _CASES)
def test_contract(path, index, kind, run, world, tmp_path, monkeypatch, cut_names, mirror):
    monkeypatch.setenv("PPDATA_DANDI_API_URL", f"{mirror.endpoint_url}/api")  # its stand-in
    example = EXAMPLES[path][index]
    works = kind is None or kind in (example.works_for or ())
    args = [_fill(a, world, kind, tmp_path, 0) for a in example.args]
    if not works:
        result = run(*args)
        assert result.code != 0, f"{args} should fail on a {kind} session: {result.out[:500]}"
        _assert_clear_error(result)
        return
    modes = _modes(path)
    for mode in modes:
        extra = {"table": [], "json": ["--json"], "csv": ["--csv", "-"]}[mode]
        widths = {"table": ("100", "120"), "json": ("250",), "csv": ("250",)}[mode]
        if path in _ONE_WIDTH and mode == "table":
            widths = _ONE_WIDTH[path]
        for columns in widths:
            monkeypatch.setenv("COLUMNS", columns)
            n = len(list(tmp_path.glob("plot-*.png")))
            args = [_fill(a, world, kind, tmp_path, n) for a in example.args]
            result = run(*args, *extra)
            assert result.code == 0, f"{args + extra} failed: {result.err[-2000:]}"
            assert "Traceback" not in result.err
            if mode == "json":
                _strict_json(result.out)
            elif mode == "csv":
                _check_csv(result.out)
            else:
                _assert_names_whole(result.out, cut_names)
                _assert_names_whole(result.err, cut_names)
            if "{png}" in example.args:
                _check_png(Path(args[args.index("--out") + 1]))
    if path == "tour":
        pngs = list((tmp_path / "tour").glob("*.png"))
        assert pngs, "the tour writes plots"
        for png in pngs:
            _check_png(png)


def _check_csv(text: str) -> None:
    import pandas as pd

    assert text.strip(), "empty CSV"
    frame = pd.read_csv(io.StringIO(text))
    assert len(frame.columns) >= 1 and len(frame) >= 1
    assert not any(str(c).startswith("Unnamed") for c in frame.columns[1:]), frame.columns


def _assert_clear_error(result) -> None:
    err = result.err.strip()
    assert "Traceback" not in err
    last = err.splitlines()[-1] if err else ""
    assert last.startswith(("Error:", "Usage:")) or "Error:" in err, err
    assert "unexpected" not in err, f"an unexpected error leaked: {err}"


# -- user mistakes: one clear line, saying what to do ------------------------------------


def test_spikes_json(run, world):
    session = world.session(EPHYS_REPROCESSED)
    result = run("spikes", session.name, "0", "1", "--json")
    assert result.code == 0, result.err
    doc = _strict_json(result.out)
    assert set(doc) == {"0", "1"} and all(isinstance(t, float) for t in doc["0"])


def _error(result, *needles: str) -> str:
    assert result.code != 0, result.out
    _assert_clear_error(result)
    for needle in needles:
        assert needle in result.err, result.err
    return result.err


def test_windows_outside_the_data_say_the_valid_range(run, world, tmp_path):
    ephys = world.session(EPHYS_REPROCESSED)
    probe = ephys.current("sorted").probes[0]
    meso = world.session(MESOSCOPE_A)
    plane = next(a for a in meso.assets if a.planes and a.current).planes[0].name
    _error(
        run("lfp", ephys.name, "--probe", probe, "--start", "1000", "--stop", "1010"),
        "holds no samples",
        "the data covers",
    )
    _error(run("lfp", ephys.name, "--probe", probe, "--start", "2", "--stop", "1"), "reversed")
    _error(run("dff", meso.name, "--plane", plane, "--start", "100000"), "the data covers")
    _error(run("dff", meso.name, "--plane", plane, "--start", "5", "--stop", "5"), "empty")
    out = tmp_path / "plots" / "blank.png"
    _error(run("plot", "dff", meso.name, "--out", str(out), "--start", "100000"), "the data covers")
    assert not out.parent.exists(), "no blank PNG, nor a folder made for it"


def test_endpoint_without_scheme(run):
    err = _error(run("--endpoint-url", "127.0.0.1:9517", "sessions"), "no scheme")
    assert "http://127.0.0.1:9517" in err


def test_qc_takes_only_valid_statuses(run):
    err = _error(run("sessions", "--qc", "passed"), "not a QC status")
    assert "Pass" in err
    assert run("sessions", "--qc", "pass", "--json").code == 0


def test_a_subject_id_alone_gets_a_hint(run, world):
    subject = world.session(EPHYS_REPROCESSED).subject_id
    _error(run("assets", subject), f"ppdata sessions --subject {subject}")


def test_https_bucket_urls_are_targets(run, world, tmp_path):
    asset = world.session(EPHYS_REPROCESSED).current("sorted")
    key = f"{asset.name}/data_description.json"
    for url in (
        f"https://aind-open-data.s3.amazonaws.com/{key}",
        f"https://aind-open-data.s3.us-west-2.amazonaws.com/{key}",
        f"https://s3.us-west-2.amazonaws.com/aind-open-data/{key}",
    ):
        dry = run("download", url, "--dest", str(tmp_path), "--dry-run", "--json")
        assert dry.code == 0, dry.err
        assert [f["key"] for f in _strict_json(dry.out)["files"]] == [key]
        listed = run("ls", url.rsplit("/", 1)[0] + "/", "--json")
        assert listed.code == 0, listed.err


def test_version_option_renamed(run, world):
    session = world.session(EPHYS_REPROCESSED)
    old = next(a for a in session.assets_of("sorted") if not a.current)
    err = _error(run("units", session.name, "--version", old.name), "--asset-version")
    assert "ppdata --version" in err
    new = run("units", session.name, "--asset-version", old.name, "--json")
    assert new.code == 0, new.err
    assert run("--version").code == 0 and "ppdata" in run("--version").out


def test_lfp_json_is_columns(run, world):
    session = world.session(EPHYS_REPROCESSED)
    probe = session.current("sorted").probes[0]
    result = run("lfp", session.name, "--probe", probe, "--start", "1", "--stop", "1.5", "--json")
    assert result.code == 0, result.err
    doc = _strict_json(result.out)
    assert doc["layout"] == "data[channel][sample]" and doc["unit"] == "uV"
    assert len(doc["data"]) == len(doc["channels"])
    assert all(len(row) == len(doc["times"]) for row in doc["data"])
    assert len(result.out) < 60 * len(doc["times"]) * len(doc["channels"]) + 10_000


def test_reader_commands_report_stats_however_they_end(run, world):
    """--stats is reported when a reading command ends: on lfp's --json path, and after a
    failure; --channel takes an electrode id as a number."""
    session = world.session(EPHYS_REPROCESSED)
    probe = session.current("sorted").probes[0]
    window = ("lfp", session.name, "--probe", probe, "--start", "1", "--stop", "1.5", "--json")
    channel = _strict_json(run(*window).out)["channels"][1]
    one = run(*window, "--channel", str(channel), "--stats")
    assert one.code == 0, one.err
    assert _strict_json(one.out)["channels"] == [channel] and "HTTP requests" in one.err
    bad = run("dff", MESOSCOPE_A, "--plane", "VISx_9", "--stats")
    assert bad.code != 0 and "VISx_9" in bad.err and "HTTP requests" in bad.err


def test_plot_reports_stats_however_it_ends(run, tmp_path):
    """plot's --stats comes from the same place as the reading commands': once after a plot
    written, and after one that failed."""
    png = tmp_path / "rois.png"
    good = run("plot", "rois", MESOSCOPE_A, "--out", str(png), "--stats")
    assert good.code == 0, good.err
    assert png.stat().st_size > 0 and good.err.count("HTTP requests") == 1
    bad = run("plot", "rois", MESOSCOPE_A, "--out", str(png), "--plane", "VISx_9", "--stats")
    assert bad.code != 0 and "VISx_9" in bad.err and bad.err.count("HTTP requests") == 1


def test_behavior_window_keeps_samples_from_start_up_to_stop(run):
    whole = _strict_json(run("behavior", EPHYS_COMPLETE, "--json").out)
    cut = run("behavior", EPHYS_COMPLETE, "--start", "1", "--stop", "2", "--json")
    assert cut.code == 0, cut.err
    times = [row["time"] for row in _strict_json(cut.out)]
    assert times == [row["time"] for row in whole if 1 <= row["time"] < 2] and times


def test_nwb_sizes_are_human(run, world):
    result = run("nwb", EPHYS_COMPLETE)
    assert result.code == 0, result.err
    assert re.search(r"\d+\.\d (kB|MB|GB) \([\d,]+ bytes\)", result.out), result.out
    assert "Complete NWBs" in result.out and "Partial NWBs" in result.out


def test_changed_spreadsheet_refreshes_the_catalog(run, mirror, tmp_path):
    first = run("sessions", "--json")
    assert first.code == 0, first.err
    sheet = tmp_path / "other.csv"
    lines = Path(mirror.spreadsheet).read_text().splitlines()
    sheet.write_text("\n".join(lines[:2]) + "\n")
    second = run("sessions", "--spreadsheet", str(sheet), "--json")
    assert second.code == 0, second.err
    assert "spreadsheet changed" in second.err
    assert len(_strict_json(second.out)) < len(_strict_json(first.out))


def test_plurals_and_one_size_style(run, world):
    asset = world.session(EPHYS_REPROCESSED).current("sorted")
    result = run("ls", f"{asset.name}/data_description.json", "-l")
    assert result.code == 0, result.err
    assert "1 entry," in result.out and "entries" not in result.out
    assert " KB" not in result.out
