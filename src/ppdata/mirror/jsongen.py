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
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from .jsongen_acquisition import acquisition_documents
from .jsongen_common import (
    AIND_ORG,
    ALLEN_ORG,
    DEFAULT_EPOCHS,
    DEFAULT_PROJECT_NAME,
    DEFAULT_RIG,
    GENOTYPES,
    PIPELINES,
    PLATFORM_NAMES,
    SCHEMA_VERSIONS,
    Schema,
    iso_time,
    local_time,
    modality_doc,
    person_doc,
    seeded_rng,
    utc_time,
)
from .portalgen import visualization_output
from .qcgen import qc_references, quality_control

__all__ = [
    "DEFAULT_PROJECT_NAME",
    "SCHEMA_VERSIONS",
    "metadata_documents",
    "qc_references",
    "quality_control",
    "visualization_output",
]


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
    main = Schema.of(schema, versions)
    rng = seeded_rng(seed, asset_name)
    derived = process is not None
    acquired = local_time(acquired)
    if derived and processed is None:
        processed = acquired + timedelta(days=30)
    if processed is not None:
        processed = utc_time(processed)
    if raw_schema is None:
        raw_schema = 1 if platform in PLATFORM_NAMES else schema
    # the results collector writes v2 data_description/processing and copies the raw
    # asset's subject/procedures/session/rig unchanged (v1 for prefixed platforms)
    raw = Schema.of(raw_schema, versions)
    if input_data_name is None and derived:
        marker = f"_{process}_"
        input_data_name = asset_name.rsplit(marker, 1)[0] if marker in asset_name else asset_name
    created = processed if derived and processed else acquired
    epochs = DEFAULT_EPOCHS.get(platform, DEFAULT_EPOCHS[None])
    if stimulus_epochs is not None:
        epochs = tuple(stimulus_epochs)
    rig = rig_id or DEFAULT_RIG.get(platform, DEFAULT_RIG[None])

    docs: dict[str, dict[str, Any]] = {
        "data_description.json": _data_description(
            asset_name,
            main,
            platform,
            subject_id,
            created,
            process,
            input_data_name,
            modalities,
            project_name,
        ),
        "subject.json": _subject(raw, subject_id, acquired, rng),
        "procedures.json": _procedures(raw, subject_id, acquired, platform, rng),
    }
    session_end = acquired + timedelta(seconds=max((e[2] for e in epochs), default=3600.0) + 120)
    docs.update(
        acquisition_documents(raw, subject_id, acquired, session_end, rig, epochs, modalities, rng)
    )
    key = _pipeline_key(platform, process, pipeline)
    docs["processing.json"] = _processing(main, key, acquired, processed, rng)
    docs["metadata.nd.json"] = _metadata_nd(asset_name, main, created, docs, quality_control, seed)
    return docs


def _data_description(
    name: str,
    schema: Schema,
    platform: str | None,
    subject_id: str,
    created: datetime,
    process: str | None,
    input_data_name: str | None,
    modalities: Sequence[str],
    project_name: str,
) -> dict[str, Any]:
    doc = schema.header("data_description")
    funding = {"funder": ALLEN_ORG, "grant_number": None, "fundee": None}
    investigators = [
        person_doc("Jerome Lecoq", schema.major),
        person_doc("Carter Peene", schema.major),
    ]
    doc.update(
        {
            "license": "CC-BY-4.0",
            "subject_id": subject_id,
            "creation_time": iso_time(created),
            "name": name,
            "institution": AIND_ORG,
        }
    )
    # the fields both majors write, in the same place
    shared = {
        "data_level": "derived" if process else "raw",
        "group": None,
        "investigators": investigators,
        "project_name": project_name,
        "restrictions": None,
    }
    modality_list = [modality_doc(m) for m in modalities]
    if schema.major == 1:
        doc["platform"] = (
            {"name": PLATFORM_NAMES.get(platform or "", platform), "abbreviation": platform}
            if platform
            else None
        )
        doc.update(
            {
                "label": None,
                "funding_source": [funding],
                **shared,
                "modality": modality_list,
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
            **shared,
            "modalities": modality_list,
            "source_data": [input_data_name] if process and input_data_name else [],
            "data_summary": None,
        }
    )
    return doc


def _subject(
    schema: Schema, subject_id: str, acquired: datetime, rng: random.Random
) -> dict[str, Any]:
    doc = schema.header("subject")
    born = (acquired - timedelta(days=rng.randint(70, 200))).date().isoformat()
    details: dict[str, Any] = {
        "sex": rng.choice(("Male", "Female")),
        "date_of_birth": born,
        "genotype": rng.choice(GENOTYPES),
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
    if schema.major == 1:
        doc.update({"subject_id": subject_id, **details, "restrictions": None, "notes": None})
        doc["wellness_reports"] = []
        return doc
    details = {"object_type": "Mouse subject", **details}
    doc.update({"subject_id": subject_id, "subject_details": details, "notes": None})
    return doc


def _procedures(
    schema: Schema, subject_id: str, acquired: datetime, platform: str | None, rng: random.Random
) -> dict[str, Any]:
    doc = schema.header("procedures")
    surgery_date = (acquired - timedelta(days=rng.randint(14, 40))).date().isoformat()
    steps: list[dict[str, Any]] = [{"procedure_type": "Headframe", "headframe_type": "AI Straight"}]
    if platform == "ecephys":
        steps.append({"procedure_type": "Craniotomy", "craniotomy_type": "Visual Cortex"})
    else:
        steps.append({"procedure_type": "Craniotomy", "craniotomy_type": "5 mm"})
    surgery: dict[str, Any] = {
        "procedure_type": "Surgery",
        "start_date": surgery_date,
        "experimenters": [person_doc("Surgeon One", schema.major)] if schema.major >= 2 else None,
        "protocol_id": "2109",
        "procedures": steps,
    }
    if schema.major >= 2:
        surgery = {"object_type": "Surgery", **surgery}
    else:
        surgery["experimenter_full_name"] = "Surgeon One"
    doc.update(
        {"subject_id": subject_id, "subject_procedures": [surgery], "specimen_procedures": []}
    )
    return doc


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 2)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"


def _processing(
    schema: Schema, key: str, acquired: datetime, processed: datetime | None, rng: random.Random
) -> dict[str, Any]:
    doc = schema.header("processing")
    pipeline_repo, steps = PIPELINES.get(key, PIPELINES["ecephys"])
    t = processed or acquired + timedelta(hours=2)
    processes = []
    for name, repo in steps:
        start, t = t, t + timedelta(minutes=rng.randint(3, 90))
        url = f"https://github.com/AllenNeuralDynamics/{repo}"
        version = _version(rng)
        if schema.major == 1:
            processes.append(
                {
                    "name": name,
                    "software_version": version,
                    "start_date_time": iso_time(start),
                    "end_date_time": iso_time(t),
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
                    "start_date_time": iso_time(start),
                    "end_date_time": iso_time(t),
                    "output_path": None,
                    "output_parameters": {},
                    "notes": None,
                    "resources": None,
                }
            )
    pipeline_url = (
        f"https://github.com/AllenNeuralDynamics/{pipeline_repo}" if pipeline_repo else None
    )
    if schema.major == 1:
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
    schema: Schema,
    created: datetime,
    docs: Mapping[str, Mapping[str, Any]],
    qc: Mapping[str, Any] | None,
    seed: int,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": str(uuid.UUID(bytes=hashlib.md5(f"{seed}|{name}".encode()).digest())),
    }
    doc.update(schema.header("metadata"))
    doc.update(
        {
            "name": name,
            "location": f"s3://aind-open-data/{name}",
            "created": iso_time(created),
            "last_modified": iso_time(created + timedelta(hours=1)),
            "external_links": {},
        }
    )
    for fname, body in docs.items():
        doc[fname.removesuffix(".json")] = dict(body)
    if schema.major == 1:
        doc.setdefault("acquisition", None)
        doc.setdefault("instrument", None)
        doc["metadata_status"] = "Valid"
    else:
        doc["model"] = None
        doc["other_identifiers"] = None
    doc["quality_control"] = dict(qc) if qc is not None else None
    return doc
