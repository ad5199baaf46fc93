"""Find the NWB files of a session or an asset.

Where an NWB sits inside an asset varies with the pipeline version (DOMAIN.md): ``nwb/<name>.nwb``
(a Zarr folder), ``<name>.nwb`` at the asset root (HDF5 file or Zarr folder),
``pophys.nwb.zarr``, or one folder deeper with a ``.nwb.zarr`` suffix. So we look at what
the listings show, by shape, not at one fixed path: a folder or object whose name ends in
``.nwb``, ``.nwb.zarr`` or ``.nwb.h5``, at the asset root, in ``nwb/``, or in a folder one
level down. The format is told by :func:`ppdata.nwb.open.open_nwb` from the objects themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..errors import InvalidName, NWBError
from ..remote.s3 import S3Client
from .assets import Asset, AssetKind, find_assets, get_asset, pick_asset
from .targets import TargetKind, parse_target

__all__ = ["NWB_KINDS", "NWBLocation", "find_nwbs", "nwbs_in_asset", "pick_recording"]

_NWB_NAME = re.compile(r"\.nwb(\.zarr|\.h5|\.hdf5)?/?$", re.IGNORECASE)
_RECORDING = re.compile(r"experiment(\d+)_recording(\d+)")

#: The asset kinds that hold NWB files, in order of preference: the complete NWB first, then
#: the partial ones (sorted Neuropixels, processed Mesoscope, behavior/timing). The one
#: order: find_nwbs and Session.nwb() both follow it.
NWB_KINDS: tuple[AssetKind, ...] = (
    AssetKind.NWB,
    AssetKind.SORTED,
    AssetKind.PLANAR_OPHYS,
    AssetKind.BEHAVIOR_TIMING,
)
_PARTIAL_KINDS = NWB_KINDS[1:]


@dataclass(frozen=True)
class NWBLocation:
    """One NWB file found in the bucket.

    Returned by :func:`find_nwbs` and :meth:`ppdata.Session.nwb_locations`;
    :func:`ppdata.open_nwb` opens one.

    Attributes
    ----------
    asset : Asset
        The asset holding it.
    key : str
        Its key (HDF5 file) or key prefix without the trailing ``/`` (Zarr folder).
    is_folder : bool
        True for a Zarr folder; False for a single object (usually HDF5).
    size : int or None
        Size of a single object, from the listing.
    """

    asset: Asset
    key: str
    is_folder: bool
    size: int | None = None

    @property
    def complete(self) -> bool:
        """True for the complete NWB of a ``_nwb_`` asset (all modalities)."""
        return self.asset.kind is AssetKind.NWB

    @property
    def uri(self) -> str:
        return f"s3://{self.asset.bucket}/{self.key}" + ("/" if self.is_folder else "")

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def recording(self) -> str | None:
        """``experimentN_recordingM`` from the file name (one NWB per experiment x
        recording in a sorted asset), or ``None``."""
        match = _RECORDING.search(self.name)
        return f"experiment{match[1]}_recording{match[2]}" if match else None

    @property
    def format_hint(self) -> str:
        """``zarr`` for folders, ``hdf5`` for objects (checked again when opened)."""
        return "zarr" if self.is_folder else "hdf5"

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset": self.asset.name,
            "kind": str(self.asset.kind),
            "key": self.key,
            "uri": self.uri,
            "format": self.format_hint,
            "size": self.size,
            "complete": self.complete,
            "recording": self.recording,
            "current": self.asset.current,
        }


def nwbs_in_asset(asset: Asset, *, client: S3Client) -> list[NWBLocation]:
    """The NWB files inside one asset (usually one), found by listing.

    Raises
    ------
    NWBError
        If the asset holds no NWB; the message says what was found there.
    """
    # The classification listing of a processed asset already shows its NWB folder.
    known = sorted(e for e in asset.entries if e.endswith("/") and _NWB_NAME.search(e))
    if known:
        return [NWBLocation(asset, asset.prefix + e.rstrip("/"), True) for e in known]
    # a sorted asset keeps its NWBs in nwb/: that folder is listed beside the root, not after
    nwb_folder = f"{asset.prefix}nwb/"
    early = client.pool.submit(client.list, nwb_folder) if asset.kind is AssetKind.SORTED else None
    root = client.list(asset.prefix)
    found = _match(asset, root)
    if not found:
        # one level deeper: nwb/<name>.nwb, <name>_nwb/<name>.nwb.zarr, ...
        subfolders = [p for p in root.prefixes if not _NWB_NAME.search(p)]
        preferred = [p for p in subfolders if "nwb" in p.lower()]
        for prefix in preferred:
            listing = early.result() if early and prefix == nwb_folder else client.list(prefix)
            found.extend(_match(asset, listing))
    if not found:
        what = ", ".join(root.names[:12]) or "nothing"
        more = f" (and {len(root.names) - 12} more)" if len(root.names) > 12 else ""
        raise NWBError(
            f"no NWB in {asset.uri} ({asset.kind} asset); found there: {what}{more}. "
            "Raw assets hold no NWB: use the sorted, processed or nwb asset "
            "(`ppdata assets SESSION` lists them)"
        )
    return sorted(found, key=lambda loc: _recording_order(loc.name))


def _recording_order(name: str) -> tuple[int, int, str]:
    match = _RECORDING.search(name)
    return (int(match[1]), int(match[2]), name) if match else (0, 0, name)


def pick_recording(locations: list[NWBLocation], recording: str | None) -> NWBLocation:
    """The NWB of one recording among an asset's NWBs (default: the first).

    ``recording`` may be ``"experiment1_recording2"``, ``"recording2"``, ``"2"`` or the
    file name.

    Raises
    ------
    NWBError
        If none matches; the message lists the recordings there are.
    """
    if recording is None or not locations:
        return locations[0]
    text = str(recording).strip().rstrip("/")
    if text.isdigit():
        text = f"recording{text}"
    for loc in locations:
        rec = loc.recording or ""
        if text in (loc.name, loc.key, rec) or (rec and rec.endswith(f"_{text}")):
            return loc
    valid = [loc.recording or loc.name for loc in locations]
    raise NWBError(
        f"no NWB of recording {recording!r} in {locations[0].asset.name}; its NWBs are {valid}"
    )


class ProbedNWB(NamedTuple):
    """A complete HDF5 NWB found at its usual name: its key, size, first and last bytes."""

    key: str
    size: int
    first: bytes
    last: bytes


def is_first_recording(recording: str | None) -> bool:
    """Whether ``recording`` (a session's ``--nwb`` choice; ``None``: none made) names its
    first recording, the one whose NWB has the usual name (:func:`probe_complete_hdf5`)."""
    return recording in (None, "1", "recording1", "experiment1_recording1")


def probe_complete_hdf5(
    asset: Asset, nbytes: int, *, client: S3Client, tail: bool = True
) -> ProbedNWB | None:
    """The complete NWB at its usual place, ``<asset>/<raw name>_experiment1_recording1.nwb``,
    if an HDF5 file is there, with its first ``nbytes`` and (``tail``) its last; else
    ``None``.

    Ranged GETs at once, of the file's start and of its end (where what an NWB writes last,
    its units table, lies): opening by listing takes a listing and then the same GETs.
    Whether it is an NWB is told by the HDF5 signature in the bytes, not by the name;
    anything else there (a Zarr folder, nothing) answers ``None`` and the caller lists the
    asset as usual.
    """
    from ..errors import BucketUnreachable, NotFound, S3Error
    from ..nwb.formats import NWBFormat, format_from_objects

    raw = asset.parsed.raw_name
    if asset.kind is not AssetKind.NWB or not raw:
        return None
    key = f"{asset.prefix}{raw}_experiment1_recording1.nwb"
    end = client.pool.submit(client.get_tail, key, nbytes) if tail else None
    try:
        first, size = client.get_first(key, nbytes)
        last = end.result()[0] if end is not None else b""
    except BucketUnreachable:
        raise
    except (NotFound, S3Error):  # nothing there, an empty object (416), a 403 for a miss
        return None
    if format_from_objects(head=first) is not NWBFormat.HDF5:
        return None
    return ProbedNWB(key, size, first, last)


def _match(asset: Asset, listing: Any) -> list[NWBLocation]:
    out = [NWBLocation(asset, p.rstrip("/"), True) for p in listing.prefixes if _NWB_NAME.search(p)]
    out += [
        NWBLocation(asset, o.key, False, o.size) for o in listing.objects if _NWB_NAME.search(o.key)
    ]
    return out


def find_nwbs(
    target: str,
    *,
    client: S3Client,
    kind: AssetKind | str | None = None,
    version: str | None = None,
) -> list[NWBLocation]:
    """Locate the NWB file(s) for a session, an asset, or an ``s3://`` URL.

    For a session: the complete NWB (``_nwb_`` asset) if there is one; otherwise the partial
    NWBs of its current sorted, planar-ophys and behavior-timing assets. ``kind`` (and
    ``version``) pick one asset instead.

    Parameters
    ----------
    target : str
        Session name, asset name, ``<asset>/<path to nwb>`` or ``s3://`` URL.
    client : S3Client
        Where to look.
    kind : AssetKind or str, optional
        Only the NWB of this asset kind.
    version : str, optional
        With ``kind``: a reprocessed version (asset name or timestamp).

    Returns
    -------
    list of NWBLocation
        Complete NWB first, then partial ones.

    Raises
    ------
    NWBError
        If no NWB is found; the message says what was found instead.
    """
    parsed_target = parse_target(target, client)
    if parsed_target.kind is TargetKind.PATH:
        key = parsed_target.key
        asset = get_asset(key.split("/", 1)[0], client=client)
        inner = key.rstrip("/")
        if inner == asset.name:
            return nwbs_in_asset(asset, client=client)
        listing = client.list(inner + "/")
        is_folder = bool(listing.prefixes or listing.objects)
        size = None if is_folder else client.head(inner).size
        return [NWBLocation(asset, inner, is_folder, size)]
    parsed = parsed_target.name
    if parsed is None:
        raise parsed_target.error or InvalidName(f"{target!r} is not a session or asset name")
    if parsed_target.kind is not TargetKind.SESSION:
        return nwbs_in_asset(get_asset(parsed.name, client=client), client=client)
    assets = find_assets(parsed_target.key, client=client)
    if kind is not None:
        return nwbs_in_asset(pick_asset(assets, kind, version), client=client)
    complete = [a for a in assets if a.kind is AssetKind.NWB and a.current]
    if complete:
        return nwbs_in_asset(complete[0], client=client)
    candidates = [a for a in assets if a.kind in _PARTIAL_KINDS and a.current]
    candidates.sort(key=lambda a: _PARTIAL_KINDS.index(a.kind))
    locations: list[NWBLocation] = []
    for asset in candidates:
        try:
            locations.extend(nwbs_in_asset(asset, client=client))
        except NWBError:
            continue
    if not locations:
        have = ", ".join(f"{a.name} ({a.kind})" for a in assets)
        raise NWBError(
            f"session {parsed.raw_name} has no NWB yet: its assets are {have}. NWBs are in "
            "sorted (Neuropixels), processed (Mesoscope) and nwb assets"
        )
    return locations
