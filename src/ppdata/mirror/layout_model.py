"""The vocabulary of the synthetic world: its file names, the main session names, and the
frozen dataclasses that describe sessions, assets and planes (see :mod:`ppdata.mirror.world`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from ..errors import NotFound

__all__ = [
    "BUCKET_DIRNAME",
    "EPHYS_COMPLETE",
    "EPHYS_REPROCESSED",
    "KINDS",
    "MESOSCOPE_A",
    "MESOSCOPE_B",
    "NOT_ON_S3",
    "SIZES",
    "SLAP2_PILOT",
    "SLAP2_SESSION",
    "SPREADSHEET_NAME",
    "SPREADSHEET_SESSION_COLUMN",
    "STAMP_NAME",
    "WORLD_VERSION",
    "Asset",
    "Plane",
    "Session",
    "Size",
    "World",
    "recording_name",
]

#: Bump when the world's content changes in a way a cached copy must not survive (the
#: code fingerprint in ``world.json`` also invalidates a cache built by other code).
WORLD_VERSION = "1"
BUCKET_DIRNAME = "bucket"
SPREADSHEET_NAME = "tracking.csv"
STAMP_NAME = "world.json"
SPREADSHEET_SESSION_COLUMN = "New Session id (Code Ocean)"

Size = Literal["small", "bench"]
SIZES: tuple[str, ...] = ("small", "bench")

#: The asset kinds of issue 3 (strings, so this module does not depend on the classifier).
KINDS = (
    "raw",
    "sorted",
    "planar-ophys",
    "behavior-videos",
    "behavior-timing",
    "nwb",
    "ccf",
    "motion-corrected",
    "slap2-processed",
    "unknown",
)

# The main sessions: real Predictive Processing session names (REAL_SHAPES.md §11), so
# examples written for the real bucket work against the mirror too.
EPHYS_REPROCESSED = "ecephys_820454_2025-11-04_14-59-22"
EPHYS_COMPLETE = "ecephys_820459_2025-11-12_14-34-33"
MESOSCOPE_A = "multiplane-ophys_832700_2026-01-24_12-06-12"
MESOSCOPE_B = "multiplane-ophys_837568_2026-03-05_14-14-51"
SLAP2_SESSION = "828408_2025-11-13_10-30-53"
#: A SLAP2 pilot: raw plus an early pipeline output nobody can classify; on DANDI under a
#: path that breaks the naming rule (``ses-SLAP2-801381-…``, REAL_SHAPES.md §13).
SLAP2_PILOT = "801381_2025-06-05_14-57-42"
#: Listed in the spreadsheet, absent from the bucket.
NOT_ON_S3 = "ecephys_830846_2026-03-09_10-32-54"


def recording_name(probe: str) -> str:
    """The per-recording folder name of the ephys pipeline for one probe.

    >>> recording_name("ProbeA")
    'experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP_recording1'
    """
    return f"experiment1_Record Node 101#Neuropix-PXI-100.{probe}-AP_recording1"


@dataclass(frozen=True)
class Plane:
    """One imaging plane of a Mesoscope session (folder and NWB module ``name``)."""

    structure: str
    index: int
    depth_um: int
    rois: int

    @property
    def name(self) -> str:
        return f"{self.structure}_{self.index}"


@dataclass(frozen=True)
class Asset:
    """One asset (top-level folder) of the world and what a reader should find in it.

    Attributes
    ----------
    name : str
        The folder name (no trailing ``/``).
    kind : str
        Expected kind, one of :data:`KINDS`.
    processed : datetime or None
        Processing datetime of a derived asset.
    current : bool
        Newest asset of its kind in its session.
    schema : int
        Major aind-data-schema version of its metadata JSON (1 or 2).
    qc_schema : int or None
        Shape of its ``quality_control.json`` (1: ``evaluations``, 2: flat ``metrics``);
        ``None`` when it has none.
    qc_status : str or None
        Overall QC status its QC file implies (``Pass``, ``Fail``, ``Pending``).
    nwb_path : str or None
        Path of its (first) NWB relative to the asset (a folder for Zarr, a file for HDF5).
    nwb_extra : tuple of str
        Paths of further NWBs in the asset (one per experiment x recording).
    nwb_format : str or None
        ``zarr`` or ``hdf5``.
    probes : tuple of str
        Probes of an ephys asset (``ProbeA`` ...): the devices.
    shanks : tuple of (str, int)
        Probes with more than one electrode group (``ProbeF_group0`` ...) and their count.
    units_per_probe : int
        Units per probe in its NWB ``units`` table.
    label_column : str or None
        Name of the unit classifier column in its NWB (``unitrefine_label``: the
        2026-06-30 curation release, with ``bombcell_label`` and the ``rp_contamination``
        default-QC rule).
    ccf : bool
        Its NWB's electrodes carry CCF ``x, y, z`` and Allen acronyms in ``location``.
    planes : tuple of Plane
        Planes of a planar-ophys asset.
    events_suffix : str
        File name suffix of the plane event files (``_events_oasis.h5`` or the older
        ``_events.h5``).
    qc_fail, qc_pending : tuple of str
        Metric names (or labels) set to Fail / Pending in its QC.
    missing_links : tuple of (str, str)
        ``(recording, key)`` pairs left out of ``visualization_output.json``.
    """

    name: str
    kind: str
    processed: datetime | None = None
    current: bool = True
    schema: int = 1
    qc_schema: int | None = None
    nwb_path: str | None = None
    nwb_format: str | None = None
    nwb_extra: tuple[str, ...] = ()
    probes: tuple[str, ...] = ()
    shanks: tuple[tuple[str, int], ...] = ()
    units_per_probe: int = 0
    label_column: str | None = None
    ccf: bool = False
    planes: tuple[Plane, ...] = ()
    events_suffix: str = "_events_oasis.h5"
    qc_fail: tuple[str, ...] = ()
    qc_pending: tuple[str, ...] = ()
    missing_links: tuple[tuple[str, str], ...] = ()

    @property
    def prefix(self) -> str:
        """The asset's key prefix, ``<name>/``."""
        return f"{self.name}/"

    @property
    def units(self) -> int:
        """Total units in its NWB."""
        return self.units_per_probe * len(self.probes)

    @property
    def recordings(self) -> tuple[str, ...]:
        """Per-recording folder names (ephys)."""
        return tuple(recording_name(p) for p in self.probes)

    @property
    def qc_status(self) -> str | None:
        if self.qc_schema is None:
            return None
        if self.qc_fail:
            return "Fail"
        # ephys QC is mostly dropdowns nobody has answered yet: Pending (see mirror/qcgen.py)
        return "Pending" if self.qc_pending or self.kind == "sorted" else "Pass"

    @property
    def nwb_paths(self) -> tuple[str, ...]:
        """Paths of all its NWBs relative to the asset (the first is :attr:`nwb_path`)."""
        return (self.nwb_path, *self.nwb_extra) if self.nwb_path else ()

    @property
    def electrode_groups(self) -> tuple[str, ...]:
        """Electrode group names: the probe's name, or ``<probe>_group<i>`` per shank."""
        counts = dict(self.shanks)
        out: list[str] = []
        for probe in self.probes:
            n = counts.get(probe, 1)
            out.extend([probe] if n <= 1 else [f"{probe}_group{i}" for i in range(n)])
        return tuple(out)

    @property
    def nwb_key(self) -> str | None:
        """Key (or key prefix, for Zarr) of its NWB."""
        return f"{self.name}/{self.nwb_path}" if self.nwb_path else None


@dataclass(frozen=True)
class Session:
    """One session: its identity, its assets and its spreadsheet row."""

    name: str
    platform: str | None
    subject_id: str
    acquired: datetime
    assets: tuple[Asset, ...] = ()
    on_s3: bool = True
    spreadsheet_qc: str = ""
    duration_s: float = 120.0
    rig: str = ""
    modality: str = ""

    @property
    def raw(self) -> Asset:
        """The raw asset."""
        return self.current("raw")

    def assets_of(self, kind: str) -> list[Asset]:
        """Assets of one kind, newest first."""
        found = [a for a in self.assets if a.kind == kind]
        return sorted(found, key=lambda a: a.processed or datetime.min, reverse=True)

    def current(self, kind: str) -> Asset:
        """The current (newest) asset of a kind; raises :class:`NotFound` if none."""
        found = self.assets_of(kind)
        if not found:
            kinds = sorted({a.kind for a in self.assets})
            raise NotFound(f"session {self.name} has no {kind!r} asset; it has {kinds}")
        return found[0]

    @property
    def kinds(self) -> set[str]:
        return {a.kind for a in self.assets}


@dataclass(frozen=True)
class World:
    """A built (or to-be-built) synthetic world and what it contains.

    Attributes
    ----------
    root : Path
        The world folder.
    bucket_dir : Path
        ``root/bucket``: one file per S3 object, the path relative to it being the key.
    spreadsheet : Path
        ``root/tracking.csv``.
    size : str
        ``small`` or ``bench``.
    sessions : tuple of Session
        Our sessions, including :data:`NOT_ON_S3` (``on_s3=False``, no assets).
    distractors : tuple of str
        Top-level folders that share a prefix with ours but are not ours.
    stray_objects : tuple of str
        Top-level keys that are objects, not folders.
    big_listing_prefix : str
        A folder (key prefix, ends in ``/``) holding more than 1,000 keys: 1,100 tiny chunk
        files in the small world; in the bench world ~2,000 objects of 10–500 KB (~250 MB),
        the many-small-files download workload.
    big_object_key : str
        The largest object: a raw ``continuous.dat`` (64 KB small, 1 GiB bench).
    big_object_size : int
        Its size in bytes.
    """

    root: Path
    bucket_dir: Path
    spreadsheet: Path
    size: str
    sessions: tuple[Session, ...]
    distractors: tuple[str, ...]
    stray_objects: tuple[str, ...]
    big_listing_prefix: str
    big_object_key: str
    big_object_size: int

    def session(self, name: str) -> Session:
        """The session of this name (raw name)."""
        for s in self.sessions:
            if s.name == name:
                return s
        raise NotFound(
            f"no session {name!r} in the world; known: {[s.name for s in self.sessions]}"
        )

    def asset(self, name: str) -> Asset:
        """The asset of this name."""
        for s in self.sessions:
            for a in s.assets:
                if a.name == name:
                    return a
        raise NotFound(f"no asset {name!r} in the world")

    def session_of(self, asset_name: str) -> Session:
        """The session an asset belongs to."""
        for s in self.sessions:
            if any(a.name == asset_name for a in s.assets):
                return s
        raise NotFound(f"no asset {asset_name!r} in the world")

    @property
    def assets(self) -> list[Asset]:
        return [a for s in self.sessions for a in s.assets]

    @property
    def on_s3(self) -> list[Session]:
        return [s for s in self.sessions if s.on_s3]

    def path(self, key: str) -> Path:
        """The file holding a key."""
        return self.bucket_dir / key
