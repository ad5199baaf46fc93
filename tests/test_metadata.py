"""Reading aind-data-schema metadata (v1 and v2) into one normalized view."""

from __future__ import annotations

import json
import warnings
from datetime import date, datetime

import pytest

from ppdata.errors import MetadataError
from ppdata.meta.metadata import (
    METADATA_FILES,
    AssetMetadata,
    MetadataWarning,
    load_json_document,
    metadata_keys,
    read_metadata,
)
from ppdata.mirror.jsongen import metadata_documents

RAW = "ecephys_820454_2025-11-04_14-59-22"
SORTED = f"{RAW}_sorted_2025-02-02_02-02-02"
MESO = "multiplane-ophys_832700_2026-01-24_12-06-12_processed_2026-01-25_13-22-08"
SLAP2 = "828408_2025-11-13_10-30-53"


def as_bytes(docs):
    return {name: json.dumps(doc).encode() for name, doc in docs.items()}


@pytest.fixture
def v1_docs():
    return metadata_documents(
        SORTED,
        schema=1,
        platform="ecephys",
        subject_id="820454",
        acquired=datetime(2025, 1, 1, 1, 1, 1),
        process="sorted",
        processed=datetime(2025, 2, 2, 2, 2, 2),
    )


@pytest.fixture
def v2_docs():
    return metadata_documents(
        SLAP2,
        schema=2,
        platform=None,
        subject_id="828408",
        acquired=datetime(2025, 9, 9, 9, 9, 9),
        modalities=("slap",),
        stimulus_epochs=[("Standard oddball", 0, 600), ("Spontaneous", 660, 960)],
        rig_id="SLAP2_1",
    )


def test_v1_generated(v1_docs):
    md = read_metadata(as_bytes(v1_docs))
    subject = v1_docs["subject.json"]
    assert md.ok and md.warnings == ()
    assert md.name == SORTED
    assert md.subject_id == "820454"
    assert md.sex == subject["sex"] and md.genotype == subject["genotype"]
    assert md.date_of_birth == date.fromisoformat(subject["date_of_birth"])
    assert md.species == "Mus musculus"
    # the raw name's time is local wall time: -08:00 in January; the UTC view beside it
    assert md.session_start == datetime.fromisoformat("2025-01-01T01:01:01-08:00")
    assert md.session_start.isoformat() == "2025-01-01T01:01:01-08:00"
    assert md.session_start_utc.isoformat() == "2025-01-01T09:01:01+00:00"
    # the derived suffix is UTC creation time
    assert md.creation_time_utc.isoformat() == "2025-02-02T02:02:02+00:00"
    assert md.session_end > md.session_start
    assert md.instrument_id == v1_docs["session.json"]["rig_id"]
    assert md.session_type
    assert [e.name for e in md.stimulus_epochs][:2] == [
        "Receptive field mapping",
        "Standard oddball",
    ]
    assert md.stimulus_epochs[0].duration_s == 900.0
    assert md.project_name == "OpenScope Predictive Processing"
    assert md.data_level == "derived"
    assert md.modalities == ("ecephys",)
    assert md.platform == "ecephys"
    assert md.input_data_name == RAW and md.process_name == "sorted"
    steps = v1_docs["processing.json"]["processing_pipeline"]["data_processes"]
    assert [s.name for s in md.processing] == [s["name"] for s in steps]
    assert [s.code_version for s in md.processing] == [s["software_version"] for s in steps]
    assert md.processing[1].code_url == steps[1]["code_url"]
    assert md.pipeline_url.endswith("aind-ephys-pipeline")
    assert md.schema_versions["data_description"] == "1.0.4"
    assert md.schema_versions["metadata"] == "1.2.1"
    assert md.sources["session"] == "session.json"


def test_utc_times_follow_the_written_ones_in_any_record():
    from dataclasses import replace
    from datetime import timedelta, timezone

    start = datetime(2025, 1, 1, 1, 1, 1, tzinfo=timezone(timedelta(hours=-8)))
    md = AssetMetadata(session_start=start, creation_time=datetime(2025, 1, 2))
    assert md.session_start_utc.isoformat() == "2025-01-01T09:01:01+00:00"
    assert md.creation_time_utc is None  # a naive time: its zone is unknown
    assert replace(md, session_start=None).session_start_utc is None


def test_v2_generated(v2_docs):
    md = read_metadata(as_bytes(v2_docs))
    details = v2_docs["subject.json"]["subject_details"]
    assert md.ok
    assert md.subject_id == "828408"
    assert md.sex == details["sex"] and md.genotype == details["genotype"]
    assert md.species == "Mus musculus"
    assert md.instrument_id == "SLAP2_1"
    assert md.session_type == "OpenScope predictive processing"
    assert [(e.name, e.duration_s) for e in md.stimulus_epochs] == [
        ("Standard oddball", 600.0),
        ("Spontaneous", 300.0),
    ]
    assert md.data_level == "raw" and md.platform is None and md.process_name is None
    assert md.modalities == ("slap",)
    step = md.processing[0]
    code = v2_docs["processing.json"]["data_processes"][0]["code"]
    assert (step.name, step.code_url, step.code_version) == (
        "Compression",
        code["url"],
        code["version"],
    )
    assert step.stage == "Processing"
    assert md.schema_versions["acquisition"] == "2.5.0"
    assert md.sources["acquisition"] == "acquisition.json"


def test_v2_derived_uses_source_data_and_name(v2_docs):
    docs = metadata_documents(
        MESO,
        schema=2,
        platform="multiplane-ophys",
        subject_id="832700",
        acquired=datetime(2025, 4, 4, 4, 4, 4),
        process="processed",
        modalities=("pophys",),
    )
    md = read_metadata(as_bytes(docs))
    assert md.input_data_name == "multiplane-ophys_832700_2026-01-24_12-06-12"
    assert md.platform == "multiplane-ophys"  # v2 has no platform: taken from the name
    assert md.process_name == "processed"
    assert "Video ROI segmentation" in [s.name for s in md.processing]


@pytest.mark.parametrize("fixture", ["v1_docs", "v2_docs"])
def test_metadata_nd_alone_gives_the_same_view(fixture, request):
    docs = request.getfixturevalue(fixture)
    separate = read_metadata(as_bytes(docs)).as_dict()
    nd_only = read_metadata(as_bytes({"metadata.nd.json": docs["metadata.nd.json"]})).as_dict()
    separate.pop("sources")
    assert set(nd_only.pop("sources").values()) == {"metadata.nd.json"}
    assert nd_only == separate


def test_separate_files_win_over_metadata_nd(v1_docs):
    nd = dict(v1_docs["metadata.nd.json"])
    nd["subject"] = {**nd["subject"], "sex": "Other"}
    files = as_bytes({"subject.json": v1_docs["subject.json"], "metadata.nd.json": nd})
    md = read_metadata(files)
    assert md.sex == v1_docs["subject.json"]["sex"]
    assert md.sources["subject"] == "subject.json"
    assert md.sources["session"] == "metadata.nd.json"  # missing file: filled from nd
    assert md.session_start is not None


def test_full_keys_are_accepted_and_other_files_ignored(v2_docs):
    files = {f"{SLAP2}/{name}": body for name, body in as_bytes(v2_docs).items()}
    files[f"{SLAP2}/slap2/notes/notes.txt"] = b"not json"
    md = read_metadata(files)
    assert md.ok and md.subject_id == "828408"


def test_metadata_keys():
    keys = metadata_keys(f"{SORTED}/")
    assert keys[0] == f"{SORTED}/data_description.json"
    assert len(keys) == len(METADATA_FILES) and f"{SORTED}/metadata.nd.json" in keys


def test_unknown_major_version_warns_once_and_reads_what_it_knows(v2_docs):
    subject = dict(v2_docs["subject.json"], schema_version="3.0.1", new_field={"x": 1})
    acquisition = dict(v2_docs["acquisition.json"], schema_version="3.2.0")
    files = as_bytes({**v2_docs, "subject.json": subject, "acquisition.json": acquisition})
    with pytest.warns(MetadataWarning, match="unknown schema version") as record:
        md = read_metadata(files)
    assert len(record) == 1
    assert "subject.json has schema_version 3.0.1" in str(record[0].message)
    assert "acquisition.json has schema_version 3.2.0" in str(record[0].message)
    assert md.warnings and "3.0.1" in md.warnings[0]
    assert md.ok
    assert md.sex == subject["subject_details"]["sex"]
    assert md.session_start is not None
    assert md.raw["subject"]["new_field"] == {"x": 1}
    assert md.schema_versions["subject"] == "3.0.1"


def test_known_versions_do_not_warn(v1_docs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_metadata(as_bytes(v1_docs))


def test_malformed_json_names_the_file_and_others_are_read(v1_docs):
    files = as_bytes(v1_docs)
    files["subject.json"] = b'{"subject_id": "820454", "sex": '
    del files["metadata.nd.json"]
    md = read_metadata(files)
    assert not md.ok
    (err,) = md.errors
    assert isinstance(err, MetadataError)
    assert "subject.json" in str(err) and "not valid JSON" in str(err)
    assert err.file == "subject.json"
    assert md.sex is None
    assert md.subject_id == "820454"  # from data_description.json
    assert md.session_start is not None and md.processing


def test_strict_mode_raises(v1_docs):
    files = as_bytes(v1_docs)
    files["session.json"] = b"[1, 2]"
    files["rig.json"] = b"nope"
    with pytest.raises(MetadataError, match=r"session\.json: expected a JSON object") as info:
        read_metadata(files, strict=True)
    assert any("1 more" in note for note in info.value.__notes__)


def test_wrong_type_key_names_file_and_key(v1_docs):
    session = dict(v1_docs["session.json"], stimulus_epochs="Standard oddball")
    session["session_start_time"] = "yesterday"
    files = as_bytes({**v1_docs, "session.json": session})
    md = read_metadata(files)
    messages = sorted(str(e) for e in md.errors)
    assert any("session.json: key 'session_start_time'" in m for m in messages)
    assert any("session.json: key 'stimulus_epochs': expected a list" in m for m in messages)
    assert md.stimulus_epochs == () and md.session_start is None
    assert md.session_end is not None and md.sex is not None


def test_bad_metadata_nd_section(v1_docs):
    nd = dict(v1_docs["metadata.nd.json"], subject="820454")
    md = read_metadata(as_bytes({"metadata.nd.json": nd}))
    assert [e.key for e in md.errors] == ["subject"]
    assert "metadata.nd.json" in str(md.errors[0])
    assert md.subject_id == "820454"  # still from the data_description section


def test_load_json_document_errors():
    with pytest.raises(MetadataError, match=r"x\.json: not valid JSON \(line 1"):
        load_json_document(b"{", "x.json")
    with pytest.raises(MetadataError, match="not UTF-8"):
        load_json_document(b"\xff\xfe\x00", "x.json")
    assert load_json_document({"a": 1}, "x.json") == {"a": 1}
    assert load_json_document('\ufeff{"a": 1}'.encode(), "x.json") == {"a": 1}


# Hand-written documents shaped like real ones, with missing optional fields and nulls.
HAND_V1 = {
    "data_description.json": {
        "describedBy": "https://raw.githubusercontent.com/AllenNeuralDynamics/aind-data-schema/main/src/aind_data_schema/core/data_description.py",
        "schema_version": "1.0.4",
        "license": "CC-BY-4.0",
        "platform": {"name": "Electrophysiology platform", "abbreviation": "ecephys"},
        "subject_id": "624000",
        "creation_time": "2024-05-01T15:00:00-07:00",
        "label": None,
        "name": "ecephys_624000_2024-05-01_15-00-00",
        "institution": {"name": "Allen Institute for Neural Dynamics", "abbreviation": "AIND"},
        "funding_source": [],
        "data_level": "raw",
        "group": None,
        "investigators": [{"name": "Jerome Lecoq", "abbreviation": None}],
        "project_name": None,
        "restrictions": None,
        "modality": [
            {"name": "Extracellular electrophysiology", "abbreviation": "ecephys"},
            {"name": "Behavior videos", "abbreviation": "behavior-videos"},
        ],
        "related_data": [],
        "data_summary": None,
    },
    "subject.json": {
        "describedBy": "https://raw.githubusercontent.com/AllenNeuralDynamics/aind-data-schema/main/src/aind_data_schema/core/subject.py",
        "schema_version": "1.0.0",
        "subject_id": "624000",
        "sex": "Male",
        "date_of_birth": "2024-01-15",
        "genotype": None,
        "species": {"name": "Mus musculus", "abbreviation": None},
    },
    "session.json": {
        "describedBy": "https://raw.githubusercontent.com/AllenNeuralDynamics/aind-data-schema/main/src/aind_data_schema/core/session.py",
        "schema_version": "1.0.0",
        "session_start_time": "2024-05-01T15:00:00-07:00",
        "session_end_time": None,
        "session_type": "OpenScope",
        "rig_id": "327_NP2_240401",
        "data_streams": [],
        "stimulus_epochs": [
            {"stimulus_name": "Oddball", "stimulus_start_time": "2024-05-01T15:05:00-07:00"}
        ],
    },
    "processing.json": {
        "schema_version": "1.0.0",
        "processing_pipeline": {
            "data_processes": [
                {
                    "name": "Compression",
                    "software_version": None,
                    "code_version": "v1.0",
                    "code_url": "https://github.com/AllenNeuralDynamics/aind-data-transformation",
                    "start_date_time": "2024-05-02T01:00:00Z",
                    "end_date_time": "2024-05-02T02:00:00Z",
                }
            ],
            "pipeline_version": None,
            "pipeline_url": None,
        },
    },
}

HAND_V2 = {
    "subject.json": {
        "object_type": "Subject",
        "describedBy": "https://raw.githubusercontent.com/AllenNeuralDynamics/aind-data-schema/main/src/aind_data_schema/core/subject.py",
        "schema_version": "2.0.2",
        "subject_id": "828408",
        "subject_details": {
            "object_type": "Mouse subject",
            "sex": "Female",
            "date_of_birth": "2025-03-01",
            "genotype": "wt/wt",
            "species": {"name": "Mus musculus"},
        },
    },
    "acquisition.json": {
        "object_type": "Acquisition",
        "schema_version": "2.0.0",
        "subject_id": "828408",
        "acquisition_start_time": "2025-09-09T09:09:09-07:00",
        "acquisition_end_time": "2025-09-09T10:09:09-07:00",
        "instrument_id": None,
        "acquisition_type": "SLAP2 imaging",
        "data_streams": [],
        "stimulus_epochs": [],
    },
    "instrument.json": {
        "object_type": "Instrument",
        "schema_version": "2.0.0",
        "instrument_id": "SLAP2_2",
    },
    "data_description.json": {
        "object_type": "Data description",
        "schema_version": "2.3.3",
        "name": "828408_2025-11-13_10-30-53",
        "subject_id": "828408",
        "data_level": "raw",
        "project_name": "OpenScope",
        "modalities": [{"name": "Scanned line projection imaging", "abbreviation": "slap"}],
        "tags": None,
        "source_data": None,
    },
    "processing.json": {
        "object_type": "Processing",
        "schema_version": "2.0.0",
        "data_processes": [
            {"process_type": "Compression", "code": None, "stage": "Processing"},
            {"process_type": "Other", "name": "notes", "code": {"url": None, "version": "0.1"}},
        ],
    },
}


def test_hand_written_v1_with_nulls_and_missing_fields():
    md = read_metadata(as_bytes(HAND_V1))
    assert md.ok, md.errors
    assert md.genotype is None and md.project_name is None and md.session_end is None
    assert md.sex == "Male" and md.date_of_birth == date(2024, 1, 15)
    assert md.modalities == ("ecephys", "behavior-videos")
    assert md.instrument_id == "327_NP2_240401"
    (epoch,) = md.stimulus_epochs
    assert epoch.name == "Oddball" and epoch.end is None and epoch.duration_s is None
    (step,) = md.processing
    assert step.code_version == "v1.0" and step.label is None
    assert md.investigators == ("Jerome Lecoq",)
    assert md.schema_versions == {
        "data_description": "1.0.4",
        "subject": "1.0.0",
        "session": "1.0.0",
        "processing": "1.0.0",
    }
    assert md.input_data_name is None and md.process_name is None


def test_hand_written_v2_with_nulls():
    md = read_metadata(as_bytes(HAND_V2))
    assert md.ok, md.errors
    assert md.sex == "Female" and md.genotype == "wt/wt"
    assert md.instrument_id == "SLAP2_2"  # acquisition says null, instrument.json says it
    assert md.session_type == "SLAP2 imaging"
    assert md.stimulus_epochs == ()
    assert [s.code_version for s in md.processing] == [None, "0.1"]
    assert md.processing[1].label == "notes"
    assert md.project_name == "OpenScope"


def test_empty_input_gives_an_empty_view():
    md = read_metadata({}, name=RAW)
    assert isinstance(md, AssetMetadata)
    assert md.name == RAW and md.subject_id == "820454" and md.platform == "ecephys"
    assert md.ok and md.sources == {}


def test_as_dict_is_json_serializable(v1_docs):
    files = as_bytes(v1_docs)
    files["rig.json"] = b"{"
    data = read_metadata(files).as_dict()
    text = json.dumps(data)
    assert "rig.json: not valid JSON" in text
    assert "raw" not in data


# Against the synthetic world on the local S3 server.


def test_every_world_asset_reads_over_s3(client, world):
    from ppdata.meta.metadata import get_metadata

    for session in world.on_s3:
        for asset in session.assets:
            if asset.kind == "ccf":
                continue
            md = get_metadata(asset.name, client=client)
            assert md.ok, (asset.name, md.errors)
            assert md.name == asset.name
            assert md.subject_id == session.subject_id
            assert md.schema_versions["data_description"].startswith(f"{asset.schema}.")
            assert md.data_level == ("raw" if asset.kind == "raw" else "derived")
            assert md.session_start is not None and md.processing


def test_get_metadata_of_a_missing_asset(client):
    from ppdata.errors import NotFound
    from ppdata.meta.metadata import get_metadata

    with pytest.raises(NotFound, match="no metadata JSON under ecephys_999999"):
        get_metadata("ecephys_999999_2025-01-01_01-01-01", client=client)


def test_world_times_local_in_metadata_utc_in_derived_names(client, world, run):
    from ppdata.meta.metadata import get_metadata
    from ppdata.mirror.world import EPHYS_COMPLETE
    from ppdata.naming import parse_name

    session = world.session(EPHYS_COMPLETE)
    raw = get_metadata(session.name, client=client)
    # the raw name's time is the local wall time of the session start
    assert raw.session_start.replace(tzinfo=None) == session.acquired
    assert raw.session_start.utcoffset().total_seconds() in (-8 * 3600, -7 * 3600)
    assert raw.session_start_utc == raw.session_start
    derived = session.current("sorted")
    md = get_metadata(derived.name, client=client)
    # v2 data_description and processing beside v1 documents copied from raw
    majors = {k: v.split(".")[0] for k, v in md.schema_versions.items()}
    if derived.schema == 2:
        assert majors["data_description"] == majors["processing"] == "2"
        assert majors["subject"] == majors["session"] == "1"
    # a derived asset's creation time is the UTC time of its name's suffix
    assert md.creation_time_utc.replace(tzinfo=None) == parse_name(derived.name).processed
    shown = run("metadata", session.name)
    assert shown.code == 0 and "UTC)" in shown.out
    assert session.acquired.strftime("%H:%M:%S") in shown.out
