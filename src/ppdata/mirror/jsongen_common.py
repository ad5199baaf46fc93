"""What the JSON document generators share: the schema tables (versions, object types,
modality, platform and organisation names, default rigs, epochs and pipelines) and the small
builders every document uses (its header, a modality, a person, seeded randomness, times).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

DEFAULT_PROJECT_NAME = "OpenScope Predictive Processing"


DESCRIBED_BY = (
    "https://raw.githubusercontent.com/AllenNeuralDynamics/aind-data-schema/main/"
    "src/aind_data_schema/core/{module}.py"
)


#: ``schema_version`` per document kind and major schema version. The data_description,
#: quality_control, acquisition and metadata versions are the ones seen in the bucket
#: (DOMAIN.md); the others are plausible releases of the same majors.
SCHEMA_VERSIONS: dict[int, dict[str, str]] = {
    1: {
        "data_description": "1.0.4",
        "subject": "1.0.3",
        "procedures": "1.1.1",
        "session": "1.0.1",
        "rig": "1.0.1",
        "processing": "1.1.5",
        "quality_control": "1.2.2",
        "metadata": "1.2.1",
    },
    2: {
        "data_description": "2.0.12",
        "subject": "2.0.7",
        "procedures": "2.0.9",
        "acquisition": "2.5.0",
        "instrument": "2.0.10",
        "processing": "2.0.9",
        "quality_control": "2.0.6",
        "metadata": "2.7.1",
    },
}


OBJECT_TYPES = {
    "data_description": "Data description",
    "subject": "Subject",
    "procedures": "Procedures",
    "acquisition": "Acquisition",
    "instrument": "Instrument",
    "processing": "Processing",
    "quality_control": "Quality control",
    "metadata": "Metadata",
}


MODALITY_NAMES = {
    "ecephys": "Extracellular electrophysiology",
    "pophys": "Planar optical physiology",
    "slap": "Scanned line projection imaging",
    "behavior": "Behavior",
    "behavior-videos": "Behavior videos",
}


PLATFORM_NAMES = {
    "ecephys": "Electrophysiology platform",
    "multiplane-ophys": "Multiplane optical physiology platform",
    "single-plane-ophys": "Single-plane optical physiology platform",
    "SLAP2": "SLAP2 platform",
    "behavior": "Behavior platform",
}


DEFAULT_RIG = {
    "ecephys": "327_NP2_20240401",
    "multiplane-ophys": "429_mesoscope_20220321",
    "SLAP2": "SLAP2_1_20250101",
    None: "SLAP2_1_20250101",
}


DEFAULT_EPOCHS = {
    "ecephys": (
        ("Receptive field mapping", 0.0, 900.0),
        ("Standard oddball", 960.0, 2760.0),
        ("Sensory-motor closed loop", 2820.0, 4020.0),
        ("Spontaneous", 4080.0, 4380.0),
    ),
    "multiplane-ophys": (
        ("Standard oddball", 0.0, 1800.0),
        ("Sensory-motor closed loop", 1860.0, 3060.0),
        ("Spontaneous", 3120.0, 3420.0),
    ),
    None: (
        ("Standard oddball", 0.0, 1200.0),
        ("Spontaneous", 1260.0, 1560.0),
    ),
}


# (process name in the schema, repository under github.com/AllenNeuralDynamics, stage)
PIPELINES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "raw": ("", [("Compression", "aind-data-transfer")]),
    "ecephys": (
        "aind-ephys-pipeline",
        [
            ("Ephys preprocessing", "aind-ephys-preprocessing"),
            ("Spike sorting", "aind-ephys-spikesort-kilosort4"),
            ("Ephys postprocessing", "aind-ephys-postprocessing"),
            ("Ephys curation", "aind-ephys-curation"),
            ("Ephys visualization", "aind-ephys-visualization"),
            ("Other", "aind-ecephys-nwb"),
        ],
    ),
    "pophys": (
        "aind-pophys-pipeline",
        [
            ("Video motion correction", "aind-ophys-motion-correction"),
            ("Video plane decrosstalk", "aind-ophys-decrosstalk-roi-images"),
            ("Video ROI segmentation", "aind-ophys-extraction-suite2p"),
            ("Video ROI timeseries extraction", "aind-ophys-extraction-suite2p"),
            ("dF/F estimation", "aind-ophys-dff"),
            ("Video ROI classification", "aind-ophys-classifier"),
            ("Other", "aind-ophys-nwb"),
        ],
    ),
    "behavior-videos": (
        "aind-behavior-video-pipeline",
        [("Video motion correction", "aind-behavior-video-processing")],
    ),
    "behavior": (
        "aind-ophys-behavior-pipeline",
        [("Other", "aind-ophys-timing"), ("Other", "aind-ophys-behavior-nwb")],
    ),
    "nwb": ("aind-nwb-packaging", [("Other", "aind-nwb-packaging-subject")]),
}


def seeded_rng(seed: int, *parts: str) -> random.Random:
    """A generator seeded from the seed and some text (``hash()`` of str is salted)."""
    return random.Random(zlib.crc32("|".join((str(seed), *parts)).encode()))


def iso_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


#: The rigs' clock: the time in a raw name is local wall time in Seattle (REAL_SHAPES §9).
LOCAL_TIME_ZONE = "America/Los_Angeles"


def local_time(value: datetime) -> datetime:
    """A naive local wall time (as in a raw name) made aware: -08:00 in winter, -07:00 in
    summer. Aware datetimes are returned unchanged.

    >>> local_time(datetime(2025, 11, 12, 14, 34, 33)).isoformat()
    '2025-11-12T14:34:33-08:00'
    >>> local_time(datetime(2026, 7, 1, 9, 0, 0)).isoformat()
    '2026-07-01T09:00:00-07:00'
    """
    from zoneinfo import ZoneInfo

    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(LOCAL_TIME_ZONE))


def utc_time(value: datetime) -> datetime:
    """A naive UTC time (as in a derived name's suffix) made aware."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Schema(NamedTuple):
    """A major aind-data-schema version and the ``schema_version`` of each of its documents."""

    major: int
    versions: Mapping[str, str]

    @classmethod
    def of(cls, major: int, overrides: Mapping[str, str] | None = None) -> Schema:
        """Major ``major`` with :data:`SCHEMA_VERSIONS`, some of them overridden."""
        return cls(major, {**SCHEMA_VERSIONS[major], **(overrides or {})})

    def header(self, kind: str) -> dict[str, Any]:
        """The fields every document of a kind starts with (``object_type`` in v2,
        ``describedBy``, ``schema_version``)."""
        head: dict[str, Any] = {}
        if self.major >= 2 and kind in OBJECT_TYPES:
            head["object_type"] = OBJECT_TYPES[kind]
        head["describedBy"] = DESCRIBED_BY.format(module=kind)
        head["schema_version"] = self.versions[kind]
        return head


def modality_doc(abbreviation: str) -> dict[str, str]:
    return {"name": MODALITY_NAMES.get(abbreviation, abbreviation), "abbreviation": abbreviation}


def person_doc(name: str, schema: int) -> dict[str, Any]:
    person: dict[str, Any] = {"name": name, "registry": None, "registry_identifier": None}
    if schema >= 2:
        return {"object_type": "Person", **person}
    return {**person, "abbreviation": None}


AIND_ORG = {
    "name": "Allen Institute for Neural Dynamics",
    "abbreviation": "AIND",
    "registry": {"name": "Research Organization Registry", "abbreviation": "ROR"},
    "registry_identifier": "04szwah67",
}


ALLEN_ORG = {
    "name": "Allen Institute",
    "abbreviation": "AI",
    "registry": {"name": "Research Organization Registry", "abbreviation": "ROR"},
    "registry_identifier": "03cpe7c52",
}


GENOTYPES = (
    "Sst-IRES-Cre/wt;Ai32(RCL-ChR2(H134R)_EYFP)/wt",
    "wt/wt",
    "Slc17a7-IRES2-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt",
    "Vip-IRES-Cre/wt;Ai148(TIT2L-GC6f-ICL-tTA2)/wt",
)
