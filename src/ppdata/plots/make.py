"""Plots of a session, by name: the data is fetched lazily, then drawn by
:mod:`ppdata.plots.figures`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypedDict

from .._keywords import check_keywords
from ..errors import NotFound
from ..nwb import ALIGNED_DFF_WINDOW, PSTH_WINDOW

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..session import Session

__all__ = ["PLOT_KINDS", "PLOT_OPTIONS", "PlotOptions", "make_plot", "options_for"]

#: The keywords (:class:`PlotOptions`) each kind of plot takes; :func:`make_plot` refuses the
#: others with a ``TypeError``.
PLOT_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "raster": ("unit_ids", "probe", "start", "stop"),
        "unit-quality": ("probe",),
        "dff": ("plane", "start", "stop"),
        "rois": ("plane",),
        "running": ("start", "stop"),
        "slap2-mean": (),
        "psth": ("to", "vs", "block", "window", "unit_ids", "probe", "area", "bin_size"),
        "aligned-dff": ("to", "vs", "block", "window", "plane", "rois"),
    }
)
PLOT_KINDS = tuple(PLOT_OPTIONS)
_ALIGNED = ("psth", "aligned-dff")


class PlotOptions(TypedDict, total=False):
    """The keywords of :func:`make_plot` and :func:`aligned_figure` (documented in
    :func:`make_plot`); each kind takes the ones :data:`PLOT_OPTIONS` lists for it."""

    unit_ids: Sequence[int] | None
    probe: str | None
    plane: str | None
    start: float | None
    stop: float | None
    rois: Sequence[int] | None
    area: Sequence[str] | None
    to: str
    vs: str
    block: str | None
    window: tuple[float, float] | None
    bin_size: float


def make_plot(kind: str, session: Session, out: str | Path, **options: Unpack[PlotOptions]) -> Path:
    """Draw one kind of plot of a session into ``out`` (.png, .svg or .pdf).

    Parameters
    ----------
    kind : str
        What to plot, one of :data:`PLOT_KINDS`: ``raster``, ``unit-quality``, ``dff``,
        ``rois``, ``running``, ``slap2-mean``, ``psth``, ``aligned-dff``.
    session : Session
        The session (its NWBs are opened as needed).
    out : path
        Output file.
    **options
        Keywords (:class:`PlotOptions`), each optional; a kind takes only those
        :data:`PLOT_OPTIONS` lists for it:

        unit_ids : sequence of int
            ``raster``: the units (default: up to 30 SUA units of ``probe``).
        probe : str
            ``raster`` / ``unit-quality``: only this probe.
        plane : str
            ``dff`` / ``rois``: the plane (default: the first one).
        start, stop : float
            ``raster`` / ``dff`` / ``running``: the time window in seconds.
        to, vs, block, window, area, rois, bin_size
            ``psth`` / ``aligned-dff`` (see :func:`aligned_figure`).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    NotFound
        An unknown kind, probe, plane or unit (the message lists the valid ones).
    TypeError
        For a keyword this kind does not take (the message lists the ones it takes).
    """
    from . import figures as plots

    _check_kind(kind, PLOT_KINDS)
    check_keywords(options, PLOT_OPTIONS[kind], f"make_plot({kind!r})")
    out = Path(out)  # its folder is made when the plot is written, not before it is read
    name = session.name
    if kind in _ALIGNED:
        aligned_figure(kind, session, out, **options)
        return out
    unit_ids, probe, plane = options.get("unit_ids"), options.get("probe"), options.get("plane")
    start, stop = options.get("start"), options.get("stop")
    if kind == "raster":
        table = session.units(probe=probe)
        if unit_ids is None:
            good = table[table["label"] == "sua"]
            unit_ids = list((good if len(good) else table).index[:30])
        spikes = session.spike_times(unit_ids)
        labels = {u: str(table.loc[u, "label"]) for u in spikes if u in table.index}
        plots.plot_raster(
            spikes, out, start=start, stop=stop, labels=labels, title=f"{name}: {len(spikes)} units"
        )
        return out
    if kind == "unit-quality":
        plots.plot_unit_quality(session.units(probe=probe), out, title=f"{name}: unit quality")
        return out
    if kind in ("dff", "rois"):
        plane = plane or str(session.planes().index[0])
        if kind == "dff":
            frame = session.dff(plane, start, stop)
            plots.plot_dff(frame, out, title=f"{name} {plane}: ΔF/F")
            return out
        from ..nwb import ophys

        nwb = session._ophys()
        table = ophys.rois(nwb, plane)
        masks = ophys.roi_masks(nwb, plane)
        images = ophys.projections(nwb, plane)
        background = images.get("max_projection", next(iter(images.values())))
        is_soma = list(table["is_soma"]) if "is_soma" in table else None
        plots.plot_roi_masks(
            masks,
            background,
            out,
            roi_ids=list(table.index),
            is_soma=is_soma,
            title=f"{name} {plane}: ROIs",
        )
        return out
    if kind == "running":
        from ..nwb import behavior

        nwb = session._behavior()
        speed = behavior.between(behavior.running_speed(nwb), start, stop)
        plots.plot_running(
            speed, out, epochs=behavior.stimulus_epochs(nwb), title=f"{name}: running speed"
        )
        return out
    slap = session.slap2()  # slap2-mean, the one kind left
    means = {dmd: slap.mean_image(dmd) for dmd in slap.dmds()}
    plots.plot_slap2_mean(means, out, title=f"{name}: mean image per DMD")
    return out


def _check_kind(kind: str, kinds: Sequence[str]) -> None:
    if kind not in kinds:
        raise NotFound(f"unknown plot kind {kind!r}; choose one of {', '.join(kinds)}")


def options_for(kind: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ones of ``options`` that ``kind`` takes (:data:`PLOT_OPTIONS`): for a command or
    a page that offers one set of options for every kind of plot.

    Examples
    --------
    >>> options_for("dff", {"plane": "VISp_0", "probe": None, "to": "deviant"})
    {'plane': 'VISp_0'}
    """
    takes = PLOT_OPTIONS.get(kind, ())  # an unknown kind: make_plot says what there is
    return {k: v for k, v in options.items() if k in takes}


def select_units(
    session: Session,
    unit_ids: Sequence[int] | None = None,
    probe: str | None = None,
    area: Sequence[str] | None = None,
) -> Any:
    """The units table, narrowed to ``unit_ids``, a probe and brain areas.

    Raises
    ------
    NotFound
        An unknown unit or area (the message lists the valid ones), or ``area`` asked of a
        units table without ``brain_area``.
    """
    table = session.units(probe=probe)
    if unit_ids:
        missing = [u for u in unit_ids if u not in table.index]
        if missing:
            raise NotFound(f"unknown unit id(s) {missing[:10]}; see `ppdata units`")
        table = table.loc[list(unit_ids)]
    if area:
        if "brain_area" not in table:
            raise NotFound(
                f"the units of {session.name} have no brain_area (no localized electrodes); "
                "drop --area or pick units with --unit/--probe"
            )
        from ..nwb.ephys import in_area

        areas = sorted(set(table["brain_area"].astype(str)))
        bad = [a for a in area if not any(in_area(v, a) for v in areas)]
        if bad:
            raise NotFound(f"no units in area(s) {bad}; areas are {', '.join(areas)}")
        keep = table["brain_area"].astype(str).map(lambda v: any(in_area(v, a) for a in area))
        table = table[keep]
    return table


def aligned_figure(
    kind: str, session: Session, out: str | Path | None = None, **options: Unpack[PlotOptions]
) -> Any:
    """The figure of a ``psth`` or ``aligned-dff`` plot (written to ``out`` if given).

    ``options`` (:class:`PlotOptions`): ``to`` (default ``"deviant"``) vs ``vs``
    (``"standard"``), in ``block``, over ``window`` seconds around each onset (psth:
    -0.5 to 1; aligned-dff: -1 to 2); psth: the units (``unit_ids``, ``probe``, ``area``)
    and ``bin_size`` (0.01 s); aligned-dff: the ``plane`` (default: the first) and ``rois``.

    Raises
    ------
    NotFound
        For a kind other than ``psth`` and ``aligned-dff``.
    TypeError
        For a keyword this kind does not take (the message lists the ones it takes).
    """
    from . import figures as plots

    _check_kind(kind, _ALIGNED)
    check_keywords(options, PLOT_OPTIONS[kind], f"aligned_figure({kind!r})")
    name = session.name
    to, vs = options.get("to", "deviant"), options.get("vs", "standard")
    block, window = options.get("block"), options.get("window")
    if kind == "psth":
        table = select_units(
            session, options.get("unit_ids"), options.get("probe"), options.get("area")
        )
        psth = session.aligned_spikes(
            table, to, vs, block, window or PSTH_WINDOW, options.get("bin_size", 0.01)
        )
        return plots.psth_figure(psth, out, title=f"{name}: {to} vs {vs}")
    plane = options.get("plane") or str(session.planes().index[0])
    data = session.aligned_dff(
        plane, options.get("rois") or None, to, vs, block, window or ALIGNED_DFF_WINDOW
    )
    return plots.aligned_dff_figure(data, out, title=f"{name} {plane}: {to} vs {vs}")
