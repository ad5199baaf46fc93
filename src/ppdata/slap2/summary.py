"""The SLAP2 ``_processed_`` asset's ``source_extraction/experiment_summary.h5``: ΔF/F and
the other traces per DMD, frame bookkeeping and summary images (see
``docs/real-shapes-slap2-dandi.md``).

One group per DMD, named ``DMD<n>`` (older summaries) or ``Path<n>`` (newer), each with
``frame_info/``, ``visualizations/``, ``sources/temporal/`` and, where ROIs were drawn,
``user_rois/``. Older summaries hold ``sources/temporal/{dF,dFF,F0}`` as ``(frames,
sources)``; newer ones ``{F0,dF_denoised,dF_ls,events}`` as ``(frames, channels,
sources)``, and no ``dFF``: it is ``dF_denoised / (F0 + 1e-6)``, as the NWB packaging
computes it. Functions here take an open ``h5py.File``, so they read only the slices asked
for (over S3, through :class:`ppdata.nwb.backends.S3File`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFound, OutOfRange

if TYPE_CHECKING:
    import h5py
    import pandas as pd

    from ..nwb.file import NWB

__all__ = [
    "SUMMARY_NAME",
    "TRACE_KINDS",
    "describe",
    "frame_info",
    "nwb_dff",
    "planes",
    "summary_image",
    "traces",
]

SUMMARY_NAME = "experiment_summary.h5"
#: Trace kinds under ``sources/temporal`` (older and newer summaries), plus the ROI traces.
TRACE_KINDS = ("dFF", "dF", "F0", "dF_denoised", "dF_ls", "events", "user_rois/F", "user_rois/Fsvd")
_PLANE = re.compile(r"(?i)^(?:dmd|path)(\d+)$")
_EPS = 1e-6  # the packaging code's guard against F0 = 0


def planes(h5: h5py.File) -> dict[int, str]:
    """DMD number -> group name (``DMD1`` or ``Path1``)."""
    out = {}
    for name in h5:
        m = _PLANE.match(name)
        if m:
            out[int(m.group(1))] = name
    return dict(sorted(out.items()))


def _plane(h5: h5py.File, dmd: int) -> h5py.Group:
    found = planes(h5)
    if dmd not in found:
        raise NotFound(f"no DMD{dmd} in the experiment summary; DMDs: {sorted(found)}")
    return h5[found[dmd]]


def describe(h5: h5py.File) -> dict[int, dict[str, list[int]]]:
    """Per DMD, every dataset's path (inside its plane group) and shape."""
    import h5py

    out: dict[int, dict[str, list[int]]] = {}
    for dmd, name in planes(h5).items():
        shapes: dict[str, list[int]] = {}

        def visit(path: str, obj: Any, shapes: dict[str, list[int]] = shapes) -> None:
            if isinstance(obj, h5py.Dataset):
                shapes[path] = list(obj.shape)

        h5[name].visititems(visit)
        out[dmd] = shapes
    return out


def frame_info(h5: h5py.File, dmd: int) -> dict[str, np.ndarray]:
    """A DMD's ``frame_info`` arrays, flattened (MATLAB writes vectors as ``(1, n)``):
    ``trial_num_frames`` or ``trial_start_idxs``, ``discard_frames``, shifts, …"""
    group = _plane(h5, dmd).get("frame_info")
    if group is None:
        return {}
    return {k: np.asarray(group[k]).ravel() for k in group if hasattr(group[k], "shape")}


def _n_frames(h5: h5py.File, dmd: int) -> int | None:
    info = _plane(h5, dmd).get("frame_info")
    if info is None:
        return None
    if "trial_num_frames" in info:
        return int(np.asarray(info["trial_num_frames"]).sum())
    if "discard_frames" in info:
        return int(np.asarray(info["discard_frames"]).size)
    return None


def _dataset(group: h5py.Group, kind: str) -> h5py.Dataset | None:
    path = kind if "/" in kind else f"sources/temporal/{kind}"
    found = group.get(path)
    return found if found is not None and hasattr(found, "shape") else None


def _read(ds: h5py.Dataset, frames: slice, channel: int, n_frames: int | None) -> np.ndarray:
    """``(frames, sources)`` of one channel; 3-D datasets are ``(frames, channels, n)``."""
    transposed = n_frames is not None and ds.shape[0] != n_frames and ds.shape[-1] == n_frames
    if ds.ndim == 3:
        if not 1 <= channel <= ds.shape[1]:
            raise OutOfRange(f"channel {channel} is out of range: valid is 1..{ds.shape[1]}")
        # whole rows, one contiguous read (the channels of a frame sit side by side);
        # a strided hyperslab would make h5py issue one small read per frame
        return np.asarray(ds[frames], dtype=np.float32)[:, channel - 1, :]
    if transposed:  # a MATLAB-order (sources, frames) dataset
        return np.asarray(ds[:, frames], dtype=np.float32).T
    return np.asarray(ds[frames], dtype=np.float32).reshape(-1, ds.shape[-1] if ds.ndim else 1)


def traces(
    h5: h5py.File,
    dmd: int,
    kind: str = "dFF",
    *,
    channel: int = 1,
    frames: tuple[int, int] | None = None,
) -> np.ndarray:
    """One DMD's traces, ``(frames, sources)`` float32, only the frames asked for read.

    Parameters
    ----------
    kind : str
        One of :data:`TRACE_KINDS` (or any path inside the plane group). ``dFF`` in a newer
        summary, which stores none, is ``dF_denoised / (F0 + 1e-6)``.
    channel : int
        1-based channel of a ``(frames, channels, sources)`` dataset (1: green, glutamate).
    frames : (start, stop), optional

    Raises
    ------
    NotFound
        If the DMD or the kind is not in the summary (the message lists what is).
    OutOfRange
        If the frame range or the channel is outside the data.
    """
    group = _plane(h5, dmd)
    n_frames = _n_frames(h5, dmd)
    ds = _dataset(group, kind)
    d_f = f0 = None
    if ds is None and kind == "dFF":  # newer summaries: from the denoised dF and F0
        d_f, f0 = _dataset(group, "dF_denoised"), _dataset(group, "F0")
    first = ds if ds is not None else d_f if f0 is not None else None
    if first is None:
        temporal = group.get("sources/temporal")
        have = sorted(temporal) if temporal is not None else []
        raise NotFound(f"no {kind} for DMD{dmd} in the experiment summary; traces: {have}")
    total = n_frames if n_frames is not None else first.shape[0]
    start, stop = (0, total) if frames is None else frames
    if not 0 <= start < stop <= total:
        raise OutOfRange(f"frames {start}..{stop} is out of range: valid is 0..{total}")
    sel = slice(start, stop)
    if ds is not None or f0 is None:
        return _read(first, sel, channel, n_frames)
    return _read(first, sel, channel, n_frames) / (_read(f0, sel, channel, n_frames) + _EPS)


def summary_image(h5: h5py.File, dmd: int, name: str = "mean_im", channel: int = 1) -> np.ndarray:
    """A DMD's ``visualizations/<name>`` as one 2-D image: ``mean_im`` is per channel
    (``(channels, [z,] rows, cols)`` in newer summaries); a z axis is max-projected."""
    group = _plane(h5, dmd).get("visualizations")
    if group is None or name not in group:
        have = sorted(group) if group is not None else []
        raise NotFound(f"no {name} for DMD{dmd} in the experiment summary; images: {have}")
    image = np.asarray(group[name], dtype=np.float32)
    if name == "mean_im" and image.ndim >= 3:
        if not 1 <= channel <= image.shape[0]:
            raise OutOfRange(f"channel {channel} is out of range: valid is 1..{image.shape[0]}")
        image = image[channel - 1]
    while image.ndim > 2:
        image = np.nanmax(image, axis=0)
    return image


# --- the complete NWB (DANDI 001424) --------------------------------------------------------


def _nwb_series(nwb: NWB, dmd: int, kind: str) -> str:
    """Where a DMD's series is, in the three 001424 layouts: the packaging's newer
    ``Fluorescence_DMD<n>/DMD<n>_<kind>_green``, its older ``…/DMD<n>_<kind>``, the pilots'
    ``DfOverF/DMD<n>_DfOverF`` (ΔF only)."""
    base = "processing/ophys"
    candidates = [
        f"{base}/Fluorescence_DMD{dmd}/DMD{dmd}_{kind}_green",
        f"{base}/Fluorescence_DMD{dmd}/DMD{dmd}_{kind}",
    ]
    if kind == "dFF":
        candidates.append(f"{base}/DfOverF/DMD{dmd}_DfOverF")
    for path in candidates:
        if nwb.exists(f"{path}/data"):
            return path
    found = sorted(
        {int(m.group(1)) for m in re.finditer(r"DMD(\d+)_", " ".join(_ophys_names(nwb)))}
    )
    raise NotFound(f"no DMD{dmd} {kind} series in {nwb.name}; DMDs with series: {found}")


def _ophys_names(nwb: NWB) -> list[str]:
    """Names of the series in the ophys module's ``DfOverF`` and ``Fluorescence_DMD<n>``."""
    base = "processing/ophys"
    if not nwb.exists(base):
        return []
    groups = [g for g in nwb.children(base) if g == "DfOverF" or g.startswith("Fluorescence_")]
    return [name for g in groups for name in nwb.children(f"{base}/{g}")]


def nwb_dff(
    nwb: NWB, dmd: int, start: float | None = None, stop: float | None = None, kind: str = "dFF"
) -> pd.DataFrame:
    """A DMD's ΔF/F (or ``F0``) from the complete SLAP2 NWB: time x source, only the rows
    in ``[start, stop)`` read. The pilots' ``DMD<n>_DfOverF`` holds ΔF (REAL_SHAPES §13).

    Raises
    ------
    NotFound
        If the NWB has no such series (the message names the DMDs it has).
    """
    import pandas as pd

    series = _nwb_series(nwb, dmd, kind)
    times, data = nwb.read_timeseries(series, start, stop)
    frame = pd.DataFrame(np.asarray(data), index=pd.Index(times, name="time"))
    frame.columns = pd.Index(range(frame.shape[1]), name="source")
    return frame
