"""The built-in project tables: what one task computes for one session.

Each function takes an open :class:`~ppdata.session.Session` and returns a DataFrame (or an
Arrow table) of scalar columns (no arrays, no object references), ready for Parquet. They
run on Dask workers, which add the ``session`` column and send the part back as Parquet
bytes (:func:`ppdata.project.store.encode_part`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from ..session import Session

__all__ = ["TABLES", "TableSpec", "rois_table", "scalar_columns", "stimuli_table", "units_table"]


def scalar_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the columns Parquet can hold as plain values: numbers, booleans, text.

    Columns of arrays or lists are dropped; text held as bytes is decoded; an object column
    of mixed values becomes text, so every session's table has one type per column.
    """
    import pandas as pd

    out = {}
    for name in frame.columns:
        values = frame[name]
        if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
            out[str(name)] = values
            continue
        sample = values.dropna()
        first = sample.iloc[0] if len(sample) else None
        if isinstance(first, (list, tuple, np.ndarray, dict, set)):
            continue
        if isinstance(first, bytes):
            values = values.map(
                lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v
            )
        kinds = {type(v) for v in sample}
        if kinds <= {bool, np.bool_}:
            out[str(name)] = values.astype("boolean")
        elif kinds and all(issubclass(k, (int, float, np.integer, np.floating)) for k in kinds):
            out[str(name)] = pd.to_numeric(values)
        else:
            out[str(name)] = values.map(lambda v: None if v is None else str(v)).astype(object)
    return pd.DataFrame(out, index=frame.index)


# --- units --------------------------------------------------------------------------------


def units_table(session: Session, assets: Mapping[str, str] | None = None) -> pa.Table:
    """Every unit of a Neuropixels session: its scalar columns (quality metrics ...),
    ``label``, ``default_qc``, ``probe``, and ``brain_area`` (the location of its peak
    electrode, ``unknown`` when the file does not say); read lean, see
    :mod:`ppdata.project.units_scan`. ``assets``: kind -> current asset name, if known
    (the ``nwb`` one is opened without listing the session)."""
    from .units_scan import open_units_nwb, units_arrow

    nwb, own = open_units_nwb(session, (assets or {}).get("nwb"))
    try:
        return units_arrow(nwb, session.parsed.subject_id)
    finally:
        if own:
            nwb.close()


# --- ROIs ---------------------------------------------------------------------------------


def rois_table(session: Session) -> pd.DataFrame:
    """Every ROI of an imaging session: its plane, structure and depth, and the ROI
    table's scalar columns (``is_soma``, ``soma_probability`` ...); no masks."""
    import pandas as pd

    planes = session.planes()
    parts = []
    for plane, info in planes.iterrows():
        rois = session.rois(str(plane)).reset_index()
        rois.insert(0, "plane", str(plane))
        rois.insert(1, "structure", info.get("structure"))
        rois.insert(2, "depth_um", info.get("depth_um"))
        parts.append(rois)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"plane": []})
    frame.insert(0, "subject", session.parsed.subject_id)
    return scalar_columns(frame)


# --- stimuli ------------------------------------------------------------------------------


def stimuli_table(session: Session) -> pd.DataFrame:
    """Every stimulus presentation of a session, one row each, with the ``table`` it came
    from (``Sequence mismatch block`` for ``Sequence mismatch block_presentations``)."""
    import pandas as pd

    tables = session.stimulus_tables()
    parts = []
    for name, table in tables.items():
        frame = table.reset_index()
        frame = frame.drop(
            columns=[c for c in frame.columns if str(c).startswith("timeseries")], errors="ignore"
        )
        frame.insert(0, "table", str(name).removesuffix("_presentations"))
        parts.append(scalar_columns(frame))
    frame = (
        pd.concat(parts, ignore_index=True, sort=False) if parts else pd.DataFrame({"table": []})
    )
    frame.insert(0, "subject", session.parsed.subject_id)
    return scalar_columns(frame)


# --- the registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    """A project table: how one session's part is made, which sessions have the data, and
    which of their assets it is read from (their names are the part's version)."""

    name: str
    compute: Callable[..., Any]
    platforms: tuple[str, ...]
    #: asset kinds it may read; a session needs at least one of them
    kinds: tuple[str, ...]
    description: str
    #: columns shown in the table for people (all columns go to --csv/--json/--parquet)
    people: tuple[str, ...] = ()
    #: bumped when ``compute`` changes what it writes, so cached parts are made again
    version: int = 1
    #: ``compute`` takes ``assets=``: kind -> the current asset's name, from the catalog
    #: (saves a task the listing of its session)
    takes_assets: bool = False


def _unit_responses(session: Session) -> pd.DataFrame:
    from .responses import unit_responses_table

    return scalar_columns(unit_responses_table(session))


def _roi_responses(session: Session) -> pd.DataFrame:
    from .responses import roi_responses_table

    return scalar_columns(roi_responses_table(session))


TABLES: dict[str, TableSpec] = {
    "units": TableSpec(
        "units",
        units_table,
        ("ecephys",),
        ("nwb", "sorted"),
        "one row per sorted unit: metrics, label, default_qc, probe, brain_area",
        (
            "session",
            "unit_id",
            "probe",
            "label",
            "default_qc",
            "brain_area",
            "snr",
            "firing_rate",
            "num_spikes",
        ),
        version=2,
        takes_assets=True,
    ),
    "rois": TableSpec(
        "rois",
        rois_table,
        ("multiplane-ophys",),
        ("nwb", "planar-ophys"),
        "one row per ROI: plane, structure, depth_um, is_soma, soma_probability",
        ("session", "plane", "structure", "depth_um", "roi_id", "is_soma", "soma_probability"),
    ),
    "stimuli": TableSpec(
        "stimuli",
        stimuli_table,
        ("ecephys", "multiplane-ophys"),
        ("nwb", "behavior-timing", "sorted"),
        "one row per stimulus presentation: table, start_time, stop_time, TrialType ...",
        ("session", "table", "start_time", "stop_time", "stim_name", "TrialType"),
    ),
    "unit_responses": TableSpec(
        "unit_responses",
        _unit_responses,
        ("ecephys",),
        ("nwb", "sorted"),
        "one row per unit: deviant and standard rates (spikes/s), deviant-vs-standard index",
        (
            "session",
            "unit_id",
            "probe",
            "label",
            "deviant_rate",
            "standard_rate",
            "index",
            "n_deviant",
            "n_standard",
        ),
    ),
    "roi_responses": TableSpec(
        "roi_responses",
        _roi_responses,
        ("multiplane-ophys",),
        ("nwb", "planar-ophys", "behavior-timing"),
        "one row per ROI: deviant and standard ΔF/F change, deviant-vs-standard index",
        (
            "session",
            "plane",
            "roi_id",
            "deviant_dff",
            "standard_dff",
            "index",
            "n_deviant",
            "n_standard",
        ),
    ),
}
