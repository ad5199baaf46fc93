"""``ppdata metadata``, ``ppdata qc`` and ``ppdata portal``: what the JSON files say."""

from __future__ import annotations

from typing import Any

import click

from .app import App, common_options, json_option, pass_app
from .nwb import asset_version_option
from .render import console, emit_json, emit_table


def _resolve_assets(app: App, name: str, kinds: tuple[str, ...] = ()) -> list[Any]:
    """A session name gives its current assets (of ``kinds``); an asset name gives itself."""
    from ..find.assets import find_assets
    from ..naming import NameKind, parse_name

    parsed = parse_name(name)
    if parsed.kind is NameKind.RAW:
        assets = [a for a in find_assets(name, client=app.client) if a.current]
        return [a for a in assets if not kinds or str(a.kind) in kinds]
    from ..find.assets import get_asset

    return [get_asset(parsed.name, client=app.client)]


def _with_utc(local: Any, utc: Any) -> str | None:
    """``2025-11-12 14:34:33-08:00 (22:34:33 UTC)``: the time as written, and in UTC."""
    if local is None:
        return None
    text = local.isoformat(sep=" ")
    if utc is None or local.utcoffset() is None:
        return f"{text} (no time zone)"
    if not local.utcoffset():
        return f"{text} (UTC)"
    return f"{text} ({utc.strftime('%Y-%m-%d %H:%M:%S')} UTC)"


@click.command("metadata")
@click.argument("name", metavar="SESSION_OR_ASSET")
@json_option
@click.option("--raw", "show_raw", is_flag=True, help="Print the documents as stored (JSON).")
@common_options
@pass_app
def metadata_command(app: App, name: str, as_json: bool, show_raw: bool) -> None:
    """Subject, session, rig and processing metadata of an asset (schema v1 or v2).

    For a session, the raw asset's metadata.
    """
    from ..meta.metadata import get_metadata
    from ..naming import NameKind, parse_name

    parsed = parse_name(name)
    asset = parsed.name if parsed.kind is not NameKind.RAW else parsed.raw_name
    meta = get_metadata(asset, client=app.client)
    for warning in meta.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for error in meta.errors:
        click.echo(f"Error: {error}", err=True)
    if show_raw:
        emit_json(dict(meta.raw))
        return
    if as_json:
        emit_json(meta.as_dict())
        return
    fields = [
        ("asset", meta.name),
        ("project", meta.project_name),
        ("data level", meta.data_level),
        ("platform", meta.platform),
        ("modalities", ", ".join(meta.modalities)),
        ("subject", meta.subject_id),
        ("sex", meta.sex),
        ("genotype", meta.genotype),
        ("date of birth", meta.date_of_birth),
        ("species", meta.species),
        ("session start", _with_utc(meta.session_start, meta.session_start_utc)),
        ("session end", meta.session_end),
        ("created", _with_utc(meta.creation_time, meta.creation_time_utc)),
        ("session type", meta.session_type),
        ("rig / instrument", meta.instrument_id),
        ("input data", meta.input_data_name),
        ("process", meta.process_name),
        ("schema versions", ", ".join(f"{k} {v}" for k, v in meta.schema_versions.items())),
    ]
    emit_table(
        [{"field": k, "value": v} for k, v in fields if v not in (None, "")],
        ["field", "value"],
        title=f"Metadata of {meta.name or asset}",
    )
    if meta.stimulus_epochs:
        emit_table(
            [
                {"stimulus": e.name, "start": e.start, "end": e.end, "seconds": e.duration_s}
                for e in meta.stimulus_epochs
            ],
            title="Stimulus epochs",
        )
    if meta.processing:
        emit_table(
            [
                {"step": p.name, "version": p.code_version, "code": p.code_url, "start": p.start}
                for p in meta.processing
            ],
            title="Processing",
        )
    if meta.errors:
        raise SystemExit(1)


@click.command("qc")
@click.argument("name", metavar="SESSION_OR_ASSET")
@json_option
@click.option("--failing", is_flag=True, help="Only metrics that are not Pass.")
@click.option("--figures", is_flag=True, help="List the QC figures of sorted assets per probe.")
@common_options
@pass_app
def qc_command(app: App, name: str, as_json: bool, failing: bool, figures: bool) -> None:
    """Quality control of a session's current assets (or of one asset)."""
    from ..errors import MetadataError
    from ..meta.qc import get_session_quality_control, qc_figures, session_status

    assets = _resolve_assets(app, name)
    found = get_session_quality_control([a.name for a in assets], client=app.client)
    overall = session_status(found)
    tables, statuses, errors = [], {}, {}
    probe_tables: dict[str, list[dict[str, Any]]] = {}
    for asset_name, qc in found.items():
        if isinstance(qc, MetadataError):
            errors[asset_name] = str(qc)
            continue
        if qc is None:
            statuses[asset_name] = None
            continue
        statuses[asset_name] = str(qc.status) if qc.status else None
        per_probe = qc.by_probe()
        if len(per_probe):
            probe_tables[asset_name] = per_probe.to_dict("records")
        table = qc.failing() if failing else qc.table
        tables.append(table.assign(asset=asset_name))
    figure_map: dict[str, dict[str, list[str]]] = {}
    if figures:
        for a in assets:
            if str(a.kind) == "sorted":
                keys = [o.key for o in app.client.iter_objects(f"{a.name}/quality_control/")]
                figure_map[a.name] = qc_figures(keys)
    if as_json:
        import pandas as pd

        rows = pd.concat(tables).to_dict("records") if tables else []
        emit_json(
            {
                "session_status": overall,
                "assets": statuses,
                "errors": errors,
                "metrics": rows,
                "probes": probe_tables,
                "figures": figure_map,
            }
        )
        return
    emit_table(
        [{"asset": k, "status": v or "no QC file"} for k, v in statuses.items()]
        + [{"asset": k, "status": f"unreadable: {v}"} for k, v in errors.items()],
        title=f"QC of {name}: {overall or 'unknown'}",
    )
    for table in tables:
        if len(table):
            cols = [
                c
                for c in ("stage", "modality", "metric", "status", "probe", "recording", "figure")
                if c in table.columns
            ]
            emit_table(table.to_dict("records"), cols, title=str(table["asset"].iloc[0]))
    for asset_name, per_probe_status in probe_tables.items():
        emit_table(per_probe_status, title=f"QC per probe of {asset_name}")
    for asset_name, per_probe in figure_map.items():
        emit_table(
            [
                {"probe": p, "figures": len(k), "first": k[0] if k else ""}
                for p, k in per_probe.items()
            ],
            title=f"QC figures of {asset_name}",
        )


@click.command("portal")
@click.argument("name", metavar="SESSION_OR_ASSET")
@json_option
@asset_version_option
@common_options
@pass_app
def portal_command(app: App, name: str, as_json: bool, version: str | None) -> None:
    """Sorting-summary and timeseries portal links per probe of a sorted asset."""
    from ..find.assets import find_assets, pick_asset
    from ..meta.portal import get_portal_links
    from ..naming import parse_name

    parsed = parse_name(name)
    if parsed.process == "sorted":
        asset_name = parsed.name
    else:
        asset_name = pick_asset(find_assets(name, client=app.client), "sorted", version).name
    links = get_portal_links(asset_name, client=app.client)
    rows = [
        {
            "probe": link.probe,
            "sorting_summary": link.sorting_summary,
            "timeseries": link.timeseries,
            "recording": link.recording,
        }
        for link in links
    ]
    if as_json:
        emit_json(rows)
        return
    out = console()
    out.print(f"[bold]Sorting portal of {asset_name}")
    for row in rows:
        out.print(f"{row['probe']}:")
        out.print(f"  sorting summary: {row['sorting_summary'] or '(missing)'}", soft_wrap=True)
        out.print(f"  timeseries:      {row['timeseries'] or '(missing)'}", soft_wrap=True)


def register(cli: click.Group) -> None:
    for command in (metadata_command, qc_command, portal_command):
        cli.add_command(command)
