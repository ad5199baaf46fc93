"""What the bucket's replies say, as records: an object (:class:`ObjectInfo`), a listing
(:class:`Listing`, one page of it: :class:`ListPage`), the bytes a GET asks for
(:class:`ByteRange`); and the parsing of those replies (ListObjectsV2 XML, ``Content-Range``,
dates) for :class:`ppdata.remote.s3.S3Client`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from ..errors import PpdataError, S3Error

__all__ = ["ByteRange", "ListPage", "Listing", "ObjectInfo", "parse_s3_uri"]


class ByteRange(TypedDict, total=False):
    """Which bytes a GET asks for, as keywords of :meth:`S3Client.get_whole` and
    :meth:`S3Client.stream`: ``[start, end)`` (the whole object without either; a negative
    ``start`` alone: the last ``-start`` bytes), and ``if_match``, an ETag the object must
    still have, else the server refuses the read (``PreconditionFailed``)."""

    start: int | None
    end: int | None
    if_match: str | None


@dataclass(frozen=True)
class ObjectInfo:
    """One object in the bucket.

    Returned by :meth:`S3Client.head` (one key) and by the listings
    (:meth:`S3Client.list_objects`, :meth:`S3Client.iter_objects`, :attr:`Listing.objects`).

    Attributes
    ----------
    key : str
        The object's full key (no ``s3://bucket/``).
    size : int
        Size in bytes.
    etag : str or None
        As the server sends it, quotes included: the MD5 of the bytes for a single-part
        upload, ``<md5>-<parts>`` for a multipart one (see :attr:`md5`).
    last_modified : datetime or None
        When the object was written, in UTC (``None`` if the server did not say).
    """

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


@dataclass
class ListPage:
    """One page of a listing: sub-folders, objects, and the token of the next page."""

    prefixes: list[str]
    objects: list[ObjectInfo]
    truncated: bool
    token: str | None


def parse_listing(xml: bytes) -> ListPage:
    """A ListObjectsV2 result (XML): its sub-folders, objects and continuation."""
    from urllib.parse import unquote_plus
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise S3Error(f"the server sent a listing that is not XML ({exc})") from exc
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    decode = unquote_plus if root.findtext(f"{ns}EncodingType") == "url" else str
    objects = []
    for item in root.iterfind(f"{ns}Contents"):
        stamp = item.findtext(f"{ns}LastModified")
        objects.append(
            ObjectInfo(
                key=decode(item.findtext(f"{ns}Key") or ""),
                size=int(item.findtext(f"{ns}Size") or 0),
                etag=item.findtext(f"{ns}ETag"),
                last_modified=datetime.fromisoformat(stamp) if stamp else None,
            )
        )
    return ListPage(
        prefixes=[
            decode(p.findtext(f"{ns}Prefix") or "") for p in root.iterfind(f"{ns}CommonPrefixes")
        ],
        objects=objects,
        truncated=root.findtext(f"{ns}IsTruncated") == "true",
        token=root.findtext(f"{ns}NextContinuationToken"),
    )


def decode_body(data: bytes, encoding: str | None) -> bytes:
    """A listing's body as sent with ``Content-Encoding`` ``encoding`` (gzip or none)."""
    encoding = (encoding or "identity").lower()
    if encoding == "gzip":
        import gzip

        return gzip.decompress(data)
    if encoding not in ("identity", ""):
        raise S3Error(f"unexpected Content-Encoding {encoding} in a listing")
    return data


def request_headers(
    start: int | None = None, end: int | None = None, if_match: str | None = None
) -> dict[str, str]:
    """Request headers of a GET of a :class:`ByteRange`."""
    headers = {"User-Agent": "ppdata"}
    if start is not None and start < 0 and end is None:
        headers["Range"] = f"bytes={start}"
    elif start is not None or end is not None:
        headers["Range"] = f"bytes={start or 0}-{'' if end is None else end - 1}"
    if if_match:
        headers["If-Match"] = if_match
    return headers


def reply_meta(got: dict[str, str], length: int | None) -> dict[str, Any]:
    """What a GET's reply headers ``got`` say: ``ETag``, ``ContentLength``, ``ContentRange``."""
    return {
        "ETag": got.get("etag"),
        "ContentLength": length,
        "ContentRange": got.get("content-range"),
    }


def total_size(content_range: str | None, received: int) -> int:
    """The object size in ``Content-Range: bytes 0-99/1234`` (a 200 reply: what came)."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    return received


def http_date(text: str) -> datetime | None:
    """An HTTP date (``Last-Modified``), ``None`` if it is not one."""
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
