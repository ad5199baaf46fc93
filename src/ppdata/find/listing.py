"""Listing a path of the bucket: a session, an asset, a folder inside one, or an s3:// URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import InvalidName, NotFound
from ..remote.s3 import S3Client
from .targets import TargetKind, parse_target

__all__ = ["Entry", "list_path", "resolve_path"]


@dataclass(frozen=True)
class Entry:
    """One line of a listing: a folder (``is_folder``) or an object."""

    key: str
    display: str
    is_folder: bool
    size: int | None = None
    last_modified: datetime | None = None
    bucket: str = ""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.display,
            "type": "folder" if self.is_folder else "object",
            "size": self.size,
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
            "uri": self.uri,
        }


def resolve_path(path: str, *, client: S3Client) -> tuple[str, bool]:
    """Turn a user's PATH into ``(key prefix, is_session)``.

    Accepts ``s3://<bucket>/<key>``, a session name, an asset name, or ``<asset>/<sub/path>``.

    Raises
    ------
    InvalidName
        If the first part is not a session or asset name.
    WrongBucket
        If an s3:// URL names another bucket.
    """
    target = parse_target(path, client)
    if target.url:
        return target.key, False
    if target.name is None:
        raise InvalidName(
            f"{target.error}. PATH must start with a session or asset name, or be an s3:// URL"
        ) from target.error
    if target.kind is TargetKind.SESSION and not target.folder:
        return target.name.name, True
    return (target.key if target.kind is TargetKind.PATH else f"{target.key}/"), False


def list_path(path: str, *, client: S3Client, recursive: bool = False) -> list[Entry]:
    """List what is at PATH.

    A session lists its assets (folders); anything else lists the keys below it, one level
    (folders end with ``/``) or, with ``recursive``, every object.

    Raises
    ------
    NotFound
        If nothing exists at PATH.
    """
    key, is_session = resolve_path(path, client=client)
    bucket = client.bucket
    if is_session:
        from .assets import find_assets

        assets = find_assets(key, client=client)
        if not recursive:
            return [Entry(a.prefix, a.prefix, True, bucket=bucket) for a in assets]
        out: list[Entry] = []
        for a in assets:
            out.extend(_objects(client, a.prefix, base=""))
        return out
    if key and not key.endswith("/"):
        # Either a folder given without its slash, or one object.
        folder = client.list(key + "/")
        if folder.prefixes or folder.objects:
            key += "/"
        else:
            try:
                info = client.head(key)
            except NotFound:
                raise NotFound(f"nothing at s3://{bucket}/{key}") from None
            return [
                Entry(key, key.rsplit("/", 1)[-1], False, info.size, info.last_modified, bucket)
            ]
    if recursive:
        entries = _objects(client, key, base=key)
    else:
        listing = client.list(key)
        cut = len(key)
        entries = [Entry(p, p[cut:], True, bucket=bucket) for p in listing.prefixes]
        entries += [
            Entry(o.key, o.key[cut:], False, o.size, o.last_modified, bucket)
            for o in listing.objects
        ]
    if not entries:
        raise NotFound(f"nothing at s3://{bucket}/{key}")
    return entries


def _objects(client: S3Client, prefix: str, *, base: str) -> list[Entry]:
    cut = len(base)
    return [
        Entry(o.key, o.key[cut:], False, o.size, o.last_modified, client.bucket)
        for o in client.iter_objects(prefix)
    ]
