"""``ppdata sessions`` and ``ppdata catalog refresh|info``: the local session catalog."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from .app import App, common_options, json_option, pass_app
from .progress import progress_bar
from .render import emit_json, emit_table, format_bytes, plural

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..find.catalog import SessionFilters

#: Availability-matrix columns of the people's table: kind -> short header.
_MATRIX = {
    "raw": "raw",
    "sorted": "sorted",
    "planar-ophys": "planar",
    "behavior-videos": "videos",
    "behavior-timing": "timing",
    "nwb": "nwb",
    "ccf": "ccf",
}
_STALE = timedelta(days=1)


@contextlib.contextmanager
def _catalog(app: App) -> Iterator[Any]:
    """The catalog, with its rebuild warnings printed once, as one line each, on stderr."""
    from ..find.catalog import Catalog, CatalogWarning

    catalog = Catalog(app.settings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CatalogWarning)
            yield catalog
    finally:
        for message in catalog.warnings:
            click.echo(f"Warning: {message}", err=True)


def _split(values: tuple[str, ...]) -> list[str]:
    """Repeated options, each of which may also hold a comma-separated list."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _refresh(
    app: App, catalog: Any, sessions: list[str] | None = None, *, full: bool = False
) -> Any:
    with progress_bar("Refreshing the catalog", unit="requests") as bar:
        report = catalog.refresh(sessions, client=app.client, full=full, callback=bar)
    click.echo(_summary(report, app), err=True)
    for message in report.warnings:
        click.echo(f"Warning: {message}", err=True)
    return report


def _summary(report: Any, app: App) -> str:
    parts = [
        f"{len(report.new)} new",
        f"{len(report.changed)} changed",
        f"{report.unchanged} unchanged",
    ]
    if report.missing:
        parts.append(f"{len(report.missing)} missing from S3")
    if report.discovered:
        parts.append(f"{len(report.discovered)} found on S3 but not in the spreadsheet")
    if report.removed:
        parts.append(f"{len(report.removed)} removed")
    return (
        f"Catalog refreshed from {app.settings.where}: {plural(report.sessions, 'session')} "
        f"({', '.join(parts)}); {plural(report.requests, 'request')} in {report.seconds:.1f} s"
    )


def _age_text(catalog: Any) -> str:
    from ..find.catalog import format_age

    info = catalog.info()
    text = f"catalog refreshed {format_age(info.age)}"
    if info.age is not None and info.age > _STALE:
        text += " (run `ppdata catalog refresh` to update)"
    return text


def _spreadsheet_changed(app: App, catalog: Any) -> str | None:
    """How the configured spreadsheet differs from the one the catalog was built from."""
    wanted = app.settings.spreadsheet
    if not wanted or catalog.is_empty:
        return None
    built = catalog.info().spreadsheet
    if built == wanted:
        return None
    return f"the catalog was built from {built or 'no spreadsheet'}, now {wanted}"


@click.command("sessions")
@click.option(
    "-p",
    "--platform",
    multiple=True,
    metavar="NAME",
    help="ecephys/neuropixels, multiplane-ophys/mesoscope or SLAP2 (repeatable).",
)
@click.option("--subject", multiple=True, metavar="ID", help="Subject (mouse) id (repeatable).")
@click.option("--since", metavar="DATE", help="Acquired on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Acquired on or before DATE (YYYY-MM-DD).")
@click.option(
    "--qc",
    multiple=True,
    metavar="STATUS",
    help="Spreadsheet QC status: Pass, Fail, Pending or none (repeatable; case does not "
    "matter; other values are refused unless the spreadsheet has them).",
)
@click.option(
    "--has",
    multiple=True,
    metavar="KIND",
    help="Only sessions with an asset of KIND: raw, sorted, planar-ophys, "
    "behavior-videos, behavior-timing, nwb, ccf (repeatable or comma-separated; "
    "all must be there).",
)
@click.option("-s", "--search", metavar="TEXT", help="Text in the name, subject or notes.")
@click.option(
    "--on-s3/--missing",
    "on_s3",
    default=None,
    help="Only sessions on S3, or only those listed but missing from it.",
)
@click.option("--refresh", is_flag=True, help="Refresh the catalog first (needs the network).")
@json_option
@common_options
@pass_app
def sessions_command(
    app: App, refresh: bool, as_json: bool, **filters: Unpack[SessionFilters]
) -> None:
    """List sessions from the local catalog: the tracking spreadsheet joined with S3.

    The catalog is read from disk, so this works offline; its age is shown. It is filled
    on first use and with --refresh (or `ppdata catalog refresh`).
    """
    from ..find.catalog import session_records

    with _catalog(app) as catalog:
        changed = _spreadsheet_changed(app, catalog)
        if refresh or changed or catalog.is_empty:
            if changed and not refresh:
                click.echo(
                    f"The spreadsheet changed ({changed}); refreshing the catalog ...", err=True
                )
            elif not refresh:
                click.echo(
                    f"The catalog is empty; filling it from {app.settings.where} ...", err=True
                )
            _refresh(app, catalog)
        # a repeated option (a tuple) may also hold comma-separated values
        split = {k: _split(v) or None if isinstance(v, tuple) else v for k, v in filters.items()}
        frame = catalog.sessions(**split)
        records = session_records(frame)
        age = _age_text(catalog)
    if as_json:
        emit_json(records)
        click.echo(age, err=True)
        return
    rows = []
    for r in records:
        row = {
            key: r[key]
            for key in ("session", "modality", "subject", "qc_status", "asset_qc_status", "notes")
        }
        row["acquired"] = (r["acquired"] or "").replace("T", " ")
        row["s3"] = "yes" if r["on_s3"] else "missing"
        row.update({kind: "✓" if kind in r["kinds"] else "·" for kind in _MATRIX})
        rows.append(row)
    columns = [
        "session",
        "modality",
        "subject",
        "acquired",
        "qc_status",
        "asset_qc_status",
        "s3",
        *_MATRIX,
        "notes",
    ]
    headers = {"qc_status": "QC", "asset_qc_status": "asset QC", "s3": "on S3", **_MATRIX}
    emit_table(
        rows,
        columns,
        headers=headers,
        title="Sessions",
        caption=f"{plural(len(rows), 'session')} · {age}",
    )


@click.group("catalog")
def catalog_group() -> None:
    """The local session catalog (SQLite, in the cache dir): refresh it, see its state."""


@catalog_group.command("refresh")
@click.argument("sessions", nargs=-1)
@click.option(
    "--full",
    is_flag=True,
    help="Re-read every asset (kinds and QC), not only new or changed sessions.",
)
@json_option
@common_options
@pass_app
def refresh_command(app: App, sessions: tuple[str, ...], full: bool, as_json: bool) -> None:
    """Bring the catalog up to date with the spreadsheet and S3.

    Only sessions whose assets changed are read again; name SESSIONS to refresh only those
    (they are added if the catalog does not have them yet).
    """
    from ..errors import SessionNotFound

    with _catalog(app) as catalog:
        report = _refresh(app, catalog, list(sessions) or None, full=full)
        hints = {name: catalog.suggest(name) for name in report.not_found}
    for name, close in hints.items():
        hint = f"; did you mean: {', '.join(close)}" if close else ""
        click.echo(f"Warning: {name} is neither on S3 nor in the spreadsheet{hint}", err=True)
    if sessions and report.not_found and not report.sessions:
        raise SessionNotFound(
            f"none of the sessions given exist in s3://{app.settings.bucket}/ at "
            f"{app.settings.where}"
        )
    if as_json:
        emit_json(report.to_dict())


@catalog_group.command("info")
@json_option
@common_options
@pass_app
def info_command(app: App, as_json: bool) -> None:
    """Where the catalog is, its schema version, size, sessions and age (no network)."""
    from ..find.catalog import format_age

    with _catalog(app) as catalog:
        info = catalog.info()
    if as_json:
        emit_json(info.to_dict())
        return
    last = info.last_refresh.strftime("%Y-%m-%d %H:%M:%S UTC") if info.last_refresh else "never"
    rows = [
        ("path", str(info.path)),
        ("schema version", info.schema_version),
        ("sessions", f"{info.sessions} ({info.on_s3} on S3, {info.missing} missing from S3)"),
        ("last refresh", last),
        ("age", format_age(info.age) + (" (oldest row)" if info.age is not None else "")),
        ("size", format_bytes(info.size_bytes)),
        ("bucket", f"s3://{info.bucket}/ at {info.endpoint}"),
        ("spreadsheet", info.spreadsheet or "(none)"),
    ]
    emit_table([{"field": k, "value": v} for k, v in rows], ["field", "value"], title="Catalog")


def register(cli: click.Group) -> None:
    for command in (sessions_command, catalog_group):
        cli.add_command(command)
