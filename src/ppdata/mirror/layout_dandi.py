"""The DANDI side of the synthetic world: blobs (the complete NWBs) and the index the DANDI
API stand-in (:mod:`ppdata.mirror.dandi_api`) serves.

Written beside the bucket: ``root/dandiarchive/blobs/<aaa>/<bbb>/<uuid>`` (one file per
object of the mirror's ``dandiarchive`` bucket, as on the real archive) and
``root/dandi.json``. Asset paths follow REAL_SHAPES.md §13: the rule (raw name with ``_`` →
``-``, ``ses-`` prefix, under ``sub-<mouse>/``) for the ephys and P3 SLAP2 sessions; the
SLAP2 pilot breaks it (``ses-SLAP2-801381-…``, its real path), so only the search by
subject finds it.
Mesoscope A's planar NWB is exported to HDF5 for 001768; Mesoscope B is not on DANDI (the
"no DANDI asset" case).
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .layout_files import rng, write_h5, write_json
from .layout_model import EPHYS_COMPLETE, MESOSCOPE_A, SLAP2_PILOT, SLAP2_SESSION

if TYPE_CHECKING:
    from .layout_model import World

__all__ = ["BLOB_BUCKET", "DANDI_DIRNAME", "INDEX_NAME", "dandi_path", "write_dandi"]

BLOB_BUCKET = "dandiarchive"
DANDI_DIRNAME = "dandiarchive"
INDEX_NAME = "dandi.json"
_NAMESPACE = uuid.UUID("0b7c1a3e-5d1f-4f2e-9a57-5f1d2c3b4a69")
_CREATED = "2026-07-01T00:00:00.000000Z"
DANDISETS = {
    "001637": "Neuropixels: OpenScope predictive processing",
    "001768": "Mesoscope: OpenScope predictive processing",
    "001424": "SLAP2: OpenScope predictive processing",
}

#: What is on DANDI: (dandiset, session, the asset kind whose NWB is uploaded (``None``: a
#: small stand-in NWB), path suffix, path prefix). The SLAP2 pilot's prefix breaks the rule,
#: as the real 801381_2025-06-05_14-57-42 does.
_UPLOADS: tuple[tuple[str, str, str | None, str, str], ...] = (
    ("001637", EPHYS_COMPLETE, "nwb", "ecephys", ""),
    ("001768", MESOSCOPE_A, "planar-ophys", "ophys", ""),
    ("001424", SLAP2_SESSION, None, "image+ophys", ""),
    ("001424", SLAP2_PILOT, None, "image+ophys", "SLAP2-"),
)


def dandi_path(raw_name: str, subject: str, suffix: str, *, prefix: str = "") -> str:
    """The asset path by the rule: ``sub-<m>/sub-<m>_ses-<prefix><name, _ → ->_<suffix>.nwb``."""
    session = prefix + raw_name.replace("_", "-")
    return f"sub-{subject}/sub-{subject}_ses-{session}_{suffix}.nwb"


def _slap2_nwb(path: Path, session_name: str) -> None:
    """A small HDF5 NWB in the pilot shape: ΔF per DMD and one stimulus table."""
    g = rng("dandi-slap2", session_name)
    n, rois = 400, 6
    write_h5(
        path,
        {
            "processing/ophys/DfOverF/DMD1_DfOverF/data": g.normal(0, 1, (n, rois)).astype("f4"),
            "processing/ophys/DfOverF/DMD1_DfOverF/timestamps": np.arange(n) / 200.0,
            "intervals/stimulus_presentations/id": np.arange(10),
            "intervals/stimulus_presentations/start_time": np.arange(10) * 0.2,
            "intervals/stimulus_presentations/stop_time": np.arange(10) * 0.2 + 0.1,
            "session_description": "SLAP2 imaging (synthetic)",
        },
        attrs={"neurodata_type": "NWBFile", "namespace": "core", "nwb_version": "2.8.0"},
    )


def _zarr_to_hdf5(source: Path, target: Path) -> None:
    """The same NWB as HDF5 (DANDI holds HDF5): pynwb's export keeps the object ids, and
    the bytes are reproducible."""
    import warnings

    from hdmf_zarr.nwb import NWBZarrIO
    from pynwb import NWBHDF5IO

    with warnings.catch_warnings():
        # a DANDI blob is named by its id, not "*.nwb", as on DANDI's own S3
        warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")
        with NWBZarrIO(str(source), mode="r") as read_io, NWBHDF5IO(str(target), mode="w") as out:
            out.export(src_io=read_io, write_args={"link_data": False})


def write_dandi(world: World) -> None:
    """Write the blobs and ``dandi.json`` of the world's DANDI stand-in."""
    top = world.root / DANDI_DIRNAME
    if top.exists():
        shutil.rmtree(top)
    index: dict[str, Any] = {
        "blob_bucket": BLOB_BUCKET,
        "dandisets": {
            i: {"name": n, "version": "draft", "assets": []} for i, n in DANDISETS.items()
        },
    }

    for dandiset, name, kind, suffix, prefix in _UPLOADS:
        session = world.session(name)
        write: Callable[[Path], object]
        if kind is None:
            write = partial(_slap2_nwb, session_name=session.name)
        else:
            asset = session.current(kind)
            if asset.nwb_key is None:
                continue
            source = world.path(asset.nwb_key)
            # DANDI holds HDF5: an HDF5 NWB is copied, a Zarr one exported
            copy = asset.nwb_format == "hdf5"
            write = partial(shutil.copyfile if copy else _zarr_to_hdf5, source)
        path = dandi_path(session.name, session.subject_id, suffix, prefix=prefix)
        asset_id = str(uuid.uuid5(_NAMESPACE, f"{dandiset}/{path}"))
        blob_id = str(uuid.uuid5(_NAMESPACE, f"blob/{dandiset}/{path}"))
        key = f"blobs/{blob_id[:3]}/{blob_id[3:6]}/{blob_id}"
        target = top / key
        target.parent.mkdir(parents=True, exist_ok=True)
        write(target)
        data = target.read_bytes()
        index["dandisets"][dandiset]["assets"].append(
            {
                "asset_id": asset_id,
                "blob": blob_id,
                "path": path,
                "size": len(data),
                "key": key,
                "sha256": hashlib.sha256(data).hexdigest(),
                "created": _CREATED,
                "modified": _CREATED,
            }
        )
    write_json(world.root / INDEX_NAME, index)
