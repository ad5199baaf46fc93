"""What every synthetic NWB writer shares: seeded object ids, the file header, the backend's
chunking and compression, and the atomic write.

The writers (:mod:`.nwbgen` for planar ophys and behavior/timing, :mod:`.nwbgen_ephys`,
and the parts in :mod:`.behaviorgen` and :mod:`.stimgen`) import from here and never from
each other's helpers, so the generator modules form no import cycle.

Every file is deterministic: :func:`building_nwb` swaps hdmf's ``uuid4`` for a generator
seeded with the writer's kind, the raw name and the seed, and the NWB identifier is derived
from the kind and the raw name.
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
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pynwb import NWBFile

__all__ = [
    "DESCRIPTIONS",
    "aware",
    "building_nwb",
    "deterministic_ids",
    "new_nwbfile",
    "table_columns",
    "timeseries",
    "wrap",
    "write_nwb",
]

logger = logging.getLogger(__name__)

# hdmf draws every object_id from ``hdmf.container.uuid4``; we swap in a seeded generator
# while building and writing one file, and turn off Blosc threads (their output order
# varies). Both switches are process-global, hence the lock.
_WRITE_LOCK = threading.Lock()


@contextlib.contextmanager
def deterministic_ids(seed_text: str) -> Iterator[None]:
    """Seeded hdmf object ids and single-threaded Blosc while the block runs."""
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


#: The ``session_description`` of each kind of file the writers build.
DESCRIPTIONS = {
    "ephys": "Base NWB file generated with subject metadata",
    "pophys": "Mesoscope two-photon imaging (OpenScope Predictive Processing)",
    "behavior": "behavior and stimulus timing (OpenScope Predictive Processing)",
}


@contextlib.contextmanager
def building_nwb(
    path: Path,
    kind: str,
    fmt: str,
    seed: int,
    raw_name: str,
    subject_id: str,
    session_start: datetime,
) -> Iterator[NWBFile]:
    """Build one NWB file of a kind (a key of :data:`DESCRIPTIONS`) in the block, with
    seeded ids, and write it to ``path`` at the end.

    The block fills the yielded :class:`pynwb.NWBFile`; when it ends without an error the file
    is written in ``fmt`` (``"zarr"`` or ``"hdf5"``) through a temporary sibling.
    """
    with deterministic_ids(f"{kind}:{raw_name}:{seed}"):
        nwbfile = new_nwbfile(
            raw_name=raw_name,
            kind=kind,
            subject_id=subject_id,
            session_start=session_start,
            description=DESCRIPTIONS[kind],
        )
        yield nwbfile
        write_nwb(nwbfile, Path(path), fmt)
    logger.debug("wrote %s NWB %s", kind, path)


def aware(when: datetime) -> datetime:
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


def new_nwbfile(
    *, raw_name: str, kind: str, subject_id: str, session_start: datetime, description: str
) -> NWBFile:
    """An empty NWB file with the session identity and the subject of the real files."""
    from pynwb import NWBFile
    from pynwb.file import Subject

    start = aware(session_start)
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


def wrap(data: np.ndarray, fmt: str, chunks: tuple[int, ...] | None = None) -> Any:
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


def timeseries(
    name: str, data: np.ndarray, t: Any, *, unit: str, description: str, fmt: str
) -> Any:
    """A TimeSeries with explicit timestamps (``t`` an array, or a TimeSeries to link to),
    its arrays stored as the backend stores them."""
    from pynwb import TimeSeries

    timestamps = t if not isinstance(t, np.ndarray) else wrap(t, fmt)
    return TimeSeries(
        name=name, data=wrap(data, fmt), timestamps=timestamps, unit=unit, description=description
    )


def write_nwb(nwbfile: NWBFile, path: Path, fmt: str) -> None:
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


def table_columns(columns: dict[str, tuple[str, Any]]) -> list[Any]:
    """``VectorData`` columns from ``{name: (description, values)}`` (text arrays as lists)."""
    from hdmf.common import VectorData

    out = []
    for name, (description, data) in columns.items():
        values = data.tolist() if isinstance(data, np.ndarray) and data.dtype.kind == "U" else data
        out.append(VectorData(name=name, description=description, data=values))
    return out
