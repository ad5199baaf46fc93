"""``ppdata slap2``: a SLAP2 session's DMDs, trials and files; a mean image per DMD."""

from __future__ import annotations

from pathlib import Path

import click

from .app import App, common_options, pass_app
from .render import emit_json, emit_table, err_console, human_size


@click.command("slap2")
@click.argument("session")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--files", "show_files", is_flag=True, help="Also list every SLAP2 file.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the mean image of each DMD to this file (.png, .svg, .pdf).",
)
@common_options
@pass_app
def slap2_command(
    app: App, session: str, as_json: bool, show_files: bool, plot_path: Path | None
) -> None:
    """List the DMDs, trials and files of a SLAP2 SESSION (raw, motion-corrected, processed).

    Raw trials are per-DMD `.dat` files; registered movies come from the
    `_motion-corrected_` asset. With --plot, the mean image of each DMD (its first
    registered movie, else its reference stack) is drawn, reading only what it needs.
    """
    from ..session import open_session

    with open_session(session, client=app.client) as s:
        slap = s.slap2()
        summary = slap.summary()
        if plot_path is not None:
            from ..plots.figures import plot_slap2_mean

            with err_console().status("Reading mean images ..."):
                images = {dmd: slap.mean_image(dmd) for dmd in slap.dmds()}
            plot_slap2_mean(images, plot_path, title=s.name)
            click.echo(f"Wrote {plot_path}", err=True)
    if as_json:
        emit_json(summary)
        return
    emit_table(
        [
            {
                "DMD": d["dmd"],
                "trials": ", ".join(str(t) for t in d["trials"]) or "-",
                "raw .dat": human_size(d["dat_bytes"]),
                "registered movies": d["registered"],
                "meta": "yes" if d["meta"] else "-",
                "annotation": "yes" if d["annotation"] else "-",
                "reference stack": "yes" if d["reference_stack"] else "-",
            }
            for d in summary["dmds"]
        ],
        title=f"{summary['session']}: SLAP2 ({', '.join(summary['assets'])})",
    )
    if show_files:
        emit_table(
            [
                {
                    "kind": f["kind"],
                    "DMD": f["dmd"],
                    "trial": f["trial"],
                    "size": human_size(f["size"]),
                    "key": f["key"],
                }
                for f in summary["files"]
            ]
        )


def register(cli: click.Group) -> None:
    cli.add_command(slap2_command)
