"""What the synthetic world contains: its sessions, assets, distractors and spreadsheet, as
data (pure functions; :mod:`ppdata.mirror.world` writes them).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from ..naming import ccf_name, derived_name
from .layout_model import (
    BUCKET_DIRNAME,
    EPHYS_COMPLETE,
    EPHYS_REPROCESSED,
    MESOSCOPE_A,
    MESOSCOPE_B,
    NOT_ON_S3,
    SIZES,
    SLAP2_PILOT,
    SLAP2_SESSION,
    SPREADSHEET_NAME,
    SPREADSHEET_SESSION_COLUMN,
    Asset,
    Plane,
    Session,
    Size,
    World,
    recording_name,
)

__all__ = [
    "BIG_LISTING_BENCH",
    "BIG_LISTING_SMALL",
    "DISTRACTORS",
    "STRAY_OBJECTS",
    "big_object_size",
    "describe_world",
    "spreadsheet_bytes",
]

#: Top-level folders sharing a prefix with ours that a session look-up must never return.
DISTRACTORS = (
    # a subject id that extends ours (820454 -> 8204541), another project
    "ecephys_8204541_2025-11-04_14-59-22",
    "ecephys_8204541_2025-11-04_14-59-22_sorted_2025-11-20_02-02-02",
    # another platform's assets of our subject
    "SmartSPIM_820454_2025-12-02_10-00-00",
    "SmartSPIM_820454_2025-12-02_10-00-00_stitched_2025-12-10_10-00-00",
    # a CCF asset whose subject extends ours (820459 -> 8204597)
    "ecephys_8204597_ccf",
    # another project's Mesoscope session whose subject extends ours (832700 -> 8327001)
    "multiplane-ophys_8327001_2026-01-24_12-06-12",
    # another project entirely
    "behavior_700001_2024-12-12_12-12-12",
)

#: Top-level keys that are objects, not folders (one shares a session prefix).
STRAY_OBJECTS = (
    "index.html",
    "ecephys_820454_2025-11-04_14-59-22_upload.log",
)

_SMALL_DAT = 64 * 1024
_BIG_DAT = 1024**3
BIG_LISTING_SMALL = 1100  # chunk files in the small world's >1,000-key folder
BIG_LISTING_BENCH = 2000  # objects of 10-500 KB in the bench world's download asset


def big_object_size(size: str) -> int:
    """Size of the largest object (the raw ProbeA ``continuous.dat`` of the first session)."""
    return _BIG_DAT if size == "bench" else _SMALL_DAT


def _dt(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d_%H-%M-%S")


#: The rig and the spreadsheet's modality of each platform (``None``: unprefixed SLAP2 names).
_RIGS: dict[str | None, tuple[str, str]] = {
    "ecephys": ("327_NP2_20240401", "Neuropixels"),
    "multiplane-ophys": ("429_mesoscope_20220321", "Mesoscope"),
    None: ("SLAP2_1_20250101", "SLAP2"),
}


def _session(
    name: str, platform: str | None, subject: str, acquired: str, **fields: Any
) -> Session:
    """A session on its platform's rig (``fields``: the other :class:`Session` fields)."""
    rig, modality = _RIGS[platform]
    return Session(name, platform, subject, _dt(acquired), rig=rig, modality=modality, **fields)


def _derived(raw: str, process: str, kind: str, when: str, **fields: Any) -> Asset:
    """The derived asset ``<raw>_<process>_<when>`` of a kind (``fields``: other fields)."""
    return Asset(derived_name(raw, process, _dt(when)), kind, _dt(when), **fields)


def _ephys_sessions(size: str) -> list[Session]:
    bench = size == "bench"
    s1, s2 = EPHYS_REPROCESSED, EPHYS_COMPLETE
    # probe letters skip, as on the real rigs (820459 has A, B, C, D, F)
    six = ("ProbeA", "ProbeB", "ProbeC", "ProbeD", "ProbeE", "ProbeF")
    five = ("ProbeA", "ProbeB", "ProbeC", "ProbeD", "ProbeF")
    s2_probes = five if bench else ("ProbeA", "ProbeB", "ProbeD", "ProbeF")
    # the sorted and the complete NWB of s2 hold the same units (DANDI files still carry
    # decoder_label)
    s2_units = {
        "probes": s2_probes,
        "shanks": (("ProbeF", 2),),
        "units_per_probe": 600 if bench else 20,
        "label_column": "decoder_label",
    }
    duration_s = 4500.0 if bench else 120.0
    sorted_nwb = {"nwb_path": f"nwb/{s1}_experiment1_recording1.nwb", "nwb_format": "zarr"}
    first = _session(
        s1,
        "ecephys",
        "820454",
        "2025-11-04_14-59-22",
        assets=(
            Asset(s1, "raw", schema=1),
            _derived(
                s1,
                "sorted",
                "sorted",
                "2025-11-19_21-40-12",
                current=False,
                schema=1,
                qc_schema=1,
                **sorted_nwb,
                probes=("ProbeA", "ProbeB"),
                units_per_probe=30,
                label_column="decoder_label",
                qc_fail=("ProbeB Drift map",),
            ),
            _derived(
                s1,
                "sorted",
                "sorted",
                "2026-06-27_11-07-00",
                schema=2,
                qc_schema=2,
                **sorted_nwb,
                # one NWB per experiment x recording: a second recording of the session
                nwb_extra=(f"nwb/{s1}_experiment1_recording2.nwb",),
                probes=six if bench else ("ProbeA", "ProbeB", "ProbeD"),
                units_per_probe=500 if bench else 45,
                label_column="unitrefine_label",  # the 2026-06-30 curation release
            ),
        ),
        spreadsheet_qc="Pass",
        duration_s=duration_s,
    )
    second = _session(
        s2,
        "ecephys",
        "820459",
        "2025-11-12_14-34-33",
        assets=(
            Asset(s2, "raw", schema=1),
            _derived(
                s2,
                "sorted",
                "sorted",
                "2026-06-27_09-05-10",
                schema=2,
                qc_schema=2,
                nwb_path=f"nwb/{s2}_experiment1_recording1.nwb",
                nwb_format="zarr",
                **s2_units,
                qc_pending=("ProbeD Unit yield",),
                missing_links=((recording_name("ProbeD"), "sorting_summary"),),
            ),
            Asset(ccf_name("820459"), "ccf", schema=2, probes=s2_probes),
            _derived(
                s2,
                "nwb",
                "nwb",
                "2026-07-21_06-45-18",
                schema=2,
                nwb_path=f"{s2}_experiment1_recording1.nwb",
                nwb_format="hdf5",
                **s2_units,
                ccf=True,
            ),
        ),
        spreadsheet_qc="Pending",
        duration_s=duration_s,
    )
    return [first, second]


def _mesoscope_session(
    name: str,
    subject: str,
    acquired: str,
    order: dict[str, str],
    planes: tuple[Plane, ...],
    *,
    legacy_events: bool,
    schemas: dict[str, int],
    qc: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
    spreadsheet_qc: str,
    duration_s: float,
) -> Session:
    assets = [Asset(name, "raw", schema=1)]
    for kind, when in order.items():
        fail, pending = qc.get(kind, ((), ()))
        extra: dict[str, object] = {}
        if kind == "planar-ophys":
            extra = {
                "nwb_path": "pophys.nwb.zarr",
                "planes": planes,
                "events_suffix": "_events.h5" if legacy_events else "_events_oasis.h5",
            }
        elif kind == "behavior-timing":
            extra = {"nwb_path": f"{name}.nwb"}
        if "nwb_path" in extra:
            extra["nwb_format"] = "zarr"
        assets.append(
            _derived(
                name,
                "processed",
                kind,
                when,
                schema=schemas[kind],
                qc_schema=schemas[kind],
                qc_fail=fail,
                qc_pending=pending,
                **extra,
            )
        )
    return _session(
        name,
        "multiplane-ophys",
        subject,
        acquired,
        assets=tuple(assets),
        spreadsheet_qc=spreadsheet_qc,
        duration_s=duration_s,
    )


def _mesoscope_sessions(size: str) -> list[Session]:
    bench = size == "bench"
    rois = 100 if bench else 12
    planes_a = tuple(
        Plane(s, i, d, rois)
        for s, i, d in (
            ("VISp", 0, 184),
            ("VISp", 1, 216),
            ("VISp", 2, 248),
            ("VISp", 3, 280),
            ("VISl", 4, 180),
            ("VISl", 5, 212),
            ("VISl", 6, 244),
            ("VISl", 7, 276),
        )
    )
    planes_b = tuple(
        Plane(s, i, d, 10)
        for s, i, d in (("VISp", 0, 175), ("VISp", 1, 225), ("VISl", 2, 190), ("VISl", 3, 240))
    )
    a = _mesoscope_session(
        MESOSCOPE_A,
        "832700",
        "2026-01-24_12-06-12",
        {  # the real assets: videos < timing < planar
            "behavior-videos": "2026-01-25_13-22-08",
            "behavior-timing": "2026-01-25_13-33-34",
            "planar-ophys": "2026-03-28_02-17-32",
        },
        planes_a,
        legacy_events=False,
        schemas={"planar-ophys": 2, "behavior-videos": 1, "behavior-timing": 2},
        qc={"behavior-timing": ((), ("Running wheel",))},
        spreadsheet_qc="Pass",
        duration_s=1200.0 if bench else 60.0,
    )
    b = _mesoscope_session(
        MESOSCOPE_B,
        "837568",
        "2026-03-05_14-14-51",
        {  # another order (real: videos first, then behavior and planar in either order)
            "behavior-videos": "2026-03-06_11-20-15",
            "planar-ophys": "2026-03-06_11-31-22",
            "behavior-timing": "2026-03-06_11-45-09",
        },
        planes_b,
        legacy_events=True,
        schemas={"planar-ophys": 1, "behavior-videos": 2, "behavior-timing": 1},
        qc={"planar-ophys": (("VISl_3 Z-drift",), ())},
        spreadsheet_qc="Fail",
        duration_s=60.0,
    )
    return [a, b]


def _slap2_sessions() -> list[Session]:
    pilot, p3 = SLAP2_PILOT, SLAP2_SESSION
    return [
        _session(
            pilot,
            None,
            "801381",
            "2025-06-05_14-57-42",
            assets=(
                Asset(pilot, "raw", schema=2),
                # the SLAP2 pipeline is in development: an early output nobody can classify
                _derived(pilot, "processed", "unknown", "2025-07-01_10-00-00", schema=2),
            ),
            spreadsheet_qc="",
        ),
        # a P3 SLAP2 session with the two derived assets the real bucket holds for 8 sessions
        _session(
            p3,
            None,
            "828408",
            "2025-11-13_10-30-53",
            assets=(
                Asset(p3, "raw", schema=2),
                _derived(
                    p3, "motion-corrected", "motion-corrected", "2026-05-21_01-54-59", schema=2
                ),
                _derived(p3, "processed", "slap2-processed", "2026-05-22_06-53-48", schema=2),
            ),
        ),
    ]


def describe_world(root: Path, size: Size = "small") -> World:
    """Describe the world :func:`build_world` writes (pure: touches no file).

    Parameters
    ----------
    root : Path
        The world folder.
    size : {"small", "bench"}
        ``small`` for tests; ``bench`` adds benchmark-size data.

    Returns
    -------
    World
    """
    if size not in SIZES:
        raise ValueError(f"unknown world size {size!r}: expected one of {SIZES}")
    root = Path(root)
    missing = _session(
        NOT_ON_S3, "ecephys", "830846", "2026-03-09_10-32-54", on_s3=False, spreadsheet_qc="Pending"
    )
    sessions = (
        *_ephys_sessions(size),
        *_mesoscope_sessions(size),
        *_slap2_sessions(),
        missing,
    )
    if size == "bench":  # the release's real inventory at full scale (issue 12)
        from .inventory import world_sessions

        sessions = (*sessions, *world_sessions(s.name for s in sessions))
    s1 = sessions[0]
    s2 = sessions[1]
    big_sorted = s2.current("sorted")
    big_prefix = f"{big_sorted.name}/postprocessed/{recording_name('ProbeA')}.zarr/"
    big_object = (
        f"{s1.name}/ecephys/ecephys_clipped/Record Node 101/experiment1/recording1/continuous/"
        "Neuropix-PXI-100.ProbeA-AP/continuous.dat"
    )
    return World(
        root=root,
        bucket_dir=root / BUCKET_DIRNAME,
        spreadsheet=root / SPREADSHEET_NAME,
        size=size,
        sessions=sessions,
        distractors=DISTRACTORS,
        stray_objects=STRAY_OBJECTS,
        big_listing_prefix=big_prefix,
        big_object_key=big_object,
        big_object_size=big_object_size(size),
    )


def spreadsheet_bytes(world: World) -> bytes:
    """The tracking spreadsheet as CSV bytes (column H = raw session names)."""
    header = [
        "Date",  # A
        "Mouse ID",  # B
        "Modality",  # C
        "Rig",  # D
        "Experimenter",  # E
        "Stimulus",  # F
        "Old Session id",  # G
        SPREADSHEET_SESSION_COLUMN,  # H
        "QC status",  # I
        "Notes",  # J
        "Duration (min)",  # K
    ]
    notes = {
        EPHYS_REPROCESSED: 'Re-sorted in June, use the newer "sorted" asset',
        EPHYS_COMPLETE: "CCF done; complete NWB on S3, DANDI upload pending",
        MESOSCOPE_A: "All 8 planes good, ΔF/F looks clean",
        MESOSCOPE_B: 'Z-drift on VISl_3; flagged "Fail", see QC',
        SLAP2_PILOT: "SLAP2 pilot, raw only",
        SLAP2_SESSION: "SLAP2 P3, motion-corrected and processed",
        NOT_ON_S3: "Waiting for upload, probe C broke",
    }
    experimenters = ["A. Rivera", "B. Chen", "C. Okafor", "D. Novak"]
    rows = [header]
    for i, s in enumerate(world.sessions):
        rows.append(
            [
                s.acquired.strftime("%m/%d/%Y"),
                s.subject_id,
                s.modality,
                s.rig,
                experimenters[i % len(experimenters)],
                "Predictive processing: standard oddball, sensory-motor",
                f"{1_300_000_000 + i * 7919}",
                s.name,
                s.spreadsheet_qc,
                notes.get(s.name, ""),
                f"{s.duration_s / 60:g}",
            ]
        )
    rows.append(
        [
            "11/11/2025",
            "645678",
            "Neuropixels",
            "327_NP2_20240401",
            "A. Rivera",
            "",
            "",
            "",  # H: no session id, the session was never recorded
            "",
            "Session aborted, no data",
            "",
        ]
    )
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")
