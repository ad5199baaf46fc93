"""A lean HTTP/1.1 GET for whole small objects: one persistent connection per thread.

Downloading thousands of 10-500 kB objects (a Zarr NWB) is bound by the client's CPU, not
the network: urllib3 and http.client spend ~0.5 ms of Python per request on pools, retries,
header objects and the e-mail parser, and a chunked read loop copies the body again. An S3
GET needs none of it. Here one request is a formatted string sent on a kept-alive socket,
the reply's status line and headers are split by hand, and the body, whose length the
server states, lands with ``readinto`` in one buffer that is hashed and written at once.

Anything out of the ordinary (no ``Content-Length``, a chunked body, a malformed status
line) raises :class:`Unsupported`, and the caller takes the general urllib3 path instead.
Network failures raise the standard ``OSError`` family (``ConnectionError``,
``TimeoutError``); the caller maps them to its retry policy.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ConnectFailed", "LeanBody", "LeanGetter", "Unsupported"]

_MAX_HEADERS = 200
_MAX_LINE = 65536


class Unsupported(Exception):
    """The reply is not one the lean path reads (use the general path)."""


class ConnectFailed(ConnectionError):
    """No connection could be made (nothing was sent)."""


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb", buffering=65536)
        self.used = False

    def close(self) -> None:
        for closer in (self.rfile.close, self.sock.close):
            with contextlib.suppress(OSError):
                closer()


class LeanGetter:
    """GET whole objects from one endpoint (``http://host:port`` or ``https://host``).

    Parameters
    ----------
    endpoint : str
        Scheme, host and port of the server.
    connect_timeout, read_timeout : float
        Seconds to wait to connect, and for each read.
    """

    def __init__(self, endpoint: str, connect_timeout: float, read_timeout: float) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) endpoint: {endpoint!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        default_port = self.port == (443 if self.https else 80)
        self.host_header = self.host if default_port else f"{self.host}:{self.port}"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._local = threading.local()
        self._all: list[_Conn] = []
        self._lock = threading.Lock()
        self._ssl: Any = None

    def _connect(self) -> _Conn:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.https:
            try:
                sock = self._ssl_context().wrap_socket(sock, server_hostname=self.host)
            except OSError as exc:  # ssl.SSLError included: a refused certificate too
                sock.close()
                raise ConnectFailed(f"TLS with {self.host}:{self.port} failed: {exc}") from exc
        sock.settimeout(self.read_timeout)
        conn = _Conn(sock)
        with self._lock:
            self._all.append(conn)
        return conn

    def _ssl_context(self) -> Any:
        if self._ssl is None:
            import ssl

            try:
                import certifi

                self._ssl = ssl.create_default_context(cafile=certifi.where())
            except ImportError:  # pragma: no cover - certifi is a dependency
                self._ssl = ssl.create_default_context()
        return self._ssl

    def stream(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], LeanBody]:
        """``(status, headers with lower-case names, body)`` of ``GET path``; read the body
        with ``readinto`` and close it (the connection is kept for the next request of this
        thread when the body was read to its end).

        A kept-alive connection that the server closed while idle is replaced once,
        transparently (a GET is safe to send again).
        """
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        conn: _Conn | None = getattr(self._local, "conn", None)
        self._local.conn = None  # busy until its body is closed
        if conn is not None:
            try:
                return self._exchange(conn, request)
            except _Stale:
                self._drop(conn)
        conn = self._connect()
        try:
            return self._exchange(conn, request)
        except _Stale as exc:
            self._drop(conn)
            raise ConnectionResetError("the server closed the connection") from exc

    def _exchange(self, conn: _Conn, request: bytes) -> tuple[int, dict[str, str], LeanBody]:
        try:
            conn.sock.sendall(request)
            status_line = conn.rfile.readline(_MAX_LINE)
        except (ConnectionResetError, BrokenPipeError) as exc:
            if conn.used:
                raise _Stale from exc
            self._drop(conn)
            raise
        except BaseException:
            self._drop(conn)
            raise
        if not status_line:
            if conn.used:
                raise _Stale
            self._drop(conn)
            raise ConnectionResetError("the server closed the connection without a reply")
        conn.used = True
        try:
            status, headers = _head(conn, status_line)
            length = headers.get("content-length")
            if length is None or "transfer-encoding" in headers:
                raise Unsupported("a reply without Content-Length")
        except BaseException:
            self._drop(conn)
            raise
        keep = headers.get("connection", "").lower() != "close"
        return status, headers, LeanBody(self, conn, int(length), keep)

    def _release(self, conn: _Conn) -> None:
        """A connection whose reply was read to its end: the next one of this thread."""
        if getattr(self._local, "conn", None) is None:
            self._local.conn = conn
        else:
            self._drop(conn)

    def _drop(self, conn: _Conn) -> None:
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)

    def close(self) -> None:
        """Close every connection (of every thread)."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


class LeanBody:
    """The body of one reply: ``readinto`` until it returns 0, then ``close``."""

    def __init__(self, getter: LeanGetter, conn: _Conn, length: int, keep: bool) -> None:
        self._getter = getter
        self._conn: _Conn | None = conn
        self.length = length
        self.remaining = length
        self._keep = keep

    def readinto(self, buffer: Any) -> int:
        """Read up to ``len(buffer)`` bytes of the body; 0 at its end.

        Raises
        ------
        ConnectionResetError
            If the connection ends before the body does.
        """
        if self.remaining <= 0 or self._conn is None:
            return 0
        view = memoryview(buffer)
        if len(view) > self.remaining:
            view = view[: self.remaining]
        n = self._conn.rfile.readinto(view)
        if not n:
            done = self.length - self.remaining
            raise ConnectionResetError(f"the body ended at byte {done:,} of {self.length:,}")
        self.remaining -= n
        return n

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of the body (fewer only at its end); b"" once it is read."""
        if self.remaining <= 0 or self._conn is None:
            return b""
        data = self._conn.rfile.read(min(n, self.remaining))
        if not data:
            done = self.length - self.remaining
            raise ConnectionResetError(f"the body ended at byte {done:,} of {self.length:,}")
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self.remaining == 0 and self._keep:
            self._getter._release(conn)
        else:
            self._getter._drop(conn)

    def __enter__(self) -> LeanBody:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Stale(Exception):
    """A kept-alive connection the server had closed: send again on a new one."""


def _head(conn: _Conn, status_line: bytes) -> tuple[int, dict[str, str]]:
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise Unsupported(f"a malformed status line {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADERS):
        line = conn.rfile.readline(_MAX_LINE)
        if line in (b"\r\n", b"\n"):
            return int(parts[1]), headers
        if not line:
            raise ConnectionResetError("the server closed the connection in the headers")
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    raise Unsupported("too many headers")
