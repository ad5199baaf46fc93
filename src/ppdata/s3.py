"""The only module that talks to S3.

Everything goes through :class:`S3Client`: anonymous (unsigned) requests only, explicit
connect/read timeouts, one retry policy (capped exponential backoff with jitter, honouring
``Retry-After``), botocore errors translated once into :mod:`ppdata.errors`, and every HTTP
request and response byte counted in :class:`RequestStats`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from ._raw import RawGetter
from .errors import BucketUnreachable, NotFound, PpdataError, S3Error, WrongBucket
from .settings import Settings

__all__ = [
    "Listing",
    "ObjectInfo",
    "RawGetter",
    "RequestStats",
    "S3Client",
    "parse_s3_uri",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Error codes worth another try: throttling and server-side trouble.
RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "500",
        "502",
        "503",
        "504",
    }
)


@dataclass(frozen=True)
class ObjectInfo:
    """One object in the bucket."""

    key: str
    size: int
    etag: str | None = None
    last_modified: datetime | None = None

    @property
    def md5(self) -> str | None:
        """The MD5 hex digest when the ETag is one (single-part uploads), else ``None``."""
        tag = (self.etag or "").strip('"')
        if len(tag) == 32 and all(c in "0123456789abcdef" for c in tag.lower()):
            return tag.lower()
        return None


@dataclass
class Listing:
    """What one delimiter listing found: sub-folders (``prefixes``) and objects."""

    prefix: str
    prefixes: list[str] = field(default_factory=list)
    objects: list[ObjectInfo] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The last path part of every sub-folder and object (folders end with ``/``)."""
        cut = len(self.prefix)
        return [p[cut:] for p in self.prefixes] + [o.key[cut:] for o in self.objects]


class RequestStats:
    """Counts of HTTP requests and response bytes, by S3 operation.

    Counted at the HTTP layer (botocore's ``before-send`` and ``response-received``
    events), so retries count too. Thread-safe.
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


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``.

    Raises
    ------
    PpdataError
        If the text is not an ``s3://`` URI with a bucket.
    """
    # Not urllib.parse: keys may hold "#", "?" and spaces, which are not URL syntax here.
    if not uri.startswith("s3://"):
        raise PpdataError(f"{uri!r} is not an s3:// URI (expected s3://<bucket>/<key>)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise PpdataError(f"{uri!r} names no bucket (expected s3://<bucket>/<key>)")
    return bucket, key


class S3Client:
    """Anonymous, retrying, counting access to one bucket.

    Parameters
    ----------
    settings : Settings, optional
        Bucket, endpoint, timeouts and retries (default: :meth:`Settings.resolve`).

    Examples
    --------
    >>> client = S3Client()  # the real bucket, or PPDATA_ENDPOINT_URL (e.g. the mirror)
    >>> client.list("ecephys_820454_2025-11-04_14-59-22_sorted", delimiter="/").prefixes
    ... # doctest: +ELLIPSIS
    ['ecephys_820454_2025-11-04_14-59-22_sorted_2025-11-19_21-40-12/', ...]
    >>> client.stats.total_requests
    1
    >>> client.close()
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.resolve()
        self.bucket = self.settings.bucket
        self.stats = RequestStats()
        self._boto: Any = None  # made on first use: botocore takes ~0.3 s to load
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._raw: RawGetter | None = None

    # -- set-up ---------------------------------------------------------------------------
    def _make_client(self) -> Any:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        s = self.settings
        config = Config(
            signature_version=UNSIGNED,
            region_name=s.region,
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            retries={"total_max_attempts": 1},  # our own policy, see _retry
            max_pool_connections=max(10, s.max_workers + 4),
            s3={"addressing_style": "path" if s.endpoint_url else "auto"},
        )
        session = boto3.session.Session()
        client = session.client("s3", endpoint_url=s.endpoint_url, config=config)
        events = client.meta.events
        events.register("before-send.s3", self._on_send)
        events.register("response-received.s3", self._on_response)
        return client

    @property
    def _client(self) -> Any:
        """The boto3 client (HEAD, paged listings of the API), made on first use."""
        with self._pool_lock:
            if self._boto is None:
                self._boto = self._make_client()
            return self._boto

    def _on_send(self, event_name: str = "", **kwargs: Any) -> None:
        # event names are "before-send.s3.<Operation>", emitted once per HTTP attempt
        self.stats.add_request(event_name.rsplit(".", 1)[-1] or "request")

    def _on_response(self, response_dict: Any = None, event_name: str = "", **kw: Any) -> None:
        if not response_dict:
            return
        operation = event_name.rsplit(".", 1)[-1] or "request"
        if operation == "HeadObject":
            return  # its Content-Length is the object's size, but no body is sent
        headers = response_dict.get("headers") or {}
        length = headers.get("content-length") or headers.get("Content-Length")
        if length:
            self.stats.add_bytes(operation, int(length))

    @property
    def pool(self) -> ThreadPoolExecutor:
        """A shared thread pool for concurrent requests."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.max_workers, thread_name_prefix="ppdata-s3"
                )
            return self._pool

    def close(self) -> None:
        """Release the thread pool and connections."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            boto, self._boto = self._boto, None
            raw, self._raw = self._raw, None
        if boto is not None:
            boto.close()
        if raw is not None:
            raw.close()

    def __enter__(self) -> S3Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers --------------------------------------------------------------------------
    def uri(self, key: str = "") -> str:
        """The ``s3://`` URI of a key in this bucket."""
        return f"s3://{self.bucket}/{key}"

    def key_of(self, text: str) -> str:
        """The key an ``s3://`` URI of this bucket names; other text is taken as a key.

        Raises
        ------
        WrongBucket
            If the URI names another bucket (the message says how to read that one).
        """
        if not text.startswith("s3://"):
            return text
        bucket, key = parse_s3_uri(text)
        if bucket != self.bucket:
            raise WrongBucket(
                f"{text} is in the bucket {bucket!r}, but ppdata reads {self.bucket!r} at "
                f"{self.settings.where}; pass --bucket {bucket} (or set PPDATA_BUCKET)"
            )
        return key

    def http_url(self, key: str) -> str:
        """A plain HTTPS (or mirror) URL of a key, for tools that stream by URL."""
        from urllib.parse import quote

        if self.settings.endpoint_url:
            return f"{self.settings.endpoint_url}/{self.bucket}/{quote(key)}"
        return f"https://{self.bucket}.s3.{self.settings.region}.amazonaws.com/{quote(key)}"

    @property
    def boto_client(self) -> Any:
        """The underlying (unsigned) boto3 client, for code that needs it directly."""
        return self._client

    def storage_options(self, *, counted: bool = True) -> dict[str, Any]:
        """fsspec/s3fs options that reach the same endpoint anonymously.

        With ``counted`` (default), s3fs gets a session whose requests and bytes are added
        to :attr:`stats`, counted at the same layer as ours (each HTTP attempt).
        """
        opts: dict[str, Any] = {"anon": True}
        client_kwargs: dict[str, Any] = {"region_name": self.settings.region}
        if self.settings.endpoint_url:
            client_kwargs["endpoint_url"] = self.settings.endpoint_url
        opts["client_kwargs"] = client_kwargs
        if counted:
            from aiobotocore.session import AioSession

            session = AioSession()
            session.register("before-send.s3", self._on_send)
            session.register("response-received.s3", self._on_response)
            opts["session"] = session
        return opts

    # -- retry and error translation ------------------------------------------------------
    def _retry(self, what: str, call: Callable[[], T]) -> T:
        """Run ``call`` under the retry policy; translate the final error."""
        attempts = self.settings.retries + 1
        connect_failures = 0
        for attempt in range(1, attempts + 1):
            try:
                return call()
            except Exception as exc:  # translated or re-raised below
                retryable, wait_hint, connect_error = _classify(exc)
                if connect_error:
                    connect_failures += 1
                # A server we cannot connect to at all will not come back within seconds:
                # give up early so a command aimed at an unreachable endpoint never hangs.
                give_up = (not retryable) or attempt == attempts or connect_failures >= 2
                if give_up:
                    raise self._translate(what, exc) from exc
                delay = wait_hint if wait_hint is not None else _backoff(attempt)
                self.stats.add_retry()
                logger.info("retrying %s after %s (attempt %d): %.2fs", what, exc, attempt, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _translate(self, what: str, exc: BaseException) -> PpdataError:
        from botocore.exceptions import ClientError

        if isinstance(exc, PpdataError):
            return exc
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return NotFound(
                    f"the bucket {self.bucket!r} does not exist at {self.settings.where}; "
                    "check --bucket / PPDATA_BUCKET"
                )
            if code in ("NoSuchKey", "404", "NotFound") or status == 404:
                return NotFound(f"{self.uri(what)} does not exist")
            if code in ("AccessDenied", "403") or status == 403:
                return S3Error(
                    f"access denied to {self.uri(what)} at {self.settings.where}: ppdata reads "
                    "anonymously, so only public objects can be read"
                )
            detail = f"{code or status} {err.get('Message', '')}".strip()
            return S3Error(f"S3 error on {self.uri(what)}: {detail}")
        if _is_connection_error(exc):
            return BucketUnreachable(self.unreachable_message(exc))
        return S3Error(f"reading {self.uri(what)} failed: {exc}")

    def unreachable_message(self, exc: BaseException | None = None) -> str:
        """The message for an endpoint that cannot be reached, with what to do."""
        reason = f" ({type(exc).__name__})" if exc is not None else ""
        where = f"s3://{self.bucket} at {self.settings.where}{reason}"
        if self.settings.endpoint_url:
            return (
                f"cannot reach the bucket {where}: is the server running? Start the local "
                "mirror with `ppdata mirror serve`, or fix --endpoint-url / PPDATA_ENDPOINT_URL"
            )
        return (
            f"cannot reach the bucket {where}: check the network, or use a mirror: run "
            "`ppdata mirror serve` and pass --endpoint-url http://127.0.0.1:PORT "
            "(or set PPDATA_ENDPOINT_URL)"
        )

    # -- listing --------------------------------------------------------------------------
    def list(self, prefix: str, *, delimiter: str = "/") -> Listing:
        """List one level under ``prefix`` (sub-folders and objects), following pagination.

        Parameters
        ----------
        prefix : str
            Key prefix; include the trailing ``/`` to list inside a folder.
        delimiter : str
            Usually ``/``.

        Returns
        -------
        Listing
        """
        listing = Listing(prefix=prefix)
        for page in self._pages(prefix, delimiter):
            listing.prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
            listing.objects.extend(_object_info(o) for o in page.get("Contents", []))
        return listing

    def iter_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, recursively, lazily (one request per 1,000 keys)."""
        for page in self._pages(prefix, None):
            for obj in page.get("Contents", []):
                yield _object_info(obj)

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        """Every object under ``prefix``, recursively."""
        return list(self.iter_objects(prefix))

    def _pages(self, prefix: str, delimiter: str | None) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            # encoding-type=url: keys may hold characters XML cannot carry (as boto3 does)
            params = {
                "list-type": "2",
                "prefix": prefix,
                "max-keys": "1000",
                "encoding-type": "url",
            }
            if delimiter:
                params["delimiter"] = delimiter
            if token:
                params["continuation-token"] = token
            page = self.raw.list_page(params)
            yield page
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")
            if not token:
                return

    # -- reading --------------------------------------------------------------------------
    def head(self, key: str) -> ObjectInfo:
        """Size, ETag and date of one object.

        Raises
        ------
        NotFound
            If there is no such object.
        """
        resp = self._retry(key, lambda: self._client.head_object(Bucket=self.bucket, Key=key))
        return ObjectInfo(
            key=key,
            size=int(resp.get("ContentLength", 0)),
            etag=resp.get("ETag"),
            last_modified=resp.get("LastModified"),
        )

    def exists(self, key: str) -> bool:
        """True if the object exists."""
        try:
            self.head(key)
        except NotFound:
            return False
        return True

    def get_bytes(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        """Read an object, or the byte range ``[start, end)`` of it.

        A read interrupted mid-body is retried as a whole under the retry policy.

        Raises
        ------
        NotFound
            If there is no such object.
        """
        if end is not None and end <= (start or 0):
            return b""
        return self.raw.read(key, start, end)

    def get_first(self, key: str, nbytes: int) -> tuple[bytes, int]:
        """The first ``nbytes`` of an object and its total size, in one ranged GET.

        Opening a file whose key is known but whose size is not this way saves the HEAD
        request (the size comes from the response's ``Content-Range``).

        Raises
        ------
        NotFound
            If there is no such object.
        """
        return self.raw.read_first(key, nbytes)

    @property
    def raw(self) -> RawGetter:
        """The plain-HTTP path for anonymous GETs (see :class:`RawGetter`)."""
        with self._pool_lock:
            if self._raw is None:
                self._raw = RawGetter(self, self.settings.max_workers + 4)
            return self._raw

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Read many small objects concurrently; keys that do not exist are left out."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        if len(keys) == 1:
            try:
                return {keys[0]: self.get_bytes(keys[0])}
            except NotFound:
                return {}

        def one(key: str) -> tuple[str, bytes | None]:
            try:
                return key, self.get_bytes(key)
            except NotFound:
                return key, None

        out: dict[str, bytes] = {}
        for key, data in self.pool.map(one, keys):
            if data is not None:
                out[key] = data
        return out

    def get_ranges(self, key: str, ranges: Iterable[tuple[int, int]]) -> list[bytes]:
        """Read several byte ranges of one object concurrently, in the order given."""
        ranges = list(ranges)
        return list(self.pool.map(lambda r: self.get_bytes(key, r[0], r[1]), ranges))

    def check_reachable(self) -> None:
        """Make one cheap request to the bucket; raise if it cannot be reached.

        Raises
        ------
        BucketUnreachable
            If the endpoint does not answer (no network, server down).
        NotFound
            If the bucket does not exist there.
        """
        self._retry(
            "",
            lambda: self._client.list_objects_v2(Bucket=self.bucket, MaxKeys=1, Delimiter="/"),
        )

    def retry(self, what: str, call: Callable[[], T]) -> T:
        """Run any callable under this client's retry policy and error translation."""
        return self._retry(what, call)


def _object_info(obj: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=obj["Key"],
        size=int(obj.get("Size", 0)),
        etag=obj.get("ETag"),
        last_modified=obj.get("LastModified"),
    )


def _backoff(attempt: int, base: float = 0.2, cap: float = 8.0) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def _is_connection_error(exc: BaseException) -> bool:
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

    return isinstance(exc, (EndpointConnectionError, ConnectTimeoutError))


def _classify(exc: BaseException) -> tuple[bool, float | None, bool]:
    """Return (retryable, wait hint in seconds from Retry-After, is a connect failure)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )
    from urllib3.exceptions import HTTPError as Urllib3Error

    if _is_connection_error(exc):
        return True, None, True
    if isinstance(
        exc,
        (
            ConnectionClosedError,
            ReadTimeoutError,
            IncompleteReadError,
            ResponseStreamingError,
            Urllib3Error,
            ConnectionError,
            TimeoutError,
        ),
    ):
        return True, None, False
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        meta = exc.response.get("ResponseMetadata", {})
        status = str(meta.get("HTTPStatusCode", ""))
        if code in RETRYABLE_CODES or status in RETRYABLE_CODES:
            hint = (meta.get("HTTPHeaders") or {}).get("retry-after")
            try:
                wait = min(float(hint), 30.0) if hint is not None else None
            except ValueError:
                wait = None
            return True, wait, False
    return False, None, False
