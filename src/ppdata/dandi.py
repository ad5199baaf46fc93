"""From a session name to its complete NWB on DANDI, through the DANDI REST API.

The published dandisets (REAL_SHAPES.md §13): 001637 Neuropixels, 001768 Mesoscope, 001424
SLAP2. Asset paths follow a rule — the raw S3 name with ``_`` → ``-``, prefixed ``ses-``,
under ``sub-<mouse>/`` — which SLAP2 pilots break (``ses-SLAP2-801381-…``, or a bare
``ses-20250508T145040``), so after the rule comes a search of the subject's assets by date
and time. DANDI blobs are S3 objects (``s3://dandiarchive/blobs/…``): the NWB is streamed
through the same :class:`~ppdata.nwb.storage.S3File` as any NWB in the bucket.

Examples
--------
>>> found = find_dandi_asset("ecephys_820459_2025-11-12_14-34-33")
>>> found.dandiset, found.path
('001637', 'sub-820459/sub-820459_ses-ecephys-820459-2025-11-12-14-34-33_ecephys.nwb')
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from .errors import BucketUnreachable, DandiAssetNotFound, PpdataError
from .naming import parse_name
from .settings import Settings

if TYPE_CHECKING:
    from .nwb.file import NWB
    from .remote.s3 import S3Client
    from .transfer.model import DownloadPlan

__all__ = [
    "DANDISETS",
    "DandiAsset",
    "blob_location",
    "candidate_paths",
    "find_dandi_asset",
    "open_dandi_nwb",
    "plan_dandi_download",
]

logger = logging.getLogger(__name__)

#: Platform -> (dandiset, file suffix). Unprefixed (schema v2) raw names are SLAP2 in P3.
DANDISETS: dict[str | None, tuple[str, str]] = {
    "ecephys": ("001637", "ecephys"),
    "multiplane-ophys": ("001768", "ophys"),
    "SLAP2": ("001424", "image+ophys"),
    None: ("001424", "image+ophys"),
}
#: Region of the DANDI archive's bucket when a blob URL is a virtual-host AWS URL.
DANDI_BUCKET_REGION = "us-east-2"


@dataclass(frozen=True)
class DandiAsset:
    """A session's NWB on DANDI.

    Returned by :func:`find_dandi_asset` and :attr:`ppdata.Session.dandi_asset`;
    :func:`open_dandi_nwb` opens it and :func:`plan_dandi_download` downloads it.

    Attributes
    ----------
    session : str
        The raw session name asked for.
    dandiset, version : str
        Dandiset id (``001637``) and version (``draft``).
    path : str
        Asset path in the dandiset.
    size : int
        Bytes.
    asset_id : str
        The asset's UUID in the archive (its API address is ``<api_url>/assets/<asset_id>/``).
    api_url : str
        The API it was found through.
    download_url : str
        The API's download URL (redirects to the blob).
    s3_url : str
        The blob's S3 URL.
    matched_by : str
        ``rule`` (REAL_SHAPES path rule) or ``subject search`` (fallback).
    api_requests : int
        DANDI API requests the look-up made.
    """

    session: str
    dandiset: str
    version: str
    path: str
    size: int
    asset_id: str
    api_url: str
    download_url: str
    s3_url: str
    matched_by: str = "rule"
    api_requests: int = field(default=0, compare=False)

    @property
    def url(self) -> str:
        """The download URL (the one to give people)."""
        return self.download_url

    def to_dict(self) -> dict[str, Any]:
        """The ``ppdata dandi --json`` contract: the fields in order, ``download_url`` as
        ``url``, without the look-up's own ``api_url`` and ``api_requests``."""
        return {
            "url" if f.name == "download_url" else f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("api_url", "api_requests")
        }


def _session_parts(name: str) -> tuple[str, str, str, str]:
    """(raw name, subject, dandiset, suffix) of any session or asset name."""
    parsed = parse_name(name)
    if parsed.raw_name is None:
        raise DandiAssetNotFound(f"{name!r} names a subject's CCF asset, not a session")
    platform = parsed.platform
    if platform not in DANDISETS:
        raise DandiAssetNotFound(
            f"no dandiset holds {platform} sessions ({name}); DANDI has "
            "ecephys (001637), multiplane-ophys (001768) and SLAP2 (001424): "
            f"read it from S3 with ppdata.open_session({parsed.raw_name!r})"
        )
    dandiset, suffix = DANDISETS[platform]
    return parsed.raw_name, parsed.subject_id, dandiset, suffix


def candidate_paths(name: str) -> list[str]:
    """Asset paths the rule gives for a session (pure). SLAP2 pilots break the rule
    (``ses-SLAP2-801381-…``, ``ses-20250508T145040``): :func:`find_dandi_asset` then
    searches the subject's assets by date and time.

    Examples
    --------
    >>> candidate_paths("ecephys_820459_2025-11-12_14-34-33")
    ['sub-820459/sub-820459_ses-ecephys-820459-2025-11-12-14-34-33_ecephys.nwb']
    """
    raw, subject, _, suffix = _session_parts(name)
    return [f"sub-{subject}/sub-{subject}_ses-{raw.replace('_', '-')}_{suffix}.nwb"]


def _stamps(name: str) -> list[str]:
    """Spellings of a session's date-time inside DANDI paths (fallback search)."""
    acquired = parse_name(name).acquired
    if acquired is None:
        return []
    return [acquired.strftime("%Y-%m-%d-%H-%M-%S"), acquired.strftime("%Y%m%dT%H%M%S")]


def _s3_route(raw: str) -> str:
    return f"read it from S3 instead: ppdata.open_session({raw!r}) / ppdata nwb {raw}"


def find_dandi_asset(
    name: str, *, settings: Settings | None = None, version: str = "draft"
) -> DandiAsset:
    """Find a session's NWB on DANDI.

    One API listing of the subject's assets (``?path=sub-<mouse>/``), then the asset's
    metadata for its blob URL: two requests (plus the client's server-info check, once per
    process).

    Parameters
    ----------
    name : str
        Raw session name or any of its asset names.
    settings : Settings, optional
        ``dandi_api_url`` is the API to ask (default: the real archive, or
        ``PPDATA_DANDI_API_URL``).
    version : str
        Dandiset version (all P3 dandisets are ``draft``).

    Raises
    ------
    DandiAssetNotFound
        If no asset matches; the message names the S3 route.
    BucketUnreachable
        If the API cannot be reached.
    """
    from dandi.dandiapi import DandiAPIClient
    from dandi.exceptions import NotFoundError
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import HTTPError

    settings = settings or Settings.resolve()
    raw, subject, dandiset_id, _ = _session_parts(name)
    wanted = candidate_paths(name)
    count = [0]

    def counted(response: Any, *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return response

    _check_reachable(settings)
    try:
        api_client = DandiAPIClient(api_url=settings.dandi_api_url)
    except RuntimeError as exc:  # an API it does not know, whose server info it cannot get
        raise BucketUnreachable(
            f"cannot reach the DANDI API at {settings.dandi_api_url} ({exc}); check the URL "
            "(PPDATA_DANDI_API_URL / --dandi-api-url) or the network"
        ) from exc
    try:
        with api_client as api:
            api.session.hooks["response"].append(counted)
            dandiset = api.get_dandiset(dandiset_id, version, lazy=True)
            assets = {a.path: a for a in dandiset.get_assets_with_path_prefix(f"sub-{subject}/")}
            matched_by = "rule"
            path = next((p for p in wanted if p in assets), None)
            if path is None:
                matched_by = "subject search"
                stamps = _stamps(raw)
                path = next(
                    (p for p in sorted(assets) if any(s in p for s in stamps)),
                    None,
                )
            if path is None:
                others = ", ".join(sorted(assets)) or "none"
                raise DandiAssetNotFound(
                    f"no asset of session {raw} in DANDI {dandiset_id}/{version} "
                    f"(looked for {wanted[0]}; subject {subject} has: {others}); " + _s3_route(raw)
                )
            asset = assets[path]
            urls = asset.get_raw_metadata().get("contentUrl", [])
    except NotFoundError as exc:
        raise DandiAssetNotFound(
            f"DANDI {dandiset_id}/{version} not found at {settings.dandi_api_url} ({exc}); "
            + _s3_route(raw)
        ) from exc
    except RequestsConnectionError as exc:
        raise BucketUnreachable(
            f"cannot reach the DANDI API at {settings.dandi_api_url}: {exc}; check the network "
            "or set PPDATA_DANDI_API_URL / --dandi-api-url"
        ) from exc
    except HTTPError as exc:
        raise PpdataError(f"the DANDI API at {settings.dandi_api_url} failed: {exc}") from exc
    s3_urls = [u for u in urls if "/assets/" not in u or "/blobs/" in u]
    download = next((u for u in urls if "/download" in u), asset.base_download_url)
    if not s3_urls:
        raise PpdataError(f"DANDI asset {asset.identifier} lists no S3 URL in {urls}")
    return DandiAsset(
        session=raw,
        dandiset=dandiset_id,
        version=version,
        path=path,
        size=int(asset.size),
        asset_id=asset.identifier,
        api_url=settings.dandi_api_url,
        download_url=download,
        s3_url=s3_urls[0],
        matched_by=matched_by,
        api_requests=count[0],
    )


def _check_reachable(settings: Settings) -> None:
    """Fail fast when the real archive cannot be reached: the ``dandi`` client retries a
    failed connection 12 times with growing waits (over a minute), and falls back silently
    when its own server-info check fails. One ``GET /info/`` with our timeouts, once per
    process and URL (an API it does not know is checked by the client itself)."""
    from dandi.consts import known_instances

    url = settings.dandi_api_url
    if any(i.api and i.api.rstrip("/") == url for i in known_instances.values()):
        _probe(url, settings.connect_timeout, settings.read_timeout)


@functools.lru_cache(maxsize=8)
def _probe(url: str, connect_timeout: float, read_timeout: float) -> None:
    from .errors import ConnectFailed, HTTPStatusError, Interrupted, ReadTimedOut
    from .remote.transport import Transport

    transport = Transport(connect_timeout=connect_timeout, read_timeout=read_timeout, maxsize=1)
    try:
        transport.fetch("GET", f"{url}/info/", operation="dandi-info")
    except (ConnectFailed, Interrupted, ReadTimedOut) as exc:
        raise BucketUnreachable(
            f"cannot reach the DANDI API at {url}: {exc}; check the network, or point "
            "PPDATA_DANDI_API_URL / --dandi-api-url at a mirror"
        ) from exc
    except HTTPStatusError:  # it answered: reachable; the client reports API errors itself
        pass
    finally:
        transport.close()


_AWS_HOST = re.compile(
    r"(?P<bucket>[a-z0-9.-]+)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com"
)


def blob_location(s3_url: str, settings: Settings | None = None) -> tuple[Settings, str]:
    """Settings for the blob's bucket and the blob's key (pure).

    ``https://dandiarchive.s3.amazonaws.com/blobs/…`` is AWS (virtual-host style);
    anything else is path-style ``<endpoint>/<bucket>/<key>`` (the mirror).

    Examples
    --------
    >>> s, key = blob_location("https://dandiarchive.s3.amazonaws.com/blobs/abc/def/x")
    >>> s.bucket, s.endpoint_url, key
    ('dandiarchive', None, 'blobs/abc/def/x')
    """
    settings = settings or Settings.resolve()
    url = urlparse(s3_url)
    m = _AWS_HOST.fullmatch(url.netloc)
    if m:
        region = m["region"] or DANDI_BUCKET_REGION
        return settings.with_(bucket=m["bucket"], endpoint_url=None, region=region), url.path[1:]
    bucket, _, key = url.path.lstrip("/").partition("/")
    if not bucket or not key:
        raise PpdataError(f"cannot tell bucket and key from the blob URL {s3_url}")
    endpoint = f"{url.scheme}://{url.netloc}"
    return settings.with_(bucket=bucket, endpoint_url=endpoint), key


def open_dandi_nwb(asset: DandiAsset, *, settings: Settings | None = None) -> NWB:
    """Open a DANDI asset's HDF5 NWB lazily, through its own S3 client (closed with it)."""
    from .nwb.formats import NWBFormat
    from .nwb.open import open_nwb
    from .remote.s3 import S3Client

    blob_settings, key = blob_location(asset.s3_url, settings)
    client: S3Client = S3Client(blob_settings)
    try:
        nwb = open_nwb(key, client=client, format=NWBFormat.HDF5, size=asset.size)
    except BaseException:
        client.close()
        raise
    nwb._owned_client = True
    return nwb


def plan_dandi_download(
    asset: DandiAsset, *, dest: str | Path = ".", settings: Settings | None = None
) -> tuple[DownloadPlan, S3Client]:
    """Plan the download of a DANDI asset's blob to ``dest/<DANDI path>``.

    Returns the plan and the client of the blob's bucket (give both to
    :func:`ppdata.download`; close the client after).
    """
    import dataclasses

    from .remote.s3 import S3Client
    from .transfer.api import plan_download

    blob_settings, key = blob_location(asset.s3_url, settings)
    client = S3Client(blob_settings)
    try:
        plan = plan_download(f"s3://{blob_settings.bucket}/{key}", client=client, dest=dest)
    except BaseException:
        client.close()
        raise
    target = Path(dest).joinpath(*asset.path.split("/"))
    plan.files = [dataclasses.replace(f, path=target) for f in plan.files]
    plan.target = f"DANDI:{asset.dandiset}/{asset.version}/{asset.path}"
    return plan, client
