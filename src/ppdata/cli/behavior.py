"""``ppdata behavior``: running speed, wheel rotation and eye tracking of a session."""

from __future__ import annotations

from typing import Any

import click

from .app import App, TimeWindow, common_options, json_option, pass_app, window_options
from .nwb import _write_frame
from .render import emit_table

WHAT = {
    "running": ("running_speed", "running speed (cm/s)"),
    "wheel": ("wheel_rotation", "wheel rotation (radians per sample)"),
    "eye": ("eye_tracking", "eye tracking (pixels; area -1 = blink, pi = failed fit)"),
}


@click.command("behavior")
@click.argument("session")
@click.option(
    "--what",
    type=click.Choice(list(WHAT)),
    default="running",
    show_default=True,
    help="running speed, wheel rotation, or eye tracking (pupil, CR, eye ellipse, blinks).",
)
@window_options
@click.option("--csv", metavar="FILE", help="Write the samples as CSV ('-' for stdout).")
@json_option
@common_options
@pass_app
def behavior_command(
    app: App,
    session: str,
    what: str,
    time_window: TimeWindow,
    csv: str | None,
    as_json: bool,
) -> None:
    """Behavior of a session, from the NWB that holds it.

    Neuropixels: the complete NWB (``_nwb_`` asset); Mesoscope: the behavior/timing NWB
    (no eye tracking there). Without --csv/--json: a summary per column.
    """
    from ..nwb.behavior import between
    from ..session import Session

    method, label = WHAT[what]
    with Session(session, client=app.client) as s:
        frame = getattr(s, method)()
        source = ", ".join(s._open) or "?"
    frame = between(frame, time_window.start, time_window.stop)
    if _write_frame(frame, csv, as_json, source):
        return
    span = f"{frame.index[0]:.3f}-{frame.index[-1]:.3f} s" if len(frame) else "no samples"
    rows = _summary(frame)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    emit_table(
        rows,
        columns,
        title=f"{label} of {session}: {len(frame)} samples, {span}",
        caption=f"from {source}",
    )


def _summary(frame: Any) -> list[dict[str, Any]]:
    """One row per column: numeric columns get mean/std/min/max, flags their true count."""
    rows: list[dict[str, Any]] = []
    for column in frame.columns:
        values = frame[column]
        if values.dtype == bool:
            rows.append({"column": column, "true": int(values.sum())})
        elif values.dtype.kind in "fiu":
            rows.append(
                {
                    "column": column,
                    "mean": float(values.mean()),
                    "std": float(values.std()),
                    "min": float(values.min()),
                    "max": float(values.max()),
                }
            )
        else:
            rows.append({"column": column, "values": ", ".join(map(str, values.unique()[:3]))})
    return rows


def register(cli: click.Group) -> None:
    cli.add_command(behavior_command)
