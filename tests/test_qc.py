"""quality_control.json (v1 and v2) as one table; overall statuses; QC figures."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ppdata.errors import MetadataError
from ppdata.mirror.jsongen import qc_references, quality_control
from ppdata.qc import (
    QC_COLUMNS,
    QCStatus,
    overall_status,
    qc_figures,
    qc_table,
    read_quality_control,
    session_status,
)

PROBES = ["ProbeA", "ProbeB"]


@pytest.mark.parametrize("schema", [1, 2])
def test_generated_qc_to_table(schema):
    doc = quality_control(
        schema=schema, modality="ecephys", probes=PROBES, fail=["ProbeB Drift map"], seed=4
    )
    qc = read_quality_control(json.dumps(doc).encode())
    table = qc.table
    assert tuple(table.columns) == QC_COLUMNS
    assert len(table) == 10
    assert set(table["stage"]) == {"Raw data", "Processing"}
    assert set(table["modality"]) == {"ecephys"}
    assert set(table["probe"]) == set(PROBES)
    assert set(table["figure"]) == set(qc_references(doc))
    row = table.set_index("metric").loc["ProbeB Drift map"]
    assert row["status"] == "Fail" and row["evaluator"] == "Jerome Lecoq"
    assert row["figure"] == "quality_control/ProbeB/drift_map.png"
    assert isinstance(row["timestamp"], pd.Timestamp)
    assert qc.status is QCStatus.FAIL
    assert qc.schema_version == ("1.2.2" if schema == 1 else "2.0.6")
    assert list(qc.failing()["metric"]) == ["ProbeB Drift map"]


def test_v1_groups_are_evaluations_and_v2_groups_are_status():
    v1 = read_quality_control(quality_control(schema=1, modality="ecephys", probes=["ProbeA"]))
    assert v1.groups == {"Raw data ProbeA": QCStatus.PASS, "Processing ProbeA": QCStatus.PASS}
    assert v1.table["evaluation"].notna().all()
    doc = quality_control(schema=2, modality="ecephys", probes=["ProbeA"], pending=["PSD"])
    v2 = read_quality_control(doc)
    assert v2.groups == {"Raw data": QCStatus.PENDING, "Processing": QCStatus.PASS}
    assert v2.table["evaluation"].isna().all()
    assert v2.table.loc[0, "tags"] == {"probe": "ProbeA"}
    assert v2.status is QCStatus.PENDING


def test_hand_written_v1_real_shape():
    doc = {
        "describedBy": "https://raw.githubusercontent.com/AllenNeuralDynamics/aind-data-schema/main/src/aind_data_schema/core/quality_control.py",
        "schema_version": "1.1.1",
        "evaluations": [
            {
                "modality": {"name": "Extracellular electrophysiology", "abbreviation": "ecephys"},
                "stage": "Raw data",
                "name": "Probe drift - ProbeC",
                "metrics": [
                    {
                        "name": "Drift",
                        "value": {"value": "", "options": ["Low", "High"], "type": "dropdown"},
                        "reference": None,
                        "status_history": [
                            {
                                "evaluator": "Automated",
                                "status": "Pass",
                                "timestamp": "2024-06-01T10:00:00Z",
                            },
                            {
                                "evaluator": "A. Person",
                                "status": "Fail",
                                "timestamp": "2024-06-03T10:00:00Z",
                            },
                        ],
                    },
                    {"name": "Yield", "value": 120, "status_history": None},
                ],
                "latest_status": "Fail",
            }
        ],
    }
    qc = read_quality_control(doc)
    rows = qc.table.set_index("metric")
    assert rows.loc["Drift", "status"] == "Fail"
    assert rows.loc["Drift", "evaluator"] == "A. Person"
    assert rows.loc["Drift", "probe"] == "ProbeC"  # from the evaluation name
    assert rows.loc["Drift", "figure"] is None
    assert rows.loc["Yield", "status"] == "Fail"  # no history: the evaluation's latest_status
    assert rows.loc["Yield", "modality"] == "ecephys"
    assert qc.status is QCStatus.FAIL


def test_hand_written_v2_variants():
    doc = {
        "object_type": "Quality control",
        "schema_version": "2.4.1",
        "metrics": [
            {
                "name": "Pupil tracking",
                "modality": "behavior-videos",
                "stage": "Processing",
                "value": None,
                "status_history": [{"evaluator": "Automated", "status": "Pass", "timestamp": None}],
                "reference": "Eye/eye_qc.png",
                "tags": ["video", "eye"],
            },
            {"name": "Frame drops", "modality": None, "stage": "Raw data", "value": 0},
        ],
        "status": {"Raw data": "Pending"},
    }
    qc = read_quality_control(doc)
    assert qc.table.loc[0, "tags"] == {"0": "video", "1": "eye"}
    assert qc.table.loc[0, "probe"] is None
    assert qc.table.loc[1, "status"] is None and qc.table.loc[1, "modality"] is None
    assert pd.isna(qc.table.loc[0, "timestamp"])
    assert qc.status is QCStatus.PENDING  # from the group status


def test_group_fail_wins_over_passing_metrics():
    doc = quality_control(schema=2, modality="ecephys", probes=["ProbeA"])
    doc["status"] = {"ProbeA": "Fail"}
    assert read_quality_control(doc).status is QCStatus.FAIL
    assert overall_status(doc) is QCStatus.FAIL


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["Pass", "Pass"], QCStatus.PASS),
        (["Pass", "Pending"], QCStatus.PENDING),
        (["Pending", "Fail", "Pass"], QCStatus.FAIL),
        (["pass", "Needs review"], QCStatus.PENDING),  # unknown words need a look
        ([None, "Pass"], QCStatus.PASS),
        ([], None),
        ([None], None),
    ],
)
def test_overall_status_rule(statuses, expected):
    assert overall_status(statuses) is expected


def test_overall_status_of_a_table():
    table = qc_table(quality_control(schema=1, modality="pophys", probes=["VISp_0"]))
    assert overall_status(table) is QCStatus.PASS
    assert overall_status(table.iloc[0:0]) is None


def test_session_status_combines_assets():
    passing = read_quality_control(quality_control(schema=2, modality="ecephys"))
    pending = read_quality_control(
        quality_control(schema=1, modality="behavior", pending=["Running wheel"])
    )
    assert session_status({"raw": passing, "sorted": None}) is QCStatus.PASS
    assert session_status({"a": passing, "b": pending, "c": None}) is QCStatus.PENDING
    assert session_status([passing, "Fail"]) is QCStatus.FAIL
    assert session_status({"a": None}) is None
    assert session_status([MetadataError("x.json: bad"), passing]) is QCStatus.PASS


def test_qc_figures_per_probe():
    asset = "ecephys_820454_2025-11-04_14-59-22_sorted_2025-11-19_21-40-12"
    keys = [
        f"{asset}/quality_control/ProbeB/drift_map.png",
        f"{asset}/quality_control/ProbeA/unit_yield.png",
        f"{asset}/quality_control/ProbeA/drift_map.png",
        f"{asset}/quality_control/ProbeA/notes.txt",
        f"{asset}/quality_control.json",
        f"{asset}/visualization/ProbeA/traces.png",
        "quality_control/ProbeC/psd.png",
    ]
    figures = qc_figures(keys)
    assert list(figures) == ["ProbeA", "ProbeB", "ProbeC"]
    assert figures["ProbeA"] == [
        f"{asset}/quality_control/ProbeA/drift_map.png",
        f"{asset}/quality_control/ProbeA/unit_yield.png",
    ]
    assert qc_figures([]) == {}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"{not json", r"quality_control\.json: not valid JSON"),
        (b"[]", r"quality_control\.json: expected a JSON object"),
        (b'{"schema_version": "2.0.6"}', "neither key 'evaluations'"),
        (b'{"metrics": {"a": 1}}', r"key 'metrics': expected a list"),
        (b'{"metrics": ["x"]}', r"key metrics\[0\]: expected a metric object"),
        (b'{"evaluations": [{"metrics": 3}]}', r"evaluations\[0\]\.metrics"),
        (b'{"metrics": [], "status": "Pass"}', "key 'status'"),
        (b'{"metrics": [{"status_history": "Pass"}]}', r"metrics\[0\]\.status_history"),
    ],
)
def test_malformed_qc_names_file_and_key(data, match):
    with pytest.raises(MetadataError, match=match):
        read_quality_control(data)


def test_error_uses_given_file_name():
    with pytest.raises(MetadataError, match=r"asset_x/quality_control\.json"):
        read_quality_control(b"{", file="asset_x/quality_control.json")


# Against the synthetic world on the local S3 server.


def test_world_qc_over_s3(client, world):
    from ppdata.qc import get_quality_control, get_session_quality_control

    checked = 0
    for session in world.on_s3:
        names = [a.name for a in session.assets]
        found = get_session_quality_control(client, names)
        assert list(found) == names
        for asset in session.assets:
            qc = found[asset.name]
            if asset.qc_schema is None:
                assert qc is None
                continue
            checked += 1
            assert qc.schema_version.startswith(f"{asset.qc_schema}.")
            expected = "Fail" if asset.qc_fail else "Pending" if asset.qc_pending else "Pass"
            assert qc.status == expected, asset.name
            assert get_quality_control(client, asset.name).table.equals(qc.table)
        statuses = [q for q in found.values() if q is not None]
        if statuses:
            assert session_status(found) is not None
    assert checked


def test_world_qc_figures_of_sorted_assets(client, world):
    sorted_assets = [a for a in world.assets if a.kind == "sorted"]
    assert sorted_assets
    for asset in sorted_assets:
        keys = [o.key for o in client.list_objects(f"{asset.name}/quality_control/")]
        figures = qc_figures(keys)
        assert list(figures) == sorted(asset.probes)
        assert all(k.endswith(".png") for ks in figures.values() for k in ks)
