"""Stimulus tables of the synthetic NWBs, in the real shapes (REAL_SHAPES.md §6).

One ``intervals['<block name>_presentations']`` table per stimulus (names with spaces:
``Sequence mismatch block_presentations``, ``Control block 1_presentations`` ...), the real
columns (``stim_name, stim_type, stim_block, Orientation, ..., TrialType, BlockType,
stim_index, timeseries``), the real ``TrialType`` encoding and timing, and
``processing/stimulus/timestamps`` with one onset per presentation, referenced by each
row's ``timeseries`` column (count 1).

- Neuropixels (complete NWB): a *sequence* session like ecephys_820459_2025-11-12 — the
  ``Sequence mismatch block`` (90-45-0-45-blank, 266.9 ms rows, contiguous; deviants
  replace element 3) plus controls, Trippy, Zebra, RF mapping, spontaneous and the three
  opto tables. Stimulus parameters are stored as strings, as in the real ephys files.
- Mesoscope (behavior/timing NWB): a *standard* session (OPTICAL_SESSION3_STANDARD) — the
  ``Standard mismatch block`` (0.367 s gratings 0.700 s apart) plus controls, Zebra, RF
  mapping and spontaneous; no Trippy, no opto. Parameters stored as float64.

The schedule is a pure function of the session length and the kind, so the writers of
other files of the same session (the planar-ophys NWB) can make their responses follow it:
:func:`add_spike_responses` and :func:`add_dff_responses` make a subset of units / ROIs
respond more to deviants than to standards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .nwbgen_common import timeseries

if TYPE_CHECKING:
    from pynwb import NWBFile

__all__ = [
    "DEVIANT_TYPES",
    "Block",
    "add_dff_responses",
    "add_spike_responses",
    "add_stimulus",
    "schedule",
]

logger = logging.getLogger(__name__)

Kind = Literal["ephys", "mesoscope"]

#: Observed row lengths (s): 22 and 16 frames at 60 Hz.
STANDARD_ON = 0.367
STANDARD_PERIOD = 0.700
SEQUENCE_ROW = 0.2669
RF_ROW = 0.250
PRERECORDED_ROW = 0.0333
#: TrialType values that are deviants (the reader has its own, wider rule).
DEVIANT_TYPES = ("orientation_45", "orientation_90", "halt", "omission", "jitter")
#: Visual-table columns, in the real files' order (intro notebook cell 11).
COLUMNS = (
    "stim_name",
    "stim_type",
    "stim_block",
    "Orientation",
    "SpatialFrequency",
    "TemporalFrequency",
    "contrast",
    "phase",
    "DiameterX",
    "DiameterY",
    "X",
    "Y",
    "Duration",
    "Delay",
    "BlockNumber",
    "BlockLabel",
    "TrialNumber",
    "SequenceNumber",
    "TrialInSequence",
    "TrialType",
    "BlockType",
    "stim_index",
)
_TEXT = {"stim_name", "stim_type", "BlockLabel", "TrialType", "BlockType"}
_SEQUENCE = (90.0, 45.0, 0.0, 45.0)


@dataclass
class Block:
    """One stimulus table: its name (``<name>_presentations``) and its rows."""

    name: str
    block_type: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    opto: bool = False

    @property
    def table(self) -> str:
        return f"{self.name}_presentations"


def _grating(
    start: float,
    on: float,
    *,
    label: str,
    block_type: str,
    trial_type: str,
    orientation: float = 0.0,
    **extra: Any,
) -> dict[str, Any]:
    row = {
        "start_time": start,
        "stop_time": start + on,
        "stim_type": "grating",
        "Orientation": orientation,
        "SpatialFrequency": 0.04,
        "TemporalFrequency": 0.0 if trial_type.endswith("halt") else 2.0,
        "contrast": 0.0 if trial_type.endswith("omission") else 1.0,
        "phase": 0.0,
        "DiameterX": 360.0,
        "DiameterY": 360.0,
        "X": 0.0,
        "Y": 0.0,
        "Duration": round(on, 4),
        "Delay": 0.0,
        "BlockLabel": label,
        "SequenceNumber": np.nan,
        "TrialInSequence": np.nan,
        "TrialType": trial_type,
        "BlockType": block_type,
    }
    row.update(extra)
    return row


def _oddball_types(
    rng: np.random.Generator, n: int, deviants: tuple[str, ...], fraction: float
) -> list[str]:
    """``n`` trial types, about ``fraction`` of them deviants (the types in turn), at least
    two standards between deviants (so responses do not overlap) and none in the first
    three trials."""
    out = ["standard"] * n
    slots = list(range(3, n, 3))
    rng.shuffle(slots)
    count = min(len(slots), max(len(deviants), round(n * fraction)))
    chosen = sorted(slots[:count])
    kinds = [deviants[i % len(deviants)] for i in range(len(chosen))]
    rng.shuffle(kinds)
    for i, kind in zip(chosen, kinds, strict=True):
        out[i] = kind
    return out


def _standard_block(
    rng: np.random.Generator, t0: float, t1: float, label: str, block_type: str, fraction: float
) -> list[dict[str, Any]]:
    n = max(1, int((t1 - t0) // STANDARD_PERIOD))
    if block_type == "standard_oddball":
        types = _oddball_types(
            rng, n, ("orientation_45", "orientation_90", "halt", "omission"), fraction
        )
    elif block_type == "jitter_oddball":
        types = _oddball_types(rng, n, ("jitter",), fraction)
    else:  # standard_control: single, with a few omissions and halts
        types = _oddball_types(rng, n, ("omission", "halt"), fraction)
        types = ["single" if t == "standard" else t for t in types]
    grating = partial(_grating, label=label, block_type=block_type)
    rows = []
    start = t0
    for i, kind in enumerate(types):
        orientation = {"orientation_45": 45.0, "orientation_90": 90.0}.get(kind, 0.0)
        if block_type == "standard_control":
            orientation = float(rng.choice([0.0, 45.0, 90.0]))
        delay = STANDARD_ON if kind != "jitter" else float(rng.choice([0.2, 0.5]))
        rows.append(
            grating(
                start,
                STANDARD_ON,
                trial_type=kind,
                orientation=orientation,
                Delay=delay,
                TrialNumber=float(i),
                phase=float(rng.uniform(0, 2 * np.pi)),
            )
        )
        start += STANDARD_ON + delay - 0.034  # 0.700 s apart for the standard delay
    return [r for r in rows if r["stop_time"] <= t1 + 1e-9]


def _sequence_block(
    rng: np.random.Generator, t0: float, t1: float, label: str, block_type: str, fraction: float
) -> list[dict[str, Any]]:
    period = 5 * SEQUENCE_ROW
    n_seq = max(1, int((t1 - t0) // period))
    if block_type == "sequential_oddball":
        kinds = _oddball_types(
            rng, n_seq, ("orientation_45", "orientation_90", "halt", "omission"), fraction
        )
    else:  # sequential control: shuffled elements, some halts and omissions
        kinds = _oddball_types(rng, n_seq, ("halt", "omission"), fraction)
    grating = partial(_grating, label=label, block_type=block_type)
    rows = []
    trial = 0
    for s, kind in enumerate(kinds):
        for e in range(5):
            start = t0 + s * period + e * SEQUENCE_ROW
            if e == 4:
                trial_type, orientation = "sequence_omission", 0.0
            elif block_type != "sequential_oddball":
                trial_type = kind if (e == 2 and kind != "standard") else "single"
                orientation = float(rng.choice(_SEQUENCE))
            elif e == 2 and kind != "standard":
                trial_type = kind
                orientation = {"orientation_45": 45.0, "orientation_90": 90.0}.get(kind, 0.0)
            else:
                trial_type, orientation = "standard", _SEQUENCE[e]
            row = grating(
                start,
                SEQUENCE_ROW,
                trial_type=trial_type,
                orientation=orientation,
                TrialNumber=float(trial),
                SequenceNumber=float(s),
                TrialInSequence=float(e),
                Duration=0.25,
            )
            if trial_type == "sequence_omission":
                row["contrast"] = 0.0
            rows.append(row)
            trial += 1
    return rows


def _frames_block(
    t0: float, t1: float, label: str, block_type: str, row: float, trial_type: str, stim_type: str
) -> list[dict[str, Any]]:
    n = max(1, int((t1 - t0) // row))
    grating = partial(_grating, label=label, block_type=block_type)
    return [
        grating(
            t0 + i * row,
            row,
            trial_type=trial_type,
            stim_type=stim_type,
            TrialNumber=float(i),
            Duration=round(row, 4),
        )
        for i in range(n)
    ]


def _rf_block(rng: np.random.Generator, t0: float, t1: float) -> list[dict[str, Any]]:
    n = max(1, int((t1 - t0) // RF_ROW))
    positions = [(x, y) for x in (-40.0, -20.0, 0.0, 20.0, 40.0) for y in (-20.0, 0.0, 20.0)]
    rows = []
    for i in range(n):
        x, y = positions[int(rng.integers(len(positions)))]
        rows.append(
            _grating(
                t0 + i * RF_ROW,
                RF_ROW,
                label="RF mapping",
                block_type="rf_mapping",
                trial_type="rf_mapping",
                orientation=float(rng.choice([0.0, 45.0, 90.0, 135.0])),
                SpatialFrequency=0.08,
                TemporalFrequency=4.0,
                contrast=0.8,
                DiameterX=20.0,
                DiameterY=20.0,
                X=x,
                Y=y,
                TrialNumber=float(i),
                Duration=RF_ROW,
            )
        )
    return rows


def _opto_rows(t0: float, t1: float, condition: str) -> list[dict[str, Any]]:
    n = max(1, int((t1 - t0) // 2.0))
    return [
        {
            "start_time": t0 + 2.0 * i,
            "stop_time": t0 + 2.0 * i + 1.0,
            "condition": condition,
            "level": float(1 + i % 3),
            "stim_name": condition,
        }
        for i in range(n)
    ]


#: (name, BlockType, share of the session, label) per kind, in session order.
_PLAN: dict[str, tuple[tuple[str, str, float, str], ...]] = {
    "ephys": (
        ("spontaneous", "spontaneous", 0.03, "spontaneous"),
        ("Control block 1", "standard_control", 0.05, "Control block 1.1"),
        ("Sequence mismatch block", "sequential_oddball", 0.33, "Sequence mismatch block"),
        ("Control block 1", "standard_control", 0.05, "Control block 1.2"),
        ("Control block 2", "sequential_control_block", 0.06, "Control block 2"),
        ("Control block 3", "jitter_control", 0.04, "Control block 3"),
        ("Control block 4", "open_loop_prerecorded", 0.04, "Control block 4"),
        ("Trippy", "movie", 0.04, "Trippy"),
        ("Zebra", "movie", 0.04, "Zebra"),
        ("RF mapping", "rf_mapping", 0.08, "RF mapping"),
        ("spontaneous", "spontaneous", 0.03, "spontaneous"),
        ("raised_cosine", "opto", 0.05, "raised_cosine"),
        ("5 hz pulse train", "opto", 0.05, "5 hz pulse train"),
        ("40 hz pulse train", "opto", 0.05, "40 hz pulse train"),
    ),
    "mesoscope": (
        ("spontaneous", "spontaneous", 0.03, "spontaneous"),
        ("Control block 1", "standard_control", 0.05, "Control block 1.1"),
        ("Standard mismatch block", "standard_oddball", 0.38, "Standard mismatch block"),
        ("Control block 1", "standard_control", 0.05, "Control block 1.2"),
        ("Control block 2", "sequential_control_block", 0.08, "Control block 2"),
        ("Control block 3", "jitter_control", 0.06, "Control block 3"),
        ("Control block 4", "open_loop_prerecorded", 0.05, "Control block 4"),
        ("Zebra", "movie", 0.06, "Zebra"),
        ("RF mapping", "rf_mapping", 0.12, "RF mapping"),
        ("spontaneous", "spontaneous", 0.04, "spontaneous"),
    ),
}


def schedule(duration_s: float, kind: Kind) -> list[Block]:
    """The stimulus blocks of a synthetic session, a pure function of its length.

    The session starts with a short grey period (the real first block starts at 55-65 s);
    blocks follow in the real order, each a fixed share of the session. Deviants are rarer
    in long sessions (about 11 % of sequences, as in the real Sequence block) and more
    frequent in short test sessions so every type has a few trials.
    """
    total = float(round(duration_s))
    rng = np.random.default_rng([int(total), 0 if kind == "ephys" else 1])
    lead = min(60.0, 0.02 * total)
    span = total - lead - 0.5
    blocks: dict[str, Block] = {}
    order: list[str] = []
    t = lead
    for index, (name, block_type, share, label) in enumerate(_PLAN[kind]):
        t0, t1 = t, t + share * span
        t = t1
        fraction = 0.11 if span > 1000 else 0.5
        if block_type == "spontaneous":
            rows = [
                _grating(
                    t0,
                    t1 - t0,
                    label="spontaneous",
                    block_type="spontaneous",
                    trial_type="spontaneous",
                    stim_type="spontaneous",
                    contrast=0.0,
                    TemporalFrequency=0.0,
                    TrialNumber=0.0,
                )
            ]
            rows[0]["contrast"] = 0.0
        elif block_type in ("standard_oddball", "standard_control", "jitter_oddball"):
            rows = _standard_block(rng, t0, t1, label, block_type, fraction)
        elif block_type in ("sequential_oddball", "sequential_control_block"):
            rows = _sequence_block(rng, t0, t1, label, block_type, fraction)
        elif block_type == "jitter_control":
            rows = _standard_block(rng, t0, t1, label, "standard_control", 0.0)
            for row in rows:
                row.update(
                    BlockType="jitter_control",
                    TrialType="single",
                    Delay=float(rng.choice([0.2, 0.343, 0.5])),
                    contrast=1.0,
                    TemporalFrequency=2.0,
                )
        elif block_type == "open_loop_prerecorded":
            rows = _frames_block(
                t0, t1, label, block_type, PRERECORDED_ROW, "prerecorded", "grating"
            )
        elif block_type == "movie":
            rows = _frames_block(t0, t1, label, block_type, 1.0, "single", "movie")
        elif block_type == "rf_mapping":
            rows = _rf_block(rng, t0, t1)
        else:
            rows = _opto_rows(t0, t1, name)
        if name not in blocks:
            blocks[name] = Block(name, block_type, opto=block_type == "opto")
            order.append(name)
        for row in rows:
            row.setdefault("stim_block", index)
            row["BlockNumber"] = float(index)
            row["stim_name"] = name
        blocks[name].rows.extend(rows)
    return [blocks[n] for n in order]


def _column_values(values: list[Any], as_text: bool) -> Any:
    if not as_text:
        return np.asarray(values, dtype=np.float64)
    return [str(float(v)) if not (isinstance(v, float) and np.isnan(v)) else "nan" for v in values]


def add_stimulus(nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str) -> None:
    """Add ``processing/stimulus/timestamps`` and every ``*_presentations`` table.

    The kind of session is read off the file: one with a ``units`` table is a Neuropixels
    complete NWB (stimulus parameters stored as strings, opto tables, responsive units),
    one without is a Mesoscope behavior/timing NWB (parameters as float64).
    """
    from hdmf.common import VectorData, VectorIndex
    from pynwb.base import TimeSeriesReference, TimeSeriesReferenceVectorData
    from pynwb.epoch import TimeIntervals

    from ..nwb.safepickle import install_safe_pickle

    if fmt == "zarr":
        # hdmf-zarr pickles the compound ``timeseries`` column and reads its fill value back
        install_safe_pickle()
    kind: Kind = "ephys" if nwbfile.units is not None else "mesoscope"
    blocks = schedule(duration_s, kind)
    starts = np.sort(np.concatenate([[r["start_time"] for r in b.rows] for b in blocks]))
    module = nwbfile.create_processing_module(name="stimulus", description="stimulus timing")
    onsets = timeseries(
        "timestamps",
        starts.copy(),
        starts,
        unit="s",
        description="onset of every stimulus presentation (photodiode corrected)",
        fmt=fmt,
    )
    module.add(onsets)
    position = {float(t): i for i, t in enumerate(starts)}
    # the ephys writer stores parameters as strings; the Mesoscope one as numbers
    as_text = kind == "ephys"
    for block in blocks:
        rows = sorted(block.rows, key=lambda r: r["start_time"])
        names = ["condition", "level", "stim_name"] if block.opto else list(COLUMNS)
        columns = []
        for name in names:
            values = (
                [r.get(name, np.nan) for r in rows]
                if name != "stim_index"
                else list(range(len(rows)))
            )
            if name in _TEXT or name == "condition":
                data: Any = [str(v) for v in values]
            elif name in ("stim_block", "stim_index"):
                data = np.asarray(values, dtype=np.int64)
            else:
                data = _column_values(values, as_text)
            columns.append(
                VectorData(name=name, description=f"{name} of the presentation", data=data)
            )
        refs = TimeSeriesReferenceVectorData(
            name="timeseries",
            description="the stimulus onset of this presentation",
            data=[TimeSeriesReference(position[float(r["start_time"])], 1, onsets) for r in rows],
        )
        table = TimeIntervals(
            name=block.table,
            description=f"presentations of {block.name} ({block.block_type})",
            columns=[
                VectorData(
                    name="start_time",
                    description="start (s)",
                    data=np.array([r["start_time"] for r in rows]),
                ),
                VectorData(
                    name="stop_time",
                    description="stop (s)",
                    data=np.array([r["stop_time"] for r in rows]),
                ),
                *columns,
                refs,
                VectorIndex(name="timeseries_index", data=np.arange(1, len(rows) + 1), target=refs),
            ],
            id=np.arange(len(rows)),
        )
        nwbfile.add_time_intervals(table)
    if kind == "ephys":
        add_spike_responses(nwbfile, blocks, rng)


# --------------------------------------------------------------------------------------
# responses
# --------------------------------------------------------------------------------------


def _onsets(blocks: list[Block]) -> tuple[np.ndarray, np.ndarray]:
    """Onsets of the deviants and of the standards of the oddball block."""
    dev, std = [], []
    for block in blocks:
        if block.block_type not in ("sequential_oddball", "standard_oddball", "jitter_oddball"):
            continue
        for row in block.rows:
            if row["TrialType"] in DEVIANT_TYPES:
                dev.append(row["start_time"])
            elif row["TrialType"] == "standard":
                std.append(row["start_time"])
    return np.asarray(dev), np.asarray(std)


#: Share of units / ROIs that respond, and the evoked rates (Hz) / ΔF/F amplitudes.
RESPONSIVE_SHARE = 0.4
DEVIANT_RATE_HZ = 30.0
STANDARD_RATE_HZ = 4.0
RESPONSE_WINDOW = (0.04, 0.24)


def add_spike_responses(nwbfile: NWBFile, blocks: list[Block], rng: np.random.Generator) -> None:
    """Make a share of the units fire more after deviants than after standards.

    Spikes are moved, not added (the counts, ``spike_times_index``, ``num_spikes`` and
    ``firing_rate`` stay right): for a responsive unit, some of its spikes are relocated
    into the 40-240 ms after deviant and standard onsets, then its spikes re-sorted.
    Leaves the table alone when the spike times are not an in-memory array.
    """
    units = nwbfile.units
    if units is None or "spike_times" not in units.colnames:
        return
    column = units["spike_times"]
    target = column.target if hasattr(column, "target") else column
    data = target.data
    data = getattr(data, "data", data)  # unwrap the DataIO
    ends = np.asarray(getattr(column.data, "data", column.data))
    if not isinstance(data, np.ndarray) or not isinstance(ends, np.ndarray) or len(ends) == 0:
        logger.info("spike times are not an in-memory array: no stimulus responses added")
        return
    dev, std = _onsets(blocks)
    if len(dev) == 0:
        return
    w0, w1 = RESPONSE_WINDOW
    local = np.random.default_rng(int(rng.integers(2**31)))
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    for i in np.flatnonzero(local.random(len(ends)) < RESPONSIVE_SHARE):
        a, b = int(starts[i]), int(ends[i])
        n_dev = local.poisson(DEVIANT_RATE_HZ * (w1 - w0), len(dev))
        n_std = local.poisson(STANDARD_RATE_HZ * (w1 - w0), len(std))
        new = np.concatenate([np.repeat(dev, n_dev), np.repeat(std, n_std)])
        new = new + local.uniform(w0, w1, len(new))
        k = min(len(new), (b - a) // 2)
        if k == 0:
            continue
        new = local.choice(new, k, replace=False)
        segment = data[a:b]
        replace = local.choice(b - a, k, replace=False)
        segment[replace] = new
        segment.sort()


def add_dff_responses(
    dff: np.ndarray, timestamps: np.ndarray, duration_s: float, seed: int = 0
) -> np.ndarray:
    """Add deviant (strong) and standard (weak) calcium transients to a share of ROIs.

    ``dff`` is (frames, ROIs), changed in place and returned; the onsets come from the
    Mesoscope :func:`schedule` of a session of ``duration_s`` seconds.
    """
    dev, std = _onsets(schedule(duration_s, "mesoscope"))
    if dff.ndim != 2 or dff.shape[1] == 0 or len(dev) == 0:
        return dff
    rng = np.random.default_rng(seed)
    responsive = rng.random(dff.shape[1]) < RESPONSIVE_SHARE
    kernel_t = np.arange(0.0, 3.0, 0.02)
    kernel = (1 - np.exp(-kernel_t / 0.1)) * np.exp(-kernel_t / 0.7)
    drive = np.zeros_like(timestamps, dtype=np.float64)
    for onsets, amplitude in ((dev, 1.5), (std, 0.15)):
        for onset in onsets:
            lag = timestamps - onset
            inside = (lag >= 0) & (lag < kernel_t[-1])
            drive[inside] += amplitude * np.interp(lag[inside], kernel_t, kernel)
    gains = rng.uniform(0.6, 1.4, int(np.count_nonzero(responsive)))
    dff[:, responsive] += (drive[:, None] * gains[None, :]).astype(dff.dtype)
    return dff
