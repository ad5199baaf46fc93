"""The aind-data-schema JSON generators of the synthetic world."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from ppdata.mirror.jsongen import (
    SCHEMA_VERSIONS,
    metadata_documents,
    qc_references,
    quality_control,
    visualization_output,
)

RAW = "ecephys_820454_2025-11-04_14-59-22"
SORTED = f"{RAW}_sorted_2025-02-02_02-02-02"
SLAP2 = "828408_2025-11-13_10-30-53"
REC = "experiment1_Record Node 101#Neuropix-PXI-100.Probe{}-AP_recording1"

V1_FILES = {
    "data_description.json",
    "subject.json",
    "procedures.json",
    "session.json",
    "rig.json",
    "processing.json",
    "metadata.nd.json",
}
V2_FILES = {
    "data_description.json",
    "subject.json",
    "procedures.json",
    "acquisition.json",
    "instrument.json",
    "processing.json",
    "metadata.nd.json",
}


def sorted_v1(**kw):
    return metadata_documents(
        SORTED,
        schema=1,
        platform="ecephys",
        subject_id="820454",
        acquired=datetime(2025, 1, 1, 1, 1, 1),
        process="sorted",
        processed=datetime(2025, 2, 2, 2, 2, 2),
        **kw,
    )


def slap2_v2(**kw):
    return metadata_documents(
        SLAP2,
        schema=2,
        platform=None,
        subject_id="828408",
        acquired=datetime(2025, 9, 9, 9, 9, 9),
        modalities=("slap", "behavior-videos"),
        **kw,
    )


def test_file_sets_per_schema():
    assert set(sorted_v1()) == V1_FILES
    assert set(slap2_v2()) == V2_FILES


def test_deterministic_for_a_seed():
    assert sorted_v1() == sorted_v1()
    assert json.dumps(sorted_v1(seed=1)) != json.dumps(sorted_v1(seed=2))


def test_documents_are_json_serializable():
    for docs in (sorted_v1(), slap2_v2()):
        for doc in docs.values():
            json.loads(json.dumps(doc))


def test_schema_versions_described_by_and_object_type():
    v1, v2 = sorted_v1(), slap2_v2()
    assert v1["data_description.json"]["schema_version"] == "1.0.4"
    assert v2["data_description.json"]["schema_version"] == "2.0.12"
    assert v2["acquisition.json"]["schema_version"] == "2.5.0"
    assert v1["metadata.nd.json"]["schema_version"] == "1.2.1"
    assert v2["metadata.nd.json"]["schema_version"] == "2.7.1"
    for doc in v1.values():
        assert "object_type" not in doc
        assert doc["describedBy"].startswith(
            "https://raw.githubusercontent.com/AllenNeuralDynamics"
        )
    for doc in v2.values():
        assert doc["object_type"]
        assert doc["schema_version"].startswith("2.")


def test_version_override():
    docs = slap2_v2(versions={"data_description": "2.3.3"})
    assert docs["data_description.json"]["schema_version"] == "2.3.3"
    assert SCHEMA_VERSIONS[2]["data_description"] == "2.0.12"


def test_v1_derived_data_description_and_processing():
    docs = sorted_v1()
    dd = docs["data_description.json"]
    assert dd["data_level"] == "derived"
    assert dd["input_data_name"] == RAW
    assert dd["process_name"] == "sorted"
    assert dd["platform"]["abbreviation"] == "ecephys"
    assert dd["modality"] == [
        {"name": "Extracellular electrophysiology", "abbreviation": "ecephys"}
    ]
    steps = docs["processing.json"]["processing_pipeline"]["data_processes"]
    assert "Spike sorting" in [s["name"] for s in steps]
    assert all(s["code_url"].startswith("https://github.com/") for s in steps)
    assert all(s["software_version"] for s in steps)


def test_v2_raw_layout():
    docs = slap2_v2()
    dd = docs["data_description.json"]
    assert dd["data_level"] == "raw"
    assert "platform" not in dd and "modality" not in dd
    assert [m["abbreviation"] for m in dd["modalities"]] == ["slap", "behavior-videos"]
    subject = docs["subject.json"]
    assert set(subject["subject_details"]) >= {"sex", "date_of_birth", "genotype", "species"}
    acq = docs["acquisition.json"]
    assert acq["acquisition_start_time"].startswith("2025-09-09T09:09:09")
    assert acq["instrument_id"] == docs["instrument.json"]["instrument_id"]
    step = docs["processing.json"]["data_processes"][0]
    assert step["code"]["url"] and step["code"]["version"]


def test_stimulus_epochs_default_given_and_none():
    assert len(sorted_v1()["session.json"]["stimulus_epochs"]) == 4
    given = sorted_v1(stimulus_epochs=[("Gratings", 10.0, 70.0)])["session.json"]
    (epoch,) = given["stimulus_epochs"]
    assert epoch["stimulus_name"] == "Gratings"
    assert epoch["stimulus_start_time"].startswith("2025-01-01T01:01:11")
    assert sorted_v1(stimulus_epochs=())["session.json"]["stimulus_epochs"] == []


def test_metadata_nd_holds_every_document_and_qc():
    qc = quality_control(schema=1, modality="ecephys", probes=["ProbeA"])
    docs = sorted_v1(quality_control=qc)
    nd = docs["metadata.nd.json"]
    assert nd["name"] == SORTED and nd["location"] == f"s3://aind-open-data/{SORTED}"
    assert nd["subject"] == docs["subject.json"]
    assert nd["session"] == docs["session.json"]
    assert nd["quality_control"] == qc
    assert slap2_v2()["metadata.nd.json"]["acquisition"]["object_type"] == "Acquisition"


def test_bad_schema_rejected():
    with pytest.raises(ValueError, match="schema"):
        metadata_documents(
            RAW, schema=3, platform="ecephys", subject_id="1", acquired=datetime.now()
        )


def test_quality_control_v1_shape():
    qc = quality_control(
        schema=1, modality="ecephys", probes=["ProbeA", "ProbeB"], fail=["ProbeB Drift map"]
    )
    assert qc["schema_version"] == "1.2.2"
    evaluations = qc["evaluations"]
    assert {e["stage"] for e in evaluations} == {"Raw data", "Processing"}
    by_name = {e["name"]: e for e in evaluations}  # grouped per metric type, not per probe
    assert list(by_name) == [
        "Raw Data",
        "PSD",
        "Noise",
        "Drift",
        "Saturation",
        "Unit Yield",
        "Firing Rate",
        "Sorting Curation",
    ]
    assert by_name["Drift"]["latest_status"] == "Fail"
    assert by_name["Saturation"]["latest_status"] == "Pass"
    assert by_name["Noise"]["latest_status"] == "Pass"  # RMS is passed by the pipeline
    assert by_name["Raw Data"]["latest_status"] == "Pending"
    raw_a, _raw_b = by_name["Raw Data"]["metrics"]
    assert raw_a["name"] == f"Raw data {REC.format('A')} "  # trailing space, as written
    assert set(raw_a) >= {"name", "value", "status_history", "description", "reference"}
    assert set(raw_a["status_history"][0]) == {"evaluator", "status", "timestamp"}
    assert raw_a["value"] == {
        "value": "",
        "options": ["Normal", "No spikes", "Noisy"],
        "status": ["Pass", "Fail", "Fail"],
        "type": "dropdown",
    }
    assert raw_a["reference"] == f"quality_control/{REC.format('A')}/traces_raw.png"


def test_quality_control_v2_4_shape():
    qc = quality_control(schema=2, modality="ecephys", probes=["ProbeA"], seed=3)
    assert qc["object_type"] == "Quality control" and qc["schema_version"] == "2.4.1"
    assert qc["default_grouping"] == [["stage", "probe"]]
    metrics = qc["metrics"]
    tag = "experiment1_ProbeA-AP_recording1"
    assert all(m["tags"] == {"probe": tag} for m in metrics)
    assert [m["name"] for m in metrics] == [
        f"Raw data {tag}",
        f"PSD {tag}",
        f"RMS {tag}",
        f"Probe Drift - {tag}",
        f"Saturation - {tag}",
        f"Unit Metrics Yield - {tag}",
        f"Firing rate - {tag}",
        f"Sorting Curation - {tag}",
    ]
    assert all(m["stage"] in ("Raw data", "Processing") for m in metrics)
    psd, saturation, curation = metrics[1], metrics[4], metrics[7]
    assert psd["value"] is None and saturation["value"] == {"value": "Pass"}
    assert curation["type"] == "Spike sorting curation"
    assert curation["curation_history"][0]["curator"] == "Ephys pipeline"
    assert isinstance(curation["value"], list) and "unit_ids" in curation["value"][0]
    assert curation["reference"].startswith("https://") and "%2F" in curation["reference"]
    assert qc["status"] == {
        f"probe:{tag}": "Pending",
        "ecephys": "Pending",
        "Raw data": "Pending",
        "Processing": "Pending",
    }
    assert f"quality_control/{REC.format('A')}/drift_map.png" in qc_references(qc)
    assert not any(r.startswith("http") for r in qc_references(qc))


def test_qc_references_v1_and_other_modalities():
    qc = quality_control(schema=1, modality="ecephys", probes=["ProbeC"])
    assert all(r.startswith(f"quality_control/{REC.format('C')}/") for r in qc_references(qc))
    ophys = quality_control(schema=2, modality="pophys", probes=["VISp_0"])
    assert ophys["schema_version"] == "2.0.6"
    assert ophys["metrics"][0]["tags"] == ["VISp_0"]  # 2.0.x: tags are a list of strings
    assert qc_references(ophys)[0].startswith("VISp_0/movie_qc/")


def test_visualization_output_links_and_missing_keys():
    recs = [REC.format(p) for p in "AB"]
    out = visualization_output(recs, missing={recs[1]: "timeseries"}, asset_name=SORTED)
    assert set(out[recs[0]]) == {"timeseries", "sorting_summary"}
    assert set(out[recs[1]]) == {"sorting_summary"}
    assert out[recs[0]]["sorting_summary"].startswith("https://figurl.org/f?v=")
    assert "sha1://" in out[recs[0]]["timeseries"]
    assert visualization_output(recs, missing={recs[0]: "all"})[recs[0]] == {}
    assert visualization_output(recs) == visualization_output(recs)


def test_sorted_v2_asset_mixes_majors_like_the_collector():
    docs = metadata_documents(
        SORTED,
        schema=2,
        platform="ecephys",
        subject_id="612345",
        acquired=datetime(2025, 1, 1, 1, 1, 1),
        process="sorted",
        processed=datetime(2025, 2, 2, 2, 2, 2),
    )
    majors = {name: doc["schema_version"].split(".")[0] for name, doc in docs.items()}
    assert majors == {
        "data_description.json": "2",
        "processing.json": "2",
        "metadata.nd.json": "2",
        # copied unchanged from the v1 raw asset
        "subject.json": "1",
        "procedures.json": "1",
        "session.json": "1",
        "rig.json": "1",
    }
    description = docs["data_description.json"]
    assert not {"platform", "process_name", "input_data_name"} & set(description)
    assert description["source_data"] == [RAW]
    assert {"license", "tags", "modalities", "data_summary"} <= set(description)


def test_times_local_for_acquisition_and_utc_for_processing():
    winter = sorted_v1()
    assert winter["session.json"]["session_start_time"] == "2025-01-01T01:01:01-08:00"
    assert winter["data_description.json"]["creation_time"] == "2025-02-02T02:02:02+00:00"
    summer = metadata_documents(
        "ecephys_612345_2025-07-01_09-30-00",
        schema=1,
        platform="ecephys",
        subject_id="612345",
        acquired=datetime(2025, 7, 1, 9, 30, 0),
    )
    assert summer["session.json"]["session_start_time"] == "2025-07-01T09:30:00-07:00"
    assert summer["data_description.json"]["creation_time"] == "2025-07-01T09:30:00-07:00"
