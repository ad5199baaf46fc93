"""Plots of a session, by name: the data is fetched lazily, then drawn by :mod:`ppdata.plots`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import NotFound

if TYPE_CHECKING:
    from .session import Session

__all__ = ["PLOT_KINDS", "make_plot"]

PLOT_KINDS = ("raster", "unit-quality", "dff", "rois", "running", "slap2-mean")


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

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    NotFound
        An unknown kind, probe, plane or unit (the message lists the valid ones).
    """
    from . import plots

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    name = session.name
    if kind == "raster":
        table = session.units(probe=probe)
        if unit_ids is None:
            good = table[table["label"] == "sua"]
            unit_ids = list((good if len(good) else table).index[:30])
        spikes = session.spike_times(unit_ids)
        labels = {u: str(table.loc[u, "label"]) for u in spikes if u in table.index}
        return plots.plot_raster(
            spikes, out, start=start, stop=stop, labels=labels, title=f"{name}: {len(spikes)} units"
        )
    if kind == "unit-quality":
        return plots.plot_unit_quality(
            session.units(probe=probe), out, title=f"{name}: unit quality"
        )
    if kind in ("dff", "rois"):
        plane = plane or str(session.planes().index[0])
        if kind == "dff":
            frame = session.dff(plane, start, stop)
            return plots.plot_dff(frame, out, title=f"{name} {plane}: ΔF/F")
        from . import ophys

        nwb = session._ophys()
        table = ophys.rois(nwb, plane)
        masks = ophys.roi_masks(nwb, plane)
        images = ophys.projections(nwb, plane)
        background = images.get("max_projection", next(iter(images.values())))
        is_soma = list(table["is_soma"]) if "is_soma" in table else None
        return plots.plot_roi_masks(
            masks,
            background,
            out,
            roi_ids=list(table.index),
            is_soma=is_soma,
            title=f"{name} {plane}: ROIs",
        )
    if kind == "running":
        from . import behavior

        nwb = session._behavior()
        speed = behavior.running_speed(nwb)
        if start is not None or stop is not None:
            lo = start if start is not None else -float("inf")
            hi = stop if stop is not None else float("inf")
            speed = speed[(speed.index >= lo) & (speed.index < hi)]
        return plots.plot_running(
            speed, out, epochs=behavior.stimulus_epochs(nwb), title=f"{name}: running speed"
        )
    if kind == "slap2-mean":
        slap = session.slap2()
        means = {dmd: slap.mean_image(dmd) for dmd in slap.dmds()}
        return plots.plot_slap2_mean(means, out, title=f"{name}: mean image per DMD")
    raise NotFound(f"unknown plot kind {kind!r}; choose one of {', '.join(PLOT_KINDS)}")
