"""Two-photon (Mesoscope) data from an NWB: planes, traces, ROIs, projection images.

The planar-ophys NWB (``pophys.nwb.zarr``) holds one processing module per imaging plane,
named like the plane (``VISp_0``). Traces are time x ROI; every function reads only the
rows (time window) and columns (ROIs) asked for.

Examples
--------
>>> import ppdata
>>> session = ppdata.open_session("multiplane-ophys_832700_2026-01-24_12-06-12")
>>> nwb = session.nwb("planar-ophys")  # its pophys.nwb.zarr; open_nwb(key) opens any other
>>> planes(nwb).loc["VISp_0", "structure"]
'VISp'
>>> dff(nwb, "VISp_0", start=10, stop=20, rois=[0, 3]).columns.tolist()
[0, 3]
>>> session.close()
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFound
from . import TRACE_KINDS

if TYPE_CHECKING:
    import pandas as pd

    from .file import NWB

__all__ = [
    "PLANE_FILE_PARTS",
    "TRACE_KINDS",
    "dff",
    "events",
    "find_plane_files",
    "list_planes",
    "neuropil",
    "neuropil_corrected",
    "plane_files",
    "planes",
    "projections",
    "raw",
    "read_classification",
    "roi_masks",
    "rois",
    "summary",
    "traces",
]

logger = logging.getLogger(__name__)

ROI_TABLES = ("image_segmentation/roi_table", "image_segmentation/cell_specimen_table")
_LOCATION = re.compile(r"Structure:\s*(?P<structure>\S+)\s+Depth:\s*(?P<depth>-?[\d.]+)", re.I)
_PLANE_NAME = re.compile(r"^(?P<structure>.+?)_(?P<index>\d+)$")


# --------------------------------------------------------------------------------------
# planes
# --------------------------------------------------------------------------------------


def list_planes(nwb: NWB) -> list[str]:
    """Names of the processing modules that hold one imaging plane each."""
    if not nwb.exists("processing"):
        return []
    found = []
    for module in nwb.children("processing"):
        base = f"processing/{module}"
        if any(nwb.exists(f"{base}/{t}") for t in ROI_TABLES) or any(
            nwb.exists(f"{base}/{paths[0]}") for paths in TRACE_KINDS.values()
        ):
            found.append(module)
    return sorted(found, key=_plane_sort_key)


def _plane_sort_key(name: str) -> tuple[int, str]:
    match = _PLANE_NAME.match(name)
    return (int(match["index"]), name) if match else (10**6, name)


def _check_plane(nwb: NWB, plane: str) -> str:
    valid = list_planes(nwb)
    if plane not in valid:
        listing = ", ".join(valid) if valid else "none (not an ophys NWB?)"
        raise NotFound(f"no plane {plane!r} in {nwb.name}: planes are {listing}")
    return f"processing/{plane}"


def _roi_table(nwb: NWB, plane: str) -> str:
    base = _check_plane(nwb, plane)
    for table in ROI_TABLES:
        if nwb.exists(f"{base}/{table}"):
            return f"{base}/{table}"
    raise NotFound(f"plane {plane} of {nwb.name} has no ROI table ({' or '.join(ROI_TABLES)})")


def _imaging_plane(nwb: NWB, plane: str) -> str | None:
    base = f"processing/{plane}"
    for table in ROI_TABLES:
        if nwb.exists(f"{base}/{table}"):
            target = nwb.link(f"{base}/{table}", "imaging_plane")
            if target and nwb.exists(target):
                return target
    fallback = f"general/optophysiology/{plane}"
    return fallback if nwb.exists(fallback) else None


def planes(nwb: NWB) -> pd.DataFrame:
    """One row per imaging plane: structure, depth, rate, ROIs, frames.

    Returns
    -------
    pandas.DataFrame
        Indexed by plane name, with columns ``structure``, ``depth_um``, ``rate_hz``,
        ``n_rois``, ``n_frames``, ``location`` (the NWB text, ``"Structure: VISp Depth:
        184"``). Structure and depth come from the location text, else from the name.
    """
    import pandas as pd

    names = list_planes(nwb)
    targets = {p: _imaging_plane(nwb, p) for p in names}
    scalars = [
        f"{t}/{field}"
        for t in targets.values()
        if t
        for field in ("location", "imaging_rate")
        if nwb.exists(f"{t}/{field}")
    ]
    nwb.prefetch(scalars)
    rows = []
    for name in names:
        target = targets[name]
        location = ""
        rate = np.nan
        if target and nwb.exists(f"{target}/location"):
            location = str(nwb.read_scalar(f"{target}/location"))
        if target and nwb.exists(f"{target}/imaging_rate"):
            rate = float(nwb.read_scalar(f"{target}/imaging_rate"))
        structure, depth = _structure_depth(name, location)
        table = next(
            (f"processing/{name}/{t}" for t in ROI_TABLES if nwb.exists(f"processing/{name}/{t}")),
            None,
        )
        n_rois = nwb.shape(f"{table}/id")[0] if table else 0
        series = _find_trace(nwb, name, "dff")
        n_frames = nwb.shape(f"{series}/data")[0] if series else 0
        rows.append(
            {
                "plane": name,
                "structure": structure,
                "depth_um": depth,
                "rate_hz": rate,
                "n_rois": n_rois,
                "n_frames": n_frames,
                "location": location,
            }
        )
    columns = ["plane", "structure", "depth_um", "rate_hz", "n_rois", "n_frames", "location"]
    return pd.DataFrame(rows, columns=columns).set_index("plane")


def _structure_depth(name: str, location: str) -> tuple[str, float]:
    match = _LOCATION.search(location or "")
    if match:
        return match["structure"], float(match["depth"])
    by_name = _PLANE_NAME.match(name)
    return (by_name["structure"] if by_name else name), np.nan


# --------------------------------------------------------------------------------------
# traces
# --------------------------------------------------------------------------------------


def _find_trace(nwb: NWB, plane: str, kind: str) -> str | None:
    if kind not in TRACE_KINDS:
        raise NotFound(f"unknown trace kind {kind!r}: kinds are {list(TRACE_KINDS)}")
    base = f"processing/{plane}"
    for candidate in TRACE_KINDS[kind]:
        if nwb.exists(f"{base}/{candidate}/data"):
            return f"{base}/{candidate}"
    return None


def _trace_path(nwb: NWB, plane: str, kind: str) -> str:
    found = _find_trace(nwb, plane, kind)
    if found is None:
        present = [k for k in TRACE_KINDS if _find_trace(nwb, plane, k)]
        raise NotFound(f"plane {plane} of {nwb.name} has no {kind} traces; it has {present}")
    return found


def _series_roi_ids(nwb: NWB, plane: str, series: str) -> np.ndarray:
    """ROI ids of a series' columns: its ``rois`` region rows, mapped through the table ids."""
    table = _roi_table(nwb, plane)
    ids = nwb.read(f"{table}/id")
    if nwb.exists(f"{series}/rois"):
        rows = nwb.read(f"{series}/rois").astype(np.int64)
        return ids[rows]
    return ids


def _roi_columns(available: np.ndarray, wanted: Iterable[int], plane: str) -> np.ndarray:
    position = {int(r): i for i, r in enumerate(available)}
    wanted = [int(r) for r in wanted]
    bad = [r for r in wanted if r not in position]
    if bad:
        ids = [int(r) for r in available]
        shown = f"{ids[0]}..{ids[-1]}" if len(ids) > 20 else str(ids)
        raise NotFound(f"ROI id(s) {bad} are not in plane {plane}: ROI ids are {shown}")
    return np.asarray([position[r] for r in wanted], dtype=np.int64)


def traces(
    nwb: NWB,
    plane: str,
    kind: str = "dff",
    start: float | None = None,
    stop: float | None = None,
    rois: Iterable[int] | None = None,
) -> pd.DataFrame:
    """A plane's traces of one kind, time x ROI, read lazily.

    Parameters
    ----------
    nwb : NWB
        An open ophys NWB.
    plane : str
        Plane name (``"VISp_0"``; see :func:`planes`).
    kind : str
        One of :data:`TRACE_KINDS`: ``dff``, ``events``, ``raw``, ``neuropil``,
        ``neuropil_corrected``.
    start, stop : float, optional
        Time window in seconds, ``[start, stop)``.
    rois : iterable of int, optional
        ROI ids (the index of :func:`rois`); default all.

    Returns
    -------
    pandas.DataFrame
        Indexed by time (s), one column per ROI id.

    Raises
    ------
    NotFound
        Unknown plane, kind or ROI (the message lists the valid ones).
    """
    import pandas as pd

    _check_plane(nwb, plane)
    series = _trace_path(nwb, plane, kind)
    # the small arrays needed before the data itself, fetched in one concurrent batch; with
    # them the data too, when a read of all its rows will fetch all of it anyway
    table = _roi_table(nwb, plane)
    first = [p for p in (f"{table}/id", f"{series}/rois", f"{series}/timestamps") if nwb.exists(p)]
    windowed = start is not None or stop is not None
    whole = _read_whole(nwb, f"{series}/data", rois, windowed=windowed)
    nwb.prefetch([*first, f"{series}/data"] if whole else first)
    roi_ids = _series_roi_ids(nwb, plane, series)
    columns = None if rois is None else _roi_columns(roi_ids, rois, plane)
    times, data = nwb.read_timeseries(series, start, stop, columns)
    chosen = roi_ids if columns is None else roi_ids[columns]
    frame = pd.DataFrame(np.asarray(data), index=pd.Index(times, name="time"))
    frame.columns = pd.Index(chosen, name="roi_id")
    return frame


#: The largest trace array (bytes, uncompressed) a read that fetches all of it anyway
#: fetches in the batch that reads the ROI ids, instead of a round trip later.
PREFETCH_DATA_BYTES = 64 * 2**20


def _read_whole(nwb: NWB, data: str, rois: Iterable[int] | None, *, windowed: bool) -> bool:
    """Whether the read fetches all of the time x ROI array ``data`` whichever ROIs are asked
    for, and it is small enough to fetch at once.

    Its rows: all of them without a time window; with one, only where the time axis is one
    chunk (any window's rows are in it; a window of an unchunked HDF5 dataset reads only
    its rows' bytes). Its ROIs: all of them, or ROIs stored together (one chunk across the
    ROI axis, or an unchunked HDF5 dataset)."""
    array = nwb.array(data)
    chunks = getattr(array, "chunks", None)
    if windowed and (chunks is None or chunks[0] < array.shape[0]):
        return False
    together = chunks is None or (len(chunks) > 1 and chunks[1] >= array.shape[1])
    return (rois is None or together) and array.nbytes <= PREFETCH_DATA_BYTES


def _traces_of(kind: str, what: str) -> Callable[..., pd.DataFrame]:
    """:func:`traces` of one kind, as a function of its own (:func:`dff`, :func:`events` ...)."""

    def read(
        nwb: NWB,
        plane: str,
        start: float | None = None,
        stop: float | None = None,
        rois: Iterable[int] | None = None,
    ) -> pd.DataFrame:
        return traces(nwb, plane, kind, start, stop, rois)

    read.__name__ = read.__qualname__ = kind
    read.__doc__ = f"{what} of a plane (time x ROI); see :func:`traces`."
    return read


dff = _traces_of("dff", "ΔF/F traces")
events = _traces_of("events", "Detected events (OASIS)")
raw = _traces_of("raw", "Raw ROI fluorescence")
neuropil = _traces_of("neuropil", "Neuropil fluorescence")
neuropil_corrected = _traces_of("neuropil_corrected", "Neuropil-corrected fluorescence")


# --------------------------------------------------------------------------------------
# ROIs and images
# --------------------------------------------------------------------------------------


def rois(nwb: NWB, plane: str, *, masks: bool = False) -> pd.DataFrame:
    """The ROI table of a plane: ``is_soma``, ``soma_probability`` and the other columns.

    Parameters
    ----------
    nwb : NWB
        An open ophys NWB.
    plane : str
        Plane name.
    masks : bool
        Add an ``image_mask`` column (one 2-D array per ROI). Masks are the bulk of the
        table; leave this off unless you need them (or use :func:`roi_masks`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ROI id (``roi_id``).
    """
    import pandas as pd

    table = _roi_table(nwb, plane)
    bulky = {"image_mask", "pixel_mask", "voxel_mask"}
    names = [c for c in nwb.table_columns(table) if c not in bulky]
    columns = nwb.read_table(table, names)
    ids = columns.pop("id")
    frame = pd.DataFrame({k: (list(v) if v.ndim > 1 else v) for k, v in columns.items()}, index=ids)
    frame.index.name = "roi_id"
    if masks and nwb.exists(f"{table}/image_mask"):
        frame["image_mask"] = list(nwb.read(f"{table}/image_mask"))
    return frame


def roi_masks(nwb: NWB, plane: str, roi_ids: Iterable[int] | None = None) -> np.ndarray:
    """Image masks (ROI x height x width) of the ROIs asked for (default all).

    Raises
    ------
    NotFound
        Unknown plane or ROI id, or a table without ``image_mask``.
    """
    table = _roi_table(nwb, plane)
    if not nwb.exists(f"{table}/image_mask"):
        raise NotFound(f"the ROI table of {plane} has no image_mask column")
    if roi_ids is None:
        return nwb.read(f"{table}/image_mask")
    rows = _roi_columns(nwb.read(f"{table}/id"), roi_ids, plane)
    if rows.size == 0:
        shape = nwb.shape(f"{table}/image_mask")
        return np.zeros((0, *shape[1:]), dtype=np.float32)
    order = np.argsort(rows)
    picked = nwb.read(f"{table}/image_mask", (np.asarray(rows)[order],))
    out = np.empty_like(picked)
    out[order] = picked
    return out


def projections(nwb: NWB, plane: str) -> dict[str, np.ndarray]:
    """The plane's summary images: ``average_projection``, ``max_projection``,
    ``segmentation_mask_image`` (whichever exist), as 2-D arrays."""
    base = _check_plane(nwb, plane)
    group = f"{base}/images"
    if not nwb.exists(group):
        raise NotFound(f"plane {plane} of {nwb.name} has no images group")
    names = [n for n in nwb.children(group) if not nwb.is_group(f"{group}/{n}")]
    nwb.prefetch(f"{group}/{n}" for n in names)
    return {name: nwb.read(f"{group}/{name}") for name in names}


def summary(nwb: NWB) -> pd.DataFrame:
    """Multi-plane summary: :func:`planes` plus soma counts per plane."""
    frame = planes(nwb)
    somas: list[Any] = []
    for name in frame.index:
        table = _roi_table(nwb, name)
        if nwb.exists(f"{table}/is_soma"):
            somas.append(int(np.count_nonzero(nwb.read(f"{table}/is_soma"))))
        else:
            somas.append(None)
    frame["n_soma"] = somas
    return frame


# --------------------------------------------------------------------------------------
# files of the planar-ophys asset
# --------------------------------------------------------------------------------------

#: Parts of the per-plane files of a planar-ophys asset, as aind-ophys-nwb finds them
#: (``*<plane>_<part>``, anywhere under the asset; REAL_SHAPES.md §7). ``events`` is the
#: older name of ``events_oasis``.
PLANE_FILE_PARTS: tuple[str, ...] = (
    "average_projection.png",
    "maximum_projection.png",
    "motion_transform.csv",
    "registered_metrics.json",
    "extract_traces.json",
    "extraction.h5",
    "dff.h5",
    "events_oasis.h5",
    "events.h5",
    "classification.h5",
)


def plane_files(keys: Iterable[str], plane: str | None = None) -> dict[str, dict[str, str]]:
    """The per-plane pipeline files among an asset's keys, by plane and part.

    Parameters
    ----------
    keys : iterable of str
        Keys (or paths) of the asset's objects, e.g. from one recursive listing.
    plane : str, optional
        Only this plane (``VISp_0``).

    Returns
    -------
    dict
        Plane -> part (``"maximum_projection"``, ``"dff"``, ``"classification"`` ...; the
        entry of :data:`PLANE_FILE_PARTS` without its extension) -> key. Planes sorted by
        structure and index; the first key wins when a part appears twice.

    Examples
    --------
    >>> plane_files(["a/VISp_0/dff/VISp_0_dff.h5", "a/VISp_0/x/VISp_0_maximum_projection.png"])
    {'VISp_0': {'maximum_projection': 'a/VISp_0/x/VISp_0_maximum_projection.png', \
'dff': 'a/VISp_0/dff/VISp_0_dff.h5'}}
    """
    found: dict[str, dict[str, str]] = {}
    for key in sorted(keys):
        base = key.rsplit("/", 1)[-1]
        for part in PLANE_FILE_PARTS:
            suffix = f"_{part}"
            if not base.endswith(suffix):
                continue
            name = base[: -len(suffix)]
            if not _PLANE_NAME.match(name) or (plane is not None and name != plane):
                continue
            found.setdefault(name, {}).setdefault(part.rsplit(".", 1)[0], key)
            break
    order = {p.rsplit(".", 1)[0]: i for i, p in enumerate(PLANE_FILE_PARTS)}
    return {
        name: dict(sorted(found[name].items(), key=lambda kv: order[kv[0]]))
        for name in sorted(found, key=_plane_sort_key)
    }


def find_plane_files(asset_name: str, plane: str | None = None, *, client: Any) -> pd.DataFrame:
    """List a planar-ophys asset once and name its per-plane pipeline files.

    Returns
    -------
    pandas.DataFrame
        Columns ``plane, part, key, size`` (bytes), one row per file found.

    Raises
    ------
    NotFound
        If the asset holds none of the files (the message lists the parts looked for).
    """
    import pandas as pd

    asset = asset_name.strip("/")
    sizes = {o.key: o.size for o in client.iter_objects(f"{asset}/")}
    files = plane_files(sizes, plane)
    if not files:
        what = f"plane {plane}" if plane else "any plane"
        raise NotFound(
            f"no per-plane pipeline files of {what} in {asset} (looked for "
            f"<plane>_{{{', '.join(PLANE_FILE_PARTS)}}})"
        )
    rows = [
        {"plane": name, "part": part, "key": key, "size": sizes[key]}
        for name, parts in files.items()
        for part, key in parts.items()
    ]
    return pd.DataFrame(rows, columns=["plane", "part", "key", "size"])


def read_classification(source: Any) -> pd.DataFrame:
    """A ``<plane>_classification.h5`` as a table, one row per ROI.

    Parameters
    ----------
    source : path, bytes or file-like
        The file (bytes are wrapped in a buffer).

    Returns
    -------
    pandas.DataFrame
        ``soma_prediction`` (bool), ``soma_probability``, ``dendrite_prediction``,
        ``dendrite_probability`` for the groups present (``soma/{predictions,probabilities}``,
        ``dendrites/{...}``); the older flat ``soma_predictions``/``soma_probabilities``
        datasets are read too.

    Raises
    ------
    NotFound
        If the file holds no classification groups (the message lists what it holds).
    """
    import io

    import h5py
    import pandas as pd

    if isinstance(source, bytes | bytearray):
        source = io.BytesIO(source)
    columns: dict[str, np.ndarray] = {}
    with h5py.File(source, "r") as handle:
        for group, label in (("soma", "soma"), ("dendrites", "dendrite")):
            for field, column in (("predictions", "prediction"), ("probabilities", "probability")):
                for path in (f"{group}/{field}", f"{group}_{field}"):
                    if path in handle:
                        columns[f"{label}_{column}"] = np.asarray(handle[path][()])
                        break
        if not columns:
            raise NotFound(
                "no soma/ or dendrites/ predictions in the classification file; it holds "
                f"{sorted(handle)}"
            )
    for name in list(columns):
        if name.endswith("_prediction"):
            columns[name] = columns[name].astype(bool)
    frame = pd.DataFrame(columns)
    frame.index.name = "roi"
    return frame
