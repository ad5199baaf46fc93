"""The one HTTP stack (ppdata.remote.transport) against real servers on loopback: kept-alive
connections, a server that closes them, chunked replies, bodies cut short, HTTPS, and
HTTP(S) proxies from the environment (a tiny forwarding / CONNECT proxy here)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ppdata.errors import ConnectFailed, Interrupted, NotFound, S3Error
from ppdata.remote.s3 import S3Client
from ppdata.remote.transport import Transport
from ppdata.settings import Settings

BODY = bytes(range(256)) * 40  # 10,240 bytes
SHEET = (
    "a,b,c,d,e,f,g,New Session id (Code Ocean)\n1,2,3,4,5,6,7,ecephys_612345_2025-01-01_01-01-01\n"
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    paths: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closed = threading.Event()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.set()  # a connection is closed on the server's side


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return None

    def setup(self) -> None:
        super().setup()
        assert isinstance(self.server, _Server)
        self.server.connections += 1

    def do_GET(self) -> None:
        assert isinstance(self.server, _Server)
        self.server.paths.append(self.path)
        name = self.path.rsplit("/", 1)[-1]
        if name == "moved":  # as Google answers a sheet's CSV export
            self.send_response(302)
            self.send_header("Location", "/b/sheet.csv")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if name == "sheet.csv":
            sheet = SHEET.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(sheet)))
            self.end_headers()
            self.wfile.write(sheet)
            return
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
    srv.paths = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _endpoint(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


def _read(transport: Transport, url: str) -> tuple[int, dict[str, str], bytes]:
    status, headers, body = transport.open("GET", url, {"User-Agent": "test"})
    with body:
        data = bytearray()
        chunk = bytearray(4096)
        while n := body.readinto(chunk):
            data += chunk[:n]
    return status, headers, bytes(data)


def test_kept_alive_connection_is_reused_and_counted(server):
    transport = Transport(connect_timeout=5, read_timeout=5)
    for _ in range(3):
        status, headers, data = _read(transport, _endpoint(server) + "/b/fixed")
        assert (status, headers["etag"], data) == (200, '"abc"', BODY)
    assert server.connections == 1
    assert transport.stats.requests == {"request": 3}
    assert transport.stats.bytes == {"request": 3 * len(BODY)}
    transport.close()


def test_a_connection_the_server_dropped_is_replaced(server):
    transport = Transport(connect_timeout=5, read_timeout=5)
    assert _read(transport, _endpoint(server) + "/b/drop")[2] == BODY
    # the connection is idle in the pool when the server drops it (no race with the reply)
    assert server.closed.wait(5)
    assert _read(transport, _endpoint(server) + "/b/fixed")[2] == BODY
    assert server.connections == 2
    transport.close()


def test_chunked_replies_and_bodies_cut_short(server):
    transport = Transport(connect_timeout=5, read_timeout=5)
    assert transport.fetch("GET", _endpoint(server) + "/b/chunked")[0] == b"hello"
    with pytest.raises(Interrupted, match="cut short"):
        transport.fetch("GET", _endpoint(server) + "/b/cut")
    status, _, body = transport.open("GET", _endpoint(server) + "/b/cut")
    assert status == 200
    with body, pytest.raises(Interrupted):
        while body.readinto(bytearray(len(BODY))):
            pass
    assert _read(transport, _endpoint(server) + "/b/fixed")[2] == BODY
    transport.close()


def test_s3_client_retries_and_translates(server):
    settings = Settings(endpoint_url=_endpoint(server), bucket="b", retries=1)
    with S3Client(settings) as client:
        body, meta = client.get_whole("fixed")
        assert body == BODY and meta["ETag"] == '"abc"'
        assert client.get_bytes("chunked") == b"hello"
        with pytest.raises(NotFound, match="does not exist") as info:
            client.get_whole("missing")
        assert info.value.__cause__.code == "NoSuchKey"  # the reply behind it, kept
        before = client.stats.retries
        with pytest.raises(S3Error, match="cut short") as info:
            client.get_whole("cut")
        assert isinstance(info.value.__cause__, Interrupted)
        assert client.stats.retries == before + 1  # retried once, then reported


def test_the_spreadsheet_is_downloaded_through_the_transport(server):
    from ppdata.errors import SpreadsheetError
    from ppdata.find.spreadsheet import read_spreadsheet

    sheet = read_spreadsheet(_endpoint(server) + "/b/moved")  # a redirect, followed
    assert sheet.sessions == ["ecephys_612345_2025-01-01_01-01-01"]
    assert server.paths == ["/b/moved", "/b/sheet.csv"]
    with pytest.raises(SpreadsheetError, match="cannot download the spreadsheet") as info:
        read_spreadsheet(_endpoint(server) + "/b/missing")
    assert info.value.__cause__.status == 404


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
    srv.paths = []
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, str(cert_file)
    srv.shutdown()
    srv.server_close()


def test_https_is_verified_and_kept_alive(tls_server):
    import ssl

    srv, cafile = tls_server
    url = f"https://127.0.0.1:{srv.server_address[1]}/b/fixed"
    transport = Transport(connect_timeout=5, read_timeout=5)
    with pytest.raises(ConnectFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        transport.open("GET", url)  # not signed by a known authority
    transport.close()
    ctx = ssl.create_default_context(cafile=cafile)  # trust this test's certificate
    trusting = Transport(connect_timeout=5, read_timeout=5, ssl_context=ctx)
    for _ in range(3):
        assert _read(trusting, url)[2] == BODY
    assert srv.connections == 1  # one kept alive (the refused one never reached a handler)
    trusting.close()


# -- proxies ---------------------------------------------------------------------------------


class _Proxy(ThreadingHTTPServer):
    """A forwarding proxy (absolute-URI GETs) that also tunnels CONNECT, counting both."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[str] = []


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        import http.client
        from urllib.parse import urlsplit

        assert isinstance(self.server, _Proxy)
        self.server.seen.append(f"GET {self.path}")
        parts = urlsplit(self.path)
        upstream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        upstream.request("GET", parts.path or "/", headers={"Host": parts.netloc})
        resp = upstream.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    def do_CONNECT(self) -> None:
        import select
        import socket

        assert isinstance(self.server, _Proxy)
        self.server.seen.append(f"CONNECT {self.path}")
        host, port = self.path.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=5)
        self.send_response(200, "Connection established")
        self.end_headers()
        conns = [self.connection, upstream]
        try:
            while True:
                ready, _, _ = select.select(conns, [], [], 5)
                if not ready:
                    break
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()
            self.close_connection = True


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    srv = _Proxy()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_http_proxy_and_no_proxy_are_honoured(server, proxy):
    proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"
    url = _endpoint(server) + "/b/fixed"
    via = Transport(env={"HTTP_PROXY": proxy_url})
    assert via.fetch("GET", url)[0] == BODY
    assert proxy.seen == [f"GET {url}"]
    via.close()
    direct = Transport(env={"HTTP_PROXY": proxy_url, "NO_PROXY": "localhost,127.0.0.1"})
    assert direct.fetch("GET", url)[0] == BODY
    assert len(proxy.seen) == 1  # NO_PROXY: straight to the server
    direct.close()
    assert server.paths == ["/b/fixed", "/b/fixed"]


def test_https_proxy_tunnels_to_the_bucket(tls_server, proxy, monkeypatch):
    import ssl

    srv, cafile = tls_server
    port = srv.server_address[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    ctx = ssl.create_default_context(cafile=cafile)
    transport = Transport(connect_timeout=5, read_timeout=5, ssl_context=ctx)  # reads the env
    assert transport.fetch("GET", f"https://127.0.0.1:{port}/b/fixed")[0] == BODY
    assert proxy.seen == [f"CONNECT 127.0.0.1:{port}"]
    transport.close()


def test_an_unreachable_proxy_is_an_unreachable_bucket(server):
    settings = Settings(endpoint_url=_endpoint(server), bucket="b", retries=3)
    with S3Client(settings) as client:
        client.transport = Transport(env={"HTTP_PROXY": "http://127.0.0.1:9"}, stats=client.stats)
        from ppdata.errors import BucketUnreachable

        with pytest.raises(BucketUnreachable, match="cannot reach"):
            client.get_bytes("fixed")
        assert client.stats.retries == 1  # two refused connections: given up at once


def test_only_the_transport_speaks_http():
    """One HTTP stack: import-linter does not see the standard library, so this does."""
    import ast
    from pathlib import Path

    import ppdata

    root = Path(ppdata.__file__).parent
    clients = {"http.client", "urllib.request", "urllib3", "aiohttp", "httpx"}
    speaking = set()
    for path in root.rglob("*.py"):
        if "mirror" in path.relative_to(root).parts:
            continue  # the test server's side, outside the library's core
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            if any(n in clients or n.split(".")[0] in clients for n in names):
                speaking.add(path.relative_to(root).as_posix())
    assert speaking == {"remote/transport.py"}
