"""Behavior from an NWB: running speed, wheel, stimulus presentations, eye tracking.

Works on the ephys NWB (modules ``running``, ``stimulus``, ``eye_tracking``) and on the
Mesoscope behavior/timing NWB (acquisition ``raw_running_wheel_rotation``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from .errors import NotFound
from .stimuli import stimulus_epochs, stimulus_tables  # moved to ppdata.stimuli; re-exported

if TYPE_CHECKING:
    import pandas as pd

    from .nwb import NWB

__all__ = [
    "ELLIPSE_FIELDS",
    "eye_tracking",
    "running_speed",
    "stimulus_epochs",
    "stimulus_tables",
    "wheel_rotation",
]

logger = logging.getLogger(__name__)

RUNNING_SPEED = ("processing/running/running_speed", "processing/behavior/running_speed")
WHEEL = ("acquisition/raw_running_wheel_rotation", "processing/running/raw_running_wheel_rotation")
EYE_MODULES = ("processing/eye_tracking", "acquisition/EyeTracking")
#: Column names of an ellipse fit stored as a 5-column TimeSeries.
ELLIPSE_FIELDS = ("x", "y", "width", "height", "angle")


def _first(nwb: NWB, candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if nwb.exists(f"{c}/data")), None)


def _modules(nwb: NWB) -> list[str]:
    return nwb.children("processing") if nwb.exists("processing") else []


def _series_frame(nwb: NWB, path: str, column: str) -> pd.DataFrame:
    import pandas as pd

    times, data = nwb.read_timeseries(path)
    return pd.DataFrame({column: np.asarray(data)}, index=pd.Index(times, name="time"))


def running_speed(nwb: NWB) -> pd.DataFrame:
    """Running speed over time (``speed``, cm/s), indexed by time in seconds.

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
    frame.attrs["unit"] = nwb.attrs(f"{path}/data").get("unit", "cm/s")
    return frame


def wheel_rotation(nwb: NWB) -> pd.DataFrame:
    """Raw running-wheel rotation per sample (``rotation``, radians), indexed by time.

    Raises
    ------
    NotFound
        If the file has no wheel rotation series.
    """
    path = _first(nwb, WHEEL)
    if path is None:
        found = nwb.children("acquisition") if nwb.exists("acquisition") else []
        raise NotFound(f"{nwb.name} has no raw_running_wheel_rotation; acquisition has {found}")
    return _series_frame(nwb, path, "rotation")


def eye_tracking(nwb: NWB) -> pd.DataFrame:
    """Eye tracking as one DataFrame indexed by time.

    Columns ``<series>_<field>`` for the ellipse fits (``pupil_x``, ``pupil_area`` ... ,
    ``corneal_reflection_width``) and ``likely_blink`` where the file has it. Handles
    plain 5-column TimeSeries (x, y, width, height, angle) and ndx-ellipse-eye-tracking
    style series (``data`` of x, y plus ``area``/``width``/``height``/``angle`` arrays).

    Raises
    ------
    NotFound
        If the file has no eye tracking.
    """
    import pandas as pd

    module = next((m for m in EYE_MODULES if nwb.exists(m)), None)
    if module is None:
        raise NotFound(
            f"{nwb.name} has no eye tracking (no processing/eye_tracking); "
            f"processing modules are {_modules(nwb)}"
        )
    series = _series_under(nwb, module)
    if not series:
        raise NotFound(f"{module} in {nwb.name} holds no time series")
    columns: dict[str, np.ndarray] = {}
    index: np.ndarray | None = None
    for name, path in series.items():
        times, data = nwb.read_timeseries(path)
        if index is None:
            index = times
        elif len(times) != len(index):
            logger.info("eye tracking series %s has its own clock; skipped", path)
            continue
        data = np.asarray(data)
        key = "likely_blink" if "blink" in name else name
        if data.ndim == 1:
            columns[key] = data.astype(bool) if "blink" in name else data
            continue
        fields = ELLIPSE_FIELDS if data.shape[1] == len(ELLIPSE_FIELDS) else ("x", "y")
        for i in range(data.shape[1]):
            label = fields[i] if i < len(fields) else str(i)
            columns[f"{key}_{label}"] = data[:, i]
        for extra in ("area", "width", "height", "angle"):
            if nwb.exists(f"{path}/{extra}") and f"{key}_{extra}" not in columns:
                columns[f"{key}_{extra}"] = nwb.read(f"{path}/{extra}")
    if "pupil_area" not in columns and {"pupil_width", "pupil_height"} <= set(columns):
        columns["pupil_area"] = np.pi * columns["pupil_width"] * columns["pupil_height"]
    return pd.DataFrame(columns, index=pd.Index(index, name="time"))


def _series_under(nwb: NWB, group: str, depth: int = 2) -> dict[str, str]:
    """Name to path of every TimeSeries-like group (has ``data``) under ``group``."""
    found: dict[str, str] = {}
    for name in nwb.children(group):
        path = f"{group}/{name}"
        if not nwb.is_group(path):
            continue
        if nwb.exists(f"{path}/data"):
            found.setdefault(name.removesuffix("_tracking"), path)
        elif depth > 1:
            found.update(_series_under(nwb, path, depth - 1))
    return found
