"""The S3 protocol: anonymous listings, HEADs and GETs of one bucket.

Everything goes through :class:`S3Client`, which sends its requests over the one HTTP stack
of :mod:`ppdata.remote.transport` (unsigned requests only, explicit timeouts, proxies from the
environment, every request and response byte counted in :class:`RequestStats`), runs them
under the one :class:`~ppdata.remote.transport.RetryPolicy`, and turns failures into
:mod:`ppdata.errors` through the one table there (:func:`ppdata.errors.translate`).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from ..errors import HTTPStatusError, NotFound, PpdataError, WrongBucket, translate
from ..settings import Settings
from .objects import (
    ByteRange,
    Listing,
    ListPage,
    ObjectInfo,
    decode_body,
    http_date,
    parse_listing,
    parse_s3_uri,
    reply_meta,
    request_headers,
    total_size,
)
from .stats import RequestStats
from .transport import Body, RetryPolicy, Transport

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "ByteRange",
    "ListPage",
    "Listing",
    "ObjectInfo",
    "RequestStats",
    "S3Client",
    "parse_s3_uri",
]

T = TypeVar("T")


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
        self.policy = RetryPolicy(retries=self.settings.retries)
        s = self.settings
        # connections are made only when needed: a generous pool costs nothing idle, and
        # a download with more --jobs than max_workers never throws connections away
        self.transport = Transport(
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            maxsize=max(64, s.max_workers + 4),
            stats=self.stats,
        )
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

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
        self.transport.close()

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
        from ..naming import as_s3_uri

        text = as_s3_uri(text)
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
        if self.settings.endpoint_url:
            return f"{self.settings.endpoint_url}/{self.bucket}/{quote(key)}"
        return f"https://{self.bucket}.s3.{self.settings.region}.amazonaws.com/{quote(key)}"

    def storage_options(self, *, counted: bool = True) -> dict[str, Any]:
        """fsspec/s3fs options that reach the same endpoint anonymously.

        For the one reader that needs an fsspec filesystem (hdmf-zarr's ``NWBZarrIO``).
        The same timeouts and retries as ours; proxies come from the same environment
        variables (botocore reads ``HTTPS_PROXY`` / ``NO_PROXY``). With ``counted``
        (default), s3fs gets a session whose requests and bytes are added to :attr:`stats`,
        counted at the same layer as ours (each HTTP attempt).
        """
        s = self.settings
        client_kwargs: dict[str, Any] = {"region_name": s.region}
        if s.endpoint_url:
            client_kwargs["endpoint_url"] = s.endpoint_url
        opts: dict[str, Any] = {
            "anon": True,
            "client_kwargs": client_kwargs,
            "config_kwargs": {
                "connect_timeout": s.connect_timeout,
                "read_timeout": s.read_timeout,
                "retries": {"total_max_attempts": s.retries + 1, "mode": "standard"},
            },
        }
        if counted:
            from aiobotocore.session import AioSession

            session = AioSession()
            session.register("before-send.s3", self._on_send)
            session.register("response-received.s3", self._on_response)
            opts["session"] = session
        return opts

    def _on_send(self, event_name: str = "", **kwargs: Any) -> None:
        # s3fs's botocore events: "before-send.s3.<Operation>", once per HTTP attempt
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

    # -- retry and error translation ------------------------------------------------------
    def retry(self, what: str, call: Callable[[], T]) -> T:
        """Run ``call`` under the retry policy; translate its final failure.

        ``what`` is the key (or prefix) it reads, for the error message.
        """
        try:
            return self.policy.call(call, on_retry=lambda exc, delay: self.stats.add_retry())
        except (HTTPStatusError, ConnectionError, TimeoutError) as exc:
            raise self._translate(what, exc) from exc

    def _translate(self, what: str, exc: BaseException) -> PpdataError:
        return translate(
            exc,
            uri=self.uri(what),
            bucket=self.bucket,
            where=self.settings.where,
            unreachable=self.unreachable_message(exc),
        )

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
            listing.prefixes.extend(page.prefixes)
            listing.objects.extend(page.objects)
        return listing

    def iter_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, recursively, lazily (one request per 1,000 keys)."""
        for page in self._pages(prefix, None):
            yield from page.objects

    def list_objects(self, prefix: str) -> builtins.list[ObjectInfo]:
        """Every object under ``prefix``, recursively."""
        return list(self.iter_objects(prefix))

    def _pages(
        self, prefix: str, delimiter: str | None, max_keys: int = 1000
    ) -> Iterator[ListPage]:
        token: str | None = None
        while True:
            page = self.list_page(prefix, delimiter=delimiter, token=token, max_keys=max_keys)
            yield page
            if not page.truncated or not page.token:
                return
            token = page.token

    def list_page(
        self,
        prefix: str,
        *,
        delimiter: str | None = "/",
        token: str | None = None,
        max_keys: int = 1000,
    ) -> ListPage:
        """One page of a listing (for paging through a large folder one screen at a time).

        Parameters
        ----------
        prefix : str
            Key prefix.
        delimiter : str or None
            ``/`` for one level, ``None`` for everything under the prefix.
        token : str, optional
            The ``token`` of the previous page, to get the next one.
        max_keys : int
            Entries per page (S3 sends at most 1,000).
        """
        params = {
            "list-type": "2",
            "prefix": prefix,
            "max-keys": str(max_keys),
            "encoding-type": "url",
        }
        if delimiter:
            params["delimiter"] = delimiter
        if token:
            params["continuation-token"] = token
        return self._request_page(params)

    def _request_page(self, params: dict[str, str]) -> ListPage:
        """One ListObjectsV2 page (parsed with ElementTree: a tenth of botocore's CPU)."""
        from urllib.parse import urlencode

        url = self.http_url("") + "?" + urlencode(params, quote_via=quote)
        headers = {"User-Agent": "ppdata"}

        def call() -> bytes:
            data, got = self.transport.fetch("GET", url, headers=headers, operation="ListObjectsV2")
            return decode_body(data, got.get("content-encoding"))

        return parse_listing(self.retry(params.get("prefix", ""), call))

    # -- reading --------------------------------------------------------------------------
    def head(self, key: str) -> ObjectInfo:
        """Size, ETag and date of one object.

        Raises
        ------
        NotFound
            If there is no such object.
        """
        url = self.http_url(key)
        headers = {"User-Agent": "ppdata"}
        _, got = self.retry(
            key, lambda: self.transport.fetch("HEAD", url, headers=headers, operation="HeadObject")
        )
        stamp = got.get("last-modified")
        return ObjectInfo(
            key=key,
            size=int(got.get("content-length") or 0),
            etag=got.get("etag"),
            last_modified=http_date(stamp) if stamp else None,
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
        return self.get_whole(key, start=start, end=end)[0]

    def get_first(self, key: str, nbytes: int) -> tuple[bytes, int]:
        """The first ``nbytes`` of an object and its total size, in one ranged GET.

        Opening a file whose key is known but whose size is not this way saves the HEAD
        request (the size comes from the response's ``Content-Range``).

        Raises
        ------
        NotFound
            If there is no such object.
        """
        data, meta = self.get_whole(key, start=0, end=max(1, nbytes))
        return data[:nbytes], total_size(meta.get("ContentRange"), len(data))

    def open_head(self, key: str, nbytes: int) -> tuple[Body, ObjectInfo]:
        """Start a GET of an object's first ``nbytes``: once its reply's headers came, the
        body (unread: the caller reads and closes it) and the size and ETag a HEAD would say.

        Raises
        ------
        NotFound
            If there is no such object.
        """
        body, meta = self.stream(key, start=0, end=max(1, nbytes))
        return body, ObjectInfo(
            key, total_size(meta.get("ContentRange"), body.length or 0), meta.get("ETag")
        )

    def get_tail(self, key: str, nbytes: int) -> tuple[bytes, int]:
        """The last ``nbytes`` of an object (all of it if smaller) and its total size, in one
        GET of a suffix range (``Range: bytes=-N``): the end of a file whose size is not
        known yet, read beside its start.

        Raises
        ------
        NotFound
            If there is no such object.
        """
        data, meta = self.get_whole(key, start=-max(1, nbytes))
        return data, total_size(meta.get("ContentRange"), len(data))

    def get_whole(self, key: str, **span: Unpack[ByteRange]) -> tuple[bytes, dict[str, Any]]:
        """One GET of ``span`` (the whole object by default), read into one buffer:
        ``(body, {"ETag", "ContentLength", "ContentRange"})``. An interrupted body is fetched
        again whole, under the retry policy.
        """
        url = self.http_url(key)
        headers = request_headers(**span)

        def call() -> tuple[bytes, dict[str, Any]]:
            data, got = self.transport.fetch("GET", url, headers=headers, operation="GetObject")
            return data, reply_meta(got, len(data))

        return self.retry(key, call)

    def stream(self, key: str, **span: Unpack[ByteRange]) -> tuple[Body, dict[str, Any]]:
        """Start a streaming GET of ``span`` (the whole object by default): ``(body,
        {"ETag", "ContentLength", "ContentRange"})``.

        The caller reads the body (``readinto`` / ``read``) and closes it; a failure while
        reading is a :data:`ppdata.remote.transport.STREAM_ERRORS` (resume from where it broke).
        """
        url = self.http_url(key)
        headers = request_headers(**span)

        def call() -> tuple[Body, dict[str, Any]]:
            status, got, body = self.transport.open("GET", url, headers, operation="GetObject")
            if status not in (200, 206):
                with body:
                    data = body.read(65536)
                raise HTTPStatusError.from_reply(status, got, data, "GetObject")
            return body, reply_meta(got, body.length)

        return self.retry(key, call)

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

    def get_ranges(self, key: str, ranges: Iterable[tuple[int, int]]) -> builtins.list[bytes]:
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
        next(self._pages("", "/", max_keys=1))
