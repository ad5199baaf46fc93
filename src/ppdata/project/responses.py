"""Deviant-vs-standard response index per unit and per ROI, across sessions.

For each unit (ROI), the mean response to deviant trials ``d`` and to standard trials ``s``
in a response window after onset gives the index ``(d - s) / (|d| + |s|)``: +1 responds
only to deviants, -1 only to standards, 0 alike (NaN when both are 0). Units respond in
spikes/s over 0–0.35 s (one 343-ms grating, REAL_SHAPES §6); ROIs in ΔF/F over 0–1 s
minus the 1 s before onset (calcium is slow). The aligned responses come from
``Session.aligned_spikes`` / ``Session.aligned_dff`` (issue 9).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFound

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from ..session import Session

__all__ = [
    "ROI_WINDOW",
    "UNIT_WINDOW",
    "plot_response_index",
    "response_index",
    "roi_responses_table",
    "unit_responses_table",
]

#: Response windows (s after onset).
UNIT_WINDOW = (0.0, 0.35)
ROI_WINDOW = (0.0, 1.0)
ROI_BASELINE = (-1.0, 0.0)


def response_index(deviant: Any, standard: Any) -> np.ndarray:
    """``(d - s) / (|d| + |s|)``, NaN where both are 0.

    >>> response_index([2.0, 1.0, 0.0], [1.0, 1.0, 0.0]).round(3).tolist()
    [0.333, 0.0, nan]
    """
    d = np.asarray(deviant, dtype=float)
    s = np.asarray(standard, dtype=float)
    total = np.abs(d) + np.abs(s)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (d - s) / np.where(total > 0, total, 1.0), np.nan)


def _needs(session: Session, method: str) -> Any:
    fn = getattr(session, method, None)
    if fn is None:
        raise NotFound(f"this ppdata has no Session.{method} (aligned responses, issue 9)")
    return fn


def unit_responses_table(session: Session) -> pd.DataFrame:
    """Per unit: mean deviant and standard rates (spikes/s) in :data:`UNIT_WINDOW`, their
    trial counts, and the index."""
    import pandas as pd

    units = session.units()
    rates = _needs(session, "aligned_spikes")(units, window=(-0.25, 0.5), bin_size=0.05)
    time = rates["time"].to_numpy()
    keep = (time >= UNIT_WINDOW[0]) & (time < UNIT_WINDOW[1])
    mean = rates.isel(time=np.flatnonzero(keep)).mean("time").to_numpy()  # unit x condition
    to, vs = (str(c) for c in rates["condition"].to_numpy())
    trials = rates.attrs.get("trials", {})
    frame = pd.DataFrame(
        {
            "unit_id": rates["unit"].to_numpy(),
            "probe": units["probe"].astype(str).to_numpy() if "probe" in units else None,
            "label": units["label"].astype(str).to_numpy() if "label" in units else None,
            "deviant_rate": mean[:, 0],
            "standard_rate": mean[:, 1],
            "index": response_index(mean[:, 0], mean[:, 1]),
            "n_deviant": int(trials.get(to, 0)),
            "n_standard": int(trials.get(vs, 0)),
        }
    )
    frame.insert(0, "subject", session.parsed.subject_id)
    return frame


def roi_responses_table(session: Session) -> pd.DataFrame:
    """Per ROI of every plane: mean baseline-subtracted ΔF/F to deviants and standards in
    :data:`ROI_WINDOW`, their trial counts, and the index."""
    import pandas as pd

    aligned = _needs(session, "aligned_dff")
    parts = []
    for plane, info in session.planes().iterrows():
        dff = aligned(str(plane), window=(ROI_BASELINE[0], ROI_WINDOW[1]))
        time = dff["time"].to_numpy()
        base = dff.isel(time=np.flatnonzero((time >= ROI_BASELINE[0]) & (time < ROI_BASELINE[1])))
        resp = dff.isel(time=np.flatnonzero((time >= ROI_WINDOW[0]) & (time < ROI_WINDOW[1])))
        change = (resp.mean("time") - base.mean("time")).to_numpy()  # roi x trial
        condition = dff["condition"].to_numpy().astype(str)
        to, vs = "deviant", "standard"  # aligned_dff's defaults; trials are in onset order
        d = np.nanmean(change[:, condition == to], axis=1) if (condition == to).any() else np.nan
        s = np.nanmean(change[:, condition == vs], axis=1) if (condition == vs).any() else np.nan
        d = np.broadcast_to(d, change.shape[:1])
        s = np.broadcast_to(s, change.shape[:1])
        parts.append(
            pd.DataFrame(
                {
                    "plane": str(plane),
                    "structure": info.get("structure"),
                    "depth_um": info.get("depth_um"),
                    "roi_id": dff["roi"].to_numpy(),
                    "deviant_dff": d,
                    "standard_dff": s,
                    "index": response_index(d, s),
                    "n_deviant": int((condition == to).sum()),
                    "n_standard": int((condition == vs).sum()),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"plane": []})
    frame.insert(0, "subject", session.parsed.subject_id)
    return frame


def plot_response_index(
    table: pd.DataFrame, out: str | Path | None = None, *, by: str = "session", what: str = "units"
) -> Figure:
    """Histogram of the index, one outline per group (session, probe, structure ...), with
    the median of all marked.

    Parameters
    ----------
    table : pandas.DataFrame
        A responses table (``index`` and the ``by`` column).
    out : str or Path, optional
        Also write the figure there (``.png``, ``.svg`` or ``.pdf``); default: nothing is
        written, the returned figure shows inline in Jupyter.
    by : str
        Grouping column; at most 12 groups are drawn (the largest).
    what : str
        Name of the rows, for the y label (``units``, ``ROIs``).
    """
    from ..plots.figures import _figure, _save

    if "index" not in table:
        raise NotFound("the table has no 'index' column: is it a responses table?")
    values = table[["index", by]].dropna(subset=["index"])
    bins = np.linspace(-1, 1, 41).tolist()
    fig = _figure(6.0, 3.6)
    ax = fig.add_subplot()
    ax.hist(values["index"], bins=bins, color="#cccccc", label=f"all ({len(values)})")
    groups = values[by].value_counts().index[:12] if by in values else []
    for name in groups:
        ax.hist(
            values.loc[values[by] == name, "index"], bins=bins, histtype="step", label=str(name)
        )
    if len(values):
        ax.axvline(float(values["index"].median()), color="black", linestyle="--", lw=1)
    ax.set_xlabel("deviant-vs-standard index (d − s)/(|d| + |s|) (unitless)")
    ax.set_ylabel(f"{what} (count)")
    sessions = table.loc[table["index"].notna(), "session"].nunique() if "session" in table else 0
    ax.set_title(f"Deviant-vs-standard response index ({sessions} sessions)")
    ax.legend(frameon=False, fontsize="x-small", ncols=2)
    if out is not None:
        _save(fig, out)
    return fig
