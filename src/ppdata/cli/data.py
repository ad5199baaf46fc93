"""``ppdata name``, ``ppdata assets`` and ``ppdata ls``: names, assets and keys."""

from __future__ import annotations

from typing import Any

import click

from .app import App, common_options, json_option, pass_app
from .render import emit_json, emit_table, format_bytes, plural


@click.command("name")
@click.argument("names", nargs=-1, required=True)
@json_option
@common_options
def name_command(names: tuple[str, ...], as_json: bool) -> None:
    """Parse and check session or asset NAMES (no network)."""
    from ..naming import parse_name

    rows = []
    for text in names:
        n = parse_name(text)
        rows.append(
            {
                "name": n.name,
                "kind": str(n.kind),
                "platform": n.platform,
                "subject_id": n.subject_id,
                "acquired": n.acquired,
                "process": n.process,
                "processed": n.processed,
                "raw_name": n.raw_name,
            }
        )
    if as_json:
        emit_json(rows)
    else:
        emit_table(rows)


def _suggester(app: App) -> Any:
    """Did-you-mean from the local catalog, if there is one (never fails)."""

    def suggest(name: str) -> list[str]:
        import sqlite3

        from ..errors import PpdataError
        from ..find.catalog import Catalog

        if not app.settings.catalog_path.exists():
            return []  # no catalog yet: do not create one just to suggest names
        try:
            return Catalog(app.settings).suggest(name)
        except (PpdataError, OSError, sqlite3.Error):  # a nicety here, never a failure
            return []

    return suggest


@click.command("assets")
@click.argument("session")
@json_option
@click.option("--qc/--no-qc", "with_qc", default=True, help="Show each asset's QC status.")
@common_options
@pass_app
def assets_command(app: App, session: str, as_json: bool, with_qc: bool) -> None:
    """List the assets of SESSION (a raw or any derived name) with their kinds.

    Mesoscope `_processed_` assets are told apart by their contents. The newest asset of
    each kind is marked current; older ones are reprocessing versions you can still pick.
    """
    from ..find.assets import find_assets

    assets = find_assets(session, client=app.client, suggest=_suggester(app))
    statuses: dict[str, str | None] = {}
    if with_qc:
        statuses = qc_statuses(app, assets)
    rows = []
    for a in assets:
        row = a.to_dict()
        if with_qc:
            row["qc"] = statuses.get(a.name)
        rows.append(row)
    if as_json:
        emit_json(rows)
        return
    columns = ["kind", "name", "processed", "current"] + (["qc"] if with_qc else [])
    emit_table(
        rows,
        columns,
        title=f"Assets of {assets[0].session}",
        caption=f"s3://{app.client.bucket}/ at {app.settings.where}",
    )


def qc_statuses(app: App, assets: list[Any]) -> dict[str, str | None]:
    """Overall QC status per asset, from its quality_control.json (one concurrent fetch)."""
    from ..errors import MetadataError
    from ..meta.qc import get_session_quality_control

    found = get_session_quality_control([a.name for a in assets], client=app.client)
    out: dict[str, str | None] = {}
    for name, qc in found.items():
        if isinstance(qc, MetadataError):
            out[name] = "unreadable"
        else:
            out[name] = str(qc.status) if qc is not None and qc.status else None
    return out


@click.command("ls")
@click.argument("path")
@click.option("-r", "--recursive", is_flag=True, help="List every key below PATH.")
@click.option("-l", "--long", "long_", is_flag=True, help="Show sizes and dates.")
@json_option
@common_options
@pass_app
def ls_command(app: App, path: str, recursive: bool, long_: bool, as_json: bool) -> None:
    """List PATH: a session, an asset, asset/sub/path, or an s3:// URL of the bucket."""
    from ..find.listing import list_path

    entries = list_path(path, client=app.client, recursive=recursive)
    if as_json:
        emit_json([e.to_dict() for e in entries])
        return
    if not long_:
        for e in entries:
            click.echo(e.display)
        return
    rows = [
        {
            "size": "" if e.is_folder else format_bytes(e.size),
            "modified": e.last_modified,
            "name": e.display,
        }
        for e in entries
    ]
    total = sum(e.size or 0 for e in entries)
    emit_table(
        rows,
        ["size", "modified", "name"],
        caption=f"{plural(len(entries), 'entry', 'entries')}, {format_bytes(total)}",
    )


def register(cli: click.Group) -> None:
    for command in (name_command, assets_command, ls_command):
        cli.add_command(command)
