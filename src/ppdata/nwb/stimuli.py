"""Stimulus tables from an NWB: blocks, presentations, trial types (REAL_SHAPES.md §6).

The real files hold one ``intervals['<block name>_presentations']`` table per stimulus
(``Sequence mismatch block_presentations``, ``Control block 1_presentations``, ``RF
mapping_presentations``, opto tables such as ``40 hz pulse train_presentations``), with
the stimulus parameters stored as strings in the Neuropixels files and as numbers in the
Mesoscope ones. These readers return the same thing for both: every raw column kept,
bytes decoded, numeric columns numeric, plus

- ``block``: the table name without ``_presentations``;
- ``trial_type``: the real ``TrialType`` (standard, orientation_45, orientation_90, halt,
  omission, sequence_omission, jitter, motor_…, single, prerecorded, rf_mapping …);
- ``deviant``: True for the oddball types (orientation_45/90, halt, omission, jitter and
  every ``motor_`` type) outside control blocks — never for ``sequence_omission``, the
  blank that ends every sequence, nor for rows of a control block;
- ``onset_index``: the row's onset in ``processing/stimulus/timestamps`` (from the
  ``timeseries`` reference), where the file has it.

Examples
--------
>>> import ppdata
>>> session = ppdata.open_session("ecephys_820459_2025-11-12_14-34-33")
>>> nwb = session.nwb()  # the complete NWB; open_nwb(key) opens any other
>>> blocks(nwb)[["block", "block_type"]].head(3)
                     block          block_type
0              spontaneous         spontaneous
1          Control block 1    standard_control
2  Sequence mismatch block  sequential_oddball
>>> p = presentations(nwb, "Sequence mismatch block")
>>> sorted(p[p.deviant].trial_type.unique())
['halt', 'omission', 'orientation_45', 'orientation_90']
>>> session.close()
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFound

if TYPE_CHECKING:
    import pandas as pd

    from .file import NWB

__all__ = [
    "DEVIANT_TYPES",
    "TRIAL_COLUMNS",
    "blocks",
    "context_tables",
    "find_block",
    "has_stimulus_tables",
    "is_deviant",
    "presentations",
    "stimulus_epochs",
    "stimulus_tables",
    "table_names",
]

logger = logging.getLogger(__name__)

SUFFIX = "_presentations"
CONTEXT_HINT = "mismatch block"
#: TrialType values that are oddballs (plus every ``motor_`` type).
DEVIANT_TYPES = frozenset({"orientation_45", "orientation_90", "halt", "omission", "jitter"})
#: Columns that are text even when every value looks like a number.
_TEXT_COLUMNS = {
    "stim_name",
    "stim_type",
    "BlockLabel",
    "TrialType",
    "BlockType",
    "condition",
    "name",
    "stimulus_name",
}
_RAGGED = {"timeseries", "tags"}
#: The columns an aligned analysis needs: onsets, ends and what sets ``trial_type`` and
#: ``deviant`` (a table has 20-30 columns; reading only these is several times faster).
TRIAL_COLUMNS = ("start_time", "stop_time", "TrialType", "BlockType", "condition")


def _is_control(block: str, block_type: str) -> bool:
    return (
        block.lower().startswith("control block")
        or "control" in block_type.lower()
        or block_type == "open_loop_prerecorded"
    )


def is_deviant(trial_type: str, block: str = "", block_type: str = "") -> bool:
    """Whether a presentation is an oddball (see the module docstring for the rule)."""
    if _is_control(block, block_type):
        return False
    return trial_type in DEVIANT_TYPES or trial_type.startswith("motor_")


def has_stimulus_tables(nwb: NWB) -> bool:
    """Whether the file has at least one ``*_presentations`` table."""
    return nwb.exists("intervals") and any(n.endswith(SUFFIX) for n in nwb.children("intervals"))


def _numeric(values: np.ndarray, name: str) -> np.ndarray:
    """Numbers stored as strings become float64; text stays text."""
    if values.dtype.kind != "O" or name in _TEXT_COLUMNS or values.size == 0:
        return values
    try:  # the common case, vectorized: every value a number or "nan"
        return values.astype(np.float64)
    except (TypeError, ValueError):
        pass
    out = np.empty(values.size, dtype=np.float64)
    for i, v in enumerate(values.ravel()):
        if v is None or (isinstance(v, str) and v.strip().lower() in ("", "nan", "none")):
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            return values
    return out.reshape(values.shape)


def _onset_index(nwb: NWB, path: str) -> np.ndarray | None:
    if not nwb.exists(f"{path}/timeseries"):
        return None
    refs = nwb.read(f"{path}/timeseries")
    if refs.dtype.names and "idx_start" in refs.dtype.names:
        return np.asarray(refs["idx_start"], dtype=np.int64)
    return None


def _read_table(nwb: NWB, name: str, only: tuple[str, ...] | None = None) -> pd.DataFrame:
    import pandas as pd

    path = f"intervals/{name}"
    columns = [c for c in nwb.table_columns(path) if c not in _RAGGED]
    if only is not None:
        columns = [c for c in columns if c in only]
    data = nwb.read_table(path, columns)
    ids = data.pop("id")
    frame = pd.DataFrame(
        {k: (list(v) if v.ndim > 1 else _numeric(np.asarray(v), k)) for k, v in data.items()},
        index=pd.Index(ids, name="id"),
    )
    onsets = _onset_index(nwb, path) if only is None else None
    if onsets is not None and len(onsets) == len(frame):
        frame["onset_index"] = onsets
    return frame


def table_names(nwb: NWB) -> list[str]:
    """Names of the ``*_presentations`` tables, as in the file."""
    if not nwb.exists("intervals"):
        return []
    return [n for n in nwb.children("intervals") if n.endswith(SUFFIX)]


def context_tables(names: list[str]) -> list[str]:
    """The context (oddball) blocks among table names: ``Standard``, ``Sensory-motor``,
    ``Sequence`` and ``Duration mismatch block`` (the names the paper's code keys on)."""
    return [n for n in names if CONTEXT_HINT in n.lower()]


def stimulus_tables(
    nwb: NWB, names: list[str] | None = None, columns: tuple[str, ...] | None = None
) -> dict[str, pd.DataFrame]:
    """Every ``*_presentations`` table (or those named), by its name in the file.

    Each DataFrame is indexed by presentation id and holds every column of the file
    (``timeseries`` turned into ``onset_index``), text decoded and numbers numeric; with
    ``columns``, only those of them the table has (e.g. :data:`TRIAL_COLUMNS`). Empty dict
    if the file has none.
    """
    names = table_names(nwb) if names is None else names
    if not names:
        return {}
    paths = []
    for name in names:
        path = f"intervals/{name}"
        if columns is not None:
            present = set(nwb.children(path))
            paths += [f"{path}/{c}" for c in ("id", *columns) if c in present]
            continue
        paths += [f"{path}/{c}" for c in nwb.children(path) if not nwb.is_group(f"{path}/{c}")]
    nwb.prefetch(paths)  # every column of every table in one concurrent batch
    return {name: _read_table(nwb, name, columns) for name in names}


def _text(frame: pd.DataFrame, column: str, default: str = "") -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), default, dtype=object)
    # one conversion to an object array first: iterating a pandas (Arrow) string column
    # builds each value through pyarrow, about ten times slower
    return np.array(
        [
            default if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v)
            for v in frame[column].to_numpy(dtype=object)
        ],
        dtype=object,
    )


def _annotate(name: str, table: pd.DataFrame) -> pd.DataFrame:
    block = name.removesuffix(SUFFIX)
    out = table.copy()
    block_types = _text(out, "BlockType")
    if "TrialType" in out:
        trial_types = _text(out, "TrialType")
    elif "condition" in out:  # opto tables
        trial_types = _text(out, "condition")
    else:
        trial_types = np.full(len(out), block, dtype=object)
    out.insert(0, "block", block)
    out["trial_type"] = trial_types
    rule: dict[tuple[str, str], bool] = {}  # a table has a few (trial, block) types
    out["deviant"] = np.array(
        [
            rule[key] if key in rule else rule.setdefault(key, is_deviant(key[0], block, key[1]))
            for key in zip(trial_types, block_types, strict=True)
        ],
        dtype=bool,
    )
    return out


def presentations(
    nwb: NWB, block: str | None = None, tables: dict[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Presentations of one block (or of every block), sorted by start time.

    Parameters
    ----------
    nwb : NWB
        A file with stimulus tables (complete ephys NWB, Mesoscope behavior NWB).
    block : str, optional
        Block name, with or without ``_presentations``, any case
        (``"Sequence mismatch block"``). Default: every block.
    tables : dict, optional
        Tables already read with :func:`stimulus_tables`.

    Returns
    -------
    pandas.DataFrame
        The raw columns plus ``block``, ``trial_type``, ``deviant`` (and ``onset_index``).

    Raises
    ------
    NotFound
        No stimulus tables, or an unknown block (the message lists the blocks).
    """
    import pandas as pd

    tables = stimulus_tables(nwb) if tables is None else tables
    if not tables:
        raise NotFound(f"{nwb.name} has no stimulus tables (no intervals/*{SUFFIX})")
    names = [find_block(tables, block)] if block is not None else list(tables)
    frames = [_annotate(n, tables[n]) for n in names]
    out = pd.concat(frames) if len(frames) > 1 else frames[0]
    return out.sort_values("start_time", kind="stable")


def find_block(tables: dict[str, Any], block: str) -> str:
    """The table name of a block, matched with or without the suffix, ignoring case.

    Raises
    ------
    NotFound
        An unknown block; the message lists the valid ones.
    """
    wanted = block.strip().lower().removesuffix(SUFFIX)
    for name in tables:
        if name.lower().removesuffix(SUFFIX) == wanted:
            return name
    valid = ", ".join(repr(n.removesuffix(SUFFIX)) for n in sorted(tables))
    raise NotFound(f"no stimulus block {block!r}; blocks are {valid}")


def blocks(nwb: NWB, tables: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per stimulus block, in time order.

    Columns: ``block``, ``block_type`` (``BlockType``, or ``opto`` for the opto tables),
    ``start_time``, ``stop_time`` (s), ``presentations``, ``deviants`` and
    ``trial_types`` (a dict of TrialType -> presentations).
    """
    import pandas as pd

    tables = stimulus_tables(nwb) if tables is None else tables
    rows = []
    for name, table in tables.items():
        if "start_time" not in table or len(table) == 0:
            continue
        annotated = _annotate(name, table)
        kinds = sorted({t for t in _text(table, "BlockType") if t})
        counts = annotated["trial_type"].value_counts(sort=False)
        rows.append(
            {
                "block": name.removesuffix(SUFFIX),
                "block_type": ", ".join(kinds)
                if kinds
                else ("opto" if "condition" in table else ""),
                "start_time": float(table["start_time"].min()),
                "stop_time": float(table["stop_time"].max()),
                "presentations": len(table),
                "deviants": int(annotated["deviant"].sum()),
                "trial_types": {str(k): int(v) for k, v in counts.items()},
            }
        )
    columns = [
        "block",
        "block_type",
        "start_time",
        "stop_time",
        "presentations",
        "deviants",
        "trial_types",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("start_time").reset_index(drop=True)


def stimulus_epochs(nwb: NWB) -> pd.DataFrame:
    """One row per stimulus table: its name, first start, last stop, and presentations.

    Useful to shade epochs on a plot of running speed or activity.
    """
    frame = blocks(nwb)
    frame = frame.rename(columns={"block": "stimulus"})
    return frame[["stimulus", "start_time", "stop_time", "presentations"]]
