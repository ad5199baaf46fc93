"""The one parser of the target grammar that ``ls``, ``nwb`` and ``download`` share.

A target is one of

- a session name (``ecephys_820459_2025-11-12_14-34-33``): the session;
- an asset name (``..._sorted_2025-11-13_03-12-45``, or a subject's CCF asset): the asset;
- ``<session or asset>/<sub/path>``: a key or folder below it;
- an ``s3://<bucket>/<key>`` URL (or its ``https://`` form) in the configured bucket.

:func:`parse_target` only reads the text (no request); each caller decides what to do with
the kind it gets, and with a first part that is not a name.

Examples
--------
>>> import ppdata
>>> client = ppdata.S3Client()
>>> t = parse_target("ecephys_820459_2025-11-12_14-34-33", client)
>>> t.kind, t.key
(<TargetKind.SESSION: 'session'>, 'ecephys_820459_2025-11-12_14-34-33')
>>> parse_target("s3://aind-open-data/ecephys_820459_2025-11-12_14-34-33/behavior/", client).key
'ecephys_820459_2025-11-12_14-34-33/behavior/'
>>> client.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from ..errors import InvalidName
from ..naming import NameKind, SessionName, as_s3_uri, parse_name

if TYPE_CHECKING:
    from ..remote.s3 import S3Client

__all__ = ["Target", "TargetKind", "parse_target"]


class TargetKind(StrEnum):
    """What a target names."""

    SESSION = "session"  #: a raw session name
    ASSET = "asset"  #: one asset (or a first part that is not a valid name: see ``error``)
    PATH = "path"  #: a key or folder below an asset, or an s3:// URL


@dataclass(frozen=True)
class Target:
    """A parsed target.

    Attributes
    ----------
    text : str
        The target as given, with an https:// URL of the bucket turned into s3:// and the
        surrounding whitespace removed.
    kind : TargetKind
    key : str
        The key it names in the bucket: the session or asset name, ``<asset>/<sub/path>``
        (a trailing ``/`` kept), or the key of an s3:// URL.
    name : SessionName or None
        The parsed first part; ``None`` for an s3:// URL, or when the first part is not a
        session or asset name (then ``error`` says why).
    error : InvalidName or None
        Why the first part is not a name.
    url : bool
        True for an s3:// URL.
    """

    text: str
    kind: TargetKind
    key: str
    name: SessionName | None = None
    error: InvalidName | None = None
    url: bool = False

    @property
    def folder(self) -> bool:
        """True when the target ends with ``/``."""
        return self.text.endswith("/")


def parse_target(text: str, client: S3Client) -> Target:
    """Parse a target (see the module docstring); reads nothing.

    Parameters
    ----------
    text : str
        The target.
    client : S3Client
        Its bucket is the one an s3:// URL must name.

    Raises
    ------
    WrongBucket
        If an s3:// URL names another bucket.
    """
    normalised = as_s3_uri(text).strip()
    if normalised.startswith("s3://"):
        return Target(normalised, TargetKind.PATH, client.key_of(normalised), url=True)
    head, _, rest = normalised.lstrip("/").partition("/")
    try:
        name: SessionName | None = parse_name(head)
        error = None
    except InvalidName as exc:
        name, error = None, exc
    if rest.strip("/"):
        return Target(normalised, TargetKind.PATH, f"{head}/{rest}", name, error)
    if name is not None and name.kind is NameKind.RAW:
        return Target(normalised, TargetKind.SESSION, head, name, error)
    return Target(normalised, TargetKind.ASSET, head, name, error)
