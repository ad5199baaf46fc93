"""The one HTTP stack of ppdata: every request the library makes goes through here.

One urllib3 pool per client (a ``ProxyManager`` per proxy that ``HTTPS_PROXY`` /
``HTTP_PROXY`` name, ``NO_PROXY`` honoured), explicit connect/read timeouts, every request
attempt and response byte counted in :class:`RequestStats`, and one :class:`RetryPolicy`
(capped exponential backoff with full jitter, an explicit retryable set, ``Retry-After``
honoured). Failures leave this module as a small set of exceptions that the policy and
:func:`ppdata.errors.translate` know:

- :class:`ConnectFailed`: no connection could be made (nothing was sent);
- :class:`Interrupted`: the connection broke or a reply was cut short;
- :class:`ReadTimedOut`: the server went silent;
- :class:`HTTPStatusError`: the server answered with an error status (its S3 code parsed).

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
from typing import Any, TypeVar

from ..errors import ConnectFailed, HTTPStatusError, Interrupted, ReadTimedOut

__all__ = [
    "STREAM_ERRORS",
    "Body",
    "ConnectFailed",
    "HTTPStatusError",
    "Interrupted",
    "ReadTimedOut",
    "RequestStats",
    "RetryPolicy",
    "Transport",
]

logger = logging.getLogger(__name__)

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


class RequestStats:
    """Counts of HTTP requests and response bytes, by operation.

    Counted once per HTTP attempt (retries count too), for our own requests and for s3fs's.
    Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.bytes: dict[str, int] = {}
        self.retries = 0

    def add_request(self, operation: str) -> None:
        with self._lock:
            self.requests[operation] = self.requests.get(operation, 0) + 1

    def add_bytes(self, operation: str, n: int) -> None:
        with self._lock:
            self.bytes[operation] = self.bytes.get(operation, 0) + n

    def add_retry(self) -> None:
        with self._lock:
            self.retries += 1

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    def snapshot(self) -> dict[str, Any]:
        """A plain dict of the counts so far."""
        with self._lock:
            return {
                "requests": self.total_requests,
                "bytes": self.total_bytes,
                "retries": self.retries,
                "by_operation": {
                    op: {"requests": n, "bytes": self.bytes.get(op, 0)}
                    for op, n in sorted(self.requests.items())
                },
            }

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes.clear()
            self.retries = 0

    def __repr__(self) -> str:
        return f"RequestStats(requests={self.total_requests}, bytes={self.total_bytes})"


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

    def __init__(self, resp: Any, length: int | None) -> None:
        self._resp = resp
        self.length = length
        self._left = length
        self._done = length == 0
        # A body of known length is read straight from http.client's response: urllib3's
        # readinto reads into a new bytes object and copies it (3x the CPU for 1 GB). The
        # length is counted here, so a body cut short is never taken for a whole one.
        self._fp = getattr(resp, "_fp", None) if length else None

    def read(self, n: int = -1) -> bytes:
        try:
            data: bytes = self._resp.read(None if n < 0 else n)
        except _read_errors() as exc:
            raise _translate_read(exc) from exc
        if self._left is not None:
            self._left -= len(data)
        if n < 0 or not data or self._left == 0:
            if self._left:
                raise Interrupted(f"the body ended {self._left:,} bytes early")
            self._done = True
        return data

    def readinto(self, buffer: Any) -> int:
        try:
            if self._fp is not None:
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
                raise Interrupted(f"the body ended {self._left:,} bytes early")
        elif not n:
            self._done = True
        return n

    def close(self) -> None:
        if self._done:
            self._resp.release_conn()
        else:
            self._resp.close()

    def __enter__(self) -> Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Transport:
    """A urllib3 connection pool with ppdata's timeouts, proxies and counting.

    Parameters
    ----------
    connect_timeout, read_timeout : float
        Seconds to wait for a connection, and for each read.
    maxsize : int
        Connections kept per host (at least the number of concurrent requests).
    stats : RequestStats, optional
        Where requests and bytes are counted (a new one by default).
    env : Mapping, optional
        Where ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` are read (default: the
        process environment, when the transport is made).
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        maxsize: int = 10,
        stats: RequestStats | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.maxsize = max(1, maxsize)
        self.stats = stats if stats is not None else RequestStats()
        self.proxies = _proxies(env)
        self._managers: dict[str | None, Any] = {}
        self._route: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    # -- pools ----------------------------------------------------------------------------
    def _opener(self, url: str) -> tuple[Any, str]:
        """What sends a request to ``url``, and the target to send: the connection pool of
        its origin and the path (direct, or tunnelled through an HTTPS proxy), or a proxy
        manager and the absolute URL (plain HTTP through a proxy). Cached per origin: the
        pool manager's URL parsing and pool lookup cost as much CPU as the rest of a GET."""
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        route = self._route.get((scheme, host))
        if route is None:
            with self._lock:
                proxy = _proxy_for(self.proxies, scheme, host)
                manager = self._managers.get(proxy)
                if manager is None:
                    manager = self._managers[proxy] = self._make_manager(proxy)
                if proxy is not None and scheme == "http":
                    route = (manager, True)
                else:
                    route = (manager.connection_from_url(url), False)
                self._route[(scheme, host)] = route
        opener, absolute = route
        return opener, url if absolute else "/" + path

    def _make_manager(self, proxy: str | None) -> Any:
        import urllib3

        kwargs: dict[str, Any] = {
            "num_pools": 32,
            "maxsize": self.maxsize,
            "retries": False,
            "timeout": urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout),
        }
        try:
            import certifi

            kwargs["ca_certs"] = certifi.where()
        except ImportError:  # pragma: no cover - certifi is a dependency
            pass
        if proxy is None:
            return urllib3.PoolManager(**kwargs)
        return urllib3.ProxyManager(proxy, **kwargs)

    # -- requests -------------------------------------------------------------------------
    def open(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        operation: str = "request",
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
        import urllib3

        self.stats.add_request(operation)
        try:
            opener, target = self._opener(url)
            try:
                resp = self._send(opener, method, target, headers, body)
            except urllib3.exceptions.ClosedPoolError:  # its manager let it go: make anew
                with self._lock:
                    self._route.clear()
                opener, target = self._opener(url)
                resp = self._send(opener, method, target, headers, body)
        except (
            urllib3.exceptions.NewConnectionError,
            urllib3.exceptions.ConnectTimeoutError,
            urllib3.exceptions.SSLError,
            urllib3.exceptions.ProxyError,
        ) as exc:
            raise ConnectFailed(f"cannot connect to {_origin(url)}: {_reason(exc)}") from exc
        except _read_errors() as exc:
            raise _translate_read(exc) from exc
        got = {k.lower(): v for k, v in resp.headers.items()}
        length = got.get("content-length")
        size = int(length) if length and length.isdigit() else None
        if size is not None and method != "HEAD":
            self.stats.add_bytes(operation, size)
        return resp.status, got, Body(resp, 0 if method == "HEAD" else size)

    @staticmethod
    def _send(
        opener: Any, method: str, target: str, headers: Mapping[str, str] | None, body: Any
    ) -> Any:
        return opener.urlopen(
            method,
            target,
            headers=dict(headers or {}),
            body=body,
            preload_content=False,
            decode_content=False,
            redirect=False,
            retries=False,
            assert_same_host=False,
        )

    def fetch(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        operation: str = "request",
        ok: tuple[int, ...] = (200, 206),
    ) -> tuple[bytes, dict[str, str]]:
        """One whole request: ``(body, headers)``; a status not in ``ok`` raises.

        Raises
        ------
        HTTPStatusError
            If the server answered with another status.
        ConnectFailed, Interrupted, ReadTimedOut
            If the network failed.
        """
        status, got, body = self.open(method, url, headers, operation=operation)
        with body:
            data = b"" if method == "HEAD" else body.read()
        if status not in ok:
            raise HTTPStatusError.from_reply(status, got, data, operation)
        if body.length is not None and len(data) != body.length:
            raise Interrupted(f"the body ended at byte {len(data):,} of {body.length:,}")
        return data, got

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            managers, self._managers, self._route = list(self._managers.values()), {}, {}
        for manager in managers:
            manager.clear()


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
    import urllib3

    return (urllib3.exceptions.HTTPError, OSError)


def _translate_read(exc: BaseException) -> BaseException:
    """A network failure after the request was sent, as Interrupted / ReadTimedOut."""
    import urllib3

    if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
        return ReadTimedOut(f"no reply within the read timeout ({_reason(exc)})")
    if isinstance(exc, (Interrupted, ReadTimedOut, ConnectFailed)):
        return exc
    if isinstance(exc, urllib3.exceptions.ProtocolError) and "IncompleteRead" in str(exc):
        return Interrupted(f"the reply was cut short ({_reason(exc)})")
    return Interrupted(f"the connection broke ({_reason(exc)})")


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
