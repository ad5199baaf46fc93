"""``ppdata dandi``: where a session's complete NWB is on DANDI."""

from __future__ import annotations

import click

from .app import App, common_options, json_option, pass_app
from .render import emit_json, emit_table, human_size

dandi_api_option = click.option(
    "--dandi-api-url",
    metavar="URL",
    help="The DANDI API [env PPDATA_DANDI_API_URL; default https://api.dandiarchive.org/api; "
    "the mirror serves one at <endpoint>/api].",
)


@click.command("dandi")
@click.argument("session")
@json_option
@click.option(
    "--dandiset-version", "version", default="draft", show_default=True, help="Dandiset version."
)
@dandi_api_option
@common_options
@pass_app
def dandi_command(
    app: App, session: str, as_json: bool, version: str, dandi_api_url: str | None
) -> None:
    """Find SESSION's complete NWB on DANDI: dandiset, version, path, size and URL.

    Neuropixels sessions are in 001637, Mesoscope in 001768, SLAP2 in 001424. Stream it
    with `ppdata.open_session(SESSION, source="dandi")`, download it with
    `ppdata download SESSION --source dandi`.
    """
    from ..dandi import find_dandi_asset

    settings = app.settings
    if dandi_api_url:
        settings = settings.with_(dandi_api_url=dandi_api_url.rstrip("/"))
    found = find_dandi_asset(session, settings=settings, version=version)
    if as_json:
        emit_json(found.to_dict())
        return
    emit_table(
        [
            {"field": "dandiset", "value": f"DANDI:{found.dandiset}"},
            {"field": "version", "value": found.version},
            {"field": "path", "value": found.path},
            {"field": "size", "value": f"{human_size(found.size)} ({found.size:,} bytes)"},
            {"field": "url", "value": found.download_url},
            {"field": "s3 url", "value": found.s3_url},
            {"field": "matched by", "value": found.matched_by},
        ],
        title=f"{found.session} on DANDI",
    )


def register(cli: click.Group) -> None:
    cli.add_command(dandi_command)
