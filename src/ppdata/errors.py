"""The exceptions ppdata raises.

Every error derives from :class:`PpdataError`; each subclass also derives from the matching
built-in so callers can catch either (``except LookupError`` works for a missing session).
Messages say what failed, what was expected and what to do next: the CLI prints them as
they are, on one line, without a traceback.
"""

from __future__ import annotations

__all__ = [
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
]


class PpdataError(Exception):
    """Base class of every error ppdata raises on purpose."""


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
