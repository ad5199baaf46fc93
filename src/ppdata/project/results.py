"""Cross-session results from the project tables, and their plots.

- :func:`unit_yield`: units per probe × label × brain area over all sessions (the release
  paper's yield figure counts the same thing per session);
- :func:`plot_unit_yield`: a stacked bar chart of it.

Plots follow :mod:`ppdata.plots.figures`: matplotlib's object API, atomic writes, axes with units.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["plot_unit_yield", "unit_yield"]

LABEL_ORDER = ("sua", "mua", "noise")


def unit_yield(
    units: pd.DataFrame, by: tuple[str, ...] = ("probe", "label", "brain_area")
) -> pd.DataFrame:
    """Unit counts per group over sessions.

    Parameters
    ----------
    units : pandas.DataFrame
        The project ``units`` table (a ``session`` column and the ``by`` columns); rows with
        an ``error`` are ignored.
    by : tuple of str
        Grouping columns (default probe × label × brain area).

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``units`` (total), ``sessions`` (sessions with
        at least one such unit), ``per_session`` (mean units per session of those that
        have the probe), sorted by the ``by`` columns.
    """
    import pandas as pd

    frame = units
    if "error" in frame:
        frame = frame[frame["error"].isna()]
    missing = [c for c in ("session", *by) if c not in frame]
    if missing:
        from ..errors import NotFound

        raise NotFound(
            f"the units table has no column(s) {missing}: is it the project units table?"
        )
    frame = frame.assign(**{c: frame[c].fillna("unknown").astype(str) for c in by})
    grouped = frame.groupby(list(by), observed=True)
    out = pd.DataFrame(
        {"units": grouped.size(), "sessions": grouped["session"].nunique()}
    ).reset_index()
    probe_sessions = frame.groupby("probe")["session"].nunique() if "probe" in by else None
    if probe_sessions is not None:
        out["per_session"] = out["units"] / out["probe"].map(probe_sessions)
    else:
        out["per_session"] = out["units"] / max(frame["session"].nunique(), 1)
    return out.sort_values(list(by), kind="stable").reset_index(drop=True)


def plot_unit_yield(
    table: pd.DataFrame, out: str | Path | None = None, *, title: str | None = None
) -> Figure:
    """Stacked bars: mean units per session for each probe, stacked by label.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`unit_yield` output (``probe``, ``label``, ``per_session`` at least).
    out : str or Path, optional
        Also write the figure there (``.png``, ``.svg`` or ``.pdf``); default: nothing is
        written, the returned figure shows inline in Jupyter.
    """
    import numpy as np

    from ..plots.figures import LABEL_COLORS, _figure, _save

    pivot = table.pivot_table(
        index="probe", columns="label", values="per_session", aggfunc="sum", fill_value=0.0
    )
    labels = [lab for lab in LABEL_ORDER if lab in pivot.columns] + [
        lab for lab in pivot.columns if lab not in LABEL_ORDER
    ]
    fig = _figure(max(4.0, 0.9 * len(pivot) + 2), 3.6)
    ax = fig.add_subplot()
    bottom = np.zeros(len(pivot))
    for label in labels:
        values = pivot[label].to_numpy(dtype=float)
        ax.bar(
            pivot.index.astype(str),
            values,
            bottom=bottom,
            label=label,
            color=LABEL_COLORS.get(label, "#7570b3"),
        )
        bottom += values
    ax.set_xlabel("probe")
    ax.set_ylabel("units per session (count)")
    sessions = int(table["sessions"].max()) if "sessions" in table and len(table) else 0
    ax.set_title(title or f"Unit yield by probe and label ({sessions} sessions)")
    ax.legend(title="label", frameon=False)
    if out is not None:
        _save(fig, out)
    return fig
