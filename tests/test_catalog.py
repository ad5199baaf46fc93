"""The local catalog against real S3 servers: the synthetic world's mirror, and small buckets
of our own (the mirror's bucket is read-only, so changes are made in a bucket we own)."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from ppdata.errors import BucketUnreachable, CatalogError, SessionNotFound
from ppdata.find.assets import find_assets
from ppdata.find.catalog import (
    SCHEMA_VERSION,
    Catalog,
    CatalogWarning,
    InvalidFilter,
    _refresh,
    _schema,
    format_age,
)
from ppdata.meta.qc import session_status
from ppdata.mirror.server import MirrorServer, _moto_backend, load_directory
from ppdata.mirror.world import (
    EPHYS_COMPLETE,
    EPHYS_REPROCESSED,
    MESOSCOPE_A,
    MESOSCOPE_B,
    NOT_ON_S3,
    SLAP2_PILOT,
    SLAP2_SESSION,
)
from ppdata.remote.s3 import S3Client
from ppdata.settings import Settings

MATRIX = ("raw", "sorted", "planar-ophys", "behavior-videos", "behavior-timing", "nwb", "ccf")


@pytest.fixture
def catalog(settings: Settings) -> Catalog:
    return Catalog(settings)


@pytest.fixture
def filled(catalog: Catalog, client: S3Client) -> Catalog:
    catalog.refresh(client=client)
    return catalog


# -- against the synthetic world ------------------------------------------------------------


def test_refresh_builds_the_table_of_the_world(catalog, client, world):
    report = catalog.refresh(client=client)
    frame = catalog.sessions().set_index("session")
    assert sorted(frame.index) == sorted(s.name for s in world.sessions)
    assert report.missing == [NOT_ON_S3]
    assert report.discovered == []  # look-alikes of other subjects/projects never match
    assert sorted(report.new) == sorted(s.name for s in world.sessions)
    for s in world.sessions:
        row = frame.loc[s.name]
        assert row["subject"] == s.subject_id
        assert row["acquired"] == s.acquired
        assert bool(row["on_s3"]) is s.on_s3
        assert bool(row["in_spreadsheet"])
        assert row["n_assets"] == len(s.assets)
        assert set(row["kinds"]) == s.kinds
        for kind in MATRIX:
            assert bool(row[f"has_{kind.replace('-', '_')}"]) is (kind in s.kinds)
            current = row[f"current_{kind.replace('-', '_')}"]
            if kind in s.kinds:
                assert current == s.current(kind).name
        assert (row["qc_status"] if isinstance(row["qc_status"], str) else "") == (s.spreadsheet_qc)
        expected_qc = session_status([s.current(k).qc_status for k in s.kinds if k != "unknown"])
        got = row["asset_qc_status"] if isinstance(row["asset_qc_status"], str) else None
        assert got == (str(expected_qc) if expected_qc else None), s.name
    assert frame.loc[NOT_ON_S3, "n_assets"] == 0
    assert frame.loc[SLAP2_SESSION, "platform"] == "SLAP2"  # unprefixed: from the spreadsheet
    assert frame.loc[MESOSCOPE_A, "modality"] == "Mesoscope"
    assert "Z-drift" in frame.loc[MESOSCOPE_B, "notes"]


def test_second_refresh_makes_only_the_root_listings(filled, client, world):
    client.stats.reset()
    report = filled.refresh(client=client)
    subjects = {s.subject_id for s in world.sessions}
    assert client.stats.requests == {"ListObjectsV2": len(subjects)}
    assert (report.content_listings, report.qc_reads, report.root_listings) == (0, 0, len(subjects))
    assert report.unchanged == len(world.sessions) and not report.new and not report.changed


def test_full_refresh_reads_everything_again(filled, client, world):
    client.stats.reset()
    report = filled.refresh(client=client, full=True)
    processed = [a for a in world.assets if "_processed_" in a.name]
    assert report.content_listings == len(processed)
    assert sorted(report.changed) == sorted(s.name for s in world.sessions)
    assert filled.info().sessions == len(world.sessions)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"platform": "neuropixels"}, {EPHYS_REPROCESSED, EPHYS_COMPLETE, NOT_ON_S3}),
        ({"platform": ["Mesoscope"]}, {MESOSCOPE_A, MESOSCOPE_B}),
        ({"platform": "multiplane-ophys", "qc": "fail"}, {MESOSCOPE_B}),
        ({"platform": "slap2"}, {SLAP2_SESSION, SLAP2_PILOT}),
        ({"has": ["sorted", "ccf"]}, {EPHYS_COMPLETE}),
        ({"has": "nwb"}, {EPHYS_COMPLETE}),
        ({"has": "planar-ophys"}, {MESOSCOPE_A, MESOSCOPE_B}),
        ({"subject": "832700"}, {MESOSCOPE_A}),
        ({"since": "2026-01-24", "until": "2026-03-05"}, {MESOSCOPE_A, MESOSCOPE_B}),
        ({"until": "2025-11-04"}, {EPHYS_REPROCESSED, SLAP2_PILOT}),
        ({"qc": "none"}, {SLAP2_SESSION, SLAP2_PILOT}),
        ({"search": "z-DRIFT"}, {MESOSCOPE_B}),
        ({"search": "820454_2025"}, {EPHYS_REPROCESSED}),
        ({"on_s3": False}, {NOT_ON_S3}),
        ({"asset_qc": "Fail"}, {MESOSCOPE_B}),
    ],
)
def test_filters(filled, filters, expected):
    assert set(filled.sessions(**filters)["session"]) == expected


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"platform": "ecephis"}, "unknown platform"),
        ({"has": "spikes"}, "unknown asset kind"),
        ({"since": "last tuesday"}, "cannot read the date"),
    ],
)
def test_bad_filters_say_what_is_wrong(filled, filters, message):
    with pytest.raises(InvalidFilter, match=message):
        filled.sessions(**filters)


def test_qc_filters_take_known_statuses_and_those_in_the_catalog(filled):
    """A QC status is checked without a look-up when it is a known one (or blank); any other
    must be in the catalog, case aside, and a typo names the valid ones."""
    import sqlite3

    with pytest.raises(InvalidFilter, match=r"--qc 'passed' is not a QC status; use one of .*Pass"):
        filled.sessions(qc="passed")
    con = sqlite3.connect(filled.settings.catalog_path)
    with con:
        con.execute(
            "UPDATE sessions SET qc_status = 'Needs review' WHERE session = ?", (MESOSCOPE_A,)
        )
    con.close()
    fresh = Catalog(filled.settings)
    assert set(fresh.sessions(qc="needs REVIEW")["session"]) == {MESOSCOPE_A}
    assert MESOSCOPE_A not in set(fresh.sessions(qc=["pass", "FAIL", "pending", "none"])["session"])
    with pytest.raises(InvalidFilter, match="Needs review"):
        fresh.sessions(qc=["Pass", "need review"])


def test_did_you_mean(filled, client):
    typo = EPHYS_REPROCESSED.replace("820454", "820445")
    assert filled.suggest(typo)[0] == EPHYS_REPROCESSED
    assert (
        filled.suggest(MESOSCOPE_A.replace("12-06-12", "12-06-13") + "_sorted_2025-01-01_01-01-01")[
            0
        ]
        == MESOSCOPE_A
    )
    assert filled.suggest("zzz") == []
    with pytest.raises(SessionNotFound, match=EPHYS_REPROCESSED):
        find_assets(typo, client=client, suggest=filled.suggest)
    with pytest.raises(SessionNotFound, match="did you mean"):
        filled.get_session(typo)
    assert filled.get_session(MESOSCOPE_A)["assets"]["planar-ophys"] == (
        "multiplane-ophys_832700_2026-01-24_12-06-12_processed_2026-03-28_02-17-32"
    )


def test_garbage_file_is_rebuilt_with_a_warning(settings, client):
    path = settings.catalog_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    catalog = Catalog(settings)
    with pytest.warns(CatalogWarning, match="rebuilt"):
        assert catalog.is_empty
    assert "not a readable SQLite database" in catalog.warnings[0]
    assert Path(f"{path}.bad").exists()
    catalog.refresh(client=client)
    assert not catalog.is_empty


def test_truncated_file_is_rebuilt_with_a_warning(filled):
    data = filled.path.read_bytes()
    filled.path.write_bytes(data[: len(data) // 2])
    catalog = Catalog(filled.settings)
    with pytest.warns(CatalogWarning, match="rebuilt"):
        info = catalog.info()
    assert info.sessions == 0 and catalog.warnings


def test_foreign_sqlite_file_is_rebuilt(settings):
    settings.catalog_path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(settings.catalog_path)
    con.execute("CREATE TABLE something (a, b)")
    con.commit()
    con.close()
    with pytest.warns(CatalogWarning, match="no meta table"):
        assert Catalog(settings).info().schema_version == SCHEMA_VERSION


@pytest.mark.parametrize("version", ["0", "999", "x"])
def test_unknown_schema_version_is_rebuilt(filled, version):
    con = sqlite3.connect(filled.path)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    con.commit()
    con.close()
    catalog = Catalog(filled.settings)
    with pytest.warns(CatalogWarning, match="schema"):
        assert catalog.is_empty


def test_schema_migration_keeps_the_data(filled, monkeypatch):
    steps = []
    monkeypatch.setattr(_schema, "SCHEMA_VERSION", _schema.SCHEMA_VERSION + 1)
    monkeypatch.setitem(
        _schema.MIGRATIONS, _schema.SCHEMA_VERSION - 1, lambda con: steps.append(con)
    )
    catalog = Catalog(filled.settings)
    info = catalog.info()  # no warning: filterwarnings=error would fail the test
    assert len(steps) == 1 and info.schema_version == _schema.SCHEMA_VERSION
    assert info.sessions > 0 and not catalog.warnings


def test_empty_catalog_and_unreachable_endpoint(tmp_path):
    dead = Settings(
        endpoint_url="http://127.0.0.1:9",
        cache_dir=tmp_path,
        retries=0,
        connect_timeout=1,
        spreadsheet=None,
    )
    catalog = Catalog(dead)
    with pytest.raises(CatalogError, match="ppdata catalog refresh"):
        catalog.sessions()
    with S3Client(dead) as client, pytest.raises(CatalogError, match="mirror"):
        catalog.refresh(["ecephys_820454_2025-11-04_14-59-22"], client=client)


def test_cli_sessions_json_fills_an_empty_catalog(run, world):
    result = run("sessions", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert {r["session"] for r in rows} == {s.name for s in world.sessions}
    keys = {
        "session",
        "platform",
        "modality",
        "subject",
        "acquired",
        "qc_status",
        "asset_qc_status",
        "on_s3",
        "in_spreadsheet",
        "n_assets",
        "kinds",
        "assets",
        "notes",
        "refreshed_at",
    }
    assert all(set(r) == keys for r in rows)
    complete = next(r for r in rows if r["session"] == EPHYS_COMPLETE)
    assert set(complete["kinds"]) == {"raw", "sorted", "ccf", "nwb"}
    assert complete["assets"]["ccf"] == "ecephys_820459_ccf"
    assert complete["acquired"] == "2025-11-12T14:34:33"
    missing = next(r for r in rows if r["session"] == NOT_ON_S3)
    assert missing["on_s3"] is False and missing["kinds"] == []
    assert "empty" in result.err and "catalog refreshed" in result.err


def test_cli_sessions_table_and_filters(run):
    result = run("sessions", "--platform", "mesoscope", "--has", "planar-ophys,behavior-videos")
    assert result.code == 0, result.err
    assert MESOSCOPE_A in result.out and MESOSCOPE_B in result.out
    assert EPHYS_COMPLETE not in result.out
    assert "✓" in result.out and "catalog refreshed" in result.out
    result = run("sessions", "--missing", "--json")
    assert [r["session"] for r in json.loads(result.out)] == [NOT_ON_S3]
    result = run("sessions", "--platform", "ecephis")
    assert result.code == 1 and "unknown platform" in result.err


def test_cli_catalog_refresh_and_info(run, world):
    first = run("catalog", "refresh", "--json")
    assert first.code == 0, first.err
    assert len(json.loads(first.out)["new"]) == len(world.sessions)
    again = json.loads(run("catalog", "refresh", "--json").out)
    assert again["content_listings"] == 0 and again["unchanged"] == len(world.sessions)
    info = json.loads(run("catalog", "info", "--json").out)
    assert info["sessions"] == len(world.sessions) and info["missing"] == 1
    assert info["schema_version"] == SCHEMA_VERSION and info["size_bytes"] > 0
    assert info["age"] in ("just now",) or info["age"].endswith("s ago")
    table = run("catalog", "info")
    assert "schema version" in table.out and "last refresh" in table.out
    typo = run("catalog", "refresh", EPHYS_REPROCESSED.replace("14-59-22", "14-59-23", 1))
    assert typo.code == 1 and "did you mean" in typo.err and EPHYS_REPROCESSED in typo.err


def test_cli_prints_the_rebuild_warning(run, settings):
    settings.catalog_path.parent.mkdir(parents=True, exist_ok=True)
    settings.catalog_path.write_bytes(b"garbage")
    result = run("catalog", "info")
    assert result.code == 0
    assert result.err.count("Warning:") == 1 and "rebuilt" in result.err


def test_format_age():
    from datetime import timedelta

    assert format_age(None) == "never"
    assert format_age(timedelta(seconds=3)) == "just now"
    assert format_age(timedelta(seconds=42)) == "42 s ago"
    assert format_age(timedelta(hours=5, minutes=3)) == "5 h ago"
    assert format_age(timedelta(days=2, hours=1)) == "2 days ago"


# -- against a small bucket of our own, changed between refreshes ----------------------------

E = "ecephys_700001_2025-01-01_01-01-01"
M = "multiplane-ophys_700002_2025-03-03_03-03-03"
S = "700003_2025-05-05_05-05-05"  # unprefixed, and the spreadsheet has no modality column
GONE = "ecephys_700009_2025-07-07_07-07-07"
_QC_PASS = json.dumps(
    {
        "schema_version": "2.0.6",
        "metrics": [
            {
                "name": "yield",
                "stage": "Processing",
                "modality": {"abbreviation": "ecephys"},
                "value": 1,
                "status_history": [
                    {"status": "Pass", "evaluator": "x", "timestamp": "2025-01-01T00:00:00"}
                ],
            }
        ],
        "status": {},
    }
).encode()
_TINY = {
    f"{E}/data_description.json": b"{}",
    f"{E}_sorted_2025-02-02_02-02-02/quality_control.json": _QC_PASS,
    "ecephys_700001_ccf/ccf.json": b"{}",
    f"{M}/pophys/x.h5": b"x",
    f"{M}_processed_2025-04-04_04-04-04/VISp_0/x.h5": b"x",
    f"{M}_processed_2025-04-05_04-04-04/Eye/x.png": b"x",
    f"{M}_processed_2025-04-05_04-04-04/Face/x.png": b"x",
    f"{M}_processed_2025-04-06_04-04-04/a_timing_plot.png": b"x",
    f"{M}_processed_2025-04-06_04-04-04/metrics.json": b"{}",
    f"{S}/slap2/dynamic_data/x.tif": b"x",
    "ecephys_7000011_2025-01-01_01-01-01/x.json": b"{}",  # look-alike subject
}
_counter = itertools.count()


@pytest.fixture(scope="module")
def server():
    with MirrorServer() as running:
        yield running


@pytest.fixture
def own(server, tmp_path):
    """A fresh bucket holding the tiny layout, settings and a client for it."""
    bucket = f"catalog-test-{next(_counter)}"
    folder = tmp_path / "bucket"
    for key, data in _TINY.items():
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).write_bytes(data)
    load_directory(server.endpoint_url, bucket, folder, in_process=True)
    sheet = tmp_path / "tracking.csv"
    rows = ["Date,Mouse,C,D,E,F,G,New Session id (Code Ocean),QC status,Notes"]
    rows += [
        f"d,m,c,d,e,f,g,{s},{q},{n}"
        for s, q, n in (
            (E, "Pass", "good"),
            (M, "Fail", "z drift"),
            (S, "", ""),
            (GONE, "Pending", "later"),
        )
    ]
    sheet.write_text("\n".join(rows) + "\n")
    settings = Settings(
        endpoint_url=server.endpoint_url,
        bucket=bucket,
        retries=1,
        cache_dir=tmp_path / "cache",
        spreadsheet=str(sheet),
    )
    with S3Client(settings) as client:
        yield settings, client, bucket


def _put(bucket: str, key: str, data: bytes = b"x") -> None:
    _moto_backend().put_object(bucket, key, data)


def test_tiny_bucket_first_refresh(own):
    settings, client, _ = own
    catalog = Catalog(settings)
    report = catalog.refresh(client=client)
    assert report.root_listings == 4  # one per subject prefix, never the bucket
    assert report.content_listings == 3 + 1  # three _processed_ assets + S's raw folder
    frame = catalog.sessions().set_index("session")
    assert frame.loc[S, "platform"] == "SLAP2"  # found from the raw folder's slap2/
    assert set(frame.loc[M, "kinds"]) == {
        "raw",
        "planar-ophys",
        "behavior-videos",
        "behavior-timing",
    }
    assert set(frame.loc[E, "kinds"]) == {"raw", "sorted", "ccf"}
    assert frame.loc[E, "asset_qc_status"] == "Pass"
    assert not frame.loc[GONE, "on_s3"]
    assert "ecephys_7000011_2025-01-01_01-01-01" not in frame.index


def test_added_asset_is_the_only_thing_read_again(own):
    settings, client, bucket = own
    catalog = Catalog(settings)
    catalog.refresh(client=client)
    _put(bucket, f"{M}_processed_2025-08-08_08-08-08/VISp_0/x.h5")
    client.stats.reset()
    report = catalog.refresh(client=client)
    assert report.changed == [M] and report.unchanged == 3
    assert (report.root_listings, report.content_listings, report.qc_reads) == (4, 1, 1)
    assert client.stats.requests == {"ListObjectsV2": 5, "GetObject": 1}
    row = catalog.sessions(subject="700002").iloc[0]
    assert row["current_planar_ophys"] == f"{M}_processed_2025-08-08_08-08-08"
    assert row["n_assets"] == 5


def test_new_session_of_a_known_subject_is_discovered(own):
    settings, client, bucket = own
    catalog = Catalog(settings)
    catalog.refresh(client=client)
    new = "ecephys_700001_2025-06-06_06-06-06"
    _put(bucket, f"{new}/data_description.json", b"{}")
    report = catalog.refresh(client=client)
    assert report.discovered == [new] and report.new == [new]
    row = catalog.sessions(search=new).iloc[0]
    assert not row["in_spreadsheet"] and set(row["kinds"]) == {"raw", "ccf"}
    _moto_backend().delete_object(bucket, f"{new}/data_description.json")
    assert catalog.refresh(client=client).removed == [new]
    assert new not in set(catalog.sessions()["session"])


def test_refresh_of_named_sessions_lists_only_their_subjects(own):
    settings, client, _ = own
    catalog = Catalog(settings)
    report = catalog.refresh([f"{M}_processed_2025-04-04_04-04-04"], client=client)
    assert report.root_listings == 1 and report.new == [M]
    assert list(catalog.sessions()["session"]) == [M]
    report = catalog.refresh(["ecephys_799999_2025-01-01_01-01-01"], client=client)
    assert report.not_found == ["ecephys_799999_2025-01-01_01-01-01"] and report.sessions == 0


def test_failed_write_leaves_the_previous_catalog(own, monkeypatch):
    settings, client, bucket = own
    catalog = Catalog(settings)
    catalog.refresh(client=client)
    before = catalog.sessions()
    _put(bucket, f"{E}_nwb_2025-09-09_09-09-09/x.nwb")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_refresh, "write_session", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        catalog.refresh(client=client)
    after = catalog.sessions()
    assert after.drop(columns="refreshed_at").equals(before.drop(columns="refreshed_at"))
    assert (after["refreshed_at"] == before["refreshed_at"]).all()


def test_readers_are_not_blocked_by_a_refresh(own):
    settings, client, bucket = own
    catalog = Catalog(settings)
    catalog.refresh(client=client)
    reader = sqlite3.connect(catalog.path, isolation_level=None)
    reader.execute("BEGIN")
    count = reader.execute("SELECT count(*) FROM sessions").fetchone()[0]
    _put(bucket, "ecephys_700001_2025-06-06_06-06-06/x.json")
    catalog.refresh(client=client)  # writes while the reader holds its snapshot
    assert reader.execute("SELECT count(*) FROM sessions").fetchone()[0] == count
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM sessions").fetchone()[0] == count + 1
    reader.close()


def test_offline_from_stored_data(tmp_path):
    folder = tmp_path / "bucket"
    (folder / E).mkdir(parents=True)
    (folder / E / "data_description.json").write_bytes(b"{}")
    with MirrorServer() as running:
        settings = Settings(
            endpoint_url=running.endpoint_url,
            bucket="catalog-offline",
            cache_dir=tmp_path / "cache",
            retries=0,
            connect_timeout=1,
        )
        load_directory(running.endpoint_url, "catalog-offline", folder, in_process=True)
        catalog = Catalog(settings)
        with S3Client(settings) as client:
            catalog.refresh([E], client=client)
    # the server is gone: reading still works, says how old it is; refreshing fails cleanly
    offline = Catalog(settings)
    assert list(offline.sessions()["session"]) == [E]
    assert offline.info().age is not None and format_age(offline.info().age) == "just now"
    with S3Client(settings) as client, pytest.raises(BucketUnreachable):
        offline.refresh(client=client)
    assert list(offline.sessions()["session"]) == [E]


def test_a_reused_catalog_sees_a_refresh_made_by_another(own):
    settings, client, bucket = own
    reader = Catalog(settings)
    Catalog(settings).refresh(client=client)
    first = reader.sessions(platform="neuropixels")
    assert reader.sessions(platform="neuropixels").equals(first)  # now from its cached table
    assert reader._snapshot is not None
    assert reader.sessions(subject="700002")["session"].tolist() == [M]
    new = "ecephys_700001_2025-06-06_06-06-06"
    _put(bucket, f"{new}/x.json")
    Catalog(settings).refresh(client=client)  # another process, as far as `reader` knows
    assert new in set(reader.sessions(platform="neuropixels")["session"])
    assert len(reader.sessions()) == len(first) + 3  # + the new one, M and S


def test_frame_columns_and_dtypes_do_not_depend_on_the_rows(filled):
    empty, everything = filled.sessions(subject="000000"), filled.sessions()
    assert empty.empty and list(empty.columns) == list(everything.columns)
    assert (empty.dtypes == everything.dtypes).all()
    assert str(everything["acquired"].dtype) == "datetime64[s]"
    assert everything["on_s3"].dtype == bool and everything["n_assets"].dtype == "int64"


def test_cli_sessions_with_an_empty_catalog_offline(run):
    result = run("sessions", "--endpoint-url", "http://127.0.0.1:9")
    assert result.code == 1
    assert "ppdata catalog refresh" in result.err and "mirror" in result.err
    assert "Traceback" not in result.err


def test_suggest_without_a_catalog_creates_nothing(settings):
    catalog = Catalog(settings)
    assert catalog.suggest(EPHYS_REPROCESSED) == [] and not catalog.path.exists()
