"""The lean HTTP path (ppdata._http) against a real HTTP server on loopback: kept-alive
connections, a server that closes them, replies it does not read, bodies cut short."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ppdata._http import ConnectFailed, LeanGetter, Unsupported
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


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[_Server, str]]:
    """The same server over TLS, with a certificate for 127.0.0.1 made here (the real
    bucket is reached over HTTPS)."""
    import datetime as dt
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, str(cert_file)
    srv.shutdown()
    srv.server_close()


def test_https_is_verified_and_kept_alive(tls_server):
    import ssl

    srv, cafile = tls_server
    endpoint = f"https://127.0.0.1:{srv.server_address[1]}"
    lean = LeanGetter(endpoint, 5, 5)
    with pytest.raises(ConnectFailed, match="certificate verify failed") as info:
        lean.stream("/b/fixed", {})  # not signed by a known authority
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
    lean._ssl = ssl.create_default_context(cafile=cafile)  # trust this test's certificate
    for _ in range(3):
        assert _read(lean, "/b/fixed")[2] == BODY
    assert _read(lean, "/b/drop")[2] == BODY
    assert _read(lean, "/b/fixed")[2] == BODY
    assert srv.connections == 2  # one kept alive, one after the drop (the refused one never
    # reached the handler)
    lean.close()
