"""quality_control.json (v1 and v2) as one table; overall statuses; QC figures."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ppdata.errors import MetadataError
from ppdata.meta.qc import (
    QC_COLUMNS,
    QCStatus,
    overall_status,
    qc_figures,
    qc_table,
    read_quality_control,
    session_status,
)
from ppdata.mirror.jsongen import qc_references, quality_control

PROBES = ["ProbeA", "ProbeB"]


REC = "experiment1_Record Node 101#Neuropix-PXI-100.{}-AP_recording1"


@pytest.mark.parametrize("schema", [1, 2])
def test_generated_ephys_qc_to_table(schema):
    doc = quality_control(
        schema=schema, modality="ecephys", probes=PROBES, fail=["ProbeB Drift map"], seed=4
    )
    qc = read_quality_control(json.dumps(doc).encode())
    table = qc.table
    assert tuple(table.columns) == QC_COLUMNS
    assert len(table) == 16  # 8 metric types x 2 probes
    assert set(table["stage"]) == {"Raw data", "Processing"}
    assert set(table["modality"]) == {"ecephys"}
    # plain probe names and the recording in its own column, whatever the version
    assert set(table["probe"]) == set(PROBES)
    assert set(table["recording"]) == {f"experiment1_{p}-AP_recording1" for p in PROBES}
    assert set(table["figure"].dropna()) >= set(qc_references(doc))
    assert all(f.startswith(("quality_control/", "https://")) for f in table["figure"].dropna())
    failed = qc.failing()
    (row,) = failed[failed["status"] == "Fail"].itertuples()
    assert row.probe == "ProbeB" and row.evaluator == "Jerome Lecoq"
    assert row.figure == f"quality_control/{REC.format('ProbeB')}/drift_map.png"
    assert row.value["type"] == "dropdown" and row.value["value"] in row.value["options"]
    assert isinstance(row.timestamp, pd.Timestamp)
    assert qc.status is QCStatus.FAIL
    assert qc.schema_version == ("1.2.2" if schema == 1 else "2.4.1")
    # mostly Pending: dropdowns nobody has answered yet
    assert (table["status"] == "Pending").sum() > len(table) / 2
    per_probe = qc.by_probe()
    assert list(per_probe["probe"]) == PROBES
    assert list(per_probe["status"]) == ["Pending", "Fail"]
    assert list(per_probe["metrics"]) == [8, 8]


def test_v1_and_v2_give_the_same_per_probe_view():
    views = [
        read_quality_control(
            quality_control(schema=s, modality="ecephys", probes=PROBES)
        ).by_probe()
        for s in (1, 2)
    ]
    pd.testing.assert_frame_equal(views[0], views[1])


def test_v1_groups_per_metric_type_and_v2_status_keys():
    v1 = read_quality_control(quality_control(schema=1, modality="ecephys", probes=["ProbeA"]))
    assert set(v1.groups) == {
        "Raw Data",
        "PSD",
        "Noise",
        "Drift",
        "Saturation",
        "Unit Yield",
        "Firing Rate",
        "Sorting Curation",
    }
    assert v1.table["evaluation"].notna().all()
    # metric names embed the full recording name; the trailing space of the real files is
    # stripped in the table
    raw = v1.table.set_index("evaluation").loc["Raw Data", "metric"]
    assert raw == f"Raw data {REC.format('ProbeA')}"
    v2 = read_quality_control(quality_control(schema=2, modality="ecephys", probes=["ProbeA"]))
    assert set(v2.groups) == {
        "probe:experiment1_ProbeA-AP_recording1",
        "ecephys",
        "Raw data",
        "Processing",
    }
    assert v2.table["evaluation"].isna().all()
    assert v2.table.loc[0, "tags"] == {"probe": "experiment1_ProbeA-AP_recording1"}
    assert v2.status is QCStatus.PENDING


def test_v2_0_list_tags_still_give_the_probe():
    doc = {
        "schema_version": "2.0.6",
        "metrics": [
            {
                "name": "Drift",
                "stage": "Raw data",
                "value": None,
                "tags": ["experiment1_ProbeD-AP_recording1", "drift"],
                "status_history": [{"status": "Pending"}],
            }
        ],
    }
    row = read_quality_control(doc).table.iloc[0]
    assert row["tags"] == {"tag_1": "experiment1_ProbeD-AP_recording1", "tag_2": "drift"}
    assert (row["probe"], row["recording"]) == ("ProbeD", "experiment1_ProbeD-AP_recording1")


def test_full_recording_names_with_other_record_nodes():
    rec = "experiment2_Record Node 103#Neuropix-PXI-101.ProbeF-AP_recording3"
    doc = {
        "evaluations": [
            {
                "name": "Drift",
                "stage": "Raw data",
                "metrics": [
                    {"name": f"Drift {rec} ", "value": None, "status_history": [{"status": "Pass"}]}
                ],
            }
        ]
    }
    row = read_quality_control(doc).table.iloc[0]
    assert (row["probe"], row["recording"]) == ("ProbeF", "experiment2_ProbeF-AP_recording3")
    assert row["metric"] == f"Drift {rec}"


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
    assert qc.table.loc[0, "tags"] == {"tag_1": "video", "tag_2": "eye"}  # 2.0.x list tags
    assert qc.table.loc[0, "probe"] is None
    assert qc.table.loc[1, "status"] is None and qc.table.loc[1, "modality"] is None
    assert pd.isna(qc.table.loc[0, "timestamp"])
    assert qc.status is QCStatus.PENDING  # from the group status


def test_group_fail_wins_over_passing_metrics():
    doc = quality_control(schema=2, modality="pophys", probes=["VISp_0"])
    assert read_quality_control(doc).status is QCStatus.PASS
    doc["status"] = {"VISp_0": "Fail"}
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
    a, b = REC.format("ProbeA"), REC.format("ProbeB")
    keys = [
        f"{asset}/quality_control/{b}/drift_map.png",
        f"{asset}/quality_control/{a}/unit_yield.png",
        f"{asset}/quality_control/{a}/drift_map.png",
        f"{asset}/quality_control/{a}/notes.txt",
        f"{asset}/quality_control.json",
        f"{asset}/visualization/{a}/traces.png",
        "quality_control/ProbeC/psd.png",
        "quality_control/summary/overview.png",
    ]
    figures = qc_figures(keys)
    assert list(figures) == ["ProbeA", "ProbeB", "ProbeC", "summary"]
    assert figures["ProbeA"] == [
        f"{asset}/quality_control/{a}/drift_map.png",
        f"{asset}/quality_control/{a}/unit_yield.png",
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
    from ppdata.meta.qc import get_quality_control, get_session_quality_control

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
            assert qc.status == asset.qc_status, asset.name
            if asset.kind == "sorted":
                assert list(qc.by_probe()["probe"]) == sorted(asset.probes)
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


def test_cli_qc_per_probe(run, world):
    from ppdata.mirror.world import EPHYS_REPROCESSED

    asset = world.session(EPHYS_REPROCESSED).current("sorted")
    result = run("qc", asset.name, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    per_probe = report["probes"][asset.name]
    assert [row["probe"] for row in per_probe] == sorted(asset.probes)
    assert all(row["recording"].endswith("-AP_recording1") for row in per_probe)
    assert {m["probe"] for m in report["metrics"]} == set(asset.probes)
    table = run("qc", asset.name, "--figures")
    assert table.code == 0 and "QC per probe" in table.out and "QC figures" in table.out
