"""``ppdata download``: exactly what you need, parallel, resumable, verified."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .app import App, common_options, pass_app
from .progress import progress_bar
from .render import emit_json, emit_table, format_bytes, plural

KINDS = ["raw", "sorted", "planar-ophys", "behavior-videos", "behavior-timing", "nwb", "ccf"]


@click.command("download")
@click.argument("target", required=False)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="For a session: only assets of this kind (repeatable).",
)
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Only files matching GLOB (path inside the asset, e.g. 'nwb/*'; repeatable).",
)
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out files matching GLOB.")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Destination folder; the bucket's layout is kept below it.",
)
@click.option(
    "--existing",
    type=click.Choice(["skip", "overwrite", "refresh", "error"]),
    default="skip",
    show_default=True,
    help="Files already there: skip verified ones, overwrite, refresh if changed on "
    "the server, or stop with an error.",
)
@click.option(
    "--all-versions",
    is_flag=True,
    help="Every reprocessed version, not just the current asset of each kind.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 256),
    default=None,
    help="Concurrent transfers [default: settings' max workers].",
)
@click.option("--dry-run", is_flag=True, help="List what would be fetched and stop.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before a large download.")
@click.option(
    "--confirm-above",
    type=float,
    default=10.0,
    show_default=True,
    metavar="GB",
    help="Ask before downloading more than this.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; only errors and the summary.")
@click.option(
    "--verify",
    "verify_dest",
    type=click.Path(file_okay=False, path_type=Path),
    help="Re-check the files of an earlier download in this folder and stop.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the plan (--dry-run) or the summary as JSON."
)
@click.option(
    "--source",
    type=click.Choice(["s3", "dandi"]),
    default="s3",
    show_default=True,
    help="dandi: download the session's complete NWB from DANDI (to DEST/<DANDI path>).",
)
@click.option(
    "--dandi-api-url",
    metavar="URL",
    help="The DANDI API [env PPDATA_DANDI_API_URL; default https://api.dandiarchive.org/api].",
)
@common_options
@pass_app
def download_command(
    app: App,
    target: str | None,
    kinds: tuple[str, ...],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    dest: Path,
    existing: str,
    all_versions: bool,
    jobs: int | None,
    dry_run: bool,
    yes: bool,
    confirm_above: float,
    quiet: bool,
    verify_dest: Path | None,
    as_json: bool,
    source: str,
    dandi_api_url: str | None,
) -> None:
    """Download TARGET: a session (current assets, or --kind), an asset, asset/sub/path, or
    an s3:// URL. Files land in DEST/<key>, verified (MD5 or size) before they get their
    final name; an interrupted download resumes where it stopped.
    """
    from ..transfer.api import download, plan_download, verify
    from ..transfer.engine import DEFAULT_PART_SIZE

    if verify_dest is not None:
        with progress_bar("Verifying", in_bytes=True, quiet=as_json) as bar:
            report = verify(verify_dest, callback=bar)
        _show_verify(report, as_json)
        return
    if not target:
        raise click.UsageError("give a TARGET (session, asset, asset/path or s3:// URL)")
    client = app.client
    try:
        if source == "dandi":
            from ..dandi import find_dandi_asset, plan_dandi_download

            settings = app.settings
            if dandi_api_url:
                settings = settings.with_(dandi_api_url=dandi_api_url.rstrip("/"))
            plan, client = plan_dandi_download(
                find_dandi_asset(target, settings=settings), dest=dest, settings=settings
            )
        else:
            plan = plan_download(
                target,
                client=app.client,
                dest=dest,
                kinds=kinds or None,
                include=include,
                exclude=exclude,
                versions="all" if all_versions else "current",
                # a one-object target's first part comes beside its listing (not for a
                # dry run, which fetches nothing)
                fetch_ahead=0 if dry_run else DEFAULT_PART_SIZE,
            )
    except KeyboardInterrupt:
        _interrupted(app, None, None, _resume_command(app, locals()))
    for warning in plan.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for refused in plan.refused:
        click.echo(f"Refused: {refused.key}: {refused.reason}", err=True)
    checks = ", ".join(f"{n} by {c}" for c, n in sorted(plan.checks.items()))
    origin = plan.target if source == "dandi" else f"s3://{plan.bucket}/"
    headline = (
        f"{plural(plan.count, 'file')}, {format_bytes(plan.total_bytes)} from "
        f"{origin} into {plan.dest} (checks: {checks or 'none'})"
    )
    if dry_run:
        if as_json:
            emit_json(plan.to_dict())
            return
        where = (lambda f: str(f.path)) if source == "dandi" else (lambda f: f.key)
        emit_table(
            [
                {"size": format_bytes(f.size), "check": str(f.check), "key": where(f)}
                for f in plan.files
            ],
            ["size", "check", "key"],
            caption=headline,
        )
        click.echo(f"Dry run: would download {headline}")
        return
    if not quiet:
        click.echo(f"Downloading {headline}", err=True)
    if plan.needs_confirmation(int(confirm_above * 1e9)) and not yes:
        message = plan.confirmation_message()
        if not sys.stdin.isatty():
            raise click.ClickException(f"{message}. Pass --yes to go ahead")
        click.confirm(f"{message[0].upper()}{message[1:]}. Continue?", abort=True, err=True)
    try:
        with progress_bar("Files", in_bytes=True, transient=False, quiet=quiet) as bar:
            summary = download(plan, client=client, existing=existing, jobs=jobs, callback=bar)
    except KeyboardInterrupt as exc:
        _interrupted(app, plan, getattr(exc, "summary", None), _resume_command(app, locals()))
    for note in summary.notes:
        click.echo(f"Note: {note}", err=True)
    for kept in summary.kept[:10]:
        click.echo(f"Kept: {kept.path} {kept.message}", err=True)
    if len(summary.kept) > 10:
        click.echo(f"Kept: ... and {len(summary.kept) - 10:,} more such files", err=True)
    if as_json:
        emit_json(summary.to_dict())
    else:
        checks_done = ", ".join(f"{n} by {c}" for c, n in sorted(summary.checks.items()))
        click.echo(f"{summary.describe()}; verified: {checks_done or 'nothing'}")
    summary.raise_for_failures()


def _resume_command(app: App, given: dict[str, Any]) -> str:
    """The command line that picks up an interrupted download where it stopped."""
    import shlex

    words = ["ppdata", "download", given["target"], "--dest", str(given["dest"])]
    for kind in given["kinds"]:
        words += ["--kind", kind]
    for glob in given["include"]:
        words += ["--include", glob]
    for glob in given["exclude"]:
        words += ["--exclude", glob]
    if given["all_versions"]:
        words.append("--all-versions")
    if given["existing"] != "skip":
        words += ["--existing", given["existing"]]
    if given.get("source", "s3") != "s3":
        words += ["--source", given["source"]]
    if given.get("dandi_api_url"):
        words += ["--dandi-api-url", given["dandi_api_url"]]
    for name in ("endpoint_url", "bucket"):
        if app.options.get(name):
            words += [f"--{name.replace('_', '-')}", str(app.options[name])]
    words.append("--yes")
    return shlex.join(words)


def _interrupted(app: App, plan: Any, summary: Any, resume: str) -> None:
    """Say what an interrupted download finished, and how to resume; exit 130."""
    if plan is None:
        click.echo("Interrupted while listing what to download; nothing was written.", err=True)
    elif summary is not None:
        done = len(summary.fetched) + len(summary.skipped)
        click.echo(
            f"Interrupted: {done:,} of {plural(plan.count, 'file')} are complete in "
            f"{plan.dest} ({len(summary.fetched):,} fetched in this run, "
            f"{format_bytes(summary.bytes_transferred)}); partial files are kept.",
            err=True,
        )
    else:
        click.echo("Interrupted before any file finished; nothing is lost.", err=True)
    click.echo(f"Resume with: {resume}", err=True)
    raise SystemExit(130)


def _show_verify(report: Any, as_json: bool) -> None:
    problems = list(getattr(report, "problems", []))
    if as_json:
        emit_json(report.to_dict())
    else:
        for p in problems:
            click.echo(str(p))
        checks = ", ".join(f"{n} by {c}" for c, n in sorted(report.checks.items()))
        click.echo(
            f"{plural(report.checked, 'file')} checked in {report.dest} ({checks or 'none'}): "
            f"{plural(len(problems), 'problem')}"
            + ("; re-run the download to fetch them again" if problems else "")
        )
    if problems:
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    cli.add_command(download_command)
