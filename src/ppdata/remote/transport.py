"""The one HTTP stack of ppdata: every request the library makes goes through here.

Kept-alive HTTP/1.1 connections of the standard library's ``http.client``, pooled per origin
(through the proxy that ``HTTPS_PROXY`` / ``HTTP_PROXY`` name, ``NO_PROXY`` honoured: a
CONNECT tunnel for HTTPS), explicit connect/read timeouts, every request attempt and response
byte counted in :class:`RequestStats`, and one :class:`RetryPolicy`
(capped exponential backoff with full jitter, an explicit retryable set, ``Retry-After``
honoured). Failures leave this module as a small set of exceptions that the policy and
:func:`ppdata.errors.translate` know:

- :class:`ConnectFailed`: no connection could be made (nothing was sent);
- :class:`Interrupted`: the connection broke or a reply was cut short;
- :class:`ReadTimedOut`: the server went silent;
- :class:`HTTPStatusError`: the server answered with an error status (its S3 code parsed).

Why ``http.client`` and not urllib3 (which wraps it) or obstore: see
``docs/TRANSPORT.md``. In short, urllib3's import alone (~75 ms of CPU, before the first
request of every command) was the whole 10% by which the download benchmark regressed at
30 and 50 ms; obstore reports neither the HTTP status nor ``Retry-After``.

The one place that needs an fsspec filesystem (hdmf-zarr's ``NWBZarrIO``) gets s3fs options
from :meth:`ppdata.remote.s3.S3Client.storage_options`, counted into the same :class:`RequestStats`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from ..errors import ConnectFailed, HTTPStatusError, Interrupted, ReadTimedOut
from .stats import RequestStats

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "STREAM_ERRORS",
    "UNNAMED",
    "Body",
    "ConnectFailed",
    "HTTPStatusError",
    "Interrupted",
    "ReadTimedOut",
    "Request",
    "RetryPolicy",
    "Transport",
]

logger = logging.getLogger(__name__)

#: What a kept-alive connection that the server closed while idle raises when it is used.
_STALE: tuple[type[BaseException], ...] = (
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
)

#: What reading a body may raise when the network fails mid-way (resume-worthy).
STREAM_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)

T = TypeVar("T")

#: HTTP statuses worth another try: throttling and server-side trouble.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

#: S3 error codes worth another try, whatever the status they came with.
RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """The one retry policy: which failures are retried, and how long to wait.

    Capped exponential backoff with full jitter; a ``Retry-After`` the server sends is
    waited instead (up to ``max_wait``). A server that refuses connections twice is given
    up on at once: it will not come back within seconds.

    Parameters
    ----------
    retries : int
        Attempts after the first one.
    base, cap : float
        The first backoff ceiling and the largest, in seconds.
    max_wait : float
        The longest ``Retry-After`` honoured, in seconds.
    """

    retries: int = 4
    base: float = 0.2
    cap: float = 8.0
    max_wait: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        return random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))

    def classify(self, exc: BaseException) -> tuple[bool, float | None]:
        """``(retryable, Retry-After in seconds or None)`` of a failure."""
        if isinstance(exc, HTTPStatusError):
            if exc.status in RETRYABLE_STATUSES or exc.code in RETRYABLE_CODES:
                hint = exc.retry_after
                return True, None if hint is None else min(hint, self.max_wait)
            return False, None
        return isinstance(exc, STREAM_ERRORS), None

    def call(
        self,
        fn: Callable[[], T],
        *,
        on_retry: Callable[[BaseException, float], None] | None = None,
    ) -> T:
        """Run ``fn`` until it succeeds, fails for good, or the attempts run out.

        The last failure is raised as it is (translate it with :func:`ppdata.errors.translate`).
        """
        attempts = self.retries + 1
        connect_failures = 0
        for attempt in range(1, attempts + 1):
            try:
                return fn()
            except (HTTPStatusError, ConnectionError, TimeoutError) as exc:
                retryable, hint = self.classify(exc)
                if isinstance(exc, ConnectFailed):
                    connect_failures += 1
                if not retryable or attempt == attempts or connect_failures >= 2:
                    raise
                delay = hint if hint is not None else self.backoff(attempt)
                if on_retry is not None:
                    on_retry(exc, delay)
                logger.info("retrying after %s (attempt %d): %.2fs", exc, attempt, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


class Body:
    """The body of one reply: ``read`` / ``readinto`` until empty, then ``close``.

    Network failures while reading are raised as :class:`Interrupted` / :class:`ReadTimedOut`.
    A body read to its end gives its connection back to the pool.
    """

    def __init__(self, resp: Any, length: int | None, release: Callable[[bool], None]) -> None:
        self._resp = resp
        self.length = length
        self._left = length
        self._done = length == 0
        self._release = release
        # A body of known length is read straight from the socket's buffered reader (as
        # http.client's own readinto does, without its per-call slicing); its length is
        # counted here, so a body cut short is never taken for a whole one.
        self._fp = resp.fp if length else None

    def read(self, n: int = -1) -> bytes:
        try:
            if self._fp is not None:
                left = self._left or 0
                data: bytes = self._fp.read(left if n < 0 else min(n, left))
            else:
                data = self._resp.read(None if n < 0 else n)
        except _read_errors() as exc:
            raise _translate_read(exc) from exc
        if self._left is not None:
            self._left -= len(data)
        if n < 0 or not data or self._left == 0:
            if self._left:
                raise Interrupted(f"the reply was cut short: {self._left:,} bytes never came")
            self._done = True
        return data

    def readinto(self, buffer: Any) -> int:
        try:
            if self._fp is not None:
                left = self._left or 0
                if len(buffer) > left:
                    buffer = memoryview(buffer)[:left]
                n: int = self._fp.readinto(buffer)
            else:
                n = self._resp.readinto(buffer)
        except _read_errors() as exc:
            raise _translate_read(exc) from exc
        if self._left is not None:
            self._left -= n
            if self._left == 0:
                self._done = True
            elif not n and len(buffer):
                raise Interrupted(f"the reply was cut short: {self._left:,} bytes never came")
        elif not n:
            self._done = True
        return n

    def close(self) -> None:
        release, self._release = self._release, _nothing
        release(self._done and not self._resp.will_close)

    def __enter__(self) -> Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _nothing(reuse: bool) -> None:
    return None


#: The operation a request is counted as when the caller names none.
UNNAMED = "request"


class Request(TypedDict, total=False):
    """What :meth:`Transport.open` sends besides the method and URL, as keywords (what
    :meth:`Transport.fetch` passes on): ``headers``, the ``operation`` it is counted as
    (default :data:`UNNAMED`), and a ``body``."""

    headers: Mapping[str, str] | None
    operation: str
    body: bytes | None


class Transport:
    """Kept-alive HTTP/1.1 connections (the standard library's ``http.client``) with
    ppdata's timeouts, proxies and counting.

    Connections are pooled per origin (and proxy); one that the server closed while it was
    idle is replaced, and a GET or HEAD sent on it is sent again once on a new one. Nothing
    else is retried here: :class:`RetryPolicy` decides.

    Parameters
    ----------
    connect_timeout, read_timeout : float
        Seconds to wait for a connection, and for each read.
    maxsize : int
        Idle connections kept per origin (at least the number of concurrent requests).
    stats : RequestStats, optional
        Where requests and bytes are counted (a new one by default).
    env : Mapping, optional
        Where ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` are read (default: the
        process environment, when the transport is made).
    ssl_context : ssl.SSLContext, optional
        How HTTPS servers are verified (default: the system's TLS settings with certifi's
        certificate authorities).

    Examples
    --------
    >>> t = Transport(connect_timeout=5, read_timeout=5)
    >>> t.proxies == {} or isinstance(t.proxies, dict)
    True
    >>> t.close()
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        maxsize: int = 10,
        stats: RequestStats | None = None,
        env: Mapping[str, str] | None = None,
        ssl_context: Any = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.maxsize = max(1, maxsize)
        self.stats = stats if stats is not None else RequestStats()
        self.proxies = _proxies(env)
        self._ssl_context = ssl_context
        self._routes: dict[tuple[str, str], _Route] = {}
        self._idle: dict[_Route, list[Any]] = {}
        self._lock = threading.Lock()
        self._generation = 0

    # -- connections ----------------------------------------------------------------------
    def _route(self, scheme: str, host: str) -> _Route:
        """How ``scheme://host`` is reached: directly, through a proxy that forwards
        absolute URLs (plain HTTP), or through a CONNECT tunnel (HTTPS). Cached per origin."""
        route = self._routes.get((scheme, host))
        if route is None:
            if scheme not in ("http", "https"):
                raise ConnectFailed(f"cannot connect to {scheme}://{host}: not http(s)")
            proxy = _proxy_for(self.proxies, scheme, host)
            route = _Route(scheme, host, proxy)
            with self._lock:
                route = self._routes.setdefault((scheme, host), route)
        return route

    def _connect(self, route: _Route) -> Any:
        """A new connection along ``route``, connected, with the read timeout set."""
        import http.client

        if route.proxy is None:
            address, tunnel = route.host, None
        else:
            address = route.proxy_host
            tunnel = route.host if route.scheme == "https" else None
        conn: http.client.HTTPConnection
        if route.scheme == "https":
            conn = http.client.HTTPSConnection(
                address, timeout=self.connect_timeout, context=self._context()
            )
        else:
            conn = http.client.HTTPConnection(address, timeout=self.connect_timeout)
        if tunnel is not None:
            conn.set_tunnel(tunnel, headers=route.proxy_headers)
        try:
            conn.connect()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            conn.close()
            via = f" through the proxy {route.proxy}" if route.proxy else ""
            raise ConnectFailed(
                f"cannot connect to {route.scheme}://{route.host}{via}: {_reason(exc)}"
            ) from exc
        if conn.sock is not None:
            conn.sock.settimeout(self.read_timeout)
        return conn

    def _context(self) -> Any:
        if self._ssl_context is None:
            import ssl

            try:
                import certifi

                context = ssl.create_default_context(cafile=certifi.where())
            except ImportError:  # pragma: no cover - certifi is a dependency
                context = ssl.create_default_context()
            with self._lock:
                if self._ssl_context is None:
                    self._ssl_context = context
        return self._ssl_context

    def _checkout(self, route: _Route) -> tuple[Any, bool]:
        """An idle connection of ``route`` that the server has not closed, or a new one;
        and whether it was used before."""
        while True:
            with self._lock:
                idle = self._idle.get(route)
                conn = idle.pop() if idle else None
            if conn is None:
                return self._connect(route), False
            if not _dropped(conn):
                return conn, True
            conn.close()

    def _checkin(self, route: _Route, conn: Any, generation: int) -> None:
        with self._lock:
            idle = self._idle.setdefault(route, [])
            if generation == self._generation and len(idle) < self.maxsize:
                idle.append(conn)
                return
        conn.close()

    # -- requests -------------------------------------------------------------------------
    def open(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        operation: str = UNNAMED,
        body: bytes | None = None,
    ) -> tuple[int, dict[str, str], Body]:
        """Send one request; ``(status, headers with lower-case names, body)``.

        The caller reads the body and closes it. Counted as one request of ``operation``, and
        the reply's ``Content-Length`` as its bytes (not for ``HEAD``).

        Raises
        ------
        ConnectFailed, Interrupted, ReadTimedOut
            If the request could not be sent or its reply did not come.
        """
        self.stats.add_request(operation)
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        route = self._route(scheme, host)
        target = url if route.absolute else "/" + path
        sent = {"Host": host, **(headers or {})}
        if route.absolute:
            sent.update(route.proxy_headers)
        generation = self._generation
        conn, reused = self._checkout(route)
        began = time.perf_counter()
        try:
            resp = _exchange(conn, method, target, sent, body)
        except _STALE as exc:
            conn.close()
            if not reused or method not in ("GET", "HEAD"):
                raise _translate_read(exc) from exc
            # a kept-alive connection the server had closed: once more on a new one (an
            # attempt, counted as one)
            self.stats.add_request(operation)
            conn, reused = self._connect(route), False
            try:
                resp = _exchange(conn, method, target, sent, body)
            except _read_errors() as exc2:
                conn.close()
                raise _translate_read(exc2) from exc2
        except _read_errors() as exc:
            conn.close()
            raise _translate_read(exc) from exc
        self.stats.add_reply_time(time.perf_counter() - began)
        got = {k.lower(): v for k, v in resp.getheaders()}
        length = resp.length if not resp.chunked else None
        if length is not None and method != "HEAD":
            self.stats.add_bytes(operation, length)

        def release(reuse: bool) -> None:
            resp.close()
            if reuse:
                self._checkin(route, conn, generation)
            else:
                conn.close()

        return resp.status, got, Body(resp, 0 if method == "HEAD" else length, release)

    def fetch(
        self, method: str, url: str, *, ok: tuple[int, ...] = (200, 206), **request: Unpack[Request]
    ) -> tuple[bytes, dict[str, str]]:
        """One whole request: ``(body, headers)``; a status not in ``ok`` raises. ``request``
        is what :meth:`open` sends (``headers``, ``operation``, ``body``).

        Raises
        ------
        HTTPStatusError
            If the server answered with another status.
        ConnectFailed, Interrupted, ReadTimedOut
            If the network failed.
        """
        status, got, body = self.open(method, url, **request)
        with body:
            data = b"" if method == "HEAD" else body.read()
        if status not in ok:
            operation = request.get("operation", UNNAMED)
            raise HTTPStatusError.from_reply(status, got, data, operation)
        if body.length is not None and len(data) != body.length:
            raise Interrupted(f"the body ended at byte {len(data):,} of {body.length:,}")
        return data, got

    def close(self) -> None:
        """Close every idle connection (those in use are closed when their body is)."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


class _Route:
    """One way to an origin: ``scheme``, ``host`` (``name[:port]``), and the proxy, if any."""

    __slots__ = ("absolute", "host", "proxy", "proxy_headers", "proxy_host", "scheme")

    def __init__(self, scheme: str, host: str, proxy: str | None) -> None:
        self.scheme, self.host, self.proxy = scheme, host, proxy
        self.proxy_host = ""
        self.proxy_headers: dict[str, str] = {}
        if proxy is not None:
            from urllib.parse import unquote, urlsplit

            parts = urlsplit(proxy)
            self.proxy_host = parts.netloc.rpartition("@")[2]
            if parts.username is not None:
                import base64

                user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                token = base64.b64encode(user.encode()).decode()
                self.proxy_headers = {"Proxy-Authorization": f"Basic {token}"}
        # plain HTTP through a proxy: the proxy is sent the absolute URL
        self.absolute = proxy is not None and scheme == "http"


def _exchange(
    conn: Any, method: str, target: str, headers: Mapping[str, str], body: bytes | None
) -> Any:
    conn.request(method, target, body=body, headers=headers)
    return conn.getresponse()


def _dropped(conn: Any) -> bool:
    """Whether an idle connection was closed by the server (it is readable: EOF, or bytes
    nobody asked for)."""
    import select

    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _proxies(env: Mapping[str, str] | None) -> dict[str, str]:
    """``{"http": url, "https": url, "no": hosts}`` from the environment (either case)."""
    import os

    env = os.environ if env is None else env
    out: dict[str, str] = {}
    for name, value in env.items():
        low = name.lower()
        if value and low.endswith("_proxy"):
            key = low[: -len("_proxy")]
            if name == low or key not in out:  # lower case wins, as in urllib and curl
                out[key] = value
    return out


def _proxy_for(proxies: Mapping[str, str], scheme: str, host: str) -> str | None:
    """The proxy URL for ``scheme://host``, or ``None`` (no proxy, or NO_PROXY matches)."""
    proxy = proxies.get(scheme)
    if not proxy:
        return None
    import urllib.request

    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if bypass(host, {"no": proxies.get("no", "")}):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _read_errors() -> tuple[type[BaseException], ...]:
    import http.client

    return (http.client.HTTPException, OSError)


def _translate_read(exc: BaseException) -> BaseException:
    """A network failure after the request was sent, as Interrupted / ReadTimedOut."""
    import http.client

    if isinstance(exc, (Interrupted, ReadTimedOut, ConnectFailed)):
        return exc
    if isinstance(exc, TimeoutError):
        return ReadTimedOut(f"no reply within the read timeout ({_reason(exc)})")
    if isinstance(exc, http.client.IncompleteRead):
        return Interrupted(f"the reply was cut short ({_reason(exc)})")
    return Interrupted(f"the connection broke ({_reason(exc)})")


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
