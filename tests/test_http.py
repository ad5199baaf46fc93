"""The lean HTTP path (ppdata._http) against a real HTTP server on loopback: kept-alive
connections, a server that closes them, replies it does not read, bodies cut short."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ppdata._http import LeanGetter, Unsupported
from ppdata.errors import NotFound, S3Error
from ppdata.s3 import S3Client
from ppdata.settings import Settings

BODY = bytes(range(256)) * 40  # 10,240 bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return None

    def setup(self) -> None:
        super().setup()
        assert isinstance(self.server, _Server)
        self.server.connections += 1

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        if name == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\n0\r\n\r\n")
            return
        if name == "missing":
            error = b"<Error><Code>NoSuchKey</Code><Message>no</Message></Error>"
            self.send_response(404)
            self.send_header("Content-Length", str(len(error)))
            self.end_headers()
            self.wfile.write(error)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("ETag", '"abc"')
        self.end_headers()
        if name == "cut":
            self.wfile.write(BODY[:100])
            self.close_connection = True
            return
        self.wfile.write(BODY)
        # "drop": the server forgets the connection after replying, without saying so, as
        # an idle keep-alive connection is dropped by S3 or a proxy
        self.close_connection = name == "drop"


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _endpoint(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


def _read(lean: LeanGetter, path: str) -> tuple[int, dict[str, str], bytes]:
    status, headers, body = lean.stream(path, {"User-Agent": "test"})
    with body:
        data = bytearray()
        chunk = bytearray(4096)
        while n := body.readinto(chunk):
            data += chunk[:n]
    return status, headers, bytes(data)


def test_kept_alive_connection_is_reused(server):
    lean = LeanGetter(_endpoint(server), 5, 5)
    for _ in range(3):
        status, headers, data = _read(lean, "/b/fixed")
        assert (status, headers["etag"], data) == (200, '"abc"', BODY)
    assert server.connections == 1
    lean.close()


def test_a_connection_the_server_dropped_is_replaced(server):
    lean = LeanGetter(_endpoint(server), 5, 5)
    assert _read(lean, "/b/drop")[2] == BODY
    assert _read(lean, "/b/fixed")[2] == BODY  # sent again on a new connection, unseen
    assert server.connections == 2
    lean.close()


def test_replies_it_does_not_read_and_bodies_cut_short(server):
    lean = LeanGetter(_endpoint(server), 5, 5)
    with pytest.raises(Unsupported):
        lean.stream("/b/chunked", {})
    status, _, body = lean.stream("/b/cut", {})
    assert status == 200
    with body, pytest.raises(ConnectionResetError, match="ended at byte 100 of 10,240"):
        while body.readinto(bytearray(len(BODY))):
            pass
    assert _read(lean, "/b/fixed")[2] == BODY  # a broken connection is not reused
    lean.close()


def test_s3_client_falls_back_retries_and_translates(server):
    settings = Settings(endpoint_url=_endpoint(server), bucket="b", retries=1)
    with S3Client(settings) as client:
        body, meta = client.raw.get_whole("fixed")
        assert bytes(body) == BODY and meta["ETag"] == '"abc"'
        body, _ = client.raw.get_whole("chunked")  # sent again on the urllib3 path
        assert bytes(body) == b"hello"
        with pytest.raises(NotFound, match="does not exist"):
            client.raw.get_whole("missing")
        before = client.stats.retries
        with pytest.raises(S3Error, match="ended at byte 100"):
            client.raw.get_whole("cut")
        assert client.stats.retries == before + 1  # retried once, then reported
