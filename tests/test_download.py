"""Downloads against a real S3 server (moto on loopback), with real files on disk.

The bucket is built here, small (a few MB): one Neuropixels-like session with a raw asset and
two versions of its sorted asset (keys with spaces and '#'), a 12 MB single-part object (fetched
in ranged parts, MD5-checked), an 11 MB multipart object (ETag '<md5>-3', size-checked), unsafe
keys put straight into the server's store, and a scratch area tests may change.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ppdata.callbacks import Callback
from ppdata.errors import (
    AssetNotFound,
    DownloadError,
    InvalidName,
    NotFound,
    SessionNotFound,
    UnsafeKey,
    WrongBucket,
)
from ppdata.mirror.proxy import Fault, LatencyProxy
from ppdata.mirror.server import MirrorServer, _moto_backend, load_directory, public_read_policy
from ppdata.remote.s3 import S3Client
from ppdata.settings import Settings
from ppdata.transfer.api import download, plan_download, safe_relative_path, verify
from ppdata.transfer.manifest import MANIFEST_NAME, Manifest
from ppdata.transfer.model import DownloadPlan, Existing, FileStatus

BUCKET = "aind-open-data"
SESSION = "ecephys_820454_2025-11-04_14-59-22"
SORTED_OLD = f"{SESSION}_sorted_2025-11-19_21-40-12"
SORTED = f"{SESSION}_sorted_2026-06-27_11-07-00"
REC = "experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP_recording1"
BIG = "bigfiles/single.bin"  # 12 MB, single-part: ranged parts + MD5
MULTI = "bigfiles/multi.bin"  # 11 MB, multipart ETag: size check
PART = 5 * 2**20
UNSAFE = ["unsafe/../../evil.txt", "unsafe/a//b.txt", "unsafe/back\\slash.txt"]


def _bytes(seed: str, n: int) -> bytes:
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


def _files() -> dict[str, bytes]:
    files = {
        f"{SESSION}/data_description.json": b'{"name": "%s"}' % SESSION.encode(),
        f"{SESSION}/behavior/running.csv": _bytes("run", 20_000),
        f"{SESSION}/ecephys/ecephys_compressed/probe.zarr/0.0": _bytes("raw0", 50_000),
        f"{SESSION}/ecephys/ecephys_compressed/probe.zarr/.zarray": b"{}",
        f"{SORTED_OLD}/data_description.json": b"{}",
        f"{SORTED_OLD}/nwb/old.nwb": _bytes("old", 1_000),
        f"{SORTED}/data_description.json": b'{"v": 2}',
        f"{SORTED}/quality_control.json": b'{"metrics": []}',
        f"{SORTED}/spikesorted/{REC}/spikes.npy": _bytes("spikes", 30_000),
        f"{SORTED}/nwb/{SESSION}_experiment1_recording1.nwb/units/0": _bytes("u0", 40_000),
        f"{SORTED}/nwb/{SESSION}_experiment1_recording1.nwb/.zattrs": b"{}",
        f"{SORTED}/empty.txt": b"",
        BIG: _bytes("big", 12 * 2**20),
        "unsafe/ok.txt": b"fine",
    }
    for i in range(30):
        files[f"many/f{i:02d}.bin"] = _bytes(f"many{i}", 1_000 + 997 * i)
    return files


FILES = _files()
FILES_OF_SORTED = [k for k in FILES if k.startswith(f"{SORTED}/")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    import boto3
    from boto3.s3.transfer import TransferConfig

    root = tmp_path_factory.mktemp("bucket")
    for key, data in FILES.items():
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    with MirrorServer() as srv:
        load_directory(srv.endpoint_url, BUCKET, root, in_process=True)
        writer = boto3.client(
            "s3",
            endpoint_url=srv.endpoint_url,
            region_name="us-west-2",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        writer.delete_bucket_policy(Bucket=BUCKET)
        writer.upload_fileobj(
            io.BytesIO(_bytes("multi", 11 * 2**20)),
            BUCKET,
            MULTI,
            Config=TransferConfig(multipart_threshold=PART, multipart_chunksize=PART),
        )
        writer.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(public_read_policy(BUCKET)))
        for key in UNSAFE:
            put(key, b"evil")
        yield srv


def put(key: str, data: bytes) -> None:
    """Change an object on the server (the store is in this process)."""
    _moto_backend().put_object(BUCKET, key, data)


@pytest.fixture
def client(server: MirrorServer, tmp_path: Path):
    settings = Settings(
        endpoint_url=server.endpoint_url, bucket=BUCKET, retries=2, cache_dir=tmp_path / "cache"
    )
    with S3Client(settings) as c:
        yield c


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "dest"


def gets(client: S3Client) -> int:
    counts = client.stats.snapshot().by_operation.get("GetObject")
    return counts.requests if counts else 0


def local(dest: Path, key: str) -> Path:
    return dest.joinpath(*key.split("/"))


# -- planning -------------------------------------------------------------------------------


def test_session_plan_takes_current_versions_of_all_kinds(client, dest):
    plan = plan_download(SESSION, client=client, dest=dest)
    assert set(plan.assets) == {SESSION, SORTED}
    keys = {f.key for f in plan.files}
    assert f"{SORTED}/spikesorted/{REC}/spikes.npy" in keys
    assert not any(k.startswith(SORTED_OLD) for k in keys)
    assert plan.count == len(keys) == 10
    assert plan.total_bytes == sum(len(FILES[k]) for k in keys)
    assert not plan.needs_confirmation()
    assert plan.needs_confirmation(threshold_bytes=1000)
    assert "streaming the NWB" in plan.confirmation_message()
    assert plan.checks == {"md5": 10}


def test_kinds_versions_include_exclude(client, dest):
    plan = plan_download(SESSION, client=client, dest=dest, kinds=["sorted"], versions="all")
    assert set(plan.assets) == {SORTED, SORTED_OLD}
    plan = plan_download(SESSION, client=client, dest=dest, kinds=["sorted"], include=["nwb/*"])
    assert {f.key.split("/", 2)[1] for f in plan.files} == {"nwb"}
    assert plan.count == 2
    plan = plan_download(SORTED, client=client, dest=dest, exclude=["*.json", "nwb/*"])
    assert sorted(f.key[len(SORTED) + 1 :] for f in plan.files) == [
        "empty.txt",
        f"spikesorted/{REC}/spikes.npy",
    ]
    plan = plan_download(SORTED, client=client, dest=dest, include=["*.json", "*.nothing"])
    assert plan.count == 2 and any("'*.nothing' matched no file" in w for w in plan.warnings)


def test_globs_that_match_nothing_say_what_is_there(client, dest):
    with pytest.raises(NotFound) as info:
        plan_download(SORTED, client=client, dest=dest, include=["*.h5"])
    msg = str(info.value)
    assert "'*.h5'" in msg and "nwb/" in msg and "quality_control.json" in msg


@pytest.mark.parametrize(
    ("target", "error", "words"),
    [
        ("ecephys_999999_2025-01-01_01-01-01", SessionNotFound, "no assets"),
        (f"{SESSION}_sorted_2029-01-01_01-01-01", AssetNotFound, SORTED),
        ("no-such-thing", NotFound, "unknown download target"),
        (f"{SORTED}/nope", NotFound, "quality_control.json"),
        (f"s3://{BUCKET}/{SORTED}/nope.txt", NotFound, "nothing at"),
        ("s3://another-bucket/x", WrongBucket, "--bucket another-bucket"),
        (f"s3://{BUCKET}/", DownloadError, "whole bucket"),
    ],
)
def test_unknown_targets(client, dest, target, error, words):
    with pytest.raises(error) as info:
        plan_download(target, client=client, dest=dest)
    assert words in str(info.value)


def test_bad_kind(client, dest):
    with pytest.raises(InvalidName, match="kinds are: raw, sorted"):
        plan_download(SESSION, client=client, dest=dest, kinds=["spikes"])
    with pytest.raises(AssetNotFound, match="no asset of kind ccf"):
        plan_download(SESSION, client=client, dest=dest, kinds=["ccf"])


def test_path_and_url_targets(client, dest):
    one = plan_download(f"{SORTED}/quality_control.json", client=client, dest=dest)
    assert [f.key for f in one.files] == [f"{SORTED}/quality_control.json"]
    folder = plan_download(f"s3://{BUCKET}/{SORTED}/nwb/", client=client, dest=dest)
    assert folder.count == 2
    assert all(f.path == local(dest, f.key) for f in folder.files)


def listings(client: S3Client) -> int:
    counts = client.stats.snapshot().by_operation.get("ListObjectsV2")
    return counts.requests if counts else 0


@pytest.mark.parametrize(
    ("target", "count", "lists"),
    [
        (f"s3://{BUCKET}/{SORTED}/nwb/", 2, 1),  # named as a folder: its listing, nothing else
        (SORTED, 6, 1),  # an asset: its listing says both that it exists and what it holds
        (f"{SORTED}/nwb", 2, 2),  # folder or object? one look-up, then the folder's listing
        (BIG, 1, 1),  # an object: the look-up finds it, with its size and ETag
    ],
)
def test_a_plan_lists_each_folder_once(client, dest, target, count, lists):
    plan = plan_download(target, client=client, dest=dest)
    assert (plan.count, listings(client)) == (count, lists)


def test_an_empty_folder_target_says_what_is_there(client, dest):
    with pytest.raises(NotFound, match=r"quality_control\.json"):
        plan_download(f"{SORTED}/nope/", client=client, dest=dest)


@pytest.mark.parametrize("target", [f"{SORTED}/nope\nx/", f"{SORTED}\tx", "a\x7fb"])
def test_a_target_with_a_control_character_gets_one_line(client, dest, target):
    with pytest.raises(InvalidName, match="control character") as info:
        plan_download(target, client=client, dest=dest)
    assert "\n" not in str(info.value)


# -- safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "a/../../b",
        "..",
        "a/./b",
        "a//b",
        "a/",
        "a\\b",
        "a/b\x00c",
        "C:/x",
        "a/.ppdata-manifest.json",
        "a/.x.ppdata-part",
    ],
)
def test_unsafe_keys_are_refused(key):
    with pytest.raises(UnsafeKey):
        safe_relative_path(key)


def test_safe_keys_and_prefix():
    assert (
        str(safe_relative_path(f"{SORTED}/spikesorted/{REC}/x")) == f"{SORTED}/spikesorted/{REC}/x"
    )
    assert str(safe_relative_path("a/..b/c..")) == "a/..b/c.."
    with pytest.raises(UnsafeKey, match="not under"):
        safe_relative_path("b/x", prefix="a/")


def test_unsafe_keys_on_the_server_are_refused_and_reported(client, dest):
    plan = plan_download("unsafe", client=client, dest=dest)
    assert [f.key for f in plan.files] == ["unsafe/ok.txt"]
    assert sorted(r.key for r in plan.refused) == sorted(UNSAFE)
    summary = download(plan, client=client)
    assert len(summary.fetched) == 1 and len(summary.refused) == 3
    assert not (dest.parent / "evil.txt").exists() and not (dest / "evil.txt").exists()
    assert sorted(p.name for p in dest.rglob("*") if p.is_file()) == [
        ".ppdata-manifest.json",
        ".ppdata-manifest.lock",
        "ok.txt",
    ]
    with pytest.raises(UnsafeKey):
        download(f"s3://{BUCKET}/unsafe/../../evil.txt", client=client, dest=dest)


# -- fetching -------------------------------------------------------------------------------


def test_download_mirrors_keys_and_checks(client, dest):
    progress = Recorder()
    summary = download(SESSION, client=client, dest=dest, kinds=["sorted"], callback=progress)
    assert summary.ok and len(summary.fetched) == 6
    for f in summary.fetched:
        assert local(dest, f.key).read_bytes() == FILES[f.key]
    assert local(dest, f"{SORTED}/spikesorted/{REC}/spikes.npy").is_file()
    assert summary.checks == {"md5": 6}
    assert summary.requests == {"GetObject": 6}
    assert progress.size == sum(len(FILES[r.key]) for r in summary.fetched)
    assert progress.value == summary.bytes_transferred == progress.size
    assert sorted(progress.started) == sorted(progress.done) == sorted(FILES_OF_SORTED)
    assert {k: progress.per_file.get(k, 0) for k in FILES_OF_SORTED} == {
        k: len(FILES[k]) for k in FILES_OF_SORTED
    }
    assert not list(dest.rglob("*.ppdata-part*"))
    doc = json.loads((dest / MANIFEST_NAME).read_text())
    entry = next(e for e in doc["files"] if e["key"].endswith("spikes.npy"))
    assert entry["uri"] == f"s3://{BUCKET}/{SORTED}/spikesorted/{REC}/spikes.npy"
    assert entry["check"] == "md5" and entry["md5"] == hashlib.md5(FILES[entry["key"]]).hexdigest()


def test_ranged_single_part_object_is_md5_checked(client, dest):
    summary = download(BIG, client=client, dest=dest, part_size=PART)
    assert summary.requests == {"GetObject": 3}  # 5 + 5 + 2 MB
    assert summary.checks == {"md5": 1}
    assert local(dest, BIG).read_bytes() == FILES[BIG]


def test_multipart_object_is_size_checked(client, dest):
    plan = plan_download(MULTI, client=client, dest=dest)
    assert plan.files[0].etag.endswith('-3"') and plan.checks == {"size": 1}
    summary = download(plan, client=client, part_size=PART)
    assert summary.checks == {"size": 1}
    assert local(dest, MULTI).read_bytes() == _bytes("multi", 11 * 2**20)
    assert verify(dest).checks == {"size": 1}


def test_rerun_skips_everything_without_a_get(client, dest):
    download("many", client=client, dest=dest)
    before = gets(client)
    started = time.monotonic()
    summary = download("many", client=client, dest=dest)
    assert time.monotonic() - started < 2
    assert gets(client) == before
    assert len(summary.skipped) == 30 and summary.checks == {"manifest": 30}
    assert summary.requests == {}


def test_files_present_without_manifest_are_checked_locally(client, dest):
    download("many", client=client, dest=dest)
    (dest / MANIFEST_NAME).unlink()
    corrupt = local(dest, "many/f03.bin")
    corrupt.write_bytes(b"x" * len(FILES["many/f03.bin"]))
    before = gets(client)
    summary = download("many", client=client, dest=dest)
    # a differing file ppdata did not download is kept and reported (dandi-cli's semantics)
    assert gets(client) - before == 0 and not summary.fetched
    assert [r.key for r in summary.kept] == ["many/f03.bin"]
    assert "--existing overwrite" in summary.kept[0].message
    assert summary.checks == {"md5": 29}
    assert corrupt.read_bytes() == b"x" * len(FILES["many/f03.bin"])
    assert "1 kept" in summary.describe()
    replaced = download("many", client=client, dest=dest, existing="overwrite")
    assert len(replaced.fetched) == 30 and not replaced.kept
    assert corrupt.read_bytes() == FILES["many/f03.bin"]


def test_existing_policies(client, dest):
    key = "scratch/policy.txt"
    put(key, b"version one")
    download(key, client=client, dest=dest)
    put(key, b"version two!")
    assert len(download(key, client=client, dest=dest).skipped) == 1  # skip: keep what is here
    assert local(dest, key).read_bytes() == b"version one"
    refreshed = download(key, client=client, dest=dest, existing="refresh")
    assert len(refreshed.fetched) == 1 and local(dest, key).read_bytes() == b"version two!"
    assert len(download(key, client=client, dest=dest, existing=Existing.REFRESH).skipped) == 1
    assert len(download(key, client=client, dest=dest, existing="overwrite").fetched) == 1
    with pytest.raises(DownloadError, match="already in"):
        download(key, client=client, dest=dest, existing="error")
    with pytest.raises(InvalidName, match="existing must be"):
        download(key, client=client, dest=dest, existing="sometimes")


def test_object_changed_between_plan_and_fetch_is_restarted(client, dest):
    key = "scratch/changing.txt"
    put(key, b"listed version")
    plan = plan_download(key, client=client, dest=dest)
    put(key, b"the version on the server when fetching")
    summary = download(plan, client=client)
    assert summary.ok and len(summary.fetched) == 1
    assert local(dest, key).read_bytes() == b"the version on the server when fetching"
    assert any("changed on the server" in n for n in summary.notes)
    entry = Manifest.load(dest).get(key)
    assert entry.md5 == hashlib.md5(b"the version on the server when fetching").hexdigest()


def test_large_object_changed_between_plan_and_fetch(client, dest):
    key = "scratch/changing-big.bin"
    put(key, _bytes("v1", 11 * 2**20))
    plan = plan_download(key, client=client, dest=dest)
    put(key, _bytes("v2", 11 * 2**20 + 5))
    summary = download(plan, client=client, part_size=PART)
    assert local(dest, key).read_bytes() == _bytes("v2", 11 * 2**20 + 5)
    assert summary.fetched[0].check == "md5" and summary.notes


def test_small_object_that_grew_large_is_fetched_in_parts(client, dest):
    key = "scratch/grew.bin"
    put(key, b"small when listed")
    plan = plan_download(key, client=client, dest=dest)
    put(key, _bytes("grown", 3 * PART + 7))
    summary = download(plan, client=client, part_size=PART)
    assert summary.ok and local(dest, key).read_bytes() == _bytes("grown", 3 * PART + 7)
    assert summary.requests["GetObject"] >= 4  # the refused GET, then one per part
    assert not list(dest.rglob("*.ppdata-part*"))


def test_resume_fetches_only_missing_ranges(client, dest):
    plan = plan_download(BIG, client=client, dest=dest)
    final = plan.files[0].path
    final.parent.mkdir(parents=True)
    part = final.with_name(f".{final.name}.ppdata-part")
    data = FILES[BIG]
    part.write_bytes(data[:PART] + b"\0" * (len(data) - PART))  # an interrupted run's part file
    part.with_name(part.name + ".json").write_text(
        json.dumps(
            {
                "version": 1,
                "key": BIG,
                "etag": plan.files[0].etag,
                "size": len(data),
                "done": [[0, PART]],
            }
        )
    )
    summary = download(plan, client=client, part_size=PART)
    assert summary.requests == {"GetObject": 2}
    assert summary.bytes_transferred == len(data) - PART
    assert summary.fetched[0].resumed == PART
    assert final.read_bytes() == data and not part.exists()


def test_stale_part_file_is_not_trusted(client, dest):
    plan = plan_download(BIG, client=client, dest=dest)
    final = plan.files[0].path
    final.parent.mkdir(parents=True)
    part = final.with_name(f".{final.name}.ppdata-part")
    part.write_bytes(b"\1" * len(FILES[BIG]))
    part.with_name(part.name + ".json").write_text(
        json.dumps(
            {
                "version": 1,
                "key": BIG,
                "etag": '"0123"',
                "size": len(FILES[BIG]),
                "done": [[0, PART]],
            }
        )
    )
    summary = download(plan, client=client, part_size=PART)
    assert summary.requests == {"GetObject": 3}
    assert final.read_bytes() == FILES[BIG]


# -- the first bytes of a one-object target, fetched beside its listing -------------------------


def test_a_one_object_target_is_fetched_from_beside_its_listing(client, dest):
    small = "many/f03.bin"
    plan = plan_download(small, client=client, dest=dest, fetch_ahead=PART)
    assert gets(client) == 1  # it went out with the listing
    summary = download(plan, client=client)
    assert local(dest, small).read_bytes() == FILES[small]
    assert gets(client) == 1 and summary.requests == {"GetObject": 1}  # and was all it took
    plan = plan_download(BIG, client=client, dest=dest, fetch_ahead=PART)
    summary = download(plan, client=client, part_size=PART)
    assert local(dest, BIG).read_bytes() == FILES[BIG]
    # three 5 MiB parts, the first of them fetched beside the listing
    assert summary.requests == {"GetObject": 3} and gets(client) == 1 + 3
    assert summary.bytes_transferred == len(FILES[BIG]) and summary.fetched[0].check == "md5"
    assert not list(dest.rglob("*.ppdata-part*"))


def test_download_sends_the_get_while_the_listing_is_on_its_way(server, dest, tmp_path):
    import threading

    key = "many/f03.bin"
    with LatencyProxy(server.endpoint_url) as proxy:
        settings = Settings(endpoint_url=proxy.endpoint_url, bucket=BUCKET, cache_dir=tmp_path)
        proxy.add_fault(Fault("stall", match="list-type", stall=3.0))
        with S3Client(settings) as c:
            worker = threading.Thread(
                target=download, args=(key,), kwargs={"client": c, "dest": dest}
            )
            worker.start()
            deadline = time.monotonic() + 2.5
            while proxy.total_requests < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            during = dict(proxy.requests)  # while the listing's reply is held back
            worker.join()
    assert during == {"GET": 2}  # the listing and the object's GET
    assert local(dest, key).read_bytes() == FILES[key]


def test_every_attempt_of_the_get_beside_the_listing_is_counted(server, dest, tmp_path):
    """The plan counts what it sent beside the listing as it went (here a GET refused once
    with 503, then sent again, both while the listing's reply is held back), and the
    download's summary counts them with its own requests: not one GET per file assumed."""
    key = "many/f07.bin"
    with LatencyProxy(server.endpoint_url) as proxy:
        settings = Settings(endpoint_url=proxy.endpoint_url, bucket=BUCKET, cache_dir=tmp_path)
        proxy.add_fault(Fault("stall", match="list-type", stall=1.0))
        proxy.add_fault(Fault("503", match=f"/{key}", method="GET"))  # Retry-After: 0
        with S3Client(settings) as c:
            plan = plan_download(key, client=c, dest=dest, fetch_ahead=PART)
            assert plan.requests == {"GetObject": 2}  # the listings are not the transfer's
            summary = download(plan, client=c)
            assert gets(c) == 2
            again = download(plan, client=c, existing="overwrite")  # handed over once
    assert summary.requests == {"GetObject": 2} and plan.requests == {}
    assert again.requests == {"GetObject": 1}
    assert local(dest, key).read_bytes() == FILES[key]


def test_a_small_file_fetched_ahead_in_part_gets_the_rest(client, dest):
    key = "many/f29.bin"
    plan = plan_download(key, client=client, dest=dest, fetch_ahead=1000)
    summary = download(plan, client=client)
    assert local(dest, key).read_bytes() == FILES[key]
    assert summary.requests == {"GetObject": 2} and summary.fetched[0].check == "md5"
    assert summary.bytes_transferred == len(FILES[key])


def test_nothing_is_fetched_ahead_that_a_download_would_not_use(client, dest):
    plan_download(BIG, client=client, dest=dest)  # a plan on its own only lists
    plan_download(f"s3://{BUCKET}/{SORTED}/nwb/", client=client, dest=dest, fetch_ahead=PART)
    assert gets(client) == 0  # nor for a target named as a folder
    download("many/f01.bin", client=client, dest=dest)
    before = gets(client)
    again = download("many/f01.bin", client=client, dest=dest)  # already here: skipped
    assert gets(client) == before and again.skipped and again.requests == {}
    # a folder named without its slash: the GET beside the listing finds no object
    summary = download(f"{SORTED}/nwb", client=client, dest=dest)
    assert sorted(f.key for f in summary.fetched) == sorted(
        k for k in FILES if k.startswith(f"{SORTED}/nwb/")
    )
    assert summary.requests == {"GetObject": 2}


def test_first_bytes_of_another_version_are_not_used(client, dest):
    from concurrent.futures import Future

    from ppdata.remote.s3 import ObjectInfo
    from ppdata.transfer.model import Ahead

    key = "many/f05.bin"
    plan = plan_download(key, client=client, dest=dest)
    body, _ = client.open_head("many/f06.bin", len(FILES[key]))
    stale: Future = Future()
    stale.set_result(Ahead(body, ObjectInfo(key, len(FILES[key]), '"other"')))
    plan.ahead[key] = stale
    summary = download(plan, client=client)
    assert local(dest, key).read_bytes() == FILES[key]
    assert summary.requests == {"GetObject": 1}  # asked for again
    with pytest.raises(ValueError):  # the reply of another version was let go, unread
        body.read()


def test_the_reply_beside_the_listing_waits_unread_for_the_download(client, dest):
    """Planning waits only for the headers of the GET sent beside the listing: its body is
    left for the download to read (straight into the file), and let go unread when the
    download does not need it."""
    plan = plan_download(BIG, client=client, dest=dest, fetch_ahead=PART)
    sent = plan.ahead[BIG].result()
    assert (sent.info.size, sent.body.length) == (len(FILES[BIG]), PART)
    assert sent.body.read(10) == FILES[BIG][:10]  # nothing of it was read by planning
    sent.close()
    plan = plan_download(BIG, client=client, dest=dest, fetch_ahead=PART)
    sent = plan.ahead[BIG].result()
    summary = download(plan, client=client, part_size=PART)
    assert local(dest, BIG).read_bytes() == FILES[BIG]
    assert summary.requests == {"GetObject": 3} and summary.bytes_transferred == len(FILES[BIG])
    with pytest.raises(ValueError):  # read to its end by the download, and closed
        sent.body.read(1)
    key = "many/f08.bin"
    plan = plan_download(key, client=client, dest=dest, fetch_ahead=PART)
    sent = plan.ahead[key].result()
    local(dest, key).parent.mkdir(parents=True, exist_ok=True)
    local(dest, key).write_bytes(FILES[key])  # there before the download: not fetched
    assert download(plan, client=client).requests == {"GetObject": 1}
    with pytest.raises(ValueError):
        sent.body.read(1)


@pytest.mark.parametrize("key", [BIG, "many/f09.bin"])
def test_a_reply_beside_the_listing_cut_mid_body_is_fetched_again(server, dest, tmp_path, key):
    """The body of the GET sent ahead breaks off while the download reads it: a large file's
    first part resumes where it broke, a small file is asked for again."""
    with LatencyProxy(server.endpoint_url) as proxy:
        settings = Settings(endpoint_url=proxy.endpoint_url, bucket=BUCKET, cache_dir=tmp_path)
        proxy.add_fault(Fault("reset", match=f"/{key}", method="GET"))  # not the listing
        with S3Client(settings) as c:
            summary = download(key, client=c, dest=dest, part_size=PART)
            assert gets(c) == summary.requests["GetObject"]
    assert local(dest, key).read_bytes() == FILES[key]
    assert summary.requests == {"GetObject": 4 if key == BIG else 2}


def test_a_reply_beside_the_listing_of_a_folder_is_let_go(client, dest, monkeypatch):
    """A key that is both an object and a folder downloads the folder: the reply of the GET
    sent beside its listing is closed unread, not left open."""
    import ppdata.transfer.plan as planning

    put("scratch/both", b"an object")
    put("scratch/both/inner.txt", b"a file in the folder")
    sent = []
    fetch = planning._fetch_ahead
    monkeypatch.setattr(planning, "_fetch_ahead", lambda *a: sent.append(fetch(*a)) or sent[-1])
    plan = plan_download("scratch/both", client=client, dest=dest, fetch_ahead=PART)
    assert [f.key for f in plan.files] == ["scratch/both/inner.txt"] and not plan.ahead

    def closed() -> bool:  # closed once its headers came, which may be after the listing
        if not sent:
            return False
        try:
            sent[0].body.read(1)
        except ValueError:
            return True
        return False

    deadline = time.monotonic() + 5
    while not closed() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent and sent[0] is not None and closed()


def test_an_object_changed_after_its_first_part_came_ahead(client, dest):
    key = "scratch/changing-ahead.bin"
    put(key, _bytes("v1", 11 * 2**20))
    plan = plan_download(key, client=client, dest=dest, fetch_ahead=PART)
    plan.ahead[key].result()
    put(key, _bytes("v2", 11 * 2**20 + 5))
    summary = download(plan, client=client, part_size=PART)
    assert local(dest, key).read_bytes() == _bytes("v2", 11 * 2**20 + 5)
    assert any("changed on the server" in n for n in summary.notes)


def test_kill_9_mid_download_then_resume(server, client, dest, tmp_path):
    """A real interruption: a child process downloading through a slow link is killed."""
    with LatencyProxy(server.endpoint_url, latency=0.4) as proxy:
        script = textwrap.dedent(f"""
            from ppdata.transfer.api import download
            from ppdata.remote.s3 import S3Client
            from ppdata.settings import Settings
            c = S3Client(Settings(endpoint_url={proxy.endpoint_url!r}, bucket={BUCKET!r}))
            download({BIG!r}, client=c, dest={str(dest)!r}, part_size={PART}, jobs=1)
        """)
        child = subprocess.Popen(
            [sys.executable, "-c", script], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        final = local(dest, BIG)
        sidecar = final.with_name(f".{final.name}.ppdata-part.json")
        deadline = time.monotonic() + 30
        while not sidecar.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        child.kill()
        child.wait()
    assert sidecar.exists(), child.stderr.read().decode()
    assert not final.exists()
    done = json.loads(sidecar.read_text())["done"]
    have = sum(e - s for s, e in done)
    summary = download(BIG, client=client, dest=dest, part_size=PART)
    assert summary.bytes_transferred == len(FILES[BIG]) - have
    assert summary.requests["GetObject"] < 3
    assert final.read_bytes() == FILES[BIG]


def test_connection_resets_mid_body_are_resumed(server, dest, tmp_path):
    with LatencyProxy(server.endpoint_url) as proxy:
        settings = Settings(
            endpoint_url=proxy.endpoint_url, bucket=BUCKET, retries=3, cache_dir=tmp_path / "c"
        )
        with S3Client(settings) as c:
            plan = plan_download(BIG, client=c, dest=dest)
            proxy.add_fault(Fault("reset", count=2, match="single.bin", method="GET"))
            summary = download(plan, client=c, part_size=PART)
        assert proxy.injected["reset"] == 2
    assert summary.ok and summary.retries >= 2
    assert local(dest, BIG).read_bytes() == FILES[BIG]


def test_connection_resets_that_do_not_stop(server, dest, tmp_path):
    with LatencyProxy(server.endpoint_url) as proxy:
        put("scratch/policy-reset.txt", _bytes("reset", 100_000))
        settings = Settings(
            endpoint_url=proxy.endpoint_url, bucket=BUCKET, retries=1, cache_dir=tmp_path / "c"
        )
        with S3Client(settings) as c:
            plan = plan_download("scratch/policy-reset.txt", client=c, dest=dest)
            proxy.add_fault(Fault("reset", count=100, match="policy", method="GET"))
            summary = download(plan, client=c, raise_on_error=False)
    assert [r.status for r in summary.results] == [FileStatus.FAILED]
    assert "kept failing mid-transfer" in summary.failed[0].message
    assert not local(dest, "scratch/policy-reset.txt").exists()
    assert not list(dest.rglob("*.ppdata-part"))
    with pytest.raises(DownloadError, match="Re-run the same download") as info:
        summary.raise_for_failures()
    assert info.value.summary is summary


def test_small_files_get_more_workers_when_replies_are_slow(server, dest, tmp_path, caplog):
    for i in range(48):
        put(f"slow/f{i:02d}.bin", _bytes(f"slow{i}", 3000))
    with LatencyProxy(server.endpoint_url, latency=0.05) as proxy:
        settings = Settings(
            endpoint_url=proxy.endpoint_url, bucket=BUCKET, cache_dir=tmp_path / "c"
        )
        with S3Client(settings) as c, caplog.at_level("DEBUG", logger="ppdata.transfer.engine"):
            summary = download("slow/", client=c, dest=dest, jobs=16)
    assert summary.ok and len(summary.fetched) == 48
    grown = [r.getMessage() for r in caplog.records if "lanes" in r.getMessage()]
    # the listing's reply took 50 ms: every lane at once (next to the server: 4, doubled
    # while they wait)
    assert grown and grown[-1].endswith("16 lanes")
    assert c.stats.fastest_reply is not None and c.stats.fastest_reply >= 0.05
    assert local(dest, "slow/f47.bin").read_bytes() == _bytes("slow47", 3000)


def test_throttling_is_retried_then_reported(server, dest, tmp_path):
    with LatencyProxy(server.endpoint_url) as proxy:
        settings = Settings(
            endpoint_url=proxy.endpoint_url, bucket=BUCKET, retries=2, cache_dir=tmp_path / "c"
        )
        with S3Client(settings) as c:
            plan = plan_download("many/f01.bin", client=c, dest=dest)
            proxy.add_fault(Fault("503", count=2, match="f01.bin", method="GET"))
            summary = download(plan, client=c)
            assert summary.ok and summary.retries == 2
            plan = plan_download("many/f02.bin", client=c, dest=dest)
            proxy.add_fault(Fault("503", count=10, match="f02.bin", method="GET"))
            with pytest.raises(DownloadError, match="throttling") as info:
                download(plan, client=c)
    assert info.value.summary.failed[0].key == "many/f02.bin"
    assert not local(dest, "many/f02.bin").exists()


# -- the destination ------------------------------------------------------------------------


def test_unwritable_destination(client, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(DownloadError, match="cannot create the destination folder"):
        download("many/f01.bin", client=client, dest=blocker / "sub")
    if os.geteuid() != 0:  # root writes anywhere: only a non-root run can test permissions
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(DownloadError, match="not writable"):
            download("many/f01.bin", client=client, dest=ro)


def test_not_enough_space_is_said_before_starting(client, dest, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(DownloadError, match=r"needs 12\.6 MB but only 1\.0 kB is free"):
        download(BIG, client=client, dest=dest)
    # only the GET of its first part that went out beside the listing; nothing was written
    assert gets(client) == 1
    assert not [p for p in dest.rglob("*") if "ppdata-part" in p.name or p.name == "big.bin"]


def test_disk_full_mid_download_stops_cleanly(client, dest, monkeypatch):
    import errno

    def full(*_a):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(DownloadError, match="is full"):
        download(BIG, client=client, dest=dest, part_size=PART)
    assert not local(dest, BIG).exists()


def test_two_downloads_into_one_destination_are_refused(client, dest):
    from ppdata.transfer.manifest import destination_lock

    dest.mkdir()
    with destination_lock(dest), pytest.raises(DownloadError, match="another ppdata download"):
        download("many/f01.bin", client=client, dest=dest)


# -- verify ---------------------------------------------------------------------------------


def test_verify(client, dest):
    download("many", client=client, dest=dest)
    download(MULTI, client=client, dest=dest, part_size=PART)
    report = verify(dest)
    assert report.ok and report.checks == {"md5": 30, "size": 1}
    local(dest, "many/f05.bin").write_bytes(b"y" * len(FILES["many/f05.bin"]))
    local(dest, "many/f06.bin").unlink()
    with open(local(dest, MULTI), "ab") as f:
        f.write(b"more")
    report = verify(dest)
    assert not report.ok
    assert sorted((p.path, p.problem) for p in report.problems) == [
        (MULTI, "size"),
        ("many/f05.bin", "md5"),
        ("many/f06.bin", "missing"),
    ]
    before = gets(client)
    summary = download("many", client=client, dest=dest)  # forgotten entries are fetched again
    assert gets(client) - before == 2 and len(summary.fetched) == 2
    with pytest.raises(DownloadError, match=r"no \.ppdata-manifest\.json"):
        verify(dest / "many")


class Recorder(Callback):
    """Records the job's size and value, the files branched, their bytes and their ends."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[str] = []
        self.done: list[str] = []
        self.per_file: dict[str, int] = {}

    def branched(self, path_1: str, path_2: str, **kwargs) -> Callback:
        recorder = self
        self.started.append(path_1)

        class File(Callback):
            def relative_update(self, inc: int = 1) -> None:
                super().relative_update(inc)
                recorder.per_file[path_1] = self.value

            def close(self) -> None:
                recorder.done.append(path_1)

        return File()


def test_plan_object_round_trip(client, dest):
    plan = plan_download("many", client=client, dest=dest, include=["*/f1?.bin"])
    assert isinstance(plan, DownloadPlan) and plan.count == 10
    with pytest.raises(TypeError):
        download(plan, client=client, dest=dest)


def test_a_large_files_md5_keeps_up_with_its_front(tmp_path):
    """FrontMD5, fed the fronts that parts landing in any order reach (from several threads
    at once), gives the file's MD5; a file shorter than its size is a mismatch."""
    import hashlib
    import os
    import random
    import threading

    from ppdata.transfer.parts import ChecksumMismatch, FrontMD5

    data = random.Random(7).randbytes(9 * 2**20 + 123)
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        md5 = FrontMD5(fd)
        fronts = [random.Random(i).randrange(len(data)) for i in range(40)]
        threads = [threading.Thread(target=md5.advance, args=(f,)) for f in fronts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert md5.hexdigest(len(data)) == hashlib.md5(data).hexdigest()
        with pytest.raises(ChecksumMismatch, match="ends at byte"):
            FrontMD5(fd).hexdigest(len(data) + 1)
    finally:
        os.close(fd)


def test_a_manifest_of_many_entries_is_read_with_one_look_at_its_fields(tmp_path, monkeypatch):
    """A re-run reads the manifest of every file it has: the entry's field types are worked
    out once, not per entry (per entry, 2,000 entries cost 0.4 s of CPU)."""
    import typing

    from ppdata.transfer import manifest as manifest_module
    from ppdata.transfer.manifest import ManifestEntry

    n = 300
    saved = Manifest(tmp_path)
    for i in range(n):
        key = f"asset/file{i:04d}.bin"
        saved.record(
            ManifestEntry(
                key,
                key,
                f"s3://{BUCKET}/{key}",
                i,
                f'"{i:032x}"',
                None,
                "size",
                "2026-12-01T00:00:00+00:00",
                1_700_000_000_000_000_000 + i,
            )
        )
    saved.save()
    doc = json.loads((tmp_path / MANIFEST_NAME).read_text())
    doc["files"][0]["size"] = "12"  # mistyped: that file is checked again
    doc["files"][1].pop("etag")  # missing: the same
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(doc))

    looks = []
    real = typing.get_type_hints
    monkeypatch.setattr(typing, "get_type_hints", lambda *a, **k: looks.append(a) or real(*a, **k))
    manifest_module._entry_fields.cache_clear()
    loaded = Manifest.load(tmp_path)
    assert len(loaded) == n - 2 and len(looks) == 1
    assert loaded.get("asset/file0000.bin") is None and loaded.get("asset/file0001.bin") is None
    entry = loaded.get("asset/file0299.bin")
    assert entry.size == 299 and entry.last_modified is None and entry.check == "size"
