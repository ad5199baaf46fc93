"""``ppdata web``: the session-aware web page, served on this machine."""

from __future__ import annotations

import click

from .app import App, common_options, listen_options, pass_app


@click.command("web")
@listen_options(8000, "Interface to bind; change it only to share the page on a trusted network.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser tab.")
@common_options
@pass_app
def web_command(app: App, port: int, host: str, no_browser: bool) -> None:
    """Browse sessions, assets, QC, NWB contents and plots in a web page.

    Reads the bucket anonymously (or the mirror given with --endpoint-url); the session
    table comes from the local catalog, refreshed on first use. Stop with Ctrl+C.
    """
    from ..web.server import serve

    def ready(url: str) -> None:
        click.echo(
            f"ppdata web: serving {url} (reading s3://{app.settings.bucket} at "
            f"{app.settings.where}); Ctrl+C to stop"
        )
        if not no_browser:
            import webbrowser

            webbrowser.open(url)

    serve(app.settings, host=host, port=port, on_ready=ready)


def register(cli: click.Group) -> None:
    cli.add_command(web_command)
