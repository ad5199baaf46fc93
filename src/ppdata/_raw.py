"""The plain-HTTP path of :class:`ppdata.s3.S3Client`: anonymous GETs and listings without
botocore, under the client's retry policy, error translation and request counting.

Replies are read by the lean HTTP/1.1 client of :mod:`ppdata._http` (one kept-alive
connection per thread); urllib3 serves the replies it does not read (no ``Content-Length``,
chunked bodies). Errors are raised as the botocore exceptions the client's retry policy
knows, so both paths behave the same for callers.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from .errors import S3Error

if TYPE_CHECKING:
    from .s3 import S3Client

__all__ = ["RawGetter"]


class RawGetter:
    """Anonymous GETs over a plain urllib3 pool, under the client's rules.

    botocore spends ~2 ms of CPU per request building and parsing it; for thousands of small
    files that, not the network, is the limit. An unsigned GET needs none of it, so this
    sends one directly to :meth:`S3Client.http_url`, with the client's timeouts, its retry
    policy and error translation (:meth:`S3Client.retry`; failures are raised as the botocore
    errors that policy knows), and its request and byte counts (as ``GetObject``).
    """

    def __init__(self, client: S3Client, jobs: int) -> None:
        s = client.settings
        self.client = client
        self.jobs = max(jobs, 1)
        self.endpoint = s.endpoint_url or f"https://s3.{s.region}.amazonaws.com"
        self._pool: Any = None
        self._lean: dict[str, Any] = {}
        self._lean_lock = threading.Lock()

    @property
    def pool(self) -> Any:
        """The urllib3 pool of streamed and ranged GETs, made on first use."""
        with self._lean_lock:
            if self._pool is None:
                import urllib3

                s = self.client.settings
                kwargs: dict[str, Any] = {}
                with contextlib.suppress(ImportError):
                    import certifi

                    kwargs["ca_certs"] = certifi.where()
                self._pool = urllib3.PoolManager(
                    num_pools=4,
                    maxsize=self.jobs,
                    retries=False,
                    timeout=urllib3.Timeout(connect=s.connect_timeout, read=s.read_timeout),
                    **kwargs,
                )
            return self._pool

    def open(
        self,
        key: str,
        start: int | None = None,
        end: int | None = None,
        if_match: str | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Start a streaming GET of ``[start, end)``: ``(body, {"ETag", "ContentLength"})``.

        ``if_match`` (an ETag) makes the server refuse the read if the object changed. The
        caller reads the body and closes it.
        """
        headers = _headers(start, end)
        if if_match:
            headers["If-Match"] = if_match
        url = self.client.http_url(key)
        return self.client.retry(key, lambda: self._lean_stream(url, headers))

    def read(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        """The whole body of a GET (``[start, end)``); an interrupted body is fetched again."""
        url = self.client.http_url(key)
        headers = _headers(start, end)
        return self.client.retry(key, lambda: self._lean_get(url, headers)[0])

    def read_first(self, key: str, nbytes: int) -> tuple[bytes, int]:
        """``(first nbytes, total size)`` of an object, from one ranged GET."""
        url = self.client.http_url(key)
        headers = _headers(0, max(1, nbytes))
        data, meta = self.client.retry(key, lambda: self._lean_get(url, headers))
        return data[:nbytes], _total_size(meta.get("ContentRange"), len(data))

    def _get(
        self, url: str, headers: dict[str, str], operation: str = "GetObject"
    ) -> tuple[Any, dict[str, Any]]:
        import urllib3
        from botocore import exceptions as bx

        stats = self.client.stats
        stats.add_request(operation)
        try:
            resp = self.pool.request(
                "GET",
                url,
                headers=headers,
                preload_content=False,
                decode_content=False,
                redirect=False,
            )
        except (
            urllib3.exceptions.NewConnectionError,
            urllib3.exceptions.ConnectTimeoutError,
        ) as exc:
            raise bx.EndpointConnectionError(endpoint_url=self.endpoint, error=exc) from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise bx.ReadTimeoutError(endpoint_url=self.endpoint, error=exc) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise bx.ConnectionClosedError(endpoint_url=self.endpoint, error=exc) from exc
        length = resp.headers.get("Content-Length")
        if length:
            stats.add_bytes(operation, int(length))
        if resp.status in (200, 206):
            return _Body(resp), {
                "ETag": resp.headers.get("ETag"),
                "ContentLength": int(length) if length else None,
                "ContentEncoding": resp.headers.get("Content-Encoding"),
                "ContentRange": resp.headers.get("Content-Range"),
            }
        data = resp.read(65536)
        resp.release_conn()
        raise _client_error(resp.status, resp.headers, data, operation)

    def get_whole(self, key: str, if_match: str | None = None) -> tuple[bytes, dict[str, Any]]:
        """The whole body of an object in one buffer: ``(body, {"ETag", "ContentLength"})``.

        For small objects (up to a few MB): one lean request on a kept-alive connection of
        this thread (:mod:`ppdata._http`), about a fifth of urllib3's CPU. Retries, error
        translation and counting are the same as for :meth:`read`; an interrupted body is
        fetched again whole.
        """
        headers = _headers(None, None)
        if if_match:
            headers["If-Match"] = if_match
        url = self.client.http_url(key)
        return self.client.retry(key, lambda: self._lean_get(url, headers))

    def _lean_get(
        self, url: str, headers: dict[str, str], operation: str = "GetObject", decode: bool = False
    ) -> tuple[bytes, dict[str, Any]]:
        """One whole GET through the lean path, into one buffer."""
        body, meta = self._lean_stream(url, headers, operation)
        with contextlib.closing(body):
            if meta["ContentLength"] is not None:
                data = _read_all(body, meta["ContentLength"])
            else:  # a chunked reply, on the urllib3 path
                data = b"".join(iter(lambda: body.read(2**20), b""))
        encoding = (meta.get("ContentEncoding") or "identity").lower()
        if decode and encoding == "gzip":
            import gzip

            data = gzip.decompress(data)
        elif decode and encoding not in ("identity", ""):
            raise S3Error(f"unexpected Content-Encoding {encoding} from {self.endpoint}")
        return data, {**meta, "ContentLength": len(data)}

    def _lean_stream(
        self, url: str, headers: dict[str, str], operation: str = "GetObject"
    ) -> tuple[Any, dict[str, Any]]:
        """Start a GET on the lean path: ``(body, {"ETag", "ContentLength",
        "ContentEncoding", "ContentRange"})``, the body having ``read``, ``readinto`` and
        ``close``. An error reply is
        raised as the botocore error the retry policy knows; a reply the lean path does not
        read is sent again on the urllib3 path."""
        from botocore import exceptions as bx

        from ._http import ConnectFailed, LeanGetter, Unsupported

        scheme, rest = url.split("://", 1)
        host, _, path = rest.partition("/")
        base = f"{scheme}://{host}"
        with self._lean_lock:
            lean = self._lean.get(base)
            if lean is None:
                s = self.client.settings
                lean = self._lean[base] = LeanGetter(base, s.connect_timeout, s.read_timeout)
        stats = self.client.stats
        stats.add_request(operation)
        try:
            status, got, body = lean.stream("/" + path, headers)
        except Unsupported:
            return self._get(url, headers, operation)
        except ConnectFailed as exc:
            raise bx.EndpointConnectionError(endpoint_url=self.endpoint, error=exc) from exc
        except TimeoutError as exc:
            raise bx.ReadTimeoutError(endpoint_url=self.endpoint, error=exc) from exc
        except OSError as exc:
            raise bx.ConnectionClosedError(endpoint_url=self.endpoint, error=exc) from exc
        stats.add_bytes(operation, body.length)
        if status not in (200, 206):
            with body:
                text = _read_all(body, min(body.length, 65536))
            raise _client_error(status, got, text, operation)
        meta = {
            "ETag": got.get("etag"),
            "ContentLength": body.length,
            "ContentEncoding": got.get("content-encoding"),
            "ContentRange": got.get("content-range"),
        }
        return body, meta

    def close(self) -> None:
        """Close the lean connections (the urllib3 pool closes with the process)."""
        with self._lean_lock:
            leans, self._lean = list(self._lean.values()), {}
        for lean in leans:
            lean.close()

    def list_page(self, params: dict[str, str]) -> dict[str, Any]:
        """One ListObjectsV2 page, parsed into the shape boto3 returns.

        botocore spends ~0.25 ms of CPU per listed object parsing a page; ElementTree needs
        a tenth of that, which matters for assets of thousands of keys.
        """
        from urllib.parse import quote, urlencode

        url = self.client.http_url("") + "?" + urlencode(params, quote_via=quote)

        def call() -> bytes:
            headers = {"User-Agent": "ppdata"}
            body, _ = self._lean_get(url, headers, operation="ListObjectsV2", decode=True)
            return bytes(body)

        return _parse_listing(self.client.retry(params.get("prefix", ""), call))


def _parse_listing(xml: bytes) -> dict[str, Any]:
    """A ListObjectsV2 result (XML) as boto3's dict: CommonPrefixes, Contents, IsTruncated."""
    from datetime import datetime
    from urllib.parse import unquote_plus
    from xml.etree import ElementTree

    root = ElementTree.fromstring(xml)
    decode = unquote_plus if root.findtext(f"{_ns(root)}EncodingType") == "url" else str
    ns = _ns(root)
    page: dict[str, Any] = {
        "IsTruncated": root.findtext(f"{ns}IsTruncated") == "true",
        "NextContinuationToken": root.findtext(f"{ns}NextContinuationToken"),
        "CommonPrefixes": [
            {"Prefix": decode(p.findtext(f"{ns}Prefix") or "")}
            for p in root.iterfind(f"{ns}CommonPrefixes")
        ],
        "Contents": [],
    }
    for item in root.iterfind(f"{ns}Contents"):
        stamp = item.findtext(f"{ns}LastModified")
        page["Contents"].append(
            {
                "Key": decode(item.findtext(f"{ns}Key") or ""),
                "Size": int(item.findtext(f"{ns}Size") or 0),
                "ETag": item.findtext(f"{ns}ETag"),
                "LastModified": datetime.fromisoformat(stamp) if stamp else None,
            }
        )
    return page


def _ns(root: Any) -> str:
    """The ``{namespace}`` prefix of an S3 XML document's tags (empty if none)."""
    return root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""


def _headers(start: int | None, end: int | None) -> dict[str, str]:
    """Request headers of a GET of the byte range ``[start, end)`` (whole object if neither)."""
    headers = {"User-Agent": "ppdata"}
    if start is not None or end is not None:
        headers["Range"] = f"bytes={start or 0}-{'' if end is None else end - 1}"
    return headers


def _client_error(status: int, headers: Any, data: bytes, operation: str) -> Exception:
    """The botocore ``ClientError`` of an S3 error reply (so the retry policy knows it)."""
    from botocore.exceptions import ClientError

    text = data.decode("utf-8", "replace")
    return ClientError(
        {
            "Error": {"Code": _xml(text, "Code") or str(status), "Message": _xml(text, "Message")},
            "ResponseMetadata": {
                "HTTPStatusCode": status,
                "HTTPHeaders": {k.lower(): v for k, v in headers.items()},
            },
        },
        operation,
    )


def _total_size(content_range: str | None, received: int) -> int:
    """The object size in ``Content-Range: bytes 0-99/1234`` (a 200 reply: what came)."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    return received


def _read_all(body: Any, n: int) -> bytes:
    """The first ``n`` bytes of a body (all of it when ``n`` is its length)."""
    data: bytes = body.read(n)
    if len(data) < n:
        raise ConnectionResetError(f"the body ended at byte {len(data):,} of {n:,}")
    return data


class _Body:
    """A urllib3 response: back to the pool when read to the end, closed otherwise."""

    def __init__(self, resp: Any) -> None:
        self.resp = resp
        self.finished = False

    def read(self, n: int) -> bytes:
        data = self.resp.read(n)
        if not data:
            self.finished = True
        return data

    def readinto(self, buffer: Any) -> int:
        n: int = self.resp.readinto(buffer)
        if not n:
            self.finished = True
        return n

    def close(self) -> None:
        if self.finished:
            self.resp.release_conn()
        else:
            self.resp.close()


def _xml(text: str, tag: str) -> str:
    import re

    m = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S)
    return m.group(1) if m else ""
