"""Writers of synthetic but faithful NWB files (pynwb + hdmf-zarr).

The files follow the layout of the real Predictive Processing NWBs described in DOMAIN.md:

- :func:`write_ephys_nwb` (in :mod:`.nwbgen_ephys`): the sorted Zarr NWB of a Neuropixels
  ``_sorted_`` asset or the complete HDF5 NWB of an ``_nwb_`` asset, in the real shapes.
- :func:`write_pophys_nwb`: ``pophys.nwb.zarr`` of a Mesoscope planar-ophys asset, one
  processing module per plane (``VISp_0``) with the containers of aind-ophys-nwb.
- :func:`write_behavior_nwb`: ``<raw>.nwb`` of a Mesoscope behavior/timing asset.

Every writer is deterministic: the same arguments give the same bytes (random values come
from ``numpy.random.default_rng(seed)``, the NWB identifier is derived from ``raw_name``
and the per-object ``object_id`` UUIDs from a seeded generator).

"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pynwb import NWBFile

__all__ = [
    "benchmark_ephys_kwargs",
    "write_behavior_nwb",
    "write_ephys_nwb",
    "write_pophys_nwb",
]

logger = logging.getLogger(__name__)

# hdmf draws every object_id from ``hdmf.container.uuid4``; we swap in a seeded generator
# while building and writing one file, and turn off Blosc threads (their output order
# varies). Both switches are process-global, hence the lock.
_WRITE_LOCK = threading.Lock()

#: Chunk sizes (elements) chosen like the pipelines do: a few MB per chunk for big arrays.
STIMULUS_FRAME_RATE = 60.0
RUNNING_RATE = 60.0
EYE_RATE = 60.0


# --------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _deterministic_ids(seed_text: str) -> Iterator[None]:
    import hdmf.container
    from numcodecs import blosc

    rng = random.Random(seed_text)

    def _uuid4() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    with _WRITE_LOCK, warnings.catch_warnings():
        # regions are built before their parent joins the file; hdmf warns, harmlessly
        warnings.filterwarnings("ignore", message="The linked table for DynamicTableRegion")
        original = hdmf.container.uuid4
        hdmf.container.uuid4 = _uuid4
        # multi-threaded Blosc orders blocks by completion: same data, different bytes
        threads = blosc.use_threads
        blosc.use_threads = False
        try:
            yield
        finally:
            hdmf.container.uuid4 = original
            blosc.use_threads = threads


def _aware(when: datetime) -> datetime:
    """NWB wants time-zone aware datetimes; a naive one is the rig's local wall time (as in
    the raw name): US/Pacific, -08:00 in winter, -07:00 in summer (REAL_SHAPES §9)."""
    from .jsongen_common import local_time

    return local_time(when)


def _date_of_birth(start: datetime, days: int) -> datetime:
    """Midnight ``days`` before the session with the pytz LMT offset the real files carry
    (-07:53, from localizing US/Pacific without ``normalize``; REAL_SHAPES §9)."""
    from datetime import timedelta, timezone

    born = (start - timedelta(days=days)).date()
    lmt = timezone(-timedelta(hours=7, minutes=53), "LMT")
    return datetime(born.year, born.month, born.day, tzinfo=lmt)


def _new_nwbfile(
    *, raw_name: str, kind: str, subject_id: str, session_start: datetime, description: str
) -> NWBFile:
    from pynwb import NWBFile
    from pynwb.file import Subject

    start = _aware(session_start)
    return NWBFile(
        session_description=description,
        identifier=str(uuid.uuid5(uuid.NAMESPACE_URL, f"ppdata:{kind}:{raw_name}")),
        session_start_time=start,
        file_create_date=[start],
        session_id=raw_name,
        institution="Allen Institute for Neural Dynamics",
        experiment_description="OpenScope Predictive Processing (synthetic ppdata mirror)",
        subject=Subject(
            subject_id=str(subject_id),
            species="Mus musculus",
            sex="F",
            age="P90D",
            genotype="wt/wt",
            date_of_birth=_date_of_birth(start, days=90),
        ),
    )


def _wrap(data: np.ndarray, fmt: str, chunks: tuple[int, ...] | None = None) -> Any:
    """Wrap an array with the chunking and compression of the chosen backend."""
    if chunks is not None:
        chunks = tuple(max(1, min(c, s)) for c, s in zip(chunks, data.shape, strict=True))
    if fmt == "zarr":
        import numcodecs
        from hdmf_zarr.utils import ZarrDataIO

        compressor = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        if chunks is None:
            return ZarrDataIO(data=data, compressor=compressor)
        return ZarrDataIO(data=data, chunks=chunks, compressor=compressor)
    from pynwb import H5DataIO

    if chunks is None:
        return H5DataIO(data=data, compression="gzip", compression_opts=4)
    return H5DataIO(data=data, chunks=chunks, compression="gzip", compression_opts=4)


def _write(nwbfile: NWBFile, path: Path, fmt: str) -> None:
    """Write to a temporary sibling, then move into place (never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    _remove(tmp)
    try:
        if fmt == "zarr":
            from hdmf_zarr import NWBZarrIO

            with NWBZarrIO(str(tmp), mode="w") as io:
                io.write(nwbfile, consolidate_metadata=True)
        elif fmt == "hdf5":
            from pynwb import NWBHDF5IO

            with NWBHDF5IO(str(tmp), mode="w") as io:
                io.write(nwbfile)
        else:
            raise ValueError(f"unknown NWB format {fmt!r}: expected 'zarr' or 'hdf5'")
        _remove(path)
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _table_columns(columns: dict[str, tuple[str, Any]]) -> list[Any]:
    from hdmf.common import VectorData

    out = []
    for name, (description, data) in columns.items():
        values = data.tolist() if isinstance(data, np.ndarray) and data.dtype.kind == "U" else data
        out.append(VectorData(name=name, description=description, data=values))
    return out


def _time_intervals(name: str, description: str, columns: dict[str, tuple[str, Any]]) -> Any:
    from pynwb.epoch import TimeIntervals

    n = len(next(iter(columns.values()))[1])
    return TimeIntervals(
        name=name,
        description=description,
        columns=_table_columns(columns),
        id=np.arange(n),
    )


# --------------------------------------------------------------------------------------
# behavior parts (shared by the ephys and the behavior/timing NWB)
# --------------------------------------------------------------------------------------


def _running_speed(rng: np.random.Generator, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    from .behaviorgen import running_speed

    return running_speed(rng, duration_s)


def _series(
    name: str, data: np.ndarray, t: np.ndarray, *, unit: str, description: str, fmt: str
) -> Any:
    """A TimeSeries with explicit timestamps, its arrays stored as the backend stores them."""
    from pynwb import TimeSeries

    return TimeSeries(
        name=name,
        data=_wrap(data, fmt),
        timestamps=_wrap(t, fmt),
        unit=unit,
        description=description,
    )


def _running_module(nwbfile: NWBFile, t: np.ndarray, speed: np.ndarray, fmt: str) -> Any:
    """The ``running`` module: ``running_speed`` + ``running_wheel_rotation`` (h2: behaviorgen)."""
    from .behaviorgen import running_module

    return running_module(nwbfile, t, speed, fmt)


def _add_running(nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str) -> None:
    from .behaviorgen import add_running

    add_running(nwbfile, rng, duration_s, fmt)


def _add_wheel_acquisition(
    nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str
) -> tuple[np.ndarray, np.ndarray]:
    """Acquisition ``raw_running_wheel_rotation`` + the two wheel voltages (h2: behaviorgen);
    returns the wheel's ``(timestamps, speed)`` for :func:`_running_module`."""
    from .behaviorgen import add_wheel_acquisition

    return add_wheel_acquisition(nwbfile, rng, duration_s, fmt)


def _add_stimulus(nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str) -> None:
    """Stimulus onsets plus the ``*_presentations`` tables (see :mod:`.stimgen`)."""
    from . import stimgen

    stimgen.add_stimulus(nwbfile, rng, duration_s, fmt)


def _add_eye_tracking(
    nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str
) -> None:
    """``processing/eye_tracking``: pupil/CR/ellipse tables + blinks (h2: behaviorgen)."""
    from .behaviorgen import add_eye_tracking

    add_eye_tracking(nwbfile, rng, duration_s, fmt)


# --------------------------------------------------------------------------------------
# ephys (in nwbgen_ephys; these wrappers keep ``nwbgen.write_ephys_nwb`` working)
# --------------------------------------------------------------------------------------


def write_ephys_nwb(path: Path, **kwargs: Any) -> None:
    """Write a Neuropixels NWB: see :func:`ppdata.mirror.nwbgen_ephys.write_ephys_nwb`."""
    from .nwbgen_ephys import write_ephys_nwb as write

    write(path, **kwargs)


def benchmark_ephys_kwargs() -> dict[str, Any]:
    """The bench-size recipe: see :func:`ppdata.mirror.nwbgen_ephys.benchmark_ephys_kwargs`."""
    from .nwbgen_ephys import benchmark_ephys_kwargs as recipe

    return recipe()


# --------------------------------------------------------------------------------------
# planar ophys
# --------------------------------------------------------------------------------------


def _roi_masks(
    rng: np.random.Generator, n_rois: int, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    masks = np.zeros((n_rois, h, w), dtype=np.float32)
    labels = np.zeros((h, w), dtype=np.uint16)
    radius = max(1.5, min(h, w) / 25.0)
    for i in range(n_rois):
        cy, cx = rng.uniform(radius, h - radius), rng.uniform(radius, w - radius)
        d2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / radius**2
        mask = np.where(d2 <= 1.0, np.exp(-d2), 0.0).astype(np.float32)
        masks[i] = mask
        labels[mask > 0] = i + 1
    return masks, labels


def _calcium_traces(
    rng: np.random.Generator, n_frames: int, n_rois: int, rate_hz: float
) -> dict[str, np.ndarray]:
    decay = np.exp(-1.0 / (0.7 * rate_hz))
    events = np.where(
        rng.random((n_frames, n_rois)) < 0.02, rng.exponential(0.8, (n_frames, n_rois)), 0.0
    )
    calcium = np.empty((n_frames, n_rois))
    c = np.zeros(n_rois)
    for t in range(n_frames):
        c = c * decay + events[t]
        calcium[t] = c
    dff = calcium + rng.normal(0.0, 0.05, (n_frames, n_rois))
    baseline = rng.uniform(100.0, 400.0, n_rois)
    neuropil = baseline * 0.6 + np.cumsum(rng.normal(0.0, 0.5, (n_frames, n_rois)), axis=0) * 0.1
    corrected = baseline * (1.0 + dff)
    raw = corrected + 0.7 * neuropil
    return {
        "dff": dff.astype(np.float32),
        "events": events.astype(np.float32),
        "raw": raw.astype(np.float32),
        "neuropil": neuropil.astype(np.float32),
        "corrected": corrected.astype(np.float32),
    }


def _add_plane(
    nwbfile: NWBFile,
    rng: np.random.Generator,
    *,
    device: Any,
    structure: str,
    index: int,
    depth: int,
    n_rois: int,
    timestamps: np.ndarray,
    rate_hz: float,
    image_size: tuple[int, int],
) -> None:
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage
    from pynwb.ophys import (
        DfOverF,
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        RoiResponseSeries,
    )

    from . import stimgen

    name = f"{structure}_{index}"
    module = nwbfile.create_processing_module(name=name, description=f"ophys of plane {name}")
    plane = nwbfile.create_imaging_plane(
        name=name,
        optical_channel=OpticalChannel(
            name="OpticalChannel", description="green channel", emission_lambda=520.0
        ),
        imaging_rate=float(rate_hz),
        description=f"two-photon imaging plane {name}",
        device=device,
        excitation_lambda=920.0,
        indicator="GCaMP6s",
        location=f"Structure: {structure} Depth: {depth}",
        grid_spacing=[0.78, 0.78],
        grid_spacing_unit="microns",
        origin_coords=[0.0, 0.0, float(depth)],
        origin_coords_unit="microns",
    )
    segmentation = ImageSegmentation(name="image_segmentation")
    table = segmentation.create_plane_segmentation(
        name="roi_table",
        description="suite2p segmentation, cellpose soma classifier",
        imaging_plane=plane,
    )
    for column, doc in (
        ("is_soma", "ROI classified as a soma"),
        ("soma_probability", "classifier probability of soma"),
        ("is_dendrite", "ROI classified as a dendrite"),
        ("dendrite_probability", "classifier probability of dendrite"),
    ):
        table.add_column(name=column, description=doc)
    masks, labels = _roi_masks(rng, n_rois, image_size)
    soma_p = rng.uniform(0.0, 1.0, n_rois)
    for i in range(n_rois):
        table.add_roi(
            image_mask=masks[i],
            is_soma=bool(soma_p[i] > 0.5),
            soma_probability=float(soma_p[i]),
            is_dendrite=bool(soma_p[i] < 0.2),
            dendrite_probability=float(1.0 - soma_p[i]) * 0.5,
        )
    module.add(segmentation)

    h, w = image_size
    mean = rng.gamma(2.0, 0.1, (h, w)) + masks.sum(axis=0) * 0.5
    max_img = mean + rng.gamma(1.5, 0.1, (h, w))
    module.add(
        Images(
            name="images",
            description="summary images of the two-photon movie",
            images=[
                GrayscaleImage(
                    name="average_projection",
                    data=(mean / mean.max()).astype(np.float32),
                    description="average intensity projection, normalized to [0, 1]",
                ),
                GrayscaleImage(
                    name="max_projection",
                    data=(max_img / max_img.max()).astype(np.float32),
                    description="maximum intensity projection, normalized to [0, 1]",
                ),
                GrayscaleImage(
                    name="segmentation_mask_image",
                    data=labels,
                    description="label image: ROI index + 1 per pixel, 0 = background",
                ),
            ],
        )
    )

    traces = _calcium_traces(rng, len(timestamps), n_rois, rate_hz)
    stimgen.add_dff_responses(traces["dff"], timestamps, len(timestamps) / rate_hz, index)

    def series(series_name: str, key: str, unit: str) -> Any:
        region = table.create_roi_table_region(
            description=f"ROIs of {name}", region=list(range(n_rois))
        )
        return RoiResponseSeries(
            name=series_name,
            data=traces[key],
            rois=region,
            unit=unit,
            timestamps=timestamps,
        )

    module.add(
        DfOverF(name="dff_timeseries", roi_response_series=series("dff_timeseries", "dff", "%"))
    )
    module.add(
        Fluorescence(
            name="raw_timeseries",
            roi_response_series=series("ROI_fluorescence_timeseries", "raw", "a.u."),
        )
    )
    module.add(series("neuropil_fluorescence_timeseries", "neuropil", "a.u."))
    module.add(series("neuropil_corrected_timeseries", "corrected", "a.u."))
    module.add(series("event_timeseries", "events", "a.u."))


def write_pophys_nwb(
    path: Path,
    *,
    raw_name: str,
    subject_id: str,
    session_start: datetime,
    planes: Sequence[tuple[str, int, int]] = (("VISp", 0, 184), ("VISl", 4, 220)),
    rois_per_plane: int = 20,
    duration_s: float = 120.0,
    rate_hz: float = 9.48,
    image_size: tuple[int, int] = (64, 64),
    seed: int = 0,
) -> None:
    """Write ``pophys.nwb.zarr`` of a Mesoscope planar-ophys asset (always Zarr).

    Parameters
    ----------
    path : Path
        Destination folder (replaced if it exists).
    raw_name, subject_id, session_start
        Session identity.
    planes : sequence of (structure, index, depth_um)
        One processing module and one imaging plane named ``f"{structure}_{index}"`` each.
    rois_per_plane : int
        ROIs in each plane's ``roi_table``.
    duration_s, rate_hz : float
        Session length and frame rate per plane (traces have ``duration_s * rate_hz`` rows).
    image_size : (int, int)
        Height and width of the projections and the ROI image masks.
    seed : int
        Seed of every random value.
    """
    from pynwb.device import Device

    rng = np.random.default_rng(seed)
    n_frames = max(2, int(duration_s * rate_hz))
    n_groups = max(1, (len(planes) + 1) // 2)
    with _deterministic_ids(f"pophys:{raw_name}:{seed}"):
        nwbfile = _new_nwbfile(
            raw_name=raw_name,
            kind="pophys",
            subject_id=subject_id,
            session_start=session_start,
            description="Mesoscope two-photon imaging (OpenScope Predictive Processing)",
        )
        device = Device(name="MESO.1", description="Mesoscope (Thorlabs)")
        nwbfile.add_device(device)
        for i, (structure, index, depth) in enumerate(planes):
            # planes are imaged in pairs: each pair has its own frame clock offset
            offset = (i // 2) / (rate_hz * n_groups)
            timestamps = np.arange(n_frames) / rate_hz + offset
            _add_plane(
                nwbfile,
                rng,
                device=device,
                structure=structure,
                index=index,
                depth=depth,
                n_rois=rois_per_plane,
                timestamps=timestamps,
                rate_hz=rate_hz,
                image_size=image_size,
            )
        _write(nwbfile, Path(path), "zarr")
    logger.debug("wrote pophys NWB %s", path)


# --------------------------------------------------------------------------------------
# behavior / timing
# --------------------------------------------------------------------------------------


def write_behavior_nwb(
    path: Path,
    *,
    raw_name: str,
    subject_id: str,
    session_start: datetime,
    duration_s: float = 120.0,
    seed: int = 0,
) -> None:
    """Write ``<raw>.nwb`` of a Mesoscope behavior/timing asset (always Zarr).

    Holds acquisition ``raw_running_wheel_rotation`` (and the wheel voltages), processing
    ``running`` and ``stimulus``, and the ``*_presentations`` intervals.

    Parameters
    ----------
    path : Path
        Destination folder (replaced if it exists).
    raw_name, subject_id, session_start
        Session identity.
    duration_s : float
        Session length.
    seed : int
        Seed of every random value.
    """
    rng = np.random.default_rng(seed)
    fmt = "zarr"
    with _deterministic_ids(f"behavior:{raw_name}:{seed}"):
        nwbfile = _new_nwbfile(
            raw_name=raw_name,
            kind="behavior",
            subject_id=subject_id,
            session_start=session_start,
            description="behavior and stimulus timing (OpenScope Predictive Processing)",
        )
        t, speed = _add_wheel_acquisition(nwbfile, rng, duration_s, fmt)
        _running_module(nwbfile, t, speed, fmt)
        _add_stimulus(nwbfile, rng, duration_s, fmt)
        _write(nwbfile, Path(path), fmt)
    logger.debug("wrote behavior NWB %s", path)
