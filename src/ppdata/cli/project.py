"""``ppdata project ...``: project-wide tables over every session, made on a Dask cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .app import App, bundle, common_options, file_option, pass_app
from .progress import progress_bar
from .render import emit_json, emit_table

_PEOPLE_ROWS = 20


def _ensure_catalog(app: App, refresh: bool) -> bool:
    """Refresh the catalog here, with its progress bar and summary, when asked or when it
    was never filled; the library then only reads it (returns the flag it should get)."""
    from ..find.catalog import Catalog
    from .catalog import _refresh

    catalog = Catalog(app.settings)
    if refresh or catalog.is_empty:
        _refresh(app, catalog)
    return False


def _split(values: tuple[str, ...]) -> list[str] | None:
    parts = [p.strip() for v in values for p in v.split(",") if p.strip()]
    return parts or None


def _compute(app: App, name: str, filters: _Filters, **options: Any) -> Any:
    """Compute (or read from the cache) the project table ``name`` under a progress bar."""
    from ..project import project_table

    with progress_bar(f"Computing {name}", unit="sessions") as bar:
        return project_table(
            name,
            platform=_split(filters.platform),
            subject=_split(filters.subject),
            qc=_split(filters.qc),
            settings=app.settings,
            refresh_catalog=_ensure_catalog(app, filters.refresh_catalog),
            callback=bar,
            **options,
        )


def _summary_with_failures(result: Any) -> str:
    """The result's summary line, then one ``Failed: session: error`` line per failure."""
    note = result.summary()
    if result.failed:
        note += "\n" + "\n".join(f"Failed: {s}: {e}" for s, e in result.failed.items())
    return note


@dataclass(frozen=True)
class _Filters:
    """The session filters every project command takes."""

    platform: tuple[str, ...]
    subject: tuple[str, ...]
    qc: tuple[str, ...]
    refresh_catalog: bool


@dataclass(frozen=True)
class _Outputs:
    """Where a project command writes its table (``_emit``)."""

    as_json: bool
    csv_path: str | None
    parquet_dir: Path | None
    limit: int


def _filters(f: Any) -> Any:
    f = bundle(f, _Filters, "filters")
    options = [
        click.option(
            "--platform", multiple=True, help="Platform(s): neuropixels, mesoscope, SLAP2."
        ),
        click.option("--subject", multiple=True, help="Subject (mouse) id(s)."),
        click.option("--qc", multiple=True, help="Spreadsheet QC status(es): Pass, Fail, Pending."),
        click.option("--refresh-catalog", is_flag=True, help="Refresh the session catalog first."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _outputs(f: Any) -> Any:
    f = bundle(f, _Outputs, "outputs")
    options = [
        click.option("--json", "as_json", is_flag=True, help="Print JSON records for scripts."),
        click.option(
            "--csv", "csv_path", metavar="FILE", help="Write CSV to FILE (`-` for stdout)."
        ),
        click.option(
            "--parquet",
            "parquet_dir",
            type=click.Path(file_okay=False, path_type=Path),
            metavar="DIR",
            help="Write DIR/<table>.parquet.",
        ),
        click.option(
            "--limit",
            type=click.IntRange(0),
            default=_PEOPLE_ROWS,
            show_default=True,
            help="Rows shown in the table for people (0: all).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _emit(
    frame: Any,
    name: str,
    outputs: _Outputs,
    *,
    note: str | None = None,
    people: Sequence[str] | None = None,
) -> None:
    """Write the table where asked; else show it to people: the first ``limit`` rows and,
    for wide tables, the columns that matter (``TableSpec.people``), never cut."""
    as_json, csv_path, parquet_dir = outputs.as_json, outputs.csv_path, outputs.parquet_dir
    limit = outputs.limit
    if parquet_dir is not None:
        parquet_dir.mkdir(parents=True, exist_ok=True)
        target = parquet_dir / f"{name}.parquet"
        frame.to_parquet(target, index=False)
        click.echo(f"Wrote {len(frame)} rows to {target}", err=True)
    if csv_path:
        if csv_path == "-":
            click.echo(frame.to_csv(index=False), nl=False)
        else:
            frame.to_csv(csv_path, index=False)
            click.echo(f"Wrote {len(frame)} rows to {csv_path}", err=True)
    if as_json:
        emit_json(frame.to_dict("records"))
    if as_json or csv_path == "-" or (csv_path or parquet_dir is not None):
        if note:
            click.echo(note, err=True)
        return
    from ..project.tables import TABLES

    if people is None:
        people = TABLES[name].people if name in TABLES else ()
    shown = frame if not limit else frame.head(limit)
    columns = [str(c) for c in frame.columns]
    picked = [c for c in people if c in columns] + (["error"] if "error" in columns else [])
    columns = picked if people and picked else columns
    notes = []
    if len(shown) < len(frame):
        notes.append(f"{len(frame) - len(shown)} more rows (--limit 0 shows all)")
    if len(columns) < frame.shape[1]:
        notes.append(f"{frame.shape[1] - len(columns)} more columns")
    caption = "; ".join(notes) + "; --csv, --json or --parquet write everything" if notes else None
    emit_table(shown.to_dict("records"), columns, caption=caption)
    if note:
        click.echo(note, err=True)


_scheduler_option = click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Dask scheduler, e.g. tcp://host:8786 [env PPDATA_SCHEDULER; default: a local "
    "cluster of worker processes].",
)


def _table_command(name: str, help_text: str) -> click.Command:
    @click.command(name=name, help=help_text)
    @_filters
    @click.option(
        "--where", metavar="EXPR", help="Row filter, e.g. \"label == 'sua' and snr > 3\"."
    )
    @click.option("--session", "sessions", multiple=True, help="Only these session(s).")
    @_scheduler_option
    @click.option("--workers", type=click.IntRange(1), help="Worker processes of a local cluster.")
    @click.option("--recompute", is_flag=True, help="Ignore the cache; compute every session.")
    @_outputs
    @common_options
    @pass_app
    def command(
        app: App,
        filters: _Filters,
        where: str | None,
        sessions: tuple[str, ...],
        scheduler: str | None,
        workers: int | None,
        recompute: bool,
        outputs: _Outputs,
    ) -> None:
        result = _compute(
            app,
            name,
            filters,
            where=where,
            sessions=_split(sessions),
            scheduler=scheduler,
            recompute=recompute,
            workers=workers,
        )
        _emit(result.frame, name, outputs, note=_summary_with_failures(result))

    return command


@click.group(name="project")
def project_group() -> None:
    """Project-wide tables over every session, one Dask task per session, cached.

    The first run computes each session's part on a Dask cluster (a local one by default;
    --scheduler or PPDATA_SCHEDULER for yours) and stores it as Parquet in the cache dir;
    later runs read the cache and recompute only sessions whose assets changed.
    `ppdata project query "SQL"` runs DuckDB over the cached tables.
    """


@project_group.command(name="sessions")
@_filters
@_outputs
@common_options
@pass_app
def sessions_command(
    app: App,
    filters: _Filters,
    outputs: _Outputs,
) -> None:
    """The sessions the project covers, which tables have data for each, and how many rows
    of each are cached."""
    from ..project import project_sessions

    frame = project_sessions(
        platform=_split(filters.platform),
        subject=_split(filters.subject),
        qc=_split(filters.qc),
        settings=app.settings,
        refresh_catalog=_ensure_catalog(app, filters.refresh_catalog),
    )
    people = ["session", "platform", "subject", "acquired", "qc_status"]
    people += [c for c in frame.columns if str(c).endswith("_rows")]
    _emit(frame, "sessions", outputs, people=people)


@project_group.command(name="query")
@click.argument("sql")
@_outputs
@common_options
@pass_app
def query_command(app: App, sql: str, outputs: _Outputs) -> None:
    """Run SQL (DuckDB) over the cached tables: units, rois, stimuli.

    Example: ppdata project query "SELECT probe, label, count(*) AS n FROM units GROUP BY ALL"
    """
    from ..project import query

    frame = query(sql, settings=app.settings)
    _emit(frame, "query", outputs)


@project_group.command(name="yield")
@click.option(
    "--by",
    default="probe,label,brain_area",
    show_default=True,
    help="Grouping columns of the units table.",
)
@file_option(
    "--plot", "plot_path", help="Also draw units per session by probe and label (.png/.svg/.pdf)."
)
@_scheduler_option
@_filters
@_outputs
@common_options
@pass_app
def yield_command(
    app: App,
    by: str,
    plot_path: Path | None,
    scheduler: str | None,
    filters: _Filters,
    outputs: _Outputs,
) -> None:
    """Unit yield over sessions: units per probe × label × brain area (from the units
    table, computed first if needed)."""
    from ..project.results import plot_unit_yield, unit_yield

    result = _compute(app, "units", filters, scheduler=scheduler)
    table = unit_yield(result.frame, tuple(_split((by,)) or ()))
    if plot_path is not None:
        if "probe" not in table or "label" not in table:
            raise click.UsageError("--plot needs --by to include probe and label")
        plot_unit_yield(table, plot_path)
        click.echo(f"Wrote {plot_path}", err=True)
    _emit(table, "yield", outputs, note=result.summary())


@project_group.command(name="responses")
@click.option("--rois", is_flag=True, help="ROIs of Mesoscope sessions instead of units.")
@click.option("--by", default="session", show_default=True, help="Plot one outline per value.")
@file_option("--plot", "plot_path", help="Also draw the index histogram (.png/.svg/.pdf).")
@_scheduler_option
@click.option("--where", metavar="EXPR", help='Row filter, e.g. "n_deviant >= 20".')
@_filters
@_outputs
@common_options
@pass_app
def responses_command(
    app: App,
    rois: bool,
    by: str,
    plot_path: Path | None,
    scheduler: str | None,
    where: str | None,
    filters: _Filters,
    outputs: _Outputs,
) -> None:
    """Deviant-vs-standard response index per unit (or per ROI) across sessions."""
    from ..project.responses import plot_response_index

    name = "roi_responses" if rois else "unit_responses"
    result = _compute(app, name, filters, where=where, scheduler=scheduler)
    if plot_path is not None:
        plot_response_index(result.frame, plot_path, by=by, what="ROIs" if rois else "units")
        click.echo(f"Wrote {plot_path}", err=True)
    _emit(result.frame, name, outputs, note=_summary_with_failures(result))


for _name, _help in (
    ("units", "Every unit of every Neuropixels session: metrics, label, probe, brain area."),
    ("rois", "Every ROI of every Mesoscope session: plane, structure, depth, soma scores."),
    ("stimuli", "Every stimulus presentation of every session, with its table name."),
):
    project_group.add_command(_table_command(_name, _help))


def register(cli: click.Group) -> None:
    cli.add_command(project_group)
