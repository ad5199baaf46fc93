"""Generators of aind-data-schema JSON documents for the synthetic world.

The documents are plain dicts shaped like the real ones (field names, ``schema_version``
strings, ``describedBy`` URLs, ``object_type`` in schema v2; see DOMAIN.md, "Metadata JSON").
Every function is deterministic: the same arguments and ``seed`` give the same documents.

Examples
--------
>>> from datetime import datetime
>>> docs = metadata_documents(
...     "ecephys_820454_2025-11-04_14-59-22", schema=1, platform="ecephys",
...     subject_id="820454", acquired=datetime(2025, 1, 1, 1, 1, 1))
>>> sorted(docs)[:3]
['data_description.json', 'metadata.nd.json', 'procedures.json']
>>> docs["data_description.json"]["schema_version"]
'1.0.4'
"""

from __future__ import annotations

import hashlib
import random
import uuid
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from .qcgen import qc_references, quality_control

__all__ = [
    "DEFAULT_PROJECT_NAME",
    "SCHEMA_VERSIONS",
    "metadata_documents",
    "qc_references",
    "quality_control",
    "visualization_output",
]

DEFAULT_PROJECT_NAME = "OpenScope Predictive Processing"

_DESCRIBED_BY = (
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

_OBJECT_TYPES = {
    "data_description": "Data description",
    "subject": "Subject",
    "procedures": "Procedures",
    "acquisition": "Acquisition",
    "instrument": "Instrument",
    "processing": "Processing",
    "quality_control": "Quality control",
    "metadata": "Metadata",
}

_MODALITY_NAMES = {
    "ecephys": "Extracellular electrophysiology",
    "pophys": "Planar optical physiology",
    "slap": "Scanned line projection imaging",
    "behavior": "Behavior",
    "behavior-videos": "Behavior videos",
}

_PLATFORM_NAMES = {
    "ecephys": "Electrophysiology platform",
    "multiplane-ophys": "Multiplane optical physiology platform",
    "single-plane-ophys": "Single-plane optical physiology platform",
    "SLAP2": "SLAP2 platform",
    "behavior": "Behavior platform",
}

_DEFAULT_RIG = {
    "ecephys": "327_NP2_20240401",
    "multiplane-ophys": "429_mesoscope_20220321",
    "SLAP2": "SLAP2_1_20250101",
    None: "SLAP2_1_20250101",
}

_DEFAULT_EPOCHS = {
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
_PIPELINES: dict[str, tuple[str, list[tuple[str, str]]]] = {
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


def _rng(seed: int, *parts: str) -> random.Random:
    """A generator seeded from the seed and some text (``hash()`` of str is salted)."""
    return random.Random(zlib.crc32("|".join((str(seed), *parts)).encode()))


def _iso(value: datetime) -> str:
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


def _header(kind: str, schema: int, versions: Mapping[str, str]) -> dict[str, Any]:
    head: dict[str, Any] = {}
    if schema >= 2 and kind in _OBJECT_TYPES:
        head["object_type"] = _OBJECT_TYPES[kind]
    head["describedBy"] = _DESCRIBED_BY.format(module=kind)
    head["schema_version"] = versions[kind]
    return head


def _modality(abbreviation: str) -> dict[str, str]:
    return {"name": _MODALITY_NAMES.get(abbreviation, abbreviation), "abbreviation": abbreviation}


def _person(name: str, schema: int) -> dict[str, Any]:
    person: dict[str, Any] = {"name": name, "registry": None, "registry_identifier": None}
    if schema >= 2:
        return {"object_type": "Person", **person}
    return {**person, "abbreviation": None}


_AIND = {
    "name": "Allen Institute for Neural Dynamics",
    "abbreviation": "AIND",
    "registry": {"name": "Research Organization Registry", "abbreviation": "ROR"},
    "registry_identifier": "04szwah67",
}
_ALLEN = {
    "name": "Allen Institute",
    "abbreviation": "AI",
    "registry": {"name": "Research Organization Registry", "abbreviation": "ROR"},
    "registry_identifier": "03cpe7c52",
}


def _pipeline_key(platform: str | None, process: str | None, pipeline: str | None) -> str:
    if pipeline:
        return pipeline
    if process is None:
        return "raw"
    if process == "nwb":
        return "nwb"
    if platform == "multiplane-ophys":
        return "pophys"
    return "ecephys"


def metadata_documents(
    asset_name: str,
    *,
    schema: Literal[1, 2],
    platform: str | None,
    subject_id: str,
    acquired: datetime,
    process: str | None = None,
    processed: datetime | None = None,
    modalities: Sequence[str] = ("ecephys",),
    project_name: str = DEFAULT_PROJECT_NAME,
    stimulus_epochs: Sequence[tuple[str, float, float]] | None = None,
    rig_id: str | None = None,
    seed: int = 0,
    input_data_name: str | None = None,
    pipeline: str | None = None,
    quality_control: Mapping[str, Any] | None = None,
    versions: Mapping[str, str] | None = None,
    raw_schema: Literal[1, 2] | None = None,
) -> dict[str, dict[str, Any]]:
    """The metadata JSON documents of one asset, as ``{filename: document}``.

    Parameters
    ----------
    asset_name : str
        The asset's name (raw or derived).
    schema : {1, 2}
        Major aind-data-schema version. Schema 1 gives ``session.json`` and ``rig.json``,
        schema 2 ``acquisition.json`` and ``instrument.json``.
    platform : str or None
        ``ecephys``, ``multiplane-ophys``, ``SLAP2`` ... (``None`` for unprefixed v2 names).
    subject_id : str
        The mouse id.
    acquired : datetime
        Session start (naive datetimes are taken as UTC).
    process, processed : str, datetime, optional
        For derived assets: the process name (``sorted``, ``processed``, ``nwb``) and when it
        ran. A derived asset gets ``data_level`` ``derived``, ``input_data_name``,
        ``process_name`` and processing steps with code URLs and versions.
    modalities : sequence of str
        Modality abbreviations (``ecephys``, ``pophys``, ``slap``, ``behavior``,
        ``behavior-videos``).
    project_name : str
        ``data_description.project_name``.
    stimulus_epochs : sequence of (name, start, end), optional
        Epochs in seconds after ``acquired``. ``None`` gives a default set per platform; an
        empty sequence gives none.
    rig_id : str, optional
        Rig / instrument id; a default per platform when ``None``.
    seed : int
        Seed of every random choice (versions, subject details, times).
    input_data_name : str, optional
        Overrides the input name of a derived asset (default: the raw part of the name).
    pipeline : str, optional
        Which processing steps a derived asset lists: ``ecephys``, ``pophys``,
        ``behavior-videos``, ``behavior``, ``nwb``. Default from platform and process.
    quality_control : mapping, optional
        A quality_control document to embed in ``metadata.nd.json``.
    versions : mapping, optional
        Overrides of ``schema_version`` per kind (e.g. ``{"data_description": "2.3.3"}``).
    raw_schema : {1, 2}, optional
        Major version of the documents copied from the raw asset (subject, procedures,
        session/acquisition, rig/instrument). Default: 1 for platform-prefixed names (v1
        raw assets), else ``schema``. With ``schema=2`` and a v1 raw asset the documents mix
        majors as the pipelines write them.

    Times: ``acquired`` is the local wall time of the raw name (naive = US/Pacific, so
    -08:00 / -07:00 offsets), ``processed`` the UTC time of the derived name.

    Returns
    -------
    dict
        Filename to document, including ``metadata.nd.json`` which holds all the others.
    """
    if schema not in (1, 2):
        raise ValueError(f"schema must be 1 or 2, got {schema!r}")
    vers = {**SCHEMA_VERSIONS[schema], **(versions or {})}
    rng = _rng(seed, asset_name)
    derived = process is not None
    acquired = local_time(acquired)
    if derived and processed is None:
        processed = acquired + timedelta(days=30)
    if processed is not None:
        processed = utc_time(processed)
    if raw_schema is None:
        raw_schema = 1 if platform in _PLATFORM_NAMES else schema
    # the results collector writes v2 data_description/processing and copies the raw
    # asset's subject/procedures/session/rig unchanged (v1 for prefixed platforms)
    raw_vers = {**SCHEMA_VERSIONS[raw_schema], **(versions or {})}
    if input_data_name is None and derived:
        marker = f"_{process}_"
        input_data_name = asset_name.rsplit(marker, 1)[0] if marker in asset_name else asset_name
    created = processed if derived and processed else acquired
    epochs = _DEFAULT_EPOCHS.get(platform, _DEFAULT_EPOCHS[None])
    if stimulus_epochs is not None:
        epochs = tuple(stimulus_epochs)
    rig = rig_id or _DEFAULT_RIG.get(platform, _DEFAULT_RIG[None])

    docs: dict[str, dict[str, Any]] = {
        "data_description.json": _data_description(
            asset_name,
            schema,
            vers,
            platform,
            subject_id,
            created,
            process,
            input_data_name,
            modalities,
            project_name,
        ),
        "subject.json": _subject(raw_schema, raw_vers, subject_id, acquired, rng),
        "procedures.json": _procedures(raw_schema, raw_vers, subject_id, acquired, platform, rng),
    }
    session_end = acquired + timedelta(seconds=max((e[2] for e in epochs), default=3600.0) + 120)
    if raw_schema == 1:
        docs["session.json"] = _session(
            raw_vers, acquired, session_end, rig, epochs, modalities, rng
        )
        docs["rig.json"] = _rig(raw_vers, rig, modalities, acquired)
    else:
        docs["acquisition.json"] = _acquisition(
            raw_vers, subject_id, acquired, session_end, rig, epochs, modalities, rng
        )
        docs["instrument.json"] = _instrument(raw_vers, rig, modalities, acquired)
    key = _pipeline_key(platform, process, pipeline)
    docs["processing.json"] = _processing(schema, vers, key, acquired, processed, rng)
    docs["metadata.nd.json"] = _metadata_nd(
        asset_name, schema, vers, created, docs, quality_control, seed
    )
    return docs


def _data_description(
    name: str,
    schema: int,
    vers: Mapping[str, str],
    platform: str | None,
    subject_id: str,
    created: datetime,
    process: str | None,
    input_data_name: str | None,
    modalities: Sequence[str],
    project_name: str,
) -> dict[str, Any]:
    doc = _header("data_description", schema, vers)
    funding = {"funder": _ALLEN, "grant_number": None, "fundee": None}
    investigators = [_person("Jerome Lecoq", schema), _person("Carter Peene", schema)]
    doc.update(
        {
            "license": "CC-BY-4.0",
            "subject_id": subject_id,
            "creation_time": _iso(created),
            "name": name,
            "institution": _AIND,
        }
    )
    if schema == 1:
        doc["platform"] = (
            {"name": _PLATFORM_NAMES.get(platform or "", platform), "abbreviation": platform}
            if platform
            else None
        )
        doc.update(
            {
                "label": None,
                "funding_source": [funding],
                "data_level": "derived" if process else "raw",
                "group": None,
                "investigators": investigators,
                "project_name": project_name,
                "restrictions": None,
                "modality": [_modality(m) for m in modalities],
                "related_data": [],
                "data_summary": None,
            }
        )
        if process:
            doc["input_data_name"] = input_data_name
            doc["process_name"] = process
        return doc
    doc.update(
        {
            "tags": ["openscope", "predictive-processing"],
            "funding_source": [{"object_type": "Funding", **funding}],
            "data_level": "derived" if process else "raw",
            "group": None,
            "investigators": investigators,
            "project_name": project_name,
            "restrictions": None,
            "modalities": [_modality(m) for m in modalities],
            "source_data": [input_data_name] if process and input_data_name else [],
            "data_summary": None,
        }
    )
    return doc


_GENOTYPES = (
    "Sst-IRES-Cre/wt;Ai32(RCL-ChR2(H134R)_EYFP)/wt",
    "wt/wt",
    "Slc17a7-IRES2-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt",
    "Vip-IRES-Cre/wt;Ai148(TIT2L-GC6f-ICL-tTA2)/wt",
)


def _subject(
    schema: int, vers: Mapping[str, str], subject_id: str, acquired: datetime, rng: random.Random
) -> dict[str, Any]:
    doc = _header("subject", schema, vers)
    born = (acquired - timedelta(days=rng.randint(70, 200))).date().isoformat()
    details: dict[str, Any] = {
        "sex": rng.choice(("Male", "Female")),
        "date_of_birth": born,
        "genotype": rng.choice(_GENOTYPES),
        "species": {
            "name": "Mus musculus",
            "registry": {"name": "National Center for Biotechnology Information"},
            "registry_identifier": "NCBI:txid10090",
        },
        "alleles": [],
        "background_strain": "C57BL/6J",
        "source": {"name": "Allen Institute", "abbreviation": "AI"},
        "breeding_info": None,
        "housing": None,
    }
    if schema == 1:
        doc.update({"subject_id": subject_id, **details, "restrictions": None, "notes": None})
        doc["wellness_reports"] = []
        return doc
    details = {"object_type": "Mouse subject", **details}
    doc.update({"subject_id": subject_id, "subject_details": details, "notes": None})
    return doc


def _procedures(
    schema: int,
    vers: Mapping[str, str],
    subject_id: str,
    acquired: datetime,
    platform: str | None,
    rng: random.Random,
) -> dict[str, Any]:
    doc = _header("procedures", schema, vers)
    surgery_date = (acquired - timedelta(days=rng.randint(14, 40))).date().isoformat()
    steps: list[dict[str, Any]] = [{"procedure_type": "Headframe", "headframe_type": "AI Straight"}]
    if platform == "ecephys":
        steps.append({"procedure_type": "Craniotomy", "craniotomy_type": "Visual Cortex"})
    else:
        steps.append({"procedure_type": "Craniotomy", "craniotomy_type": "5 mm"})
    surgery: dict[str, Any] = {
        "procedure_type": "Surgery",
        "start_date": surgery_date,
        "experimenters": [_person("Surgeon One", schema)] if schema >= 2 else None,
        "protocol_id": "2109",
        "procedures": steps,
    }
    if schema >= 2:
        surgery = {"object_type": "Surgery", **surgery}
    else:
        surgery["experimenter_full_name"] = "Surgeon One"
    doc.update(
        {"subject_id": subject_id, "subject_procedures": [surgery], "specimen_procedures": []}
    )
    return doc


def _epochs(
    epochs: Sequence[tuple[str, float, float]], acquired: datetime, schema: int
) -> list[dict[str, Any]]:
    out = []
    for name, start, end in epochs:
        epoch: dict[str, Any] = {
            "stimulus_start_time": _iso(acquired + timedelta(seconds=float(start))),
            "stimulus_end_time": _iso(acquired + timedelta(seconds=float(end))),
            "stimulus_name": name,
            "code": None,
            "stimulus_modalities": ["Visual"],
            "notes": None,
        }
        if schema >= 2:
            epoch = {"object_type": "Stimulus epoch", **epoch}
        else:
            epoch.update({"session_number": None, "software": [], "script": None})
        out.append(epoch)
    return out


def _streams(
    modalities: Sequence[str], start: datetime, end: datetime, schema: int
) -> list[dict[str, Any]]:
    stream: dict[str, Any] = {
        "stream_start_time": _iso(start),
        "stream_end_time": _iso(end),
        "stream_modalities" if schema == 1 else "modalities": [_modality(m) for m in modalities],
        "notes": None,
    }
    if schema == 1:
        stream.update({"daq_names": [], "camera_names": [], "ephys_modules": []})
        return [stream]
    return [{"object_type": "Data stream", **stream, "active_devices": [], "configurations": []}]


def _session(
    vers: Mapping[str, str],
    start: datetime,
    end: datetime,
    rig_id: str,
    epochs: Sequence[tuple[str, float, float]],
    modalities: Sequence[str],
    rng: random.Random,
) -> dict[str, Any]:
    doc = _header("session", 1, vers)
    doc.update(
        {
            "protocol_id": [],
            "experimenter_full_name": ["Rig Operator"],
            "session_start_time": _iso(start),
            "session_end_time": _iso(end),
            "session_type": "OpenScope predictive processing",
            "iacuc_protocol": "2117",
            "rig_id": rig_id,
            "calibrations": [],
            "maintenance": [],
            "subject_id": None,
            "animal_weight_prior": round(rng.uniform(20, 28), 1),
            "animal_weight_post": None,
            "data_streams": _streams(modalities, start, end, 1),
            "stimulus_epochs": _epochs(epochs, start, 1),
            "mouse_platform_name": "Running wheel",
            "active_mouse_platform": False,
            "reward_consumed_total": None,
            "notes": None,
        }
    )
    return doc


def _acquisition(
    vers: Mapping[str, str],
    subject_id: str,
    start: datetime,
    end: datetime,
    instrument_id: str,
    epochs: Sequence[tuple[str, float, float]],
    modalities: Sequence[str],
    rng: random.Random,
) -> dict[str, Any]:
    doc = _header("acquisition", 2, vers)
    doc.update(
        {
            "subject_id": subject_id,
            "specimen_id": None,
            "acquisition_start_time": _iso(start),
            "acquisition_end_time": _iso(end),
            "experimenters": ["Rig Operator"],
            "protocol_id": [],
            "ethics_review_id": ["2117"],
            "instrument_id": instrument_id,
            "acquisition_type": "OpenScope predictive processing",
            "notes": None,
            "coordinate_system": None,
            "calibrations": [],
            "maintenance": [],
            "data_streams": _streams(modalities, start, end, 2),
            "stimulus_epochs": _epochs(epochs, start, 2),
            "subject_details": {
                "object_type": "Acquisition subject details",
                "animal_weight_prior": round(rng.uniform(20, 28), 1),
                "mouse_platform_name": "Running wheel",
            },
        }
    )
    return doc


def _rig(
    vers: Mapping[str, str], rig_id: str, modalities: Sequence[str], acquired: datetime
) -> dict[str, Any]:
    doc = _header("rig", 1, vers)
    doc.update(
        {
            "rig_id": rig_id,
            "modification_date": (acquired - timedelta(days=60)).date().isoformat(),
            "mouse_platform": {"device_type": "Disc", "name": "Running wheel"},
            "stimulus_devices": [{"device_type": "Monitor", "name": "Stimulus screen"}],
            "cameras": [],
            "daqs": [],
            "ephys_assemblies": [],
            "modalities": [_modality(m) for m in modalities],
            "notes": None,
        }
    )
    return doc


def _instrument(
    vers: Mapping[str, str], instrument_id: str, modalities: Sequence[str], acquired: datetime
) -> dict[str, Any]:
    doc = _header("instrument", 2, vers)
    doc.update(
        {
            "location": "Allen Institute",
            "instrument_id": instrument_id,
            "modification_date": (acquired - timedelta(days=60)).date().isoformat(),
            "modalities": [_modality(m) for m in modalities],
            "calibrations": [],
            "coordinate_system": None,
            "components": [{"object_type": "Monitor", "name": "Stimulus screen"}],
            "connections": [],
            "notes": None,
        }
    )
    return doc


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 2)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"


def _processing(
    schema: int,
    vers: Mapping[str, str],
    key: str,
    acquired: datetime,
    processed: datetime | None,
    rng: random.Random,
) -> dict[str, Any]:
    doc = _header("processing", schema, vers)
    pipeline_repo, steps = _PIPELINES.get(key, _PIPELINES["ecephys"])
    t = processed or acquired + timedelta(hours=2)
    processes = []
    for name, repo in steps:
        start, t = t, t + timedelta(minutes=rng.randint(3, 90))
        url = f"https://github.com/AllenNeuralDynamics/{repo}"
        version = _version(rng)
        if schema == 1:
            processes.append(
                {
                    "name": name,
                    "software_version": version,
                    "start_date_time": _iso(start),
                    "end_date_time": _iso(t),
                    "input_location": "/data",
                    "output_location": "/results",
                    "code_url": url,
                    "code_version": None,
                    "parameters": {},
                    "outputs": {},
                    "notes": None,
                    "resources": None,
                }
            )
        else:
            processes.append(
                {
                    "object_type": "Data process",
                    "process_type": name,
                    "name": repo,
                    "stage": "Processing",
                    "code": {
                        "object_type": "Code",
                        "url": url,
                        "name": repo,
                        "version": version,
                        "container": None,
                        "run_script": "code/run",
                        "language": "Python",
                        "language_version": "3.11",
                        "input_data": None,
                        "parameters": {},
                        "core_dependency": None,
                    },
                    "experimenters": ["AIND Scientific Computing"],
                    "pipeline_name": pipeline_repo or None,
                    "start_date_time": _iso(start),
                    "end_date_time": _iso(t),
                    "output_path": None,
                    "output_parameters": {},
                    "notes": None,
                    "resources": None,
                }
            )
    pipeline_url = (
        f"https://github.com/AllenNeuralDynamics/{pipeline_repo}" if pipeline_repo else None
    )
    if schema == 1:
        doc["processing_pipeline"] = {
            "data_processes": processes,
            "processor_full_name": "AIND Scientific Computing",
            "pipeline_version": _version(rng) if pipeline_repo else None,
            "pipeline_url": pipeline_url,
            "note": None,
        }
        doc.update({"analyses": [], "notes": None})
        return doc
    pipelines = []
    if pipeline_repo:
        pipelines.append(
            {
                "object_type": "Code",
                "url": pipeline_url,
                "name": pipeline_repo,
                "version": _version(rng),
            }
        )
    doc.update(
        {
            "data_processes": processes,
            "pipelines": pipelines,
            "notes": None,
            "dependency_graph": None,
        }
    )
    return doc


def _metadata_nd(
    name: str,
    schema: int,
    vers: Mapping[str, str],
    created: datetime,
    docs: Mapping[str, Mapping[str, Any]],
    qc: Mapping[str, Any] | None,
    seed: int,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": str(uuid.UUID(bytes=hashlib.md5(f"{seed}|{name}".encode()).digest())),
    }
    doc.update(_header("metadata", schema, vers))
    doc.update(
        {
            "name": name,
            "location": f"s3://aind-open-data/{name}",
            "created": _iso(created),
            "last_modified": _iso(created + timedelta(hours=1)),
            "external_links": {},
        }
    )
    for fname, body in docs.items():
        doc[fname.removesuffix(".json")] = dict(body)
    if schema == 1:
        doc.setdefault("acquisition", None)
        doc.setdefault("instrument", None)
        doc["metadata_status"] = "Valid"
    else:
        doc["model"] = None
        doc["other_identifiers"] = None
    doc["quality_control"] = dict(qc) if qc is not None else None
    return doc


# --- sorting portal --------------------------------------------------------------------------

_FIGURL = "https://figurl.org/f"
_SORTINGVIEW = "npm://@fi-sci/figurl-sortingview@12/dist"


def _sha1(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


def visualization_output(
    recordings: Sequence[str],
    *,
    missing: Mapping[str, str] | None = None,
    asset_name: str = "",
) -> dict[str, dict[str, str]]:
    """A ``visualization_output.json`` document: figurl links per recording.

    Parameters
    ----------
    recordings : sequence of str
        Recording folder names, e.g.
        ``experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP_recording1``.
    missing : mapping, optional
        Recording name to the key to leave out (``"timeseries"`` or ``"sorting_summary"``;
        ``"all"`` leaves an empty entry).
    asset_name : str
        Used in the links' labels.

    Returns
    -------
    dict
        ``{"<rec>": {"timeseries": "<url>", "sorting_summary": "<url>"}}``.
    """
    missing = dict(missing or {})
    out: dict[str, dict[str, str]] = {}
    for rec in recordings:
        links: dict[str, str] = {}
        base = f"{asset_name} - {rec}" if asset_name else rec
        label = quote(f"{base} - Timeseries", safe="")
        links["timeseries"] = (
            f"{_FIGURL}?v={_SORTINGVIEW}&d=sha1://{_sha1('ts', asset_name, rec)}&label={label}"
        )
        curation = quote(
            '{"sortingCuration":"gh://AllenNeuralDynamics/ephys-sorting-manual-curation/main/'
            f'{asset_name or "session"}/{rec}/curation.json"}}',
            safe="",
        )
        label = quote(f"{base} - Sorting Summary", safe="")
        links["sorting_summary"] = (
            f"{_FIGURL}?v={_SORTINGVIEW}&d=sha1://{_sha1('ss', asset_name, rec)}"
            f"&s={curation}&label={label}"
        )
        drop = missing.get(rec)
        if drop in ("all", "both"):
            links.clear()
        elif drop:
            links.pop(drop, None)
        out[rec] = links
    return out
