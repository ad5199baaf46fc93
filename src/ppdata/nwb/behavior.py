"""Behavior from an NWB: running speed, wheel, stimulus presentations, eye tracking.

Where behavior lives (REAL_SHAPES.md §1): the complete ephys NWB (``_nwb_`` asset) holds
``processing/running``, ``processing/eye_tracking``, ``processing/stimulus`` and the wheel
series in ``acquisition``; the Mesoscope behavior/timing NWB holds the same minus eye
tracking. The sorted ephys NWB holds no behavior. These readers take any opened NWB; the
choice of file is :class:`ppdata.Session`'s.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from ..errors import NotFound, NWBError
from .stimuli import stimulus_epochs, stimulus_tables  # moved to ppdata.nwb.stimuli; re-exported

if TYPE_CHECKING:
    import pandas as pd

    from .file import NWB

__all__ = [
    "EYE_PREFIXES",
    "between",
    "eye_tracking",
    "running_speed",
    "stimulus_epochs",
    "stimulus_tables",
    "wheel_rotation",
]

logger = logging.getLogger(__name__)

RUNNING_SPEED = ("processing/running/running_speed", "processing/behavior/running_speed")
WHEEL = ("acquisition/raw_running_wheel_rotation", "processing/running/running_wheel_rotation")
EYE_MODULES = ("processing/eye_tracking", "acquisition/EyeTracking")
#: Column prefix of each eye-tracking table in :func:`eye_tracking` (others keep their name).
EYE_PREFIXES = {"pupil": "pupil", "corneal_reflection": "cr", "ellipse": "ellipse"}


def _first(nwb: NWB, candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if nwb.exists(f"{c}/data")), None)


def _modules(nwb: NWB) -> list[str]:
    return nwb.children("processing") if nwb.exists("processing") else []


def _timestamps(nwb: NWB, path: str) -> np.ndarray:
    """A TimeSeries' timestamps: its own, linked from another series, or starting_time+rate."""
    if nwb.exists(f"{path}/timestamps"):
        return np.asarray(nwb.read(f"{path}/timestamps"), dtype=np.float64)
    target = nwb.link(path, "timestamps")
    if target is not None and nwb.exists(target):
        return np.asarray(nwb.read(target), dtype=np.float64)
    if not nwb.exists(f"{path}/starting_time"):
        raise NWBError(f"{path} in {nwb.name} has neither timestamps nor a starting time")
    n = nwb.shape(f"{path}/data")[0]
    t0 = float(nwb.read_scalar(f"{path}/starting_time"))
    rate = float(nwb.attrs(f"{path}/starting_time").get("rate", 0.0))
    return t0 + np.arange(n) / rate


def _series_frame(nwb: NWB, path: str, column: str) -> pd.DataFrame:
    import pandas as pd

    times = _timestamps(nwb, path)
    data = np.asarray(nwb.read(f"{path}/data"))
    if len(times) != len(data):
        raise NWBError(f"{path} in {nwb.name} has {len(data)} samples but {len(times)} timestamps")
    frame = pd.DataFrame({column: data}, index=pd.Index(times, name="time"))
    frame.attrs["unit"] = nwb.attrs(f"{path}/data").get("unit")
    frame.attrs["source"] = path
    return frame


def between(frame: pd.DataFrame, start: float | None, stop: float | None) -> pd.DataFrame:
    """The rows of a frame indexed by time (s) from ``start`` up to, not including, ``stop``.

    ``None`` leaves that end open (both ``None``: the frame itself).

    Examples
    --------
    >>> import pandas as pd
    >>> speed = pd.DataFrame({"speed": [1.0, 2.0, 3.0]}, index=[0.0, 0.5, 1.0])
    >>> between(speed, 0.5, None)["speed"].tolist(), between(speed, None, 1.0).index.tolist()
    ([2.0, 3.0], [0.0, 0.5])
    """
    if start is None and stop is None:
        return frame
    lo = -np.inf if start is None else start
    hi = np.inf if stop is None else stop
    return frame[(frame.index >= lo) & (frame.index < hi)]


def running_speed(nwb: NWB) -> pd.DataFrame:
    """Running speed over time (``speed``, cm/s; negative = backwards), indexed by time (s).

    Raises
    ------
    NotFound
        If the file has no running speed (the message lists the processing modules).
    """
    path = _first(nwb, RUNNING_SPEED)
    if path is None:
        raise NotFound(
            f"{nwb.name} has no running speed (looked for {', '.join(RUNNING_SPEED)}); "
            f"processing modules are {_modules(nwb)}"
        )
    frame = _series_frame(nwb, path, "speed")
    frame.attrs["unit"] = frame.attrs["unit"] or "cm/s"
    return frame


def wheel_rotation(nwb: NWB) -> pd.DataFrame:
    """Running-wheel rotation per sample (``rotation``, radians), indexed by time (s).

    Read from ``acquisition/raw_running_wheel_rotation`` (as recorded) or else from
    ``processing/running/running_wheel_rotation``; ``attrs["source"]`` says which.

    Raises
    ------
    NotFound
        If the file has no wheel rotation series.
    """
    path = _first(nwb, WHEEL)
    if path is None:
        found = nwb.children("acquisition") if nwb.exists("acquisition") else []
        raise NotFound(
            f"{nwb.name} has no wheel rotation (looked for {', '.join(WHEEL)}); "
            f"acquisition has {found}"
        )
    return _series_frame(nwb, path, "rotation")


def eye_tracking(nwb: NWB) -> pd.DataFrame:
    """Eye tracking as one DataFrame indexed by camera-frame time (s).

    Every column of the ``pupil``, ``corneal_reflection`` and ``ellipse`` tables, prefixed
    ``pupil_``, ``cr_`` and ``ellipse_`` (``pupil_area``, ``cr_data_x``,
    ``ellipse_reference_frame`` ...; a leading ``frame`` column, as SLAP2 files have, too),
    and ``likely_blink`` (bool) from ``likely_blink_times``. The tables' ``timestamps``
    column is the index; a table on another clock keeps its own as ``<prefix>_timestamps``.
    Areas are as stored: -1 on blink frames, pi where the fit failed (no sentinel is
    replaced). Other TimeSeries in the module become columns under their own name.

    Raises
    ------
    NotFound
        If the file has no eye tracking (the message lists its processing modules).
    """
    import pandas as pd

    module = next((m for m in EYE_MODULES if nwb.exists(m)), None)
    if module is None:
        raise NotFound(
            f"{nwb.name} has no eye tracking (no processing/eye_tracking); "
            f"processing modules are {_modules(nwb)}"
        )
    tables: dict[str, dict[str, np.ndarray]] = {}
    series: dict[str, str] = {}
    for name in nwb.children(module):
        path = f"{module}/{name}"
        if not nwb.is_group(path):
            continue
        if nwb.exists(f"{path}/data"):
            series[name] = path
        elif nwb.exists(f"{path}/id"):
            data = nwb.read_table(path)
            data.pop("id")
            order = [c for c in nwb.table_columns(path) if c in data]
            tables[name] = {c: np.asarray(data[c]) for c in order}
    if not tables and not series:
        raise NotFound(f"{module} in {nwb.name} holds no tables or time series")
    index: np.ndarray | None = None
    for values in tables.values():
        if "timestamps" in values:
            index = np.asarray(values["timestamps"], dtype=np.float64)
            break
    columns: dict[str, np.ndarray] = {}
    known = list(EYE_PREFIXES)
    ordered = sorted(tables, key=lambda t: (known.index(t) if t in known else len(known), t))
    for name in ordered:
        values = tables[name]
        prefix = EYE_PREFIXES.get(name, name)
        for column, array in values.items():
            if column == "timestamps" and index is not None and _same(array, index):
                continue
            columns[f"{prefix}_{column}"] = _fit(array, index, f"{module}/{name}")
    for name, path in series.items():
        times = _timestamps(nwb, path)
        if index is None:
            index = times
        samples = np.asarray(nwb.read(f"{path}/data"))
        key = "likely_blink" if "blink" in name else name
        if not _same(times, index):
            raise NWBError(
                f"{path} in {nwb.name} is on another clock than the eye-tracking tables "
                f"({len(times)} vs {len(index)} frames)"
            )
        if "blink" in name:
            samples = samples.astype(bool)
        if samples.ndim == 1:
            columns[key] = samples
        else:
            for i in range(samples.shape[1]):
                columns[f"{key}_{i}"] = samples[:, i]
    return pd.DataFrame(columns, index=pd.Index(index, name="time"))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) == len(b) and bool(np.allclose(np.asarray(a, dtype=np.float64), b))


def _fit(array: np.ndarray, index: np.ndarray | None, where: str) -> np.ndarray:
    if index is not None and len(array) != len(index):
        raise NWBError(f"{where} has {len(array)} rows but the eye clock has {len(index)}")
    return array
