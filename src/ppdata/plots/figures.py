"""Plots of NWB data: raster, unit quality, ΔF/F, ROI masks, running speed, and the
stimulus-aligned responses (PSTH, trial-aligned ΔF/F).

Each function takes data already read (DataFrames / arrays from :mod:`ppdata.nwb.ephys`,
:mod:`ppdata.nwb.ophys`, :mod:`ppdata.nwb.behavior`), returns the ``matplotlib.figure.Figure`` (it
shows inline in Jupyter) and writes a file only when ``out`` is given; the format follows
its suffix (``.png``, ``.svg``, ``.pdf``) and the file is written atomically. Figures are
drawn with matplotlib's object API (``Figure`` + Agg canvas): no pyplot state, no GUI, safe
in threads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "aligned_dff_figure",
    "plot_dff",
    "plot_raster",
    "plot_roi_masks",
    "plot_running",
    "plot_slap2_mean",
    "plot_unit_quality",
    "psth_figure",
]

logger = logging.getLogger(__name__)

LABEL_COLORS = {"sua": "#1b9e77", "mua": "#d95f02", "noise": "#9e9e9e"}
SUFFIXES = (".png", ".svg", ".pdf")


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out: str | Path) -> Path:
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES:
        raise ValueError(f"cannot write a plot to {out.name!r}: use one of {', '.join(SUFFIXES)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
    try:
        fig.savefig(tmp, dpi=120, format=out.suffix.lower().lstrip("."))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    logger.debug("wrote plot %s", out)
    return out


def plot_raster(
    spikes: Mapping[Any, np.ndarray],
    out: str | Path | None = None,
    *,
    start: float | None = None,
    stop: float | None = None,
    labels: Mapping[Any, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Spike raster: one row per unit (``spikes`` from :func:`ppdata.nwb.ephys.spike_times`).

    ``labels`` (unit -> ``sua``/``mua``/``noise``) colours the rows.
    """
    fig = _figure(10, max(2.5, 0.25 * len(spikes) + 1.5))
    ax = fig.add_subplot()
    units = list(spikes)
    for row, unit in enumerate(units):
        times = np.asarray(spikes[unit])
        if start is not None:
            times = times[times >= start]
        if stop is not None:
            times = times[times < stop]
        color = LABEL_COLORS.get((labels or {}).get(unit, ""), "black")
        ax.vlines(times, row + 0.6, row + 1.4, color=color, linewidth=0.6)
    ax.set_yticks(range(1, len(units) + 1), [str(u) for u in units])
    ax.set_ylim(0.4, len(units) + 0.6)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("unit")
    if start is not None or stop is not None:
        ax.set_xlim(start, stop)
    ax.set_title(title or f"Spike raster ({len(units)} units)")
    if out is not None:
        _save(fig, out)
    return fig


def plot_unit_quality(
    units: pd.DataFrame,
    out: str | Path | None = None,
    *,
    metrics: Sequence[str] = ("snr", "firing_rate", "presence_ratio", "isi_violations_ratio"),
    title: str | None = None,
) -> Figure:
    """Unit quality per probe: label counts (stacked bars) and metric distributions.

    ``units`` is the DataFrame of :func:`ppdata.nwb.ephys.units` (``probe``, ``label``, and
    the metric columns; missing metrics are skipped).
    """
    metrics = [m for m in metrics if m in units]
    fig = _figure(4 + 3 * len(metrics), 4)
    axes = fig.subplots(1, 1 + len(metrics), squeeze=False)[0]
    probes = sorted(units["probe"].dropna().unique()) if "probe" in units else ["all"]
    by_probe = units.groupby("probe") if "probe" in units else [("all", units)]
    groups = dict(list(by_probe))
    bottom = np.zeros(len(probes))
    for label, color in LABEL_COLORS.items():
        counts = np.array(
            [int((groups[p].get("label") == label).sum()) if p in groups else 0 for p in probes]
        )
        axes[0].bar(probes, counts, bottom=bottom, color=color, label=label)
        bottom += counts
    axes[0].set_title("units by label")
    axes[0].set_ylabel("units")
    axes[0].legend(fontsize="small")
    if "default_qc" in units:
        passing = [int(groups[p]["default_qc"].sum()) if p in groups else 0 for p in probes]
        for x, n in enumerate(passing):
            axes[0].annotate(f"qc {n}", (x, bottom[x]), ha="center", va="bottom", fontsize=7)
    for ax, metric in zip(axes[1:], metrics, strict=True):
        values = [np.asarray(groups[p][metric].dropna(), dtype=float) for p in probes]
        ax.boxplot(values, tick_labels=probes, showfliers=False)
        ax.set_title(metric)
    for ax in axes:
        ax.tick_params(axis="x", rotation=45)
    fig.suptitle(title or f"Unit quality ({len(units)} units)")
    if out is not None:
        _save(fig, out)
    return fig


def plot_dff(
    dff: pd.DataFrame,
    out: str | Path | None = None,
    *,
    examples: int = 5,
    title: str | None = None,
) -> Figure:
    """ΔF/F heatmap (ROI x time) above a few example traces (the most active ROIs).

    ``dff`` is the DataFrame of :func:`ppdata.nwb.ophys.dff` (time index, one column per ROI).
    """
    values = np.asarray(dff.to_numpy(dtype=float))
    times = np.asarray(dff.index, dtype=float)
    fig = _figure(10, 7)
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 2], sharex=True)
    if values.size:
        vmax = float(np.nanpercentile(values, 99)) or 1.0
        extent = (times[0], times[-1], values.shape[1] - 0.5, -0.5)
        image = top.imshow(
            values.T, aspect="auto", cmap="viridis", vmin=0, vmax=vmax, extent=extent,
            interpolation="nearest",
        )  # fmt: skip
        fig.colorbar(image, ax=top, label="ΔF/F")
        order = np.argsort(np.nanstd(values, axis=0))[::-1][:examples]
        spread = (
            float(np.nanmax(values[:, order]) - np.nanmin(values[:, order])) if order.size else 1
        )
        for k, col in enumerate(order):
            bottom.plot(
                times, values[:, col] + k * spread, linewidth=0.7, label=str(dff.columns[col])
            )
        if order.size:
            bottom.legend(title="ROI", fontsize="small", loc="upper right")
    top.set_ylabel("ROI (column)")
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel("ΔF/F (offset)")
    fig.suptitle(title or f"ΔF/F: {values.shape[1] if values.ndim == 2 else 0} ROIs")
    if out is not None:
        _save(fig, out)
    return fig


def plot_roi_masks(
    masks: np.ndarray,
    background: np.ndarray,
    out: str | Path | None = None,
    *,
    roi_ids: Sequence[Any] | None = None,
    is_soma: Sequence[bool] | None = None,
    title: str | None = None,
) -> Figure:
    """ROI outlines over a projection image (e.g. ``max_projection``).

    ``masks`` is ROI x height x width (:func:`ppdata.nwb.ophys.roi_masks`); soma ROIs (if
    ``is_soma`` is given) are drawn in one colour, the others in another.
    """
    fig = _figure(7, 7)
    ax = fig.add_subplot()
    ax.imshow(background, cmap="gray", interpolation="nearest")
    masks = np.asarray(masks)
    for i, mask in enumerate(masks):
        if not np.any(mask > 0):
            continue
        soma = True if is_soma is None else bool(is_soma[i])
        ax.contour(mask > 0, levels=[0.5], colors=["#ff4f4f" if soma else "#4fc3ff"],
                   linewidths=0.8)  # fmt: skip
        if roi_ids is not None:
            y, x = np.argwhere(mask > 0).mean(axis=0)
            ax.text(x, y, str(roi_ids[i]), color="yellow", fontsize=6, ha="center", va="center")
    ax.set_axis_off()
    ax.set_title(title or f"{len(masks)} ROIs")
    if out is not None:
        _save(fig, out)
    return fig


def plot_running(
    speed: pd.DataFrame,
    out: str | Path | None = None,
    *,
    epochs: pd.DataFrame | None = None,
    title: str | None = None,
) -> Figure:
    """Running speed over time with stimulus epochs shaded.

    ``speed`` from :func:`ppdata.nwb.behavior.running_speed`; ``epochs`` from
    :func:`ppdata.nwb.behavior.stimulus_epochs` (``stimulus``, ``start_time``, ``stop_time``).
    """
    fig = _figure(11, 3.5)
    ax = fig.add_subplot()
    if epochs is not None and len(epochs):
        from matplotlib import colormaps

        cmap = colormaps["Pastel1"]
        for i, row in enumerate(epochs.itertuples(index=False)):
            ax.axvspan(row.start_time, row.stop_time, color=cmap(i % cmap.N), alpha=0.6,
                       label=str(row.stimulus))  # fmt: skip
    column = speed.columns[0]
    ax.plot(np.asarray(speed.index, dtype=float), speed[column].to_numpy(), color="black",
            linewidth=0.6)  # fmt: skip
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"running speed ({speed.attrs.get('unit', 'cm/s')})")
    if epochs is not None and len(epochs):
        ax.legend(fontsize="small", loc="upper right")
    ax.set_title(title or "Running speed")
    if out is not None:
        _save(fig, out)
    return fig


# --------------------------------------------------------------------------------------
# stimulus-aligned responses
# --------------------------------------------------------------------------------------

CONDITION_COLORS = ("#c0392b", "#2c3e50")


def _mean_sem(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean along ``axis``, ignoring NaN."""
    n = np.sum(np.isfinite(values), axis=axis)
    mean = np.nanmean(values, axis=axis) if values.size else np.zeros(values.shape[1 - axis])
    std = np.nanstd(values, axis=axis, ddof=1) if values.shape[axis] > 1 else np.zeros_like(mean)
    return mean, std / np.sqrt(np.maximum(n, 1))


def _band(
    ax: Any, t: np.ndarray, mean: np.ndarray, sem: np.ndarray, color: str, label: str
) -> None:
    ax.plot(t, mean, color=color, linewidth=1.4, label=label)
    ax.fill_between(t, mean - sem, mean + sem, color=color, alpha=0.25, linewidth=0)


def _onset(ax: Any) -> None:
    ax.axvline(0.0, color="black", linestyle="--", linewidth=0.8)


def _groups(labels: Sequence[str]) -> list[tuple[str, int, int]]:
    """Runs of equal labels: (label, first row, last row + 1)."""
    out: list[tuple[str, int, int]] = []
    for i, label in enumerate(labels):
        if out and out[-1][0] == label:
            out[-1] = (label, out[-1][1], i + 1)
        else:
            out.append((label, i, i + 1))
    return out


def psth_figure(psth: Any, out: str | Path | None = None, *, title: str | None = None) -> Figure:
    """Mean ± SEM firing rate of the two conditions, and every unit's response.

    ``psth`` is the DataArray of :func:`ppdata.nwb.aligned.aligned_spikes` (unit × condition ×
    time, spikes/s). Top: the population mean ± SEM across units for each condition, time
    0 marked. Bottom: one row per unit (rate difference between the conditions), grouped
    by probe and brain area, the groups labelled and separated.
    """
    conditions = [str(c) for c in psth["condition"].values]
    t = np.asarray(psth["time"].values, dtype=float)
    values = np.asarray(psth.values, dtype=float)
    trials = dict(psth.attrs.get("trials", {}))
    fig = _figure(9, 8)
    top, bottom = fig.subplots(2, 1, height_ratios=[2, 3], sharex=True)
    for c, condition in enumerate(conditions):
        mean, sem = _mean_sem(values[:, c, :], axis=0)
        color = CONDITION_COLORS[c % len(CONDITION_COLORS)]
        _band(top, t, mean, sem, color, f"{condition} ({trials.get(condition, '?')} trials)")
    _onset(top)
    top.set_ylabel("firing rate (spikes/s)")
    top.legend(fontsize="small", loc="upper right")
    top.set_title(f"mean ± SEM over {values.shape[0]} units")
    keys = [psth[k].values.astype(str) if k in psth.coords else None
            for k in ("probe", "brain_area")]  # fmt: skip
    group = [
        " ".join(k[i] for k in keys if k is not None) or "all units" for i in range(values.shape[0])
    ]
    diff = values[:, 0, :] - values[:, 1, :] if len(conditions) > 1 else values[:, 0, :]
    early = (t >= 0) & (t < 0.3)
    strength = np.nanmean(diff[:, early], axis=1) if early.any() else np.zeros(len(diff))
    order = sorted(range(len(group)), key=lambda i: (group[i], -np.nan_to_num(strength[i])))
    if len(order):
        shown = diff[order]
        vmax = float(np.nanpercentile(np.abs(shown), 99)) or 1.0
        image = bottom.imshow(
            shown, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest",
            extent=(t[0] - (t[1] - t[0]) / 2 if len(t) > 1 else -0.5,
                    t[-1] + (t[1] - t[0]) / 2 if len(t) > 1 else 0.5, len(order) - 0.5, -0.5),
        )  # fmt: skip
        label = (
            f"{conditions[0]} − {conditions[1]} (spikes/s)" if len(conditions) > 1 else ("spikes/s")
        )
        fig.colorbar(image, ax=bottom, label=label)
        runs = _groups([group[i] for i in order])
        for _name, a, _b in runs[1:]:
            bottom.axhline(a - 0.5, color="black", linewidth=0.6)
        bottom.set_yticks([(a + b - 1) / 2 for _, a, b in runs], [n for n, _, _ in runs],
                          fontsize=7)  # fmt: skip
    _onset(bottom)
    bottom.set_ylabel("units by probe and brain area")
    bottom.set_xlabel("time from stimulus onset (s)")
    fig.suptitle(title or f"PSTH: {' vs '.join(conditions)}")
    if out is not None:
        _save(fig, out)
    return fig


def aligned_dff_figure(
    aligned: Any, out: str | Path | None = None, *, title: str | None = None
) -> Figure:
    """Trial-aligned ΔF/F: mean ± SEM over trials of the two conditions, and per ROI.

    ``aligned`` is the DataArray of :func:`ppdata.nwb.aligned.aligned_dff` (roi × trial × time,
    ``condition`` on ``trial``). Top: the ROI-averaged response, mean ± SEM across trials.
    Bottom: each ROI's mean response difference between the conditions.
    """
    t = np.asarray(aligned["time"].values, dtype=float)
    values = np.asarray(aligned.values, dtype=float)  # roi × trial × time
    condition = np.asarray(aligned["condition"].values).astype(str)
    names = list(dict.fromkeys(condition))
    unit = aligned.attrs.get("units", "ΔF/F")
    fig = _figure(9, 7)
    top, bottom = fig.subplots(2, 1, height_ratios=[2, 3], sharex=True)
    means = []
    for c, name in enumerate(names):
        per_trial = np.nanmean(values[:, condition == name, :], axis=0)  # trial × time
        mean, sem = _mean_sem(per_trial, axis=0)
        _band(top, t, mean, sem, CONDITION_COLORS[c % 2], f"{name} ({per_trial.shape[0]} trials)")
        means.append(np.nanmean(values[:, condition == name, :], axis=1))  # roi × time
    _onset(top)
    top.set_ylabel(f"ΔF/F ({unit})")
    top.legend(fontsize="small", loc="upper right")
    top.set_title(f"mean ± SEM over trials, averaged over {values.shape[0]} ROIs")
    diff = means[0] - means[1] if len(means) > 1 else means[0]
    if diff.size:
        order = np.argsort(-np.nanmean(diff[:, t >= 0], axis=1))
        vmax = float(np.nanpercentile(np.abs(diff), 99)) or 1.0
        step = t[1] - t[0] if len(t) > 1 else 1.0
        image = bottom.imshow(
            diff[order], aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax,
            interpolation="nearest",
            extent=(t[0] - step / 2, t[-1] + step / 2, len(order) - 0.5, -0.5),
        )  # fmt: skip
        fig.colorbar(image, ax=bottom, label=f"{' − '.join(names[:2])} ({unit})")
    _onset(bottom)
    bottom.set_ylabel("ROI (sorted by response)")
    bottom.set_xlabel("time from stimulus onset (s)")
    fig.suptitle(title or f"Aligned ΔF/F, plane {aligned.attrs.get('plane', '')}: "
                 f"{' vs '.join(names)}")  # fmt: skip
    if out is not None:
        _save(fig, out)
    return fig


def plot_slap2_mean(
    images: Mapping[int, np.ndarray], out: str | Path | None = None, *, title: str = ""
) -> Figure:
    """Mean image of each SLAP2 DMD, side by side (axes in µm at 0.25 µm per pixel).

    Parameters
    ----------
    images : mapping
        DMD number -> 2-D image (NaN margins are shown blank).
    out : str or Path
        Output file (``.png``, ``.svg`` or ``.pdf``).
    title : str
        Figure title (e.g. the session name).
    """
    if not images:
        raise ValueError("no DMD images to plot")
    fig = _figure(3.2 * len(images) + 0.6, 3.4)
    um_per_px = 0.25
    for i, (dmd, image) in enumerate(sorted(images.items())):
        ax = fig.add_subplot(1, len(images), i + 1)
        h, w = image.shape
        shown = ax.imshow(
            image, cmap="gray", extent=(0, w * um_per_px, h * um_per_px, 0), interpolation="none"
        )
        ax.set_title(f"DMD{dmd}")
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="mean fluorescence (a.u.)")
    if title:
        fig.suptitle(title, fontsize=9)
    if out is not None:
        _save(fig, out)
    return fig
