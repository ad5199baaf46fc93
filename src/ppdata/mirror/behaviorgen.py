"""Behavior parts of the synthetic NWBs, in the shapes of the real P3 files.

See REAL_SHAPES.md §2-3 and ``docs/real-shapes-behavior-qc.md``:

- ``processing/running``: ``running_speed`` (cm/s, explicit timestamps, negative when the
  wheel turns backwards) and ``running_wheel_rotation`` (radians per sample) whose
  ``timestamps`` are a link to ``running_speed``'s.
- ``acquisition``: ``raw_running_wheel_rotation``, ``running_wheel_signal_voltage``,
  ``running_wheel_supply_voltage`` (the encoder as recorded).
- ``processing/eye_tracking``: ``pupil``, ``corneal_reflection`` and ``ellipse`` as
  DynamicTables with the columns ``reference_frame, data_x, data_y, area, area_raw, width,
  height, angle, timestamps`` (one row per ~60 Hz camera frame) and a bool TimeSeries
  ``likely_blink_times`` on the same timestamps. Blink frames hold ``area`` = -1; frames
  whose fit failed hold ``area`` = ``area_raw`` = pi (the unit-radius placeholder).

The NWB writers (:mod:`.nwbgen`, :mod:`.nwbgen_ephys`) call these parts; the helpers they
share are in :mod:`.nwbgen_common`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .nwbgen_common import timeseries, wrap

if TYPE_CHECKING:
    from pynwb import NWBFile

__all__ = [
    "EYE_COLUMNS",
    "EYE_RATE",
    "EYE_TABLES",
    "RUNNING_RATE",
    "WHEEL_ACQUISITION",
    "WHEEL_RADIUS_CM",
    "add_eye_tracking",
    "add_running",
    "add_wheel_acquisition",
    "running_module",
    "running_speed",
]

RUNNING_RATE = 60.0
EYE_RATE = 60.0
#: Radius of the running wheel (cm): 8192 counts per revolution on a 8.255 cm wheel.
WHEEL_RADIUS_CM = 8.255
#: The acquisition series of the wheel encoder, in file order.
WHEEL_ACQUISITION = (
    "raw_running_wheel_rotation",
    "running_wheel_signal_voltage",
    "running_wheel_supply_voltage",
)
#: The eye-tracking tables and their columns, in file order (REAL_SHAPES.md §2).
EYE_TABLES = ("pupil", "corneal_reflection", "ellipse")
EYE_COLUMNS = (
    "reference_frame",
    "data_x",
    "data_y",
    "area",
    "area_raw",
    "width",
    "height",
    "angle",
    "timestamps",
)
#: Camera frame (pixels) of the ephys and Mesoscope eye cameras.
_FRAME = (658, 492)


# --------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------


def running_speed(rng: np.random.Generator, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and speed (cm/s): running bouts, rests, and short backward steps."""
    n = max(2, int(duration_s * RUNNING_RATE))
    # encoder samples are not perfectly regular: a little jitter on the 60 Hz clock
    t = np.arange(n) / RUNNING_RATE + rng.uniform(0.0, 2e-4, n)
    steps = rng.normal(0.0, 0.6, n)
    walk = np.convolve(np.cumsum(steps), np.ones(30) / 30.0, mode="same")
    speed = np.clip(walk - np.median(walk) + 5.0, 0.0, None) + rng.normal(0.0, 0.3, n)
    # the mouse sometimes rocks the wheel back: a few 0.2-0.5 s backward steps
    for start in rng.choice(n, size=max(1, n // 1800), replace=False):
        length = int(rng.integers(12, 30))
        speed[start : start + length] = -rng.uniform(1.0, 4.0)
    return t, speed.astype(np.float32)


def running_module(nwbfile: NWBFile, t: np.ndarray, speed: np.ndarray, fmt: str) -> Any:
    """The ``running`` module: ``running_speed`` and ``running_wheel_rotation`` (linked
    timestamps)."""
    module = nwbfile.create_processing_module(
        name="running", description="running speed and wheel rotation"
    )
    speed_series = timeseries(
        "running_speed",
        speed,
        t,
        unit="cm/s",
        description="running speed from the wheel encoder, low-pass filtered; negative = backwards",
        fmt=fmt,
    )
    module.add(speed_series)
    dt = np.diff(t, prepend=t[0])
    rotation = (speed * dt / WHEEL_RADIUS_CM).astype(np.float32)
    module.add(
        timeseries(
            "running_wheel_rotation",
            rotation,
            speed_series,
            unit="radians",
            description="wheel rotation per sample (radians)",
            fmt=fmt,
        )
    )
    return module


def add_running(nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str) -> None:
    """Add the ``running`` processing module."""
    t, speed = running_speed(rng, duration_s)
    running_module(nwbfile, t, speed, fmt)


def add_wheel_acquisition(
    nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str
) -> tuple[np.ndarray, np.ndarray]:
    """Add the wheel encoder's acquisition series (rotation per sample, signal and supply
    voltages), ~60 Hz with explicit timestamps; return the wheel's ``(timestamps, speed)``
    so that :func:`running_module` can derive ``running`` from the same wheel."""
    t, speed = running_speed(rng, duration_s)
    dt = np.diff(t, prepend=t[0])
    rotation = (speed * dt / WHEEL_RADIUS_CM).astype(np.float32)
    first = timeseries(
        "raw_running_wheel_rotation",
        rotation,
        t,
        unit="radians",
        description="wheel rotation per sample, as recorded",
        fmt=fmt,
    )
    nwbfile.add_acquisition(first)
    angle = np.cumsum(rotation) % (2 * np.pi)
    signal = 5.0 * angle / (2 * np.pi) + rng.normal(0.0, 0.01, len(t))
    for name, data in (
        ("running_wheel_signal_voltage", signal),
        ("running_wheel_supply_voltage", 5.0 + rng.normal(0.0, 0.01, len(t))),
    ):
        nwbfile.add_acquisition(
            timeseries(
                name,
                data.astype(np.float32),
                first,
                unit="V",
                description=name.replace("_", " "),
                fmt=fmt,
            )
        )
    return t, speed


# --------------------------------------------------------------------------------------
# eye tracking
# --------------------------------------------------------------------------------------


def _ellipse_fit(
    rng: np.random.Generator, n: int, radius: float, pupil: bool
) -> dict[str, np.ndarray]:
    """One table's columns: centre wandering around the frame, semi-axes near ``radius``."""
    cx, cy = _FRAME[0] / 2, _FRAME[1] / 2
    x = cx + np.cumsum(rng.normal(0.0, 0.05, n)) + rng.normal(0.0, 0.3, n)
    y = cy + np.cumsum(rng.normal(0.0, 0.05, n)) + rng.normal(0.0, 0.3, n)
    width = np.abs(radius + rng.normal(0.0, radius * 0.05, n))
    height = np.abs(radius * 0.87 + rng.normal(0.0, radius * 0.05, n))
    angle = rng.normal(0.0, 0.1, n)
    # pupil area is a circle on the major semi-axis; the others the ellipse (REAL_SHAPES §2)
    area = np.pi * np.maximum(width, height) ** 2 if pupil else np.pi * width * height
    return {
        "data_x": x,
        "data_y": y,
        "area": area,
        "area_raw": area.copy(),
        "width": width,
        "height": height,
        "angle": angle,
    }


def add_eye_tracking(
    nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str
) -> None:
    """Add ``processing/eye_tracking``: three ellipse-fit DynamicTables + blink flags."""
    from hdmf.common import DynamicTable, VectorData

    n = max(2, int(duration_s * EYE_RATE))
    t = np.arange(n) / EYE_RATE + rng.uniform(0.0, 2e-4, n)
    blink = np.zeros(n, dtype=bool)
    for start in rng.choice(n, size=max(1, n // 600), replace=False):
        blink[start : start + int(rng.integers(3, 10))] = True
    failed = ~blink & (rng.random(n) < 0.002)
    failed[np.flatnonzero(~blink)[0]] = True  # at least one failed fit, whatever the seed
    module = nwbfile.create_processing_module(
        name="eye_tracking", description="ellipse fits of the eye camera (pupil, CR, eye)"
    )
    descriptions = {
        "reference_frame": "frame of reference of the fit",
        "data_x": "x of the ellipse centre (pixels)",
        "data_y": "y of the ellipse centre (pixels)",
        "area": "area (pixels^2); -1 on likely blinks",
        "area_raw": "area (pixels^2), not masked for blinks",
        "width": "semi-axis along x before rotation (pixels)",
        "height": "semi-axis along y before rotation (pixels)",
        "angle": "rotation of the ellipse (radians)",
        "timestamps": "frame time (s)",
    }
    for name, radius in (("pupil", 20.0), ("corneal_reflection", 4.0), ("ellipse", 60.0)):
        values: dict[str, Any] = _ellipse_fit(rng, n, radius, pupil=name == "pupil")
        values["area_raw"][failed] = np.pi
        values["area"][failed] = np.pi
        values["area"][blink] = -1.0
        values["reference_frame"] = ["nose"] * n
        values["timestamps"] = t
        columns = [
            VectorData(
                name=column,
                description=descriptions[column],
                data=values[column]
                if column == "reference_frame"
                else wrap(np.asarray(values[column], dtype=np.float64), fmt),
            )
            for column in EYE_COLUMNS
        ]
        module.add(
            DynamicTable(
                name=name,
                description=f"{name.replace('_', ' ')} ellipse fit per eye-camera frame",
                columns=columns,
                id=np.arange(n),
            )
        )
    module.add(
        timeseries(
            "likely_blink_times",
            blink,
            t,
            unit="N/A",
            description="True on frames that are likely blinks",
            fmt=fmt,
        )
    )
