"""The exceptions ppdata raises.

Every error derives from :class:`PpdataError`; each subclass also derives from the matching
built-in so callers can catch either (``except LookupError`` works for a missing session).
Messages say what failed, what was expected and what to do next: the CLI prints them as
they are, on one line, without a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "AccessDenied",
    "AssetNotFound",
    "BucketUnreachable",
    "CatalogError",
    "DandiAssetNotFound",
    "DownloadError",
    "InvalidName",
    "MetadataError",
    "MirrorError",
    "NWBError",
    "NotFound",
    "OutOfRange",
    "PpdataError",
    "S3Error",
    "SessionNotFound",
    "SpreadsheetError",
    "UnsafeKey",
    "WrongBucket",
    "translate",
]


class PpdataError(Exception):
    """Base class of every error ppdata raises on purpose.

    An error made from a server's reply (:func:`translate`) carries its S3 error ``code``
    (or the HTTP status as text) and its HTTP ``status``; the failure behind it is the
    ``__cause__``.
    """

    code: str = ""
    status: int | None = None


class InvalidName(PpdataError, ValueError):
    """A session or asset name that does not follow the naming rules."""


class NotFound(PpdataError, LookupError):
    """Something asked for does not exist (a key, a plane, a probe, a unit ...)."""


class SessionNotFound(NotFound):
    """No asset of this session exists in the bucket."""


class AssetNotFound(NotFound):
    """No asset of this name or kind exists in the bucket."""


class WrongBucket(PpdataError, ValueError):
    """An ``s3://`` URI that names another bucket than the one ppdata is reading."""


class S3Error(PpdataError, OSError):
    """A request to S3 failed after the retries the settings allow."""


class AccessDenied(S3Error):
    """The server refused an anonymous read (a private object, or a missing one in a
    bucket that hides what it holds)."""


class BucketUnreachable(S3Error, ConnectionError):
    """The S3 endpoint cannot be reached at all (no network, wrong endpoint, server down)."""


class SpreadsheetError(PpdataError, ValueError):
    """The tracking spreadsheet is missing or malformed."""


class CatalogError(PpdataError, RuntimeError):
    """The local catalog cannot be used (for example: never refreshed and offline)."""


class MetadataError(PpdataError, ValueError):
    """A metadata JSON file is malformed or has an unexpected shape."""


class NWBError(PpdataError, RuntimeError):
    """An NWB file cannot be located, opened or read."""


class InvalidWindow(PpdataError, ValueError):
    """A time window that is empty, reversed or outside the data (says the valid range)."""


class DownloadError(PpdataError, OSError):
    """A download could not be completed."""


class UnsafeKey(DownloadError, ValueError):
    """An S3 key that would be written outside the destination folder."""


class MirrorError(PpdataError, RuntimeError):
    """The local mirror (synthetic world or its S3 server) cannot be built or started."""


class OutOfRange(PpdataError, IndexError):
    """A trial, frame, cycle or channel outside what the data holds (the message gives the
    valid range)."""


class DandiAssetNotFound(NotFound):
    """A session has no asset on DANDI (the message names the S3 route instead)."""


class ClusterError(PpdataError, ConnectionError):
    """The Dask cluster cannot be reached or started."""


# -- transport failures ------------------------------------------------------------------
# Raised by ppdata.remote.transport and seen by callers only as the __cause__ of a PpdataError:
# translate() below turns them into the errors above.


class ConnectFailed(ConnectionError):
    """No connection could be made to the server (nothing was sent)."""


class Interrupted(ConnectionError):
    """The connection broke, or a reply ended before its stated length."""


class ReadTimedOut(TimeoutError):
    """The server sent nothing for longer than the read timeout."""


class HTTPStatusError(Exception):
    """An error reply: the HTTP status, and the S3 ``<Code>`` / ``<Message>`` if any."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str], operation: str
    ) -> None:
        super().__init__(f"{code or status} {message}".strip())
        self.status = status
        self.code = code or str(status)
        self.message = message
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.operation = operation

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait (``Retry-After`` in seconds), if any."""
        hint = self.headers.get("retry-after")
        try:
            return max(0.0, float(hint)) if hint is not None else None
        except ValueError:  # an HTTP date: S3 does not send one; our own backoff is used
            return None

    @classmethod
    def from_reply(
        cls, status: int, headers: Mapping[str, str], data: bytes, operation: str
    ) -> HTTPStatusError:
        """The error of a reply, its S3 XML body (if any) parsed for the code and message."""
        text = data[:65536].decode("utf-8", "replace")
        return cls(status, _xml(text, "Code"), _xml(text, "Message"), headers, operation)


# -- the one table: S3 error code / HTTP status -> ppdata error ----------------------------
# Message templates are filled with: uri (of the object or prefix), bucket, where (the
# endpoint, for people), detail (the server's code and message).

_NOT_FOUND = (NotFound, "{uri} does not exist")
_DENIED = (
    AccessDenied,
    "access denied to {uri} at {where}: ppdata reads anonymously, so only public objects "
    "can be read",
)

#: S3 error codes (the ``<Code>`` of an error reply) and what they become.
S3_CODES: dict[str, tuple[type[PpdataError], str]] = {
    "NoSuchBucket": (
        NotFound,
        "the bucket {bucket!r} does not exist at {where}; check --bucket / PPDATA_BUCKET",
    ),
    "NoSuchKey": _NOT_FOUND,
    "NotFound": _NOT_FOUND,
    "NoSuchVersion": _NOT_FOUND,
    "AccessDenied": _DENIED,
    "AllAccessDisabled": _DENIED,
    "AccountProblem": _DENIED,
    "InvalidAccessKeyId": _DENIED,
    "SignatureDoesNotMatch": _DENIED,
    "PreconditionFailed": (S3Error, "{uri} changed while it was read ({detail})"),
    "InvalidRange": (S3Error, "the byte range asked of {uri} is outside it ({detail})"),
    "SlowDown": (S3Error, "S3 kept throttling reads of {uri} ({detail}); try again later"),
    "PermanentRedirect": (
        S3Error,
        "the bucket {bucket!r} is in another region than the one asked ({detail}); set "
        "PPDATA_REGION to the bucket's region",
    ),
}

#: HTTP statuses, for replies without a known S3 code (a HEAD has no body to carry one).
HTTP_STATUSES: dict[int, tuple[type[PpdataError], str]] = {
    404: _NOT_FOUND,
    403: _DENIED,
    412: S3_CODES["PreconditionFailed"],
    416: S3_CODES["InvalidRange"],
    503: S3_CODES["SlowDown"],
}

_OTHER_REPLY = (S3Error, "S3 error on {uri}: {detail}")
_BROKEN = (S3Error, "reading {uri} failed: {detail}")


def translate(
    exc: BaseException, *, uri: str, bucket: str = "", where: str = "", unreachable: str = ""
) -> PpdataError:
    """The ppdata error for a failed request (raise it ``from exc`` to keep the cause).

    Parameters
    ----------
    exc : BaseException
        What the transport raised: an :class:`HTTPStatusError`, a network failure, or
        already a :class:`PpdataError` (returned as it is).
    uri : str
        What was asked for, for the message.
    bucket, where : str
        The bucket and a description of its endpoint, for the message.
    unreachable : str
        The message for an endpoint that cannot be reached (it says what to do).
    """
    if isinstance(exc, PpdataError):
        return exc
    code, status = "", None
    if isinstance(exc, HTTPStatusError):
        code, status = exc.code, exc.status
        cls, template = S3_CODES.get(code) or HTTP_STATUSES.get(status) or _OTHER_REPLY
    elif isinstance(exc, ConnectFailed):
        cls, template = BucketUnreachable, "{unreachable}"
    else:
        cls, template = _BROKEN
    detail = str(exc) or type(exc).__name__
    message = template.format(
        uri=uri, bucket=bucket, where=where, detail=detail, unreachable=unreachable or detail
    )
    error = cls(message)
    error.code, error.status = code, status
    return error


def _xml(text: str, tag: str) -> str:
    m = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S)
    return m.group(1) if m else ""
