"""``ppdata nwb|units|spikes|planes|dff|lfp|plot``: stream NWB contents, never download them."""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from ..nwb import TRACE_KINDS
from .aligned_options import ALIGNED_PLOTS, Conditions, aligned_plot_options
from .app import (
    App,
    TimeWindow,
    bundle,
    common_options,
    file_option,
    json_option,
    pass_app,
    window_options,
)
from .render import emit_json, emit_table, format_bytes, plural

if TYPE_CHECKING:
    from ..session import Session

F = TypeVar("F", bound=Callable[..., Any])


def _renamed_version(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        raise click.UsageError(
            f"--version is now --asset-version (e.g. --asset-version {value}); "
            "`ppdata --version` prints the program's version",
            ctx,
        )
    return value


def asset_version_option(f: F, *, remembered: bool = False) -> F:
    """``--asset-version`` to pick a reprocessed asset (the command's ``version``, or with
    ``remembered`` what :func:`_session` reads); the old ``--version NAME`` spelling gets an
    error naming the new one (``ppdata --version`` is the program's version)."""
    f = click.option(
        "--version",
        "old_version",
        hidden=True,
        expose_value=False,
        callback=_renamed_version,
        metavar="NAME",
    )(f)
    return click.option(
        "--asset-version",
        "version",
        metavar="NAME_OR_TIMESTAMP",
        help="Use this version (reprocessing) of the asset instead of the current one.",
        expose_value=not remembered,
        callback=_remember if remembered else None,
    )(f)


def nwb_options(f: F) -> F:
    """``--asset-version`` to pick a reprocessed asset, ``--nwb`` to pick one of several NWBs
    in an asset, and ``--stats`` to show network use. The command does not take them: they
    are remembered for :func:`_session` (which NWB to read) and :func:`_report_stats`."""
    f = click.option(
        "--nwb",
        "recording",
        metavar="RECORDING",
        expose_value=False,
        callback=_remember,
        help="Where an asset holds several NWBs (one per experiment x recording), read this "
        "one: experiment1_recording2, recording2 or 2 (default: the first; `ppdata nwb "
        "SESSION` lists them).",
    )(f)
    f = click.option(
        "--stats",
        "show_stats",
        is_flag=True,
        expose_value=False,
        callback=_remember,
        help="Report the HTTP requests and bytes this command caused.",
    )(f)
    return asset_version_option(f, remembered=True)


def reader_options(csv: str | None = None, *, session: str | None = None) -> Callable[[F], F]:
    """What a command that reads a session's NWB ends with: ``--csv FILE`` (with ``csv`` as
    its help; none without it), ``--json``, :func:`nwb_options` and the common options; its
    ``--stats`` are reported when it ends, whichever way it ends.

    The command's first argument is the :class:`App`; with ``session`` (the kind of asset
    whose ``--asset-version`` counts: ``sorted``, ``planar-ophys``, ``nwb``), it is instead
    the SESSION argument opened as a :class:`~ppdata.Session` (see :func:`_session`)."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def run(app: App, **kwargs: Any) -> Any:
            if session is None:
                return f(app, **kwargs)
            return f(_session(app, kwargs.pop("session"), session), **kwargs)

        command = json_option(nwb_options(common_options(pass_app(reports_stats(cast(F, run))))))
        return click.option("--csv", metavar="FILE", help=csv)(command) if csv else command

    return decorate


def reports_stats(f: F) -> F:
    """With ``--stats`` (:func:`nwb_options`): the requests and bytes the command caused,
    reported when it ends, whichever way it ends. Goes under :func:`pass_app`."""

    @functools.wraps(f)
    def run(app: App, *args: Any, **kwargs: Any) -> Any:
        click.get_current_context().call_on_close(lambda: _report_stats(app))
        return f(app, *args, **kwargs)

    return cast(F, run)


@dataclasses.dataclass(frozen=True)
class PlaneROIs:
    """What ``--plane`` and ``--roi`` asked for: a Mesoscope plane, and which of its ROIs."""

    plane: str
    rois: tuple[int, ...]

    @property
    def roi_ids(self) -> list[int] | None:
        """The ROIs asked for; ``None`` (all of them) without ``--roi``."""
        return list(self.rois) or None


def plane_options(f: F) -> F:
    """``--plane`` (required) and ``--roi`` (repeatable): the ROIs a Mesoscope command reads,
    given to it as one :class:`PlaneROIs`, ``selected``."""
    roi = click.option("--roi", "rois", multiple=True, type=int, help="Only this ROI (repeatable).")
    plane = click.option(
        "--plane", required=True, help="Plane name, e.g. VISp_0 (`ppdata planes`)."
    )
    return plane(roi(cast(F, bundle(f, PlaneROIs, "selected"))))


#: ``--area`` (as ``areas``, repeatable): only units of these brain areas.
area_option = click.option(
    "--area", "areas", multiple=True, help="Only units of this brain area (repeatable)."
)
#: ``--kind`` (as ``trace_kind``): which traces of a plane (:data:`ppdata.nwb.TRACE_KINDS`).
trace_kind_option = click.option(
    "--kind",
    "trace_kind",
    default="dff",
    show_default=True,
    type=click.Choice(list(TRACE_KINDS)),
    help="Which traces.",
)


def channel_id(value: Any) -> int | str:
    """An LFP channel as given or as stored: an electrode id (a whole number) or a name."""
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


class ChannelType(click.ParamType):
    """An LFP channel: an electrode id (a whole number) or a channel name."""

    name = "channel"

    def convert(self, value: Any, param: click.Parameter | None, ctx: Any) -> int | str:
        return channel_id(value)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep an option of :func:`nwb_options` for :func:`_remembered`."""
    ctx.meta[f"ppdata.{param.name}"] = value


def _remembered(name: str) -> Any:
    """The value of an option of :func:`nwb_options`: ``version``, ``recording``,
    ``show_stats``."""
    return click.get_current_context().meta.get(f"ppdata.{name}")


def _session(app: App, name: str, kind: str) -> Any:
    """The session ``name``, with the ``--asset-version`` of its ``kind`` asset and the
    ``--nwb`` recording asked for."""
    from ..session import Session

    version, recording = _remembered("version"), _remembered("recording")
    session = Session(
        name, client=app.client, versions={kind: version} if version else None, recording=recording
    )
    ctx = click.get_current_context()
    ctx.call_on_close(lambda: _say_which_nwb(session))
    return session


def _say_which_nwb(session: Any) -> None:
    """Name the NWB read, where the asset held several or one was asked for."""
    if session.recording is None and not session.several_nwbs:
        return
    for uri in session.nwb_used:
        click.echo(f"Read from {uri}", err=True)


def _report_stats(app: App) -> None:
    """With ``--stats``: the requests and bytes the command caused, on stderr."""
    if _remembered("show_stats"):
        s = app.client.stats.snapshot()
        ops = ", ".join(f"{op} {c.requests}" for op, c in s.by_operation.items())
        click.echo(
            f"Network: {plural(s.requests, 'HTTP request')} ({ops}), "
            f"{format_bytes(s.bytes)}, {plural(s.retries, 'retry', 'retries')}",
            err=True,
        )


def _columns_table(frame: Any, name: str, title: str, unit: str = "", digits: int = 1) -> None:
    """A table with one row per column of ``frame`` (time x column): its mean, std, min and
    max; titled ``title`` and the time span (``digits`` decimals)."""
    described = frame.describe().T
    stats = ("mean", "std", "min", "max")
    rows = [{name: col, **{f"{k}{unit}": r[k] for k in stats}} for col, r in described.iterrows()]
    t0, t1 = (float(frame.index[0]), float(frame.index[-1])) if len(frame) else (0, 0)
    emit_table(rows, title=f"{title}, {t0:.{digits}f}-{t1:.{digits}f} s")


def _write_frame(frame: Any, csv: str | None, as_json: bool, source: str | None = None) -> bool:
    """Write a DataFrame as CSV (file or '-') or JSON; return True if it was written.
    ``source`` (what it was read from) is named in the message about a CSV file."""
    if csv:
        if csv == "-":
            frame.to_csv(sys.stdout)
        else:
            frame.to_csv(csv)
            where = f" (from {source})" if source else ""
            click.echo(f"Wrote {plural(len(frame), 'row')} to {csv}{where}", err=True)
        return True
    if as_json:
        emit_json(frame.reset_index().to_dict("records"))
        return True
    return False


@click.command("nwb")
@click.argument("target", metavar="SESSION_ASSET_OR_URL")
@click.option(
    "--kind",
    type=click.Choice(["sorted", "planar-ophys", "behavior-timing", "nwb"]),
    help="Only the NWB of this asset kind.",
)
@click.option(
    "--contents/--no-contents",
    default=True,
    show_default=True,
    help="Open each NWB and summarise what it holds.",
)
@reader_options()
def nwb_command(
    app: App,
    target: str,
    kind: str | None,
    contents: bool,
    as_json: bool,
) -> None:
    """Which NWB files a session or asset has, their format, size and contents."""
    from ..find.nwbs import find_nwbs
    from ..nwb.open import open_nwb

    rows = []
    for location in find_nwbs(target, client=app.client, kind=kind, version=_remembered("version")):
        row = location.to_dict()
        if contents:
            nwb = open_nwb(location.key, client=app.client, size=location.size)
            row["format"] = str(nwb.format) if hasattr(nwb, "format") else row["format"]
            row.update(_contents(nwb))
            nwb.close()
        rows.append(row)
    if as_json:
        emit_json(rows)
    else:
        for row in rows:
            shown = dict(row)
            if shown.get("size") is not None:
                shown["size"] = f"{format_bytes(shown['size'])} ({shown['size']:,} bytes)"
            shown["complete"] = (
                "yes: the nwb asset's file, with every modality of the session"
                if row.get("complete")
                else f"no: a partial NWB, only what the {row.get('kind')} asset holds"
            )
            emit_table(
                [{"field": k, "value": v} for k, v in shown.items() if v not in (None, "", [])],
                ["field", "value"],
                title=row["uri"],
            )
        click.echo(_COMPLETE_NOTE)


_COMPLETE_NOTE = (
    "Complete NWBs (in _nwb_ assets) hold all of a session: units, LFP, imaging, behavior "
    "and stimuli. Partial NWBs come with each processed asset (sorted: units and LFP; "
    "processed Mesoscope: imaging planes; behavior: running and stimuli) and exist sooner."
)


def _contents(nwb: Any) -> dict[str, Any]:
    """A short summary of what an NWB holds (from metadata only, no array reads)."""
    out: dict[str, Any] = {}
    for group in ("acquisition", "processing", "intervals"):
        if nwb.exists(group):
            out[group] = nwb.children(group)
    if nwb.exists("units"):
        out["units"] = nwb.shape("units/id")[0]
    from ..errors import PpdataError
    from ..nwb.lfp import list_lfp_probes
    from ..nwb.ophys import list_planes

    for field, lister in (("planes", list_planes), ("lfp_probes", list_lfp_probes)):
        try:
            found = lister(nwb)
        except (PpdataError, LookupError) as exc:  # a summary shows what it can
            found = [f"unreadable: {exc}"]
        if found:
            out[field] = found
    if hasattr(nwb, "size") and nwb.size:
        out["size"] = nwb.size
    return out


@click.command("units")
@click.argument("session")
@click.option(
    "--label",
    multiple=True,
    type=click.Choice(["sua", "mua", "noise"]),
    help="Only units with this label (repeatable).",
)
@click.option(
    "--default-qc/--no-default-qc",
    default=None,
    help="Only units that pass (or fail) the default QC.",
)
@click.option("--probe", multiple=True, help="Only units of this probe (repeatable).")
@area_option
@click.option(
    "--where", metavar="EXPR", help="Metric thresholds, e.g. 'snr > 3 and firing_rate >= 0.5'."
)
@click.option("--csv", metavar="FILE", help="Write the table as CSV ('-' for stdout).")
@click.option("--all-columns", is_flag=True, help="Show every column in the table view.")
@reader_options(session="sorted")
def units_command(
    s: Session,
    label: tuple[str, ...],
    default_qc: bool | None,
    probe: tuple[str, ...],
    areas: tuple[str, ...],
    where: str | None,
    csv: str | None,
    all_columns: bool,
    as_json: bool,
) -> None:
    """Units of a Neuropixels session with quality metrics, label and probe."""
    from ..nwb.ephys import QUALITY_COLUMNS

    frame = s.units(
        label=label or None,
        default_qc=default_qc,
        probe=probe or None,
        where=where,
        area=areas or None,
    )
    if not _write_frame(frame, csv, as_json):
        summary = frame.groupby(["probe", "label"]).size().unstack(fill_value=0)
        rows = [
            {"probe": p, **{str(k): int(v) for k, v in r.items()}, "total": int(r.sum())}
            for p, r in summary.iterrows()
        ]
        emit_table(rows, title=f"{plural(len(frame), 'unit')} by probe and label", caption=s.name)
        shown = ("probe", "brain_area", "label", *QUALITY_COLUMNS, "num_spikes", "depth")
        columns = list(frame.columns) if all_columns else [c for c in shown if c in frame.columns]
        emit_table(frame.reset_index().to_dict("records"), ["unit_id", *columns])


@click.command("spikes")
@click.argument("session")
@click.argument("unit_ids", nargs=-1, type=int, required=True)
@reader_options(session="sorted")
def spikes_command(
    s: Session,
    unit_ids: tuple[int, ...],
    as_json: bool,
) -> None:
    """Spike times (s) of the UNIT_IDS asked for; only those units are fetched."""
    spikes = s.spike_times(list(unit_ids))
    if as_json:
        emit_json({str(u): t for u, t in spikes.items()})
    else:
        emit_table(
            [
                {
                    "unit_id": u,
                    "spikes": len(t),
                    "first": float(t[0]) if len(t) else None,
                    "last": float(t[-1]) if len(t) else None,
                }
                for u, t in spikes.items()
            ]
        )


@click.command("planes")
@click.argument("session")
@reader_options(session="planar-ophys")
def planes_command(s: Session, as_json: bool) -> None:
    """Imaging planes of a Mesoscope session: structure, depth, rate, ROIs."""
    frame = s.planes()
    if not _write_frame(frame, None, as_json):
        emit_table(frame.reset_index().to_dict("records"), title=f"Planes of {s.name}")


@click.command("dff")
@click.argument("session")
@plane_options
@window_options
@trace_kind_option
@reader_options(csv="Write time x ROI as CSV ('-' for stdout).", session="planar-ophys")
def dff_command(
    s: Session,
    selected: PlaneROIs,
    time_window: TimeWindow,
    trace_kind: str,
    csv: str | None,
    as_json: bool,
) -> None:
    """ΔF/F (or other traces) of one plane, sliced by time and ROI, streamed."""
    plane, start, stop = selected.plane, time_window.start, time_window.stop
    frame = s.traces(plane, trace_kind, start, stop, selected.roi_ids)
    if not _write_frame(frame, csv, as_json):
        size = f"{frame.shape[1]} ROIs x {frame.shape[0]} frames"
        _columns_table(frame, "roi", f"{trace_kind} of {plane}: {size}")


@click.command("lfp")
@click.argument("session")
@click.option("--probe", required=True, help="Probe name, e.g. ProbeA (`ppdata nwb SESSION`).")
@window_options
@click.option(
    "--channel",
    "channels",
    multiple=True,
    type=ChannelType(),
    help="Only this electrode id or channel name (repeatable).",
)
@reader_options(csv="Write time x channel (volts) as CSV ('-' for stdout).", session="sorted")
def lfp_command(
    s: Session,
    probe: str,
    time_window: TimeWindow,
    channels: tuple[int | str, ...],
    csv: str | None,
    as_json: bool,
) -> None:
    """LFP of one probe, sliced by time and channel, streamed (only the chunks covering it).

    Without --csv/--json: a summary per channel in microvolts.
    """
    window = s.lfp(probe, time_window.start, time_window.stop, list(channels) or None)
    if as_json and not csv:
        emit_json(_lfp_columns(window, s.name), indent=None)
        return
    frame = window.to_dataframe()
    if not _write_frame(frame, csv, as_json):
        size = f"{frame.shape[1]} channels x {frame.shape[0]} samples"
        _columns_table(frame * 1e6, "electrode_id", f"LFP of {probe}: {size}", " µV", digits=3)


def _lfp_columns(window: Any, session: str) -> dict[str, Any]:
    """LFP as compact columns: ``channels`` ids, ``times`` (s) and ``data`` as one array per
    channel (channels x samples, microvolts to 0.01), instead of one record per sample."""
    import numpy as np

    times = np.asarray(window.times, dtype=float)
    rate = float(1.0 / np.median(np.diff(times))) if len(times) > 1 else None
    return {
        "session": session,
        "probe": window.probe,
        "unit": "uV",
        "layout": "data[channel][sample]",
        "start": float(times[0]) if len(times) else None,
        "rate_hz": rate,
        "channels": [channel_id(c) for c in window.channels],
        "times": np.round(times, 9),
        "data": np.round(np.asarray(window.data, dtype=np.float64).T * 1e6, 2),
    }


PLOTS = ["raster", "unit-quality", "dff", "rois", "running", "slap2-mean", *ALIGNED_PLOTS]


@click.command("plot")
@click.argument("kind", type=click.Choice(PLOTS))
@click.argument("session")
@file_option("--out", required=True, help="Output file (.png or .svg).")
@click.option(
    "--unit",
    "unit_ids",
    multiple=True,
    type=int,
    help="raster: units to show (default: up to 30 SUA units).",
)
@click.option("--probe", help="raster/unit-quality: only this probe.")
@click.option("--plane", help="dff/rois: the plane (default: the first).")
@window_options
@aligned_plot_options
@nwb_options
@common_options
@pass_app
@reports_stats
def plot_command(
    app: App,
    kind: str,
    session: str,
    out: Path,
    unit_ids: tuple[int, ...],
    probe: str | None,
    plane: str | None,
    time_window: TimeWindow,
    conditions: Conditions,
    **aligned: Any,
) -> None:
    """Plot KIND for SESSION: raster, unit-quality, dff, rois, running, slap2-mean, psth or
    aligned-dff.

    psth / aligned-dff: mean ± SEM of --to and --vs around the onsets (see `ppdata psth`).
    """
    from ..plots.make import make_plot, options_for

    asset_kind = {
        "raster": "sorted",
        "unit-quality": "sorted",
        "dff": "planar-ophys",
        "rois": "planar-ophys",
    }.get(kind, "behavior-timing")
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise click.BadParameter("use a .png, .svg or .pdf file name", param_hint="--out")
    s = _session(app, session, asset_kind)
    given = {
        "unit_ids": list(unit_ids) or None,
        "probe": probe,
        "plane": plane,
        **asdict(time_window),  # --start, --stop
        **asdict(conditions),  # psth / aligned-dff: --to, --vs, --block, --window
        **aligned,  # and --area, --roi
    }
    path = make_plot(kind, s, out, **options_for(kind, given))  # what this kind takes
    click.echo(f"Wrote {path}")


def register(cli: click.Group) -> None:
    for command in (
        nwb_command,
        units_command,
        spikes_command,
        planes_command,
        dff_command,
        lfp_command,
        plot_command,
    ):
        cli.add_command(command)
