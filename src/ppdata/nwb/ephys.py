"""Neuropixels data from an NWB: units, spike times, electrodes, waveforms (LFP is in
:mod:`ppdata.nwb.lfp`).

Every function takes an open :class:`~ppdata.nwb.open.NWB` and reads only what it needs: the
units table is read column by column in one concurrent batch (never row by row), spike
times only for the units asked for.

Examples
--------
>>> import ppdata
>>> session = ppdata.open_session("ecephys_820459_2025-11-12_14-34-33")
>>> nwb = session.nwb()  # the complete NWB; open_nwb(key) opens any other
>>> good = units(nwb, label="sua", default_qc=True, where="snr > 3")
>>> list(good[["probe", "snr", "firing_rate"]].columns)
['probe', 'snr', 'firing_rate']
>>> spikes = spike_times(nwb, good.index[:5])
>>> len(spikes)
5
>>> session.close()
"""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFound

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from .file import NWB
    from .storage import S3File

__all__ = [
    "LABELS",
    "electrode_groups",
    "electrodes",
    "list_probes",
    "spike_times",
    "units",
    "waveforms",
]

logger = logging.getLogger(__name__)

UNITS = "units"
ELECTRODES = "general/extracellular_ephys/electrodes"
EXTRACELLULAR = "general/extracellular_ephys"
#: The classifier's labels, and the columns they are found in (newest first).
LABELS = ("noise", "mua", "sua")
LABEL_COLUMNS = ("unitrefine_label", "decoder_label")
#: Ragged or bulky columns the units DataFrame leaves out (read them with spike_times()).
_SKIPPED_UNIT_COLUMNS = {"spike_times", "electrodes", "waveform_mean", "waveform_sd", "waveforms"}
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


# --------------------------------------------------------------------------------------
# probes and electrodes
# --------------------------------------------------------------------------------------


def list_probes(nwb: NWB) -> list[str]:
    """Probe names (``ProbeA`` ...): the devices of the electrode groups.

    A probe recorded as several electrode groups (``ProbeF_group0``, ``ProbeF_group1``: its
    shanks) is one probe. Falls back to the units' ``device_name`` values.
    """
    groups = electrode_groups(nwb)
    if groups:
        return sorted(set(groups.values()))
    if nwb.exists(f"{UNITS}/device_name"):
        return sorted({str(v) for v in nwb.read(f"{UNITS}/device_name")})
    return []


_GROUP_SUFFIX = re.compile(r"_group\d+$")


def electrode_groups(nwb: NWB) -> dict[str, str]:
    """Electrode group name -> the probe (device) it belongs to, e.g.
    ``{"ProbeA": "ProbeA", "ProbeF_group0": "ProbeF", "ProbeF_group1": "ProbeF"}``."""
    out: dict[str, str] = {}
    if not nwb.exists(EXTRACELLULAR):
        return out
    for name in nwb.children(EXTRACELLULAR):
        path = f"{EXTRACELLULAR}/{name}"
        if name == "electrodes" or not nwb.is_group(path):
            continue
        target = nwb.link(path, "device")
        device = target.rsplit("/", 1)[-1] if target else _GROUP_SUFFIX.sub("", name)
        out[name] = device
    return out


def electrodes(nwb: NWB) -> pd.DataFrame:
    """The electrodes table (``location``, ``group_name``, ``channel_name``, ``rel_x`` ...).

    Indexed by electrode id. Object references (``group``) become the group's name.

    Raises
    ------
    NotFound
        If the file has no electrodes table.
    """
    import pandas as pd

    if not nwb.exists(ELECTRODES):
        raise NotFound(f"{nwb.name} has no electrodes table (not an ephys NWB?)")
    columns = nwb.read_table(ELECTRODES)
    ids = columns.pop("id")
    if "group" in columns:
        groups = columns.pop("group")
        if "group_name" not in columns:
            columns["group_name"] = np.array([_ref_name(g) for g in groups], dtype=object)
    frame = pd.DataFrame({k: _column(v) for k, v in columns.items()}, index=ids)
    frame.index.name = "electrode_id"
    return frame


def _ref_name(ref: Any) -> str:
    path = ref.get("path") if isinstance(ref, dict) else ref
    return str(path or "").rstrip("/").rsplit("/", 1)[-1]


def _column(values: np.ndarray) -> Any:
    return list(values) if values.ndim > 1 else values


# --------------------------------------------------------------------------------------
# units
# --------------------------------------------------------------------------------------


def units(
    nwb: NWB,
    *,
    label: str | Iterable[str] | None = None,
    default_qc: bool | None = None,
    probe: str | Iterable[str] | None = None,
    where: str | Mapping[str, tuple[str, Any]] | None = None,
    area: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """The units table as a DataFrame: quality metrics, ``label``, ``default_qc``, ``probe``.

    Parameters
    ----------
    nwb : NWB
        An open ephys NWB.
    label : str or iterable of str, optional
        Keep units whose normalized label (``noise``, ``mua``, ``sua``) is one of these.
    default_qc : bool, optional
        Keep units whose ``default_qc`` equals this.
    probe : str or iterable of str, optional
        Keep units of these probes.
    area : str or iterable of str, optional
        Keep units whose ``brain_area`` (their peak channel's ``location``) is one of these,
        or one of their layers (``"VISp"`` keeps ``VISp2/3`` ... ``VISp6b``, not ``VISpm``).
    where : str or mapping, optional
        Metric thresholds: a pandas query (``"snr > 3 and firing_rate >= 0.5"``) or a
        mapping ``{"snr": (">", 3)}``.

    Returns
    -------
    pandas.DataFrame
        One row per unit, indexed by unit id (``unit_id``). ``label`` comes from
        ``unitrefine_label`` (newer files) or ``decoder_label``; ``probe`` from
        ``device_name`` or the unit's electrode group. Spike times are not included: use
        :func:`spike_times`.

    Raises
    ------
    NotFound
        No units table; an unknown probe, label or column (the message lists valid ones).
    """
    import pandas as pd

    # a remote HDF5 file: the table's metadata chain, its small columns and what the brain
    # area join reads, in one concurrent batch per step (h5py: one round trip per block);
    # all cached already where the open ran prepare_units
    nwb.prefetch_group(UNITS, others=_UNITS_OTHERS, whole=_joined_whole)
    if not nwb.exists(UNITS):
        raise NotFound(f"{nwb.name} has no units table (not a sorted ephys NWB?)")
    names = [c for c in nwb.table_columns(UNITS) if c not in _SKIPPED_UNIT_COLUMNS]
    extra = ["spike_times_index"] if "num_spikes" not in names else []
    joined = _brain_area_arrays(nwb, names)
    columns = nwb.read_table(UNITS, [*names, *extra], others=joined)
    ids = columns.pop("id")
    frame = pd.DataFrame({k: _column(v) for k, v in columns.items()}, index=ids)
    frame.index.name = "unit_id"
    if "spike_times_index" in frame:
        frame["num_spikes"] = np.diff(np.concatenate([[0], frame.pop("spike_times_index")]))

    frame["label"] = _labels(frame)
    frame["default_qc"] = _default_qc(frame)
    frame["probe"] = _probes(nwb, frame)
    frame["brain_area"] = _brain_areas(nwb, frame, joined)
    if area is not None:
        wanted = _as_set(area)
        valid = set(frame["brain_area"].dropna().astype(str))
        matched = {w: {v for v in valid if in_area(v, w)} for w in wanted}
        bad = {w for w, found in matched.items() if not found}
        if bad:
            raise NotFound(f"unknown brain area(s) {sorted(bad)}: areas here are {sorted(valid)}")
        frame = frame[frame["brain_area"].isin(set().union(*matched.values()))]
    return _filter(frame, label=label, default_qc=default_qc, probe=probe, where=where)


def in_area(acronym: str, area: str) -> bool:
    """Whether the Allen CCF ``acronym`` lies in ``area``: the same acronym, or one of its
    layers, which the atlas writes after it with a digit or a dash.

    Examples
    --------
    >>> [in_area(a, "VISp") for a in ("VISp", "VISp2/3", "VISp6a", "VISpm")]
    [True, True, True, False]
    >>> in_area("DG-mo", "DG"), in_area("CA1", "CA1")
    (True, True)
    """
    if acronym == area:
        return True
    rest = acronym[len(area) :] if acronym.startswith(area) else ""
    return bool(rest) and (rest[0].isdigit() or rest[0] == "-")


def _labels(frame: pd.DataFrame) -> Any:
    for column in LABEL_COLUMNS:
        if column in frame:
            return frame[column].astype(str).str.strip().str.lower()
    return None


#: What a units table view shows after probe, brain area and label (those a file has): the
#: default-QC flag and the curation metrics.
QUALITY_COLUMNS = (
    "default_qc",
    "firing_rate",
    "snr",
    "presence_ratio",
    "isi_violations_ratio",
    "amplitude_cutoff",
)


#: The default-QC rules of the ephys curation: since the 2026-06-30 release
#: ``rp_contamination`` replaces ``isi_violations_ratio`` (REAL_SHAPES §5).
QC_RULES = {
    "rp_contamination": "rp_contamination < 0.5 & presence_ratio > 0.8 & amplitude_cutoff < 0.1",
    "isi_violations_ratio": (
        "isi_violations_ratio < 0.5 & presence_ratio > 0.8 & amplitude_cutoff < 0.1"
    ),
}


def default_qc_rule(columns: Iterable[str]) -> str | None:
    """The default-QC rule a table with these columns gets when it stores none: the
    current one (``rp_contamination``) where that metric exists, else the older one."""
    have = set(columns)
    for metric, rule in QC_RULES.items():
        if {metric, "presence_ratio", "amplitude_cutoff"} <= have:
            return rule
    return None


def _default_qc(frame: pd.DataFrame) -> Any:
    """The stored ``default_qc`` where the file has it, else computed by
    :func:`default_qc_rule` (the rule used is kept in ``frame.attrs["default_qc_rule"]``)."""
    if "default_qc" in frame:
        frame.attrs["default_qc_rule"] = "stored"
        values = frame["default_qc"]
        if values.dtype == object:
            return values.astype(str).str.lower().isin(["true", "1", "yes"])
        return values.astype(bool)
    rule = default_qc_rule(frame.columns)
    if rule is None:
        return None
    frame.attrs["default_qc_rule"] = rule
    return frame.eval(rule.replace("&", "and"))


#: What the units table's walk opens besides the group: the brain-area join's ``location``.
_UNITS_OTHERS = (f"{ELECTRODES}/location",)


def prepare_units(fileobj: S3File) -> None:
    """Fetch what :func:`units` reads of a remote HDF5 NWB before h5py opens it: an open's
    ``prepare`` (:meth:`ppdata.session.Session.units` passes it when it opens the NWB).

    The walk :func:`units` makes (:meth:`NWB.prefetch_group`) then starts from the
    superblock, and its first batch also holds the root group's blocks, which h5py would
    otherwise read one after another to open the file: two round trips fewer.
    """
    from .backends import H5Backend

    # the walk NWB.prefetch_group makes, so units() finds it made
    H5Backend.walk(fileobj, UNITS, _UNITS_OTHERS, _joined_whole)


#: The units' columns the brain-area join reads (each unit's electrodes, ragged), beside
#: its peak channel (``extremum_channel_index``) and the electrodes' ``location``.
_JOIN_COLUMNS = ("electrodes_index", "electrodes")


def _joined_whole(members: Collection[str]) -> list[str]:
    """The units' column the brain-area join reads whole (``electrodes``), where the table
    has what the join needs: for :meth:`NWB.prefetch_group`'s ``whole``."""
    needed = {*_JOIN_COLUMNS, "extremum_channel_index"}
    return ["electrodes"] if needed <= set(members) else []


def _brain_area_arrays(nwb: NWB, columns: Iterable[str]) -> list[str]:
    """What :func:`_brain_areas` reads, where the file has it all: the units' electrodes
    (ragged) and the electrodes' ``location`` (none: the file cannot say)."""
    paths = [*(f"{UNITS}/{c}" for c in _JOIN_COLUMNS), f"{ELECTRODES}/location"]
    if "extremum_channel_index" not in columns or not all(nwb.exists(p) for p in paths):
        return []
    return paths


def _brain_areas(nwb: NWB, frame: pd.DataFrame, joined: list[str]) -> Any:
    """Each unit's brain area: the ``location`` of its peak channel, i.e.
    ``electrodes[i].iloc[extremum_channel_index]``, from the arrays ``joined``
    (:func:`_brain_area_arrays`; none: the file cannot say, ``None``)."""
    if not joined:
        return None
    index, electrodes, path = joined
    ends = nwb.read(index).astype(np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    peak = frame["extremum_channel_index"].to_numpy().astype(np.int64)
    position = starts + peak
    valid = (peak >= 0) & (position < ends)
    rows = np.full(len(frame), -1, dtype=np.int64)
    if valid.any():
        # one element per unit, but spread over the whole array: its chunks are all needed,
        # so one read of it (one batch of chunks, one decode) beats thousands of slices
        flat = nwb.read(electrodes)
        rows[valid] = np.asarray(flat, dtype=np.int64)[position[valid]]
    locations = nwb.read(path)
    out = np.array([str(locations[r]) if r >= 0 else None for r in rows], dtype=object)
    return out


def _probes(nwb: NWB, frame: pd.DataFrame) -> Any:
    if "device_name" in frame:
        return frame["device_name"].astype(str)
    if nwb.exists(f"{UNITS}/electrodes") and nwb.exists(f"{UNITS}/electrodes_index"):
        ends = nwb.read(f"{UNITS}/electrodes_index")
        rows = nwb.read(f"{UNITS}/electrodes")
        first = rows[np.concatenate([[0], ends[:-1]])] if len(ends) else rows[:0]
        table = electrodes(nwb)
        groups = electrode_groups(nwb)
        return np.array([groups.get(str(g), str(g)) for g in table["group_name"].to_numpy()[first]])
    return None


def _as_set(value: str | Iterable[str]) -> set[str]:
    return {value} if isinstance(value, str) else {str(v) for v in value}


def _filter(
    frame: pd.DataFrame,
    *,
    label: str | Iterable[str] | None,
    default_qc: bool | None,
    probe: str | Iterable[str] | None,
    where: str | Mapping[str, tuple[str, Any]] | None,
) -> pd.DataFrame:
    if label is not None:
        wanted = {v.lower() for v in _as_set(label)}
        bad = wanted - set(LABELS)
        if bad:
            raise NotFound(f"unknown label(s) {sorted(bad)}: valid labels are {list(LABELS)}")
        if frame["label"].isna().all():
            raise NotFound("this units table has no classifier label column to filter on")
        frame = frame[frame["label"].isin(wanted)]
    if default_qc is not None:
        if frame["default_qc"].isna().all():
            raise NotFound("this units table has no default_qc column or metrics to filter on")
        frame = frame[frame["default_qc"] == bool(default_qc)]
    if probe is not None:
        wanted = _as_set(probe)
        valid = set(frame["probe"].dropna().unique()) if "probe" in frame else set()
        bad = wanted - valid
        if bad:
            raise NotFound(f"unknown probe(s) {sorted(bad)}: valid probes are {sorted(valid)}")
        frame = frame[frame["probe"].isin(wanted)]
    if where is not None:
        frame = _where(frame, where)
    return frame


def _where(frame: pd.DataFrame, where: str | Mapping[str, tuple[str, Any]]) -> pd.DataFrame:
    if isinstance(where, str):
        try:
            return frame.query(where)
        # pandas raises these for a bad expression (UndefinedVariableError is a NameError)
        except (SyntaxError, NameError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise NotFound(
                f"cannot apply {where!r} to the units table ({exc}); "
                f"columns are {sorted(map(str, frame.columns))}"
            ) from exc
    mask = np.ones(len(frame), dtype=bool)
    for column, (op, value) in where.items():
        if column not in frame:
            raise NotFound(
                f"no column {column!r} in the units table; "
                f"columns are {sorted(map(str, frame.columns))}"
            )
        if op not in _OPS:
            raise NotFound(f"unknown comparison {op!r}: use one of {list(_OPS)}")
        mask &= np.asarray(_OPS[op](frame[column], value), dtype=bool)
    return frame[mask]


# --------------------------------------------------------------------------------------
# spike times
# --------------------------------------------------------------------------------------


def spike_times(nwb: NWB, unit_ids: int | Iterable[int]) -> dict[int, np.ndarray]:
    """Spike times (seconds) of the units asked for, and only those.

    Reads ``spike_times_index`` once, then only the slices of ``spike_times`` that belong
    to these units (their chunks fetched in one concurrent batch).

    Parameters
    ----------
    nwb : NWB
        An open ephys NWB.
    unit_ids : int or iterable of int
        Unit ids (the index of :func:`units`).

    Returns
    -------
    dict
        Unit id to a sorted 1-D float array.

    Raises
    ------
    NotFound
        An unknown unit id (the message gives the valid ids).
    """
    wanted = _unit_list(unit_ids)
    if not nwb.exists(f"{UNITS}/spike_times_index"):
        raise NotFound(f"{nwb.name} has no spike times (no units/spike_times_index)")
    nwb.prefetch([f"{UNITS}/id", f"{UNITS}/spike_times_index"])
    ids = nwb.read(f"{UNITS}/id")
    ends = nwb.read(f"{UNITS}/spike_times_index").astype(np.int64)
    rows = unit_rows(ids, wanted)
    ranges = [(int(ends[r - 1]) if r else 0, int(ends[r])) for r in rows]
    slices = nwb.read_ranges(f"{UNITS}/spike_times", ranges)
    return {u: np.asarray(s, dtype=np.float64) for u, s in zip(wanted, slices, strict=True)}


def waveforms(nwb: NWB, unit_ids: int | Iterable[int], *, sd: bool = False) -> xr.DataArray:
    """Mean (or SD) spike waveforms of the units asked for, over the channels of their probe.

    Read on request only (the units table never touches these columns): the rows of
    ``units/waveform_mean`` (or ``waveform_sd``) for these units, nothing else.

    Parameters
    ----------
    nwb, unit_ids
        As in :func:`spike_times`.
    sd : bool
        Read ``waveform_sd`` instead of ``waveform_mean``.

    Returns
    -------
    xarray.DataArray
        ``unit x sample x channel`` in the file's ``waveform_unit`` (volts); ``channel`` is the
        position on the probe (the channels of the unit's ``electrodes``).

    Raises
    ------
    NotFound
        No waveforms in the file, or an unknown unit id.
    """
    import xarray as xr

    column = "waveform_sd" if sd else "waveform_mean"
    wanted = _unit_list(unit_ids)
    if not nwb.exists(f"{UNITS}/{column}"):
        raise NotFound(f"{nwb.name} has no {column} column in its units table")
    ids = nwb.read(f"{UNITS}/id")
    rows = np.array(unit_rows(ids, wanted), dtype=np.int64)
    order = np.argsort(rows)
    data = np.empty((len(rows), *nwb.shape(f"{UNITS}/{column}")[1:]), dtype=np.float32)
    if len(rows):
        data[order] = nwb.read(f"{UNITS}/{column}", (rows[order],))
    unit = str(nwb.attrs(UNITS).get("waveform_unit", "volts"))
    return xr.DataArray(
        data,
        dims=("unit", "sample", "channel"),
        coords={"unit": wanted},
        name=column,
        attrs={"units": unit},
    )


def unit_rows(ids: np.ndarray, wanted: Iterable[Any]) -> list[int]:
    """Rows of ``units/id`` holding the ``wanted`` unit ids, in their order.

    Raises
    ------
    NotFound
        An unknown unit id (the message gives the first ten and the valid ids).
    """
    position = {int(u): i for i, u in enumerate(ids)}
    wanted = [int(u) for u in wanted]
    missing = [u for u in wanted if u not in position]
    if missing:
        raise NotFound(f"unknown unit id(s) {missing[:10]}: {_describe_ids(ids)}")
    return [position[u] for u in wanted]


def _unit_list(unit_ids: int | Iterable[int]) -> list[int]:
    """One unit id or many, as a list of ints."""
    if isinstance(unit_ids, Iterable) and not isinstance(unit_ids, str | bytes):
        return [int(u) for u in unit_ids]
    return [int(unit_ids)]


def _describe_ids(ids: np.ndarray) -> str:
    ids = np.asarray(ids)
    if ids.size == 0:
        return "the units table is empty"
    contiguous = np.array_equal(ids, np.arange(ids[0], ids[0] + ids.size))
    if contiguous and ids.size > 5:
        return f"valid unit ids are {int(ids[0])}..{int(ids[-1])} ({ids.size} units)"
    if ids.size <= 30:
        return f"valid unit ids are {[int(i) for i in ids]}"
    head = ", ".join(str(int(i)) for i in ids[:20])
    return f"valid unit ids include {head}, ... ({ids.size} units; see units())"
