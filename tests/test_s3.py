"""The S3 layer against the real local server: listing, reads, errors, retries, counting."""

from __future__ import annotations

import json
import time

import pytest

from ppdata.errors import BucketUnreachable, NotFound, PpdataError, S3Error
from ppdata.mirror.proxy import Fault, LatencyProxy
from ppdata.remote.s3 import S3Client, parse_s3_uri
from ppdata.settings import Settings


def test_delimiter_listing_finds_session_assets(client, world):
    session = world.session(world.sessions[0].name)
    listing = client.list(session.name, delimiter="/")
    names = {p.rstrip("/") for p in listing.prefixes}
    assert {a.name for a in session.assets if a.kind != "ccf"} <= names
    assert client.stats.requests == {"ListObjectsV2": 1}


def test_listing_paginates_past_1000_keys(client, world):
    keys = client.list_objects(world.big_listing_prefix)
    on_disk = [p for p in (world.bucket_dir / world.big_listing_prefix).rglob("*") if p.is_file()]
    assert len(keys) == len(on_disk) > 1000
    assert client.stats.requests["ListObjectsV2"] == -(-len(keys) // 1000)
    assert len({k.key for k in keys}) == len(keys)


def test_keys_with_spaces_and_hash_round_trip(client, world):
    asset = world.session(world.sessions[0].name).current("sorted")
    listing = client.list(f"{asset.name}/spikesorted/")
    folder = next(p for p in listing.prefixes if "#" in p and " " in p)
    obj = client.list_objects(folder)[0]
    local = (world.bucket_dir / obj.key).read_bytes()
    assert client.get_bytes(obj.key) == local
    assert client.head(obj.key).size == len(local)


def test_ranged_reads_and_etag_md5(client, world):
    import hashlib

    asset = world.session(world.sessions[0].name).current("sorted")
    key = f"{asset.name}/visualization_output.json"
    data = (world.bucket_dir / key).read_bytes()
    assert client.get_bytes(key, 2, 10) == data[2:10]
    assert client.get_bytes(key, 5) == data[5:]
    assert client.get_ranges(key, [(0, 3), (3, 6)]) == [data[0:3], data[3:6]]
    assert client.head(key).md5 == hashlib.md5(data).hexdigest()


def test_first_and_last_bytes_say_the_size(client, world):
    asset = world.session(world.sessions[0].name).current("sorted")
    key = f"{asset.name}/visualization_output.json"
    data = (world.bucket_dir / key).read_bytes()
    assert client.get_first(key, 7) == (data[:7], len(data))
    assert client.get_tail(key, 7) == (data[-7:], len(data))  # a suffix range: bytes=-7
    assert client.get_tail(key, len(data) + 100) == (data, len(data))  # all of a smaller one
    with pytest.raises(NotFound):
        client.get_tail(f"{asset.name}/no-such-file.json", 7)


def test_get_many_leaves_out_missing_keys(client, world):
    asset = world.session(world.sessions[0].name).current("sorted")
    keys = [f"{asset.name}/data_description.json", f"{asset.name}/no-such-file.json"]
    got = client.get_many(keys)
    assert list(got) == keys[:1]
    assert got[keys[0]] == (world.bucket_dir / keys[0]).read_bytes()


def test_missing_key_is_not_found(client):
    with pytest.raises(NotFound, match="does not exist"):
        client.get_bytes("no-such-asset/file.json")
    with pytest.raises(LookupError):
        client.head("no-such-asset/file.json")


def test_missing_bucket_says_so(settings):
    with (
        S3Client(settings.with_(bucket="no-such-bucket")) as c,
        pytest.raises(NotFound, match="bucket 'no-such-bucket' does not exist"),
    ):
        c.list("x")


def test_the_mirror_is_read_only_for_anonymous_clients(client):
    url = client.http_url("intruder.txt")
    status, _, body = client.transport.open("PUT", url, body=b"x")
    body.close()
    assert status == 403
    assert not client.exists("intruder.txt")


def test_unreachable_endpoint_fails_fast_with_advice():
    settings = Settings(endpoint_url="http://127.0.0.1:9", retries=4)
    start = time.monotonic()
    with S3Client(settings) as c, pytest.raises(BucketUnreachable) as info:
        c.check_reachable()
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert "cannot reach" in message and "ppdata mirror serve" in message
    assert "--endpoint-url" in message and "is the server running" in message


def test_throttling_is_retried_and_counted(mirror, world):
    asset = world.session(world.sessions[0].name).current("sorted")
    key = f"{asset.name}/data_description.json"
    with LatencyProxy(mirror.endpoint_url) as proxy:
        proxy.add_fault(Fault("503", count=2, match="data_description"))
        with S3Client(Settings(endpoint_url=proxy.endpoint_url, retries=3)) as c:
            assert c.get_bytes(key) == (world.bucket_dir / key).read_bytes()
            assert c.stats.retries == 2
            assert c.stats.requests["GetObject"] == 3
        assert proxy.injected["503"] == 2


def test_connection_reset_mid_body_is_retried(mirror, world):
    asset = world.session(world.sessions[0].name).current("sorted")
    key = f"{asset.name}/visualization_output.json"
    with LatencyProxy(mirror.endpoint_url) as proxy:
        proxy.add_fault(Fault("reset", count=1, match="visualization_output", method="GET"))
        with S3Client(Settings(endpoint_url=proxy.endpoint_url, retries=3)) as c:
            assert c.get_bytes(key) == (world.bucket_dir / key).read_bytes()
            assert c.stats.retries >= 1


def test_persistent_throttling_gives_a_clear_error(mirror):
    with LatencyProxy(mirror.endpoint_url) as proxy:
        proxy.add_fault(Fault("503", count=100))
        with (
            S3Client(Settings(endpoint_url=proxy.endpoint_url, retries=2)) as c,
            pytest.raises(S3Error, match="SlowDown"),
        ):
            c.list("ecephys_")


def test_latency_proxy_adds_latency(mirror):
    with (
        LatencyProxy(mirror.endpoint_url, latency=0.05) as proxy,
        S3Client(Settings(endpoint_url=proxy.endpoint_url)) as c,
    ):
        start = time.monotonic()
        c.list("ecephys_", delimiter="/")
        assert time.monotonic() - start >= 0.05
        assert proxy.total_requests == 1


def test_parse_s3_uri():
    assert parse_s3_uri("s3://aind-open-data/a/b c#d") == ("aind-open-data", "a/b c#d")
    with pytest.raises(PpdataError, match="not an s3:// URI"):
        parse_s3_uri("http://x/y")


def test_settings_resolution_order(tmp_path):
    env = {"PPDATA_BUCKET": "from-env", "PPDATA_RETRIES": "7", "PPDATA_CACHE_DIR": str(tmp_path)}
    s = Settings.resolve(env=env, bucket="explicit")
    assert (s.bucket, s.retries, s.cache_dir) == ("explicit", 7, tmp_path)
    assert Settings.resolve(env={}).endpoint_url is None
    assert Settings.resolve(env={}).is_aws
    with pytest.raises(PpdataError, match="PPDATA_RETRIES"):
        Settings.resolve(env={"PPDATA_RETRIES": "many"})


def test_retry_after_is_honoured(mirror, world):
    asset = world.session(world.sessions[0].name).current("sorted")
    key = f"{asset.name}/data_description.json"
    with LatencyProxy(mirror.endpoint_url) as proxy:
        proxy.add_fault(Fault("503", count=1, match="data_description", retry_after="1"))
        with S3Client(Settings(endpoint_url=proxy.endpoint_url, retries=3)) as c:
            start = time.monotonic()
            assert c.get_bytes(key) == (world.bucket_dir / key).read_bytes()
            # our own first backoff is at most 0.2 s: a second means the server was heard
            assert time.monotonic() - start >= 1.0
            assert c.stats.retries == 1


def test_one_table_maps_codes_and_statuses_keeping_the_cause():
    from ppdata.errors import AccessDenied, HTTPStatusError, Interrupted, translate

    def reply(status: int, code: str = "") -> HTTPStatusError:
        return HTTPStatusError(status, code, "msg", {}, "GetObject")

    cases = [
        (reply(404, "NoSuchKey"), NotFound, "s3://b/k does not exist"),
        (reply(404, "NoSuchBucket"), NotFound, "bucket 'b' does not exist"),
        (reply(404), NotFound, "does not exist"),  # a HEAD: no body, no code
        (reply(403), AccessDenied, "anonymously"),
        (reply(412, "PreconditionFailed"), S3Error, "changed while it was read"),
        (reply(418, "Teapot"), S3Error, "S3 error on s3://b/k: Teapot msg"),
        (Interrupted("cut"), S3Error, "reading s3://b/k failed: cut"),
    ]
    for exc, cls, text in cases:
        err = translate(exc, uri="s3://b/k", bucket="b", where="here")
        assert type(err) is cls and text in str(err), (exc, err)
        if isinstance(exc, HTTPStatusError):
            assert err.code == exc.code and err.status == exc.status


def test_the_mirror_reads_only_the_range_of_a_ranged_get(monkeypatch):
    """The mirror answers a ranged GET from the object's bytes in that range, as S3 does:
    moto alone reads the whole object for each one (seconds on a GB-sized NWB). What moto
    decides still holds: the range checked against the size, ``If-Match``, the headers."""
    from moto.s3.models import FakeKey

    from ppdata.mirror.server import MirrorServer, _moto_backend, public_read_policy

    data = bytes(range(256)) * 4096  # 1 MiB
    whole_reads: list[str] = []
    value = FakeKey.value

    def counted(key):
        whole_reads.append(key.name)
        return value.fget(key)

    with MirrorServer() as server:
        backend = _moto_backend()
        backend.create_bucket("ranges", "us-west-2")
        backend.put_object("ranges", "dir/big.bin", data)
        backend.put_bucket_policy("ranges", json.dumps(public_read_policy("ranges")).encode())
        monkeypatch.setattr(FakeKey, "value", property(counted, value.fset))
        settings = Settings(endpoint_url=server.endpoint_url, bucket="ranges")
        with S3Client(settings) as client:
            assert client.get_bytes("dir/big.bin", 1000, 5000) == data[1000:5000]
            assert client.get_tail("dir/big.bin", 300)[0] == data[-300:]
            got = client.get_ranges("dir/big.bin", [(0, 10), (2**20 - 10, 2**20)])
            assert got == [data[:10], data[-10:]]
            assert whole_reads == []  # none of those read the whole object
            # past the end: moto's own answer (the ranged GET goes to it unchanged)
            with pytest.raises(S3Error):
                client.get_bytes("dir/big.bin", 2**21, 2**21 + 10)
            with pytest.raises(NotFound):
                client.get_bytes("dir/absent.bin", 0, 10)
            etag = client.head("dir/big.bin").etag
            part = client.get_whole("dir/big.bin", start=10, end=20, if_match=etag)
            assert part[0] == data[10:20]
            with pytest.raises(S3Error, match="changed while it was read"):
                client.get_whole("dir/big.bin", start=10, end=20, if_match='"0123"')
