"""``ppdata mirror``: build and serve the synthetic copy of the bucket on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .app import App, common_options, file_option, listen_options, pass_app
from .progress import progress_bar, world_bar

SIZES = click.Choice(["small", "bench"])


@click.group("mirror")
def mirror_group() -> None:
    """A synthetic copy of the bucket, served by a real S3 server on 127.0.0.1."""


@mirror_group.command("build")
@click.option(
    "--size",
    type=SIZES,
    default="small",
    show_default=True,
    help="small: for tests and the tour; bench: adds benchmark-size data (GBs).",
)
@common_options
@pass_app
def build(app: App, size: str) -> None:
    """Build the synthetic world into the cache (once; later calls reuse it)."""
    click.echo(f"Building the {size} synthetic world (first time only) ...", err=True)
    click.echo(str(_world(app, size)))


def _world(app: App, size: str) -> Path:
    """The folder of the world of ``size``, built under a bar the first time, then cached."""
    from ..mirror.world import ensure_world

    with world_bar() as bar:
        return ensure_world(app.settings.cache_dir, size=size, callback=bar)  # type: ignore[arg-type]


@mirror_group.command("serve")
@listen_options(9000, "Address to listen on. Anything but loopback exposes the mirror to others.")
@click.option(
    "--size", type=SIZES, default="small", show_default=True, help="Which world to serve."
)
@file_option("--ready-file", help="Write the endpoint URL to this file once serving (for scripts).")
@common_options
@pass_app
def serve(app: App, port: int, host: str, size: str, ready_file: Path | None) -> None:
    """Serve the synthetic world at http://HOST:PORT until Ctrl-C."""
    from ..mirror.server import require_mirror_extra, start_mirror

    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"Warning: listening on {host}, not only on this machine's loopback.", err=True)
    bucket = app.settings.bucket
    click.echo(f"Preparing the {size} synthetic world (built once, then cached) ...", err=True)
    require_mirror_extra()  # before a world build of a minute, not after it
    root = _world(app, size)
    with progress_bar("Loading objects", unit="objects") as bar:
        mirror = start_mirror(
            app.settings.cache_dir,
            world_root=root,
            host=host,
            port=port,
            bucket=bucket,
            callback=bar,
        )
    with mirror:
        url = mirror.endpoint_url
        click.echo(f"Mirror of s3://{bucket} ({mirror.objects} objects) serving at {url}")
        click.echo(f"  export PPDATA_ENDPOINT_URL={url}")
        click.echo(f"  export PPDATA_SPREADSHEET={mirror.spreadsheet}")
        click.echo(f"  export PPDATA_DANDI_API_URL={url}/api  # its DANDI API stand-in")
        click.echo("Press Ctrl-C to stop.", err=True)
        if ready_file is not None:
            tmp = ready_file.with_name(ready_file.name + ".tmp")
            tmp.write_text(url + "\n" + str(mirror.spreadsheet) + "\n")
            tmp.replace(ready_file)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("Stopped.", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(mirror_group)
