"""``ppdata stimuli|psth|aligned-dff``: stimulus blocks and the responses aligned to them."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..session import Session

from ..nwb import ALIGNED_DFF_WINDOW, PSTH_WINDOW
from .aligned_options import Conditions, condition_options
from .nwb import (
    PlaneROIs,
    _write_frame,
    area_option,
    plane_options,
    reader_options,
)
from .render import emit_json, emit_table

# -- stimuli ----------------------------------------------------------------------------------


@click.command("stimuli")
@click.argument("session")
@click.option("--block", help="List this block's presentations (name as `ppdata stimuli` shows).")
@reader_options(csv="Write the table as CSV ('-' for stdout).", session="nwb")
def stimuli_command(
    s: Session,
    block: str | None,
    csv: str | None,
    as_json: bool,
) -> None:
    """Stimulus blocks of SESSION (name, BlockType, time span, presentations per TrialType).

    With --block: that block's presentations, every raw column plus trial_type (the real
    TrialType) and deviant (the oddball types, never sequence_omission nor control rows).
    """
    if block is not None:
        frame = s.presentations(block)
        if not _write_frame(frame, csv, as_json):
            shown = [
                c
                for c in ("start_time", "stop_time", "trial_type", "deviant", "Orientation",
                          "contrast", "TemporalFrequency", "SequenceNumber", "TrialInSequence",
                          "BlockLabel")
                if c in frame
            ]  # fmt: skip
            counts = frame["trial_type"].value_counts()
            summary = ", ".join(f"{k} {v}" for k, v in counts.items())
            emit_table(
                frame.reset_index().to_dict("records"),
                ["id", *shown],
                title=f"{len(frame)} presentations of {frame['block'].iloc[0]}",
                caption=summary,
            )
        return
    blocks = s.stimuli()
    if csv:
        flat = blocks.assign(
            trial_types=["; ".join(f"{k}={v}" for k, v in d.items()) for d in blocks["trial_types"]]
        )
        flat.to_csv(sys.stdout if csv == "-" else csv, index=False)
        if csv != "-":
            click.echo(f"Wrote {len(flat)} rows to {csv}", err=True)
    elif as_json:
        emit_json(blocks.to_dict("records"))
    else:
        rows = [
            {
                **r,
                "span": f"{r['start_time']:.1f}-{r['stop_time']:.1f} s",
                "trial_types": ", ".join(f"{k} {v}" for k, v in r["trial_types"].items()),
            }
            for r in blocks.to_dict("records")
        ]
        emit_table(
            rows,
            ["block", "block_type", "span", "presentations", "deviants", "trial_types"],
            title=f"{len(rows)} stimulus blocks",
            caption=f"{s.name}; `ppdata stimuli SESSION --block NAME` lists the presentations",
        )


# -- psth -------------------------------------------------------------------------------------


def _psth_records(psth: Any) -> dict[str, Any]:
    units = []
    extra = [k for k in ("probe", "brain_area") if k in psth.coords]
    for i, unit in enumerate(psth["unit"].values):
        row: dict[str, Any] = {"unit_id": int(unit)}
        for k in extra:
            row[k] = str(psth[k].values[i])
        for c, condition in enumerate(psth["condition"].values):
            row[str(condition)] = [round(float(v), 4) for v in psth.values[i, c]]
        units.append(row)
    return {
        "conditions": [str(c) for c in psth["condition"].values],
        "trials": psth.attrs["trials"],
        "blocks": psth.attrs["blocks"],
        "bin_size": psth.attrs["bin_size"],
        "window": list(psth.attrs["window"]),
        "units_of_rate": psth.attrs["units"],
        "time": [round(float(t), 6) for t in psth["time"].values],
        "units": units,
    }


def _psth_frame(psth: Any) -> Any:
    """Wide table: one row per unit and condition, one column per time bin (spikes/s)."""
    import pandas as pd

    frames = []
    for c, condition in enumerate(psth["condition"].values):
        frame = pd.DataFrame(
            psth.values[:, c, :],
            index=pd.Index(psth["unit"].values, name="unit_id"),
            columns=[f"{t:.4f}" for t in psth["time"].values],
        )
        for k in ("brain_area", "probe"):
            if k in psth.coords:
                frame.insert(0, k, psth[k].values.astype(str))
        frame.insert(0, "condition", str(condition))
        frames.append(frame)
    return pd.concat(frames).sort_index(kind="stable")


def _summary_rows(psth: Any) -> list[dict[str, Any]]:
    t = psth["time"].values
    base, resp = t < 0, (t >= 0) & (t < 0.3)
    rows = []
    to, vs = (str(c) for c in psth["condition"].values)
    for i, unit in enumerate(psth["unit"].values):
        v = psth.values[i]
        row: dict[str, Any] = {"unit_id": int(unit)}
        for k in ("probe", "brain_area"):
            if k in psth.coords:
                row[k] = str(psth[k].values[i])
        row["baseline"] = float(v[:, base].mean()) if base.any() else float("nan")
        row[to] = float(v[0, resp].mean())
        row[vs] = float(v[1, resp].mean())
        row["difference"] = row[to] - row[vs]
        rows.append(row)
    rows.sort(key=lambda r: -r["difference"])
    return rows


@click.command("psth")
@click.argument("session")
@condition_options
@click.option("--unit", "unit_ids", multiple=True, type=int, help="Only this unit (repeatable).")
@click.option("--probe", help="Only units of this probe.")
@area_option
@click.option("--bin-size", type=click.FloatRange(0.0005), default=0.01, show_default=True,
              help="Bin width (s).")  # fmt: skip
@click.option("--top", type=int, default=20, show_default=True,
              help="Table view: the units with the largest difference.")  # fmt: skip
@reader_options(csv="Write unit x condition x time bins as CSV.", session="nwb")
def psth_command(
    s: Session,
    conditions: Conditions,
    unit_ids: tuple[int, ...],
    probe: str | None,
    areas: tuple[str, ...],
    bin_size: float,
    top: int,
    csv: str | None,
    as_json: bool,
) -> None:
    """Peri-stimulus time histograms of SESSION's units: --to vs --vs, in spikes/s.

    Spike times of every unit are fetched in bulk. The table view ranks units by the rate
    difference in the first 300 ms; --csv / --json give every bin.
    """
    from ..plots.make import select_units

    table = select_units(s, list(unit_ids) or None, probe, areas or None)
    to, vs = conditions.to, conditions.vs
    window = conditions.window_or(PSTH_WINDOW)
    psth = s.aligned_spikes(table, to, vs, conditions.block, window, bin_size)
    if csv:
        _write_frame(_psth_frame(psth), csv, False)
    elif as_json:
        emit_json(_psth_records(psth))
    else:
        trials = psth.attrs["trials"]
        rows = _summary_rows(psth)
        emit_table(
            rows[:top],
            title=f"{len(rows)} units, {to} ({trials[to]} trials) vs {vs} ({trials[vs]} trials): "
            "mean rate 0-300 ms (spikes/s)",
            caption=f"{s.name}; blocks: {', '.join(psth.attrs['blocks'])}",
        )


# -- aligned-dff ------------------------------------------------------------------------------


@click.command("aligned-dff")
@click.argument("session")
@plane_options
@condition_options
@reader_options(csv="Write roi x trial x time as a long CSV.", session="planar-ophys")
def aligned_dff_command(
    s: Session,
    selected: PlaneROIs,
    conditions: Conditions,
    csv: str | None,
    as_json: bool,
) -> None:
    """Trial-aligned ΔF/F of one plane of SESSION: --to vs --vs (roi x trial x time).

    The table view gives each ROI's mean response (0-1 s) per condition.
    """
    to, vs = conditions.to, conditions.vs
    window = conditions.window_or(ALIGNED_DFF_WINDOW)
    plane = selected.plane
    data = s.aligned_dff(plane, selected.roi_ids, to, vs, conditions.block, window)
    if csv or as_json:
        frame = data.to_dataframe().reset_index()
        frame = frame[["roi", "trial", "condition", "trial_type", "onset", "time", "dff"]]
        _write_frame(frame.set_index(["roi", "trial"]), csv, as_json)
    else:
        t = data["time"].values
        resp = (t >= 0) & (t < 1.0)
        condition = data["condition"].values
        rows = []
        for i, roi in enumerate(data["roi"].values):
            row: dict[str, Any] = {"roi": int(roi)}
            for name in (to, vs):
                row[name] = float(data.values[i][condition == name][:, resp].mean())
            row["difference"] = row[to] - row[vs]
            rows.append(row)
        rows.sort(key=lambda r: -r["difference"])
        trials = data.attrs["trials"]
        emit_table(
            rows,
            title=f"{plane}: {to} ({trials[to]} trials) vs {vs} ({trials[vs]} trials), mean "
            f"ΔF/F 0-1 s ({data.attrs['units']})",
            caption=f"{s.name}; blocks: {', '.join(data.attrs['blocks'])}",
        )


def register(cli: click.Group) -> None:
    for command in (stimuli_command, psth_command, aligned_dff_command):
        cli.add_command(command)
