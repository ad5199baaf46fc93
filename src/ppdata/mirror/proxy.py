"""A small HTTP proxy on loopback that adds per-request latency and injects faults.

Benchmarks put it between a client and the mirror to measure behaviour at real-world
latencies (30–80 ms per request to S3); tests use it to inject throttling (503 SlowDown)
and connection resets. It counts every request it forwards.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from .server import Serving

__all__ = ["Fault", "LatencyProxy"]

_HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
_SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_ERRORS = {
    "503": _SLOWDOWN,
    "500": b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>",
    "403": b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message></Error>",
    "404": b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
    b"<Message>The specified key does not exist.</Message></Error>",
}


class _Server(ThreadingHTTPServer):
    """The stdlib server, with a listen backlog for bursts and quiet about hang-ups.

    With the default backlog of 5, more than a few new connections at once (ppdata opens up
    to 16, s3fs up to 10) make the kernel drop SYNs, and the client retries a second later:
    that would be charged to whichever side a benchmark measures. Clients that hang up
    mid-response (remfile's size probe does, on purpose) are not errors.
    """

    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@dataclass
class Fault:
    """Make the next ``count`` requests whose path contains ``match`` fail.

    ``kind`` is one of:

    - ``"503"``: S3 SlowDown with ``Retry-After: <retry_after>``; ``"500"``: InternalError;
    - ``"403"``: AccessDenied; ``"404"``: NoSuchKey (S3's XML error bodies);
    - ``"reset"``: the connection is closed half-way through the response body;
    - ``"reset-before"``: the connection is reset (RST) before any reply;
    - ``"truncate"``: the full ``Content-Length`` is announced, half the body is sent, then
      the connection is closed cleanly (FIN);
    - ``"stall"``: nothing is sent for ``stall`` seconds, then the reply goes on (longer
      than the client's read timeout, this is a hang the client must time out of).

    ``retry_after`` is the ``Retry-After`` header (seconds) of a 503 or 500.
    """

    kind: str = "503"
    count: int = 1
    match: str = ""
    method: str | None = None
    retry_after: str = "0"
    stall: float = 0.0
    after: int = 0  #: let this many matching requests through first


@dataclass
class LatencyProxy(Serving):
    """Forward HTTP requests to ``upstream`` after ``latency`` seconds each.

    Examples
    --------
    >>> with LatencyProxy("http://127.0.0.1:9000", latency=0.05) as proxy:  # doctest: +SKIP
    ...     S3Client(Settings(endpoint_url=proxy.endpoint_url))
    """

    upstream: str
    latency: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.bytes_sent = 0
        self._lock = threading.Lock()

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def reset_counts(self) -> None:
        """Forget the requests and bytes counted so far."""
        with self._lock:
            self.requests.clear()
            self.bytes_sent = 0

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests[method] += 1
            for fault in self.faults:
                if fault.count > 0 and fault.match in path and fault.method in (None, method):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    fault.count -= 1
                    self.injected[fault.kind] += 1
                    return fault
        return None

    def start(self) -> LatencyProxy:
        target = urlparse(self.upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY: the status line and headers go out in one write and the body in
            # the next; with Nagle on, a small body waits for the client's delayed ACK of the
            # headers (~40 ms on Linux): latency no real server adds, charged to the client
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return None

            def _upstream(self) -> http.client.HTTPConnection:
                conn = getattr(self, "_conn", None)
                if conn is None:
                    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                    self._conn = conn
                return conn

            def _forward(self) -> None:
                if proxy.latency:
                    time.sleep(proxy.latency)
                fault = proxy._take_fault(self.command, self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if fault is not None and fault.kind == "reset-before":
                    import socket
                    import struct

                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None and fault.kind == "stall":
                    time.sleep(fault.stall)
                if fault is not None and fault.kind in _ERRORS:
                    error = b"" if self.command == "HEAD" else _ERRORS[fault.kind]
                    self.send_response(int(fault.kind))
                    self.send_header("Content-Type", "application/xml")
                    if fault.kind in ("503", "500"):
                        self.send_header("Retry-After", fault.retry_after)
                    self.send_header("Content-Length", str(len(_ERRORS[fault.kind])))
                    self.end_headers()
                    self.wfile.write(error)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                conn = self._upstream()
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    self._conn = None
                    raise
                self.send_response(resp.status, resp.reason)
                size = resp.getheader("Content-Length")
                for key, value in resp.getheaders():
                    if key.lower() not in _HOP_HEADERS:
                        self.send_header(key, value)
                self.end_headers()
                if self.command == "HEAD":
                    resp.read()
                    return
                sent = 0
                half = int(size) // 2 if size else 0
                while chunk := resp.read(1 << 16):
                    cut = fault is not None and fault.kind in ("reset", "truncate")
                    if cut and sent + len(chunk) > half:
                        self.wfile.write(chunk[: max(0, half - sent)])
                        self.wfile.flush()
                        conn.close()
                        self._conn = None
                        self.close_connection = True
                        if fault.kind == "truncate":
                            import socket

                            with contextlib.suppress(OSError):
                                self.connection.shutdown(socket.SHUT_WR)
                        self.connection.close()
                        return
                    self.wfile.write(chunk)
                    sent += len(chunk)
                with proxy._lock:
                    proxy.bytes_sent += sent

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

        self._server = _Server((self.host, self.port), Handler)
        return self._serve("ppdata-latency-proxy")
