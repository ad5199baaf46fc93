"""Writers of synthetic but faithful NWB files (pynwb + hdmf-zarr).

The files follow the layout of the real Predictive Processing NWBs described in DOMAIN.md:

- :func:`write_ephys_nwb` (in :mod:`.nwbgen_ephys`): the sorted Zarr NWB of a Neuropixels
  ``_sorted_`` asset or the complete HDF5 NWB of an ``_nwb_`` asset, in the real shapes.
- :func:`write_pophys_nwb`: ``pophys.nwb.zarr`` of a Mesoscope planar-ophys asset, one
  processing module per plane (``VISp_0``) with the containers of aind-ophys-nwb.
- :func:`write_behavior_nwb`: ``<raw>.nwb`` of a Mesoscope behavior/timing asset.

Every writer is deterministic: the same arguments give the same bytes (random values come
from ``numpy.random.default_rng(seed)``, the NWB identifier is derived from ``raw_name``
and the per-object ``object_id`` UUIDs from a seeded generator: see
:func:`.nwbgen_common.building_nwb`, which every writer builds its file in).

"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .behaviorgen import add_wheel_acquisition, running_module
from .nwbgen_common import building_nwb
from .nwbgen_ephys import benchmark_ephys_kwargs, write_ephys_nwb
from .stimgen import add_dff_responses, add_stimulus

if TYPE_CHECKING:
    from pynwb import NWBFile

__all__ = [
    "benchmark_ephys_kwargs",
    "write_behavior_nwb",
    "write_ephys_nwb",
    "write_pophys_nwb",
]

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
    device: Any,
    plane: tuple[str, int, int],
    timestamps: np.ndarray,
    *,
    n_rois: int,
    rate_hz: float,
    image_size: tuple[int, int],
) -> None:
    """One imaging plane, ``(structure, index, depth_um)``, and its processing module."""
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage
    from pynwb.ophys import (
        DfOverF,
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        RoiResponseSeries,
    )

    structure, index, depth = plane
    name = f"{structure}_{index}"
    module = nwbfile.create_processing_module(name=name, description=f"ophys of plane {name}")
    imaging_plane = nwbfile.create_imaging_plane(
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
        imaging_plane=imaging_plane,
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
    add_dff_responses(traces["dff"], timestamps, len(timestamps) / rate_hz, index)

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
    with building_nwb(path, "pophys", "zarr", seed, raw_name, subject_id, session_start) as nwbfile:
        device = Device(name="MESO.1", description="Mesoscope (Thorlabs)")
        nwbfile.add_device(device)
        for i, plane in enumerate(planes):
            # planes are imaged in pairs: each pair has its own frame clock offset
            offset = (i // 2) / (rate_hz * n_groups)
            timestamps = np.arange(n_frames) / rate_hz + offset
            _add_plane(
                nwbfile,
                rng,
                device,
                plane,
                timestamps,
                n_rois=rois_per_plane,
                rate_hz=rate_hz,
                image_size=image_size,
            )


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
    path, raw_name, subject_id, session_start
        As in :func:`write_pophys_nwb`.
    duration_s : float
        Session length.
    seed : int
        Seed of every random value.
    """
    rng = np.random.default_rng(seed)
    fmt = "zarr"
    with building_nwb(path, "behavior", fmt, seed, raw_name, subject_id, session_start) as nwbfile:
        t, speed = add_wheel_acquisition(nwbfile, rng, duration_s, fmt)
        running_module(nwbfile, t, speed, fmt)
        add_stimulus(nwbfile, rng, duration_s, fmt)
