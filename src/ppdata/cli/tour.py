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

from .app import App, common_options, pass_app
from .progress import world_bar
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
    with world_bar() as world:
        mirror = start_mirror(
            app.settings.cache_dir, size=size, bucket=app.settings.bucket, world_callback=world
        )
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
    from ..find.assets import AssetKind, find_assets
    from ..find.spreadsheet import read_spreadsheet
    from ..session import Session
    from .data import qc_statuses

    settings = app.settings
    if not settings.spreadsheet:
        raise click.UsageError("the tour needs the tracking spreadsheet: pass --spreadsheet")
    client = app.client
    _heading("1. Find a session in the tracking spreadsheet")
    sheet = read_spreadsheet(settings.spreadsheet)
    from .render import plural

    click.echo(f"{plural(len(sheet.table), 'session')} listed in {sheet.source}")
    chosen = session or _pick_session(app, sheet)
    row = sheet.table[sheet.table["session"] == chosen]
    if len(row):
        r = row.iloc[0]
        click.echo(
            f"Session {chosen}: QC status {r['qc_status'] or 'not set'}; notes: {r['notes'] or '-'}"
        )

    _heading(f"2. Its assets on s3://{settings.bucket}/")
    assets = find_assets(chosen, client=client)
    statuses = qc_statuses(app, assets)
    emit_table(
        [{**a.to_dict(), "qc": statuses.get(a.name)} for a in assets],
        ["kind", "name", "processed", "current", "qc"],
    )
    _requests(app)

    out_dir.mkdir(parents=True, exist_ok=True)
    s = Session(chosen, client=client)
    kinds = {a.kind for a in assets}
    if kinds & {AssetKind.SORTED, AssetKind.NWB}:
        _ephys(app, s, out_dir)
    ophys_session = chosen
    if AssetKind.PLANAR_OPHYS not in kinds:
        ophys_session = _first_with(app, sheet, AssetKind.PLANAR_OPHYS) or ""
    if ophys_session:
        _ophys(app, Session(ophys_session, client=client), out_dir)
    stimulus_session = chosen
    if AssetKind.NWB not in kinds:
        stimulus_session = _first_with(app, sheet, AssetKind.NWB) or ""
    if stimulus_session:
        _responses(app, Session(stimulus_session, client=client), out_dir)

    _heading("7. What a download would fetch (dry run)")
    from ..transfer.api import plan_download

    plan = plan_download(
        chosen, client=client, dest=Path("data"), kinds=["sorted"], include=["nwb/*"]
    )
    click.echo(
        f"`ppdata download {chosen} --kind sorted --include 'nwb/*' --dest data` would fetch "
        f"{plan.count:,} files ({_size(plan.total_bytes)}), each verified by "
        f"{'/'.join(sorted(str(c) for c in plan.checks))} before it gets its final name."
    )
    whole = plan_download(chosen, client=client, dest=Path("data"))
    click.echo(
        f"The whole session is {whole.count:,} files ({_size(whole.total_bytes)}); on the real "
        "bucket raw Neuropixels data is hundreds of GB, so streaming the NWB (as above) is "
        "usually what you want."
    )
    _heading("Done")
    click.echo(f"Plots are in {out_dir}/. Try: ppdata --help")


def _size(n: int) -> str:
    from .render import format_bytes

    return format_bytes(n)


def _requests(app: App) -> None:
    stats = app.client.stats.snapshot()
    from .render import format_bytes, plural

    click.echo(f"({plural(stats.requests, 'HTTP request')} so far, {format_bytes(stats.bytes)})")


def _first_with(app: App, sheet: Any, kind: Any) -> str | None:
    """The first spreadsheet session on S3 that has an asset of ``kind``."""
    from ..errors import SessionNotFound
    from ..find.assets import find_assets

    for name in sheet.sessions:
        try:
            if any(a.kind is kind for a in find_assets(name, client=app.client)):
                return str(name)
        except SessionNotFound:
            continue
    return None


def _ephys(app: App, s: Any, out_dir: Path) -> None:
    from ..plots.make import make_plot

    _heading("3. Open its NWB and summarise the units")
    for location in s.nwb_locations()[:1]:
        nwb = s.nwb(location.asset.kind)
        click.echo(f"Opened {location.uri} ({nwb.format.value}, streamed, nothing downloaded)")
    units = s.units()
    table = units.groupby(["probe", "label"]).size().unstack(fill_value=0)
    emit_table(
        [
            {"probe": p, **{str(k): int(v) for k, v in r.items()}, "total": int(r.sum())}
            for p, r in table.iterrows()
        ],
        title=f"{len(units)} units by probe and label",
    )
    passing = int(units["default_qc"].sum()) if "default_qc" in units else 0
    click.echo(f"{passing} of {len(units)} units pass the default QC")
    _requests(app)
    _heading("4. Plots")
    for kind in ("raster", "unit-quality"):
        click.echo(f"Wrote {make_plot(kind, s, out_dir / f'{kind}.png')}")


def _ophys(app: App, s: Any, out_dir: Path) -> None:
    from ..plots.make import make_plot

    _heading(f"5. ΔF/F of a Mesoscope session: {s.name}")
    planes = s.planes()
    emit_table(planes.reset_index().to_dict("records"), title="Imaging planes")
    plane = str(planes.index[0])
    dff = s.dff(plane, 0.0, 60.0)
    stats = dff.describe().T
    click.echo(
        f"{plane}: {dff.shape[1]} ROIs x {dff.shape[0]} frames (first 60 s); mean ΔF/F "
        f"{stats['mean'].mean():.3f}, most active ROI {stats['max'].idxmax()} "
        f"(peak {stats['max'].max():.2f})"
    )
    _requests(app)
    for kind in ("dff", "rois"):
        click.echo(f"Wrote {make_plot(kind, s, out_dir / f'{kind}_{plane}.png', plane=plane)}")


def _responses(app: App, s: Any, out_dir: Path) -> None:
    """Stimulus blocks of a complete NWB, and every unit's response to deviants vs standards."""
    import numpy as np

    from ..plots.figures import psth_figure

    _heading(f"6. Deviant vs standard stimuli: {s.name}")
    blocks = s.stimuli()
    emit_table(
        blocks.to_dict("records"),
        ["block", "block_type", "start_time", "stop_time", "presentations", "deviants"],
        title="Stimulus blocks",
    )
    psth = s.aligned_spikes(to="deviant", vs="standard")
    trials = dict(psth.attrs.get("trials", {}))
    response = psth.sel(time=slice(0.0, 0.35)).mean("time") - psth.sel(time=slice(-0.25, 0.0)).mean(
        "time"
    )
    deviant, standard = (np.asarray(response.sel(condition=c)) for c in ("deviant", "standard"))
    stronger = int(np.sum(deviant > standard + 1.0))
    click.echo(
        f"{psth.sizes['unit']:,} units aligned to {trials.get('deviant', 0):,} deviant and "
        f"{trials.get('standard', 0):,} standard presentations (spike times fetched in bulk); "
        f"{stronger:,} units fire at least 1 spike/s more after deviants in the first 350 ms"
    )
    _requests(app)
    out = out_dir / "psth_deviant_vs_standard.png"
    psth_figure(psth, out, title=f"{s.name}: deviant vs standard")
    click.echo(f"Wrote {out}")


def _pick_session(app: App, sheet: Any) -> str:
    """The first Neuropixels session of the spreadsheet that has assets on S3."""
    from ..errors import SessionNotFound
    from ..find.assets import find_assets

    candidates = sorted(sheet.sessions, key=lambda s: not s.startswith("ecephys_"))
    for name in candidates:
        try:
            find_assets(name, client=app.client)
        except SessionNotFound:
            click.echo(f"  {name}: listed in the spreadsheet, not on S3 (yet)")
            continue
        return name
    raise click.ClickException("no session of the spreadsheet is on S3")


def register(cli: click.Group) -> None:
    cli.add_command(tour)
