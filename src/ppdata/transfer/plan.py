"""Target resolution for downloads: from what a user typed to the list of objects.

A target is a session name (all its assets, or chosen kinds; current versions by default),
an asset name, ``<asset>/<sub/path>``, or an ``s3://`` URL of the configured bucket. Keys that
would escape the destination are refused here, with the reason, before anything is fetched.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path, PurePosixPath

from ..errors import (
    AssetNotFound,
    DownloadError,
    InvalidName,
    NotFound,
    PpdataError,
    UnsafeKey,
)
from ..remote.s3 import ObjectInfo, S3Client
from .manifest import LOCK_NAME, MANIFEST_NAME
from .model import Ahead, DownloadPlan, PlannedFile, RefusedKey, let_go
from .parts import PART_SUFFIX, part_paths

logger = logging.getLogger(__name__)

_RESERVED = (MANIFEST_NAME, LOCK_NAME)
#: The S3 operation of a listing: planning's own cost, not counted as the transfer's.
LISTING = "ListObjectsV2"
#: NUL and the other control characters, which no local name should carry.
_CONTROL = re.compile("[\x00-\x1f\x7f]")


@functools.lru_cache(maxsize=64)
def _prefix_path(prefix: str) -> PurePosixPath:
    return PurePosixPath(prefix.rstrip("/"))


def safe_relative_path(key: str, prefix: str = "") -> PurePosixPath:
    """The local relative path of a key, or :class:`UnsafeKey` if it could escape.

    Refused: empty keys, NUL or control characters, backslashes, absolute keys, empty parts
    (``a//b``), ``.`` and ``..`` parts, keys outside ``prefix``, and names ppdata uses for
    its own bookkeeping.

    Examples
    --------
    >>> safe_relative_path("asset/nwb/x.nwb")
    PurePosixPath('asset/nwb/x.nwb')
    >>> safe_relative_path("asset/../../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ppdata.errors.UnsafeKey: the key 'asset/../../etc/passwd' has a '..' part; ...
    """

    def refuse(why: str) -> UnsafeKey:
        return UnsafeKey(
            f"the key {key!r} {why}; it would not stay inside the destination, "
            "so it is not downloaded"
        )

    if not key:
        raise refuse("is empty")
    if _CONTROL.search(key):
        raise refuse("contains a NUL or control character")
    if "\\" in key:
        raise refuse("contains a backslash")
    if key.startswith("/"):
        raise refuse("is absolute")
    parts = key.split("/")
    if "" in parts:
        raise refuse("has an empty part ('//' or a trailing '/')")
    if ".." in parts:
        raise refuse("has a '..' part")
    if "." in parts:
        raise refuse("has a '.' part")
    if len(parts[0]) >= 2 and parts[0][1] == ":":
        raise refuse("starts with a drive letter")
    rel = PurePosixPath(key)
    if prefix and _prefix_path(prefix) not in rel.parents:
        raise refuse(f"is not under {prefix!r}")
    if rel.name in _RESERVED or rel.name.endswith((PART_SUFFIX, PART_SUFFIX + ".json")):
        raise refuse("clashes with the names ppdata uses for its own bookkeeping")
    return rel


def build_plan(
    target: str,
    client: S3Client,
    dest: Path,
    kinds: Iterable[str] | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    versions: str,
    fetch_ahead: int = 0,
) -> DownloadPlan:
    if versions not in ("current", "all"):
        raise InvalidName(f"versions must be 'current' or 'all', not {versions!r}")
    wanted = target.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in wanted):
        raise InvalidName(
            f"the target {wanted!r} contains a control character (a newline, tab ...): "
            "give a session or asset name, an s3:// URI or a key on one line"
        )
    plan = DownloadPlan(
        target=target, dest=dest, bucket=client.bucket, endpoint_url=client.settings.endpoint_url
    )
    roots = _resolve(wanted, client, kinds, versions, plan, fetch_ahead)
    # the roots still to list (a session's assets) are listed concurrently: one round trip
    # for all of them, not one after another
    todo = [root for root, objects in roots if objects is None]
    found = iter(
        client.pool.map(client.list_objects, todo)
        if len(todo) > 1
        else map(client.list_objects, todo)
    )
    listed: list[tuple[str, ObjectInfo]] = []
    for root, objects in roots:
        listed.extend((root, obj) for obj in (next(found) if objects is None else objects))
    folders = {k.rsplit("/", 1)[0] for _, o in listed if "/" in (k := o.key)}
    folders |= {str(p) for f in folders for p in PurePosixPath(f).parents}
    kept: list[tuple[str, ObjectInfo]] = []
    for root, obj in listed:
        if obj.key.endswith("/") and obj.size == 0:
            continue  # a "folder" placeholder object, not a file
        try:
            safe_relative_path(obj.key)
        except UnsafeKey as exc:
            plan.refused.append(RefusedKey(obj.key, str(exc)))
            continue
        if obj.key in folders:
            plan.refused.append(
                RefusedKey(
                    obj.key,
                    "is both a file and a folder in the "
                    "bucket; only the folder's files are downloaded",
                )
            )
            continue
        kept.append((root, obj))
    selected = _apply_globs(kept, include, exclude, plan)
    for _root, obj in selected:
        plan.files.append(
            PlannedFile(
                key=obj.key,
                size=obj.size,
                etag=obj.etag,
                path=dest.joinpath(*obj.key.split("/")),
                uri=client.uri(obj.key),
                last_modified=obj.last_modified,
            )
        )
    for r in plan.refused:
        logger.warning("refusing %s", r)
    return plan


#: A listing root: its prefix, and its objects when resolving the target listed them already
#: (``None``: still to list).
Root = tuple[str, list[ObjectInfo] | None]


def _resolve(
    target: str,
    client: S3Client,
    kinds: Iterable[str] | None,
    versions: str,
    plan: DownloadPlan,
    fetch_ahead: int,
) -> list[Root]:
    """Turn a target into listing roots (see :data:`Root`)."""
    from ..find.targets import TargetKind, parse_target
    from ..naming import as_s3_uri

    target = as_s3_uri(target)
    if not target:
        raise NotFound("empty download target: give a session, an asset, a path or an s3:// URL")
    wanted_kinds = _parse_kinds(kinds)
    parsed_target = parse_target(target, client)
    if parsed_target.url:
        key = parsed_target.key
        if not key.strip("/"):
            raise DownloadError(
                f"refusing to download the whole bucket {client.bucket!r}: name a session, an "
                "asset or a folder"
            )
        return _resolve_path(key, client, plan, fetch_ahead)
    if parsed_target.kind is TargetKind.PATH:
        return _resolve_path(target, client, plan, fetch_ahead)
    name = target.strip("/")
    parsed = parsed_target.name
    if parsed is None:
        try:
            return _resolve_path(name, client, plan, fetch_ahead)
        except NotFound:
            raise NotFound(f"unknown download target {target!r}: {parsed_target.error}") from None
    if parsed_target.kind is TargetKind.SESSION and parsed.name == name:
        return _resolve_session(name, client, wanted_kinds, versions, plan)
    if wanted_kinds:
        plan.warnings.append(
            f"--kind is for session targets; {name} is one asset, so it is downloaded whole"
        )
    # the asset's whole listing at once: it says both whether it exists and what is in it
    objects = client.list_objects(f"{name}/")
    if not objects:
        others: list[str] = []
        if parsed.raw_name:
            others = [p.rstrip("/") for p in client.list(parsed.raw_name).prefixes]
        hint = f"; assets of this session: {', '.join(others)}" if others else ""
        raise AssetNotFound(
            f"no asset {name!r} in s3://{client.bucket}/ at {client.settings.where}{hint}"
        )
    plan.assets.append(name)
    plan.roots.append(f"{name}/")
    return [(f"{name}/", objects)]


def _parse_kinds(kinds: Iterable[str] | None) -> set[str]:
    kinds = list(kinds or ())
    if not kinds:
        return set()  # (a download of a path or URL never loads the asset finder)
    from ..find.assets import AssetKind

    out: set[str] = set()
    for k in kinds:
        try:
            out.add(str(AssetKind(str(k).strip().lower())))
        except ValueError:
            valid = ", ".join(k.value for k in AssetKind if k is not AssetKind.UNKNOWN)
            raise InvalidName(f"unknown asset kind {k!r}; kinds are: {valid}") from None
    return out


def _resolve_session(
    name: str, client: S3Client, wanted: set[str], versions: str, plan: DownloadPlan
) -> list[Root]:
    from ..find.assets import find_assets

    assets = find_assets(name, client=client)  # raises SessionNotFound
    chosen = [
        a
        for a in assets
        if (not wanted or str(a.kind) in wanted) and (versions == "all" or a.current)
    ]
    if not chosen:
        have = ", ".join(f"{a.name} ({a.kind})" for a in assets)
        raise AssetNotFound(
            f"session {name} has no asset of kind {', '.join(sorted(wanted))}; it has: {have}"
        )
    for a in chosen:
        plan.assets.append(a.name)
        plan.roots.append(a.prefix)
    return [(a.prefix, None) for a in chosen]


def _resolve_path(
    path: str,
    client: S3Client,
    plan: DownloadPlan,
    fetch_ahead: int = 0,
) -> list[Root]:
    key = path.lstrip("/")
    folder = key.rstrip("/") + "/"
    if key.endswith("/"):
        # named as a folder: its whole listing at once says what is in it (one round trip);
        # only if it is empty does the general look-up below say what is there instead
        objects = client.list_objects(folder)
        if objects:
            plan.roots.append(folder)
            plan.assets.append(folder.split("/", 1)[0])
            return [(folder, objects)]
    # One listing of the path as a prefix tells both: ``<key>/`` among its folders, or an
    # object named ``<key>`` with its size and ETag (no HEAD needed).
    before = client.stats.snapshot()
    early = _start_ahead(client, key, plan.dest, fetch_ahead)
    unused = [early] if early is not None else []  # closed unread unless the plan keeps it
    try:
        listing = client.list(key.rstrip("/"))
        if folder in listing.prefixes:
            plan.roots.append(folder)
            plan.assets.append(folder.split("/", 1)[0])
            return [(folder, None)]
        info = next((o for o in listing.objects if o.key == key), None)
        if info is not None:
            if early is not None:
                plan.ahead[key], unused = early, []
                # what went out beside the listing (its attempts so far), counted as it went
                sent = client.stats.snapshot() - before
                plan.requests = {
                    op: c.requests
                    for op, c in sent.by_operation.items()
                    if c.requests and op != LISTING
                }
            parent = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
            plan.roots.append(key)
            plan.assets.append(key.split("/", 1)[0])
            return [(parent, [info])]
    finally:
        let_go(unused)
    parent = key.rstrip("/").rsplit("/", 1)[0] + "/" if "/" in key.rstrip("/") else ""
    there = client.list(parent).names if parent else []
    hint = (
        f"; {client.uri(parent)} holds: {_some(there)}"
        if there
        else ""
        if not parent
        else f"; {client.uri(parent)} does not exist either"
    )
    raise NotFound(f"nothing at {client.uri(key)} ({client.settings.where}){hint}")


def _start_ahead(
    client: S3Client, key: str, dest: Path, nbytes: int
) -> Future[Ahead | None] | None:
    """Start a GET of the first ``nbytes`` of ``key``, beside the listing that says whether
    it is one object: when it is, its download starts a round trip sooner (one no larger
    than ``nbytes`` needs no other request). Only the reply's headers are waited for: its
    body is read by the download, straight into the file, so planning shares the machine
    with no transfer and nothing is read before the plan is confirmed.

    Not for a key that names a folder, nor when a file or an interrupted download is already
    at its destination (it may be skipped or resumed): nothing is fetched that a download
    would not use.
    """
    if nbytes <= 0 or not key or key.endswith("/"):
        return None
    try:
        path = dest.joinpath(*safe_relative_path(key).parts)
    except UnsafeKey:
        return None
    if any(p.exists() for p in (path, *part_paths(path))):
        return None
    return client.pool.submit(_fetch_ahead, client, key, nbytes)


def _fetch_ahead(client: S3Client, key: str, nbytes: int) -> Ahead | None:
    try:
        return Ahead(*client.open_head(key, nbytes))
    except PpdataError:  # no such object (a folder), or unreadable: the listing tells
        return None


def _some(names: Sequence[str], n: int = 12) -> str:
    shown = ", ".join(names[:n])
    return shown + (f", ... ({len(names)} in all)" if len(names) > n else "")


def _apply_globs(
    items: list[tuple[str, ObjectInfo]],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    plan: DownloadPlan,
) -> list[tuple[str, ObjectInfo]]:
    if not include and not exclude:
        return items

    def rel(root: str, key: str) -> str:
        return key[len(root) :] if root and key.startswith(root) else key

    def hit(pattern: str, root: str, key: str) -> bool:
        return fnmatch.fnmatchcase(rel(root, key), pattern) or fnmatch.fnmatchcase(key, pattern)

    used: Counter[str] = Counter()
    out = []
    for root, obj in items:
        inc = [p for p in include if hit(p, root, obj.key)]
        used.update(inc)
        if include and not inc:
            continue
        if any(hit(p, root, obj.key) for p in exclude):
            continue
        out.append((root, obj))
    if out:
        for p in include:
            if not used[p]:
                plan.warnings.append(f"--include {p!r} matched no file")
        return out
    tops = sorted(
        {rel(r, o.key).split("/", 1)[0] + ("/" if "/" in rel(r, o.key) else "") for r, o in items}
    )
    what = " ".join(
        [*(f"--include {p!r}" for p in include), *(f"--exclude {p!r}" for p in exclude)]
    )
    raise NotFound(
        f"{what} left none of the {len(items):,} files of {plan.target}; paths are matched "
        f"inside each asset (e.g. 'nwb/*', '*.json'); there is: {_some(tops)}"
    )
