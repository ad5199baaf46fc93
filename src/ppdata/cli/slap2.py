"""``ppdata slap2``: a SLAP2 session's DMDs, trials and files; a mean image per DMD."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .app import App, common_options, file_option, json_option, pass_app
from .render import emit_json, emit_table, err_console, human_size

if TYPE_CHECKING:
    import numpy as np


@click.command("slap2")
@click.argument("session")
@json_option
@click.option("--files", "show_files", is_flag=True, help="Also list every SLAP2 file.")
@file_option(
    "--plot", "plot_path", help="Write the mean image of each DMD to this file (.png, .svg, .pdf)."
)
@click.option(
    "--traces",
    "traces_dmd",
    type=int,
    metavar="DMD",
    help="Read this DMD's traces from the processed asset's experiment summary.",
)
@click.option(
    "--kind",
    default="dFF",
    show_default=True,
    help="Trace kind: dFF, dF, F0, dF_denoised, dF_ls, events, user_rois/F, user_rois/Fsvd.",
)
@click.option("--channel", default=1, show_default=True, help="1: green (glutamate), 2: red.")
@click.option(
    "--frames", type=(int, int), metavar="START STOP", help="Only these frames (stop exclusive)."
)
@file_option(
    "--out",
    "out_path",
    help="With --traces: write them here (.npy, or .csv: one column per source).",
)
@common_options
@pass_app
def slap2_command(
    app: App,
    session: str,
    as_json: bool,
    show_files: bool,
    plot_path: Path | None,
    traces_dmd: int | None,
    kind: str,
    channel: int,
    frames: tuple[int, int] | None,
    out_path: Path | None,
) -> None:
    """List the DMDs, trials and files of a SLAP2 SESSION (raw, motion-corrected, processed).

    Raw trials are per-DMD `.dat` files; registered movies come from the
    `_motion-corrected_` asset; ΔF/F per DMD from the `_processed_` asset's
    `source_extraction/experiment_summary.h5` (--traces DMD). With --plot, the mean image
    of each DMD (the summary's, else its first registered movie's, else its reference
    stack's) is drawn, reading only what it needs.
    """
    from ..session import open_session

    with open_session(session, client=app.client) as s:
        slap = s.slap2()
        if traces_dmd is not None:
            data = slap.traces(traces_dmd, kind, channel=channel, frames=frames)
            _emit_traces(data, f"{s.name} DMD{traces_dmd} {kind}", out_path, as_json)
            return
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
    if summary["experiment_summary"]:
        click.echo(
            f"ΔF/F per DMD (experiment_summary.h5): ppdata slap2 {session} --traces DMD",
            err=True,
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


def _emit_traces(data: np.ndarray, title: str, out_path: Path | None, as_json: bool) -> None:
    """Write traces to a file, or show their shape and per-source statistics."""
    import numpy as np

    if out_path is not None:
        if out_path.suffix == ".npy":
            np.save(out_path, data)
        else:
            header = ",".join(f"source_{i}" for i in range(data.shape[1]))
            np.savetxt(out_path, data, delimiter=",", header=header, comments="", fmt="%.6g")
        shape = f"{data.shape[0]} frames x {data.shape[1]} sources"
        click.echo(f"Wrote {shape} to {out_path}", err=True)
        return
    rows = [
        {
            "source": i,
            "mean": round(float(np.nanmean(col)), 4),
            "std": round(float(np.nanstd(col)), 4),
            "max": round(float(np.nanmax(col)), 4),
        }
        for i, col in enumerate(data.T)
    ]
    if as_json:
        emit_json({"title": title, "frames": int(data.shape[0]), "sources": rows})
        return
    emit_table(rows, title=f"{title}: {data.shape[0]} frames x {data.shape[1]} sources")


def register(cli: click.Group) -> None:
    cli.add_command(slap2_command)
