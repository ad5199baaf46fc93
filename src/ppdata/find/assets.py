"""The assets of a session: discovery, classification and versions.

One root listing finds a session's raw and derived folders (``Prefix=<raw name>``,
``Delimiter="/"``), one more finds the subject's ``ecephys_<subject>_ccf`` asset, and one
delimiter listing per ``_processed_`` asset (made concurrently) tells the three Mesoscope
processed assets apart by what they contain. Classification itself is a pure function
(:func:`classify`), testable without a server.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..errors import AssetNotFound, InvalidName, SessionNotFound
from ..naming import NameKind, SessionName, parse_name
from ..remote.s3 import Listing, S3Client

__all__ = [
    "Asset",
    "AssetKind",
    "AssetList",
    "classify",
    "find_assets",
    "get_asset",
    "pick_asset",
]

logger = logging.getLogger(__name__)


class AssetKind(StrEnum):
    """What an asset holds."""

    RAW = "raw"
    SORTED = "sorted"
    PLANAR_OPHYS = "planar-ophys"
    BEHAVIOR_VIDEOS = "behavior-videos"
    BEHAVIOR_TIMING = "behavior-timing"
    NWB = "nwb"
    CCF = "ccf"
    MOTION_CORRECTED = "motion-corrected"
    SLAP2_PROCESSED = "slap2-processed"
    UNKNOWN = "unknown"


#: Plane folders of the planar-ophys asset: ``<structure>_<index>/`` (``VISp_0/``, ``VISl_4/``).
PLANE_FOLDER = re.compile(r"^(?P<structure>[A-Za-z][A-Za-z0-9-]*)_(?P<index>\d+)/$")
BEHAVIOR_VIDEO_FOLDERS = frozenset({"Behavior/", "Eye/", "Face/", "Nose/"})
_BY_PROCESS = {
    "sorted": AssetKind.SORTED,
    "nwb": AssetKind.NWB,
    "motion-corrected": AssetKind.MOTION_CORRECTED,
}
#: Per-DMD folders (``DMD1/``, ``DMD2/``) of a SLAP2 ``_processed_`` asset.
DMD_FOLDER = re.compile(r"^DMD\d+/$")


def classify(name: str | SessionName, entries: Iterable[str] | None = None) -> AssetKind:
    """Classify an asset from its name and, for ``_processed_`` assets, its top-level entries.

    Parameters
    ----------
    name : str or SessionName
        The asset name.
    entries : iterable of str, optional
        Names of the asset's top-level children as one delimiter listing gives them
        (folders end with ``/``). Needed only for ``_processed_`` assets, whose kind cannot be
        told from the name.

    Returns
    -------
    AssetKind
        ``UNKNOWN`` when nothing matches (including a ``_processed_`` asset without entries).

    Examples
    --------
    >>> classify("multiplane-ophys_1_2025-04-04_04-04-04_processed_2025-05-05_05-05-05",
    ...          ["Behavior/", "Eye/", "Face/", "Nose/", "data_description.json"])
    <AssetKind.BEHAVIOR_VIDEOS: 'behavior-videos'>
    """
    parsed = name if isinstance(name, SessionName) else parse_name(name)
    if parsed.kind is NameKind.CCF:
        return AssetKind.CCF
    if parsed.kind is NameKind.RAW:
        return AssetKind.RAW
    if parsed.process in _BY_PROCESS:
        return _BY_PROCESS[parsed.process]
    if parsed.process != "processed" or entries is None:
        return AssetKind.UNKNOWN
    names = set(entries)
    folders = {e for e in names if e.endswith("/")}
    files = names - folders
    if any(PLANE_FOLDER.match(f) for f in folders) or "pophys.nwb.zarr/" in folders:
        return AssetKind.PLANAR_OPHYS
    if len(folders & BEHAVIOR_VIDEO_FOLDERS) >= 2:
        return AssetKind.BEHAVIOR_VIDEOS
    slap2_folders = "source_extraction/" in folders or any(DMD_FOLDER.match(f) for f in folders)
    if parsed.platform in (None, "SLAP2") and slap2_folders:
        return AssetKind.SLAP2_PROCESSED
    has_timing_png = any(f.endswith("_timing_plot.png") or f.startswith("wheel_") for f in files)
    has_nwb = any(e.rstrip("/").endswith(".nwb") for e in names)
    if has_timing_png or (has_nwb and "metrics.json" in files):
        return AssetKind.BEHAVIOR_TIMING
    return AssetKind.UNKNOWN


@dataclass(frozen=True)
class Asset:
    """One asset (top-level folder) of a session.

    Returned by :func:`find_assets` (all of a session's, newest first within each kind),
    :func:`get_asset` (one by name) and :attr:`ppdata.Session.assets`.

    Attributes
    ----------
    name : str
        The folder name.
    kind : AssetKind
        What it holds.
    bucket : str
        The bucket it is in.
    parsed : SessionName
        The parsed name.
    current : bool
        True for the newest asset of its kind (the one to use unless you pick another).
    entries : tuple of str
        Top-level entries, when a listing was made to classify it.
    """

    name: str
    kind: AssetKind
    bucket: str
    parsed: SessionName = field(repr=False, compare=False)
    current: bool = True
    entries: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def uri(self) -> str:
        """``s3://<bucket>/<name>/``."""
        return f"s3://{self.bucket}/{self.name}/"

    @property
    def prefix(self) -> str:
        """The key prefix of everything in the asset (``<name>/``)."""
        return f"{self.name}/"

    @property
    def processed(self) -> datetime | None:
        """When a derived asset was made (``None`` for raw and CCF)."""
        return self.parsed.processed

    @property
    def session(self) -> str | None:
        """The raw session name."""
        return self.parsed.raw_name

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``ppdata assets --json`` contract)."""
        return {
            "name": self.name,
            "kind": str(self.kind),
            "processed": self.processed.isoformat() if self.processed else None,
            "current": self.current,
            "uri": self.uri,
            "session": self.session,
        }


_KIND_ORDER = list(AssetKind)


def _sort_key(asset: Asset) -> tuple[int, float]:
    stamp = asset.processed.timestamp() if asset.processed else 0.0
    return _KIND_ORDER.index(asset.kind), -stamp


class AssetList(list):
    """A plain ``list`` of :class:`Asset` that shows itself as a small table in Jupyter."""

    def _repr_html_(self) -> str:
        from .._html import assets_html

        return assets_html(self)


def mark_versions(assets: Iterable[Asset]) -> AssetList:
    """Order assets by kind then newest first, and mark the newest of each kind current."""
    ordered = sorted(assets, key=_sort_key)
    seen: set[AssetKind] = set()
    out = AssetList()
    for asset in ordered:
        is_current = asset.kind not in seen or asset.kind is AssetKind.UNKNOWN
        seen.add(asset.kind)
        out.append(replace(asset, current=is_current))
    return out


def find_assets(
    session: str,
    *,
    client: S3Client,
    suggest: Callable[[str], Sequence[str]] | None = None,
    ccf: bool = True,
) -> AssetList:
    """Find every asset of a session.

    Parameters
    ----------
    session : str
        A raw session name, or any derived asset name (it resolves to its session).
    client : S3Client
        Where to look.
    suggest : callable, optional
        Given the name, returns close names to offer when nothing is found (the catalog's
        did-you-mean).
    ccf : bool
        Also look for the subject's CCF asset (Neuropixels; one more listing, made at the
        same time). Default True.

    Returns
    -------
    AssetList
        A list of :class:`Asset`, grouped by kind, newest first within a kind; the newest of
        each kind is ``current``. In Jupyter it shows as a table.

    Raises
    ------
    InvalidName
        If the name is malformed (the message names the bad part).
    SessionNotFound
        If no asset of the session exists.
    """
    parsed = parse_name(session)
    if parsed.kind is NameKind.CCF or parsed.raw_name is None:
        raise InvalidName(
            f"{session!r} is a subject's CCF asset, not a session; give a session name such "
            f"as ecephys_{parsed.subject_id}_<YYYY-MM-DD_HH-MM-SS>"
        )
    raw = parsed.raw_name
    # The subject's CCF asset only shares the "ecephys_<subject>_" prefix: list it at the
    # same time as the session's own folders (one round trip, two requests).
    ccf_listing = None
    if ccf and (parsed.platform or "").lower() == "ecephys":
        ccf_listing = client.pool.submit(client.list, parsed.ccf_name, delimiter="/")
    root = client.list(raw, delimiter="/")
    names = [p.rstrip("/") for p in root.prefixes]
    found: list[SessionName] = []
    for name in names:
        try:
            candidate = parse_name(name)
        except InvalidName:
            continue  # a look-alike folder that is not an asset name
        if candidate.raw_name == raw:
            found.append(candidate)
    if not found:
        close = [c for c in (suggest(raw) if suggest is not None else []) if c != raw]
        if not close:
            close = _same_subject(parsed, client)
        hint = "; did you mean: " + ", ".join(close[:5]) if close else ""
        raise SessionNotFound(
            f"no assets of session {raw!r} in s3://{client.bucket}/ at "
            f"{client.settings.where}{hint}"
        )
    if ccf_listing is not None and f"{parsed.ccf_name}/" in ccf_listing.result().prefixes:
        found.append(parse_name(parsed.ccf_name))
    processed = [n for n in found if n.process == "processed"]
    contents: dict[str, Listing] = {}
    if processed:
        for n, listing in zip(
            processed,
            client.pool.map(lambda n: client.list(f"{n.name}/"), processed),
            strict=True,
        ):
            contents[n.name] = listing
    assets = []
    for n in found:
        entries = tuple(contents[n.name].names) if n.name in contents else ()
        kind = classify(n, entries if n.name in contents else None)
        assets.append(Asset(n.name, kind, client.bucket, n, entries=entries))
    return mark_versions(assets)


def _same_subject(parsed: SessionName, client: S3Client) -> list[str]:
    """Sessions of the same subject on S3, closest first (one listing; for did-you-mean)."""
    import difflib

    prefix = (
        f"{parsed.platform}_{parsed.subject_id}_" if parsed.platform else (f"{parsed.subject_id}_")
    )
    sessions = set()
    for folder in client.list(prefix, delimiter="/").prefixes:
        try:
            other = parse_name(folder.rstrip("/"))
        except InvalidName:
            continue
        if other.raw_name and other.subject_id == parsed.subject_id:
            sessions.add(other.raw_name)
    raw = parsed.raw_name or parsed.name
    return difflib.get_close_matches(raw, sorted(sessions), n=5, cutoff=0.0)


def pick_asset(assets: Sequence[Asset], kind: AssetKind | str, version: str | None = None) -> Asset:
    """Choose one asset of a kind: the current one, or the one a user names.

    Parameters
    ----------
    assets : sequence of Asset
        As returned by :func:`find_assets`.
    kind : AssetKind or str
        The kind wanted.
    version : str, optional
        An asset name, or its processing timestamp (``2025-02-02_02-02-02`` or a prefix of
        it, or ISO ``2025-02-02``). Default: the current (newest) one.

    Raises
    ------
    AssetNotFound
        If there is no asset of that kind, or none matches ``version``; the message lists
        the ones there are.
    """
    kind = AssetKind(kind)
    of_kind = [a for a in assets if a.kind is kind]
    if not of_kind:
        have = ", ".join(sorted({str(a.kind) for a in assets})) or "none"
        raise AssetNotFound(f"this session has no {kind} asset (it has: {have})")
    if version is None:
        return next(a for a in of_kind if a.current)
    wanted = version.strip().rstrip("/")
    for a in of_kind:
        stamp = a.name.rsplit("_", 2)
        tail = "_".join(stamp[-2:]) if len(stamp) == 3 else ""
        iso = a.processed.isoformat() if a.processed else ""
        if (
            wanted in (a.name, tail)
            or (tail and tail.startswith(wanted))
            or (iso and iso.startswith(wanted))
        ):
            return a
    listed = ", ".join(a.name for a in of_kind)
    raise AssetNotFound(f"no {kind} asset matches {version!r}; there are: {listed}")


def get_asset(name: str, *, client: S3Client) -> Asset:
    """Look up one asset by its exact name (classified like :func:`find_assets` does).

    Raises
    ------
    AssetNotFound
        If the asset does not exist.
    """
    parsed = parse_name(name)
    if parsed.kind is NameKind.CCF:
        listing = client.list(f"{parsed.name}/")
        if not (listing.prefixes or listing.objects):
            raise AssetNotFound(f"s3://{client.bucket}/{parsed.name}/ does not exist")
        return Asset(parsed.name, AssetKind.CCF, client.bucket, parsed)
    for asset in find_assets(parsed.raw_name or parsed.name, client=client):
        if asset.name == parsed.name:
            return asset
    raise AssetNotFound(f"s3://{client.bucket}/{parsed.name}/ does not exist")
