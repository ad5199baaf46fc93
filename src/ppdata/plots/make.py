"""Plots of a session, by name: the data is fetched lazily, then drawn by
:mod:`ppdata.plots.figures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFound

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["PLOT_KINDS", "make_plot"]

PLOT_KINDS = (
    "raster",
    "unit-quality",
    "dff",
    "rois",
    "running",
    "slap2-mean",
    "psth",
    "aligned-dff",
)


def make_plot(
    kind: str,
    session: Session,
    out: str | Path,
    *,
    unit_ids: Sequence[int] | None = None,
    probe: str | None = None,
    plane: str | None = None,
    start: float | None = None,
    stop: float | None = None,
    **aligned: Any,
) -> Path:
    """Draw one kind of plot of a session into ``out`` (.png, .svg or .pdf).

    Parameters
    ----------
    kind : {"raster", "unit-quality", "dff", "rois", "running", "slap2-mean"}
        What to plot.
    session : Session
        The session (its NWBs are opened as needed).
    out : path
        Output file.
    unit_ids : sequence of int, optional
        ``raster``: the units (default: up to 30 SUA units of ``probe``).
    probe : str, optional
        ``raster`` / ``unit-quality``: only this probe.
    plane : str, optional
        ``dff`` / ``rois``: the plane (default: the first one).
    start, stop : float, optional
        Time window in seconds.
    **aligned
        ``psth`` / ``aligned-dff``: ``to``, ``vs``, ``block``, ``window``, ``area``,
        ``rois``, ``bin_size`` (see :func:`aligned_figure`).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    NotFound
        An unknown kind, probe, plane or unit (the message lists the valid ones).
    """
    from . import figures as plots

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    name = session.name
    if kind in ("psth", "aligned-dff"):
        aligned_figure(kind, session, out, unit_ids=unit_ids, probe=probe, plane=plane, **aligned)
        return out
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
        speed = behavior.running_speed(nwb)
        if start is not None or stop is not None:
            lo = start if start is not None else -float("inf")
            hi = stop if stop is not None else float("inf")
            speed = speed[(speed.index >= lo) & (speed.index < hi)]
        plots.plot_running(
            speed, out, epochs=behavior.stimulus_epochs(nwb), title=f"{name}: running speed"
        )
        return out
    if kind == "slap2-mean":
        slap = session.slap2()
        means = {dmd: slap.mean_image(dmd) for dmd in slap.dmds()}
        plots.plot_slap2_mean(means, out, title=f"{name}: mean image per DMD")
        return out
    raise NotFound(f"unknown plot kind {kind!r}; choose one of {', '.join(PLOT_KINDS)}")


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
    kind: str,
    session: Session,
    out: str | Path | None = None,
    *,
    unit_ids: Sequence[int] | None = None,
    probe: str | None = None,
    plane: str | None = None,
    rois: Sequence[int] | None = None,
    area: Sequence[str] | None = None,
    to: str = "deviant",
    vs: str = "standard",
    block: str | None = None,
    window: tuple[float, float] | None = None,
    bin_size: float = 0.01,
) -> Any:
    """The figure of a ``psth`` or ``aligned-dff`` plot (written to ``out`` if given)."""
    from . import figures as plots

    name = session.name
    if kind == "psth":
        table = select_units(session, unit_ids, probe, area)
        psth = session.aligned_spikes(table, to, vs, block, window or (-0.5, 1.0), bin_size)
        return plots.psth_figure(psth, out, title=f"{name}: {to} vs {vs}")
    plane = plane or str(session.planes().index[0])
    data = session.aligned_dff(plane, rois or None, to, vs, block, window or (-1.0, 2.0))
    return plots.aligned_dff_figure(data, out, title=f"{name} {plane}: {to} vs {vs}")
