"""What the web pages show, gathered through the library and cached.

One :class:`WebState` per server: one anonymous :class:`~ppdata.remote.s3.S3Client` (the only way
out to S3), the local catalog, a cache of listings and page data, and the open sessions
(their NWBs stay open between requests; each session's reads are serialized by a lock).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import (
    BucketUnreachable,
    CatalogError,
    InvalidName,
    MetadataError,
    NotFound,
    NWBError,
    PpdataError,
    SessionNotFound,
)
from ..naming import parse_name
from ..settings import Settings
from .cache import TTLCache

if TYPE_CHECKING:
    from ..find.assets import Asset
    from ..find.catalog import Catalog
    from ..remote.s3 import S3Client
    from ..session import Session

__all__ = ["LOCAL_TZ", "Listing", "SessionOverview", "WebState", "safe_key"]

logger = logging.getLogger(__name__)

#: The Allen Institute's time zone: acquisition times are shown in it and in UTC.
LOCAL_TZ = "America/Los_Angeles"
#: Keys per page of the folder browser (S3 returns at most 1,000 per request).
PAGE_SIZE = 1000
#: Bytes of a text/JSON file shown as a preview.
PREVIEW_BYTES = 64 * 1024


def safe_key(asset: str, path: str = "") -> str:
    """The key ``<asset>/<path>`` after checking that it stays inside the asset.

    Raises
    ------
    InvalidName
        If ``asset`` is not an asset name, or ``path`` has a ``..``/``.`` part, a backslash,
        an empty part or a control character (a path-traversal attempt or a typo).
    """
    parse_name(asset)  # InvalidName for anything that is not a session/asset name
    if any(ord(c) < 32 or c == "\x7f" for c in path) or "\\" in path:
        raise InvalidName(f"the path {path!r} holds a control character or a backslash")
    parts = path.split("/")
    inner = parts[:-1] if path.endswith("/") else parts
    if path and any(p in ("", ".", "..") for p in inner):
        raise InvalidName(
            f"the path {path!r} has an empty, '.' or '..' part: paths stay inside their asset"
        )
    return f"{asset}/{path}"


@dataclass
class Listing:
    """One page of a folder: sub-folders, objects and the token of the next page."""

    prefix: str
    folders: list[str] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)
    next_token: str | None = None


@dataclass
class SessionOverview:
    """Everything the first render of a session page needs (no NWB is opened)."""

    name: str
    parsed: Any
    on_s3: bool
    catalog_row: dict[str, Any] | None
    assets: list[Asset] = field(default_factory=list)
    qc: dict[str, Any] = field(default_factory=dict)  # asset -> QualityControl|error|None
    metadata: Any = None
    metadata_error: str | None = None
    portal: list[Any] = field(default_factory=list)
    portal_error: str | None = None
    qc_figures: dict[str, list[str]] = field(default_factory=dict)
    planes: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> set[str]:
        return {str(a.kind) for a in self.assets}

    def current(self, kind: str) -> Asset | None:
        for a in self.assets:
            if str(a.kind) == kind and a.current:
                return a
        return None


class WebState:
    """Shared state of one running web app.

    Parameters
    ----------
    settings : Settings, optional
        Where to read (default :meth:`Settings.resolve`).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        from ..find.catalog import Catalog
        from ..remote.s3 import S3Client

        self.settings = settings or Settings.resolve()
        self.client: S3Client = S3Client(self.settings)
        self.catalog: Catalog = Catalog(self.settings)
        self.cache = TTLCache(size=512, ttl=600)
        self.plots = TTLCache(size=64, ttl=3600)
        self.pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="ppdata-web")
        self._sessions: dict[str, tuple[Session, threading.Lock]] = {}
        self._sessions_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self.refreshed_at: datetime | None = None

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session, _ in sessions:
            session.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    # -- the catalog ------------------------------------------------------------------------
    def ensure_catalog(self) -> None:
        """Refresh the catalog once if it is empty (the first run of ``ppdata web``).

        Raises
        ------
        BucketUnreachable
            If the catalog is empty and the bucket cannot be reached.
        """
        if not self.catalog.is_empty:
            return
        with self._refresh_lock:
            if self.catalog.is_empty:
                try:
                    self.catalog.refresh(client=self.client)
                except CatalogError as exc:
                    if "cannot be reached" in str(exc):
                        raise BucketUnreachable(self.client.unreachable_message()) from exc
                    raise
                self.refreshed_at = datetime.now(UTC)
                self.cache.clear()

    def refresh_catalog(self) -> Any:
        """Bring the catalog up to date (the index page's "refresh" button)."""
        with self._refresh_lock:
            report = self.catalog.refresh(client=self.client)
            self.refreshed_at = datetime.now(UTC)
            self.cache.clear()
            return report

    def sessions(self, **filters: Any) -> Any:
        """The catalog's session table, filtered (see :meth:`Catalog.sessions`)."""
        self.ensure_catalog()
        return self.catalog.sessions(**{k: v for k, v in filters.items() if v not in (None, "")})

    def suggest(self, name: str) -> list[str]:
        try:
            return self.catalog.suggest(name)
        except PpdataError:
            return []

    def catalog_row(self, name: str) -> dict[str, Any] | None:
        try:
            return self.catalog.get_session(name)
        except (SessionNotFound, CatalogError):
            return None

    # -- a session's page -------------------------------------------------------------------
    def overview(self, name: str) -> SessionOverview:
        """Assets, metadata, QC and portal links of a session (cached for ten minutes).

        Raises
        ------
        SessionNotFound
            If neither the bucket nor the catalog knows the session (the message offers
            close names).
        BucketUnreachable
            If the bucket cannot be reached.
        """
        parsed = parse_name(name)
        if parsed.raw_name is None:
            raise SessionNotFound(f"{name!r} names a subject's CCF asset, not a session")
        raw = parsed.raw_name
        return self.cache.get(("overview", raw), lambda: self._overview(raw))

    def _overview(self, raw: str) -> SessionOverview:
        from ..find.assets import AssetKind, find_assets

        row_future = self.pool.submit(self.catalog_row, raw)
        try:
            assets = find_assets(raw, client=self.client, suggest=self.suggest)
        except SessionNotFound:
            row = row_future.result()
            if row is None and self.catalog.is_empty:
                # a link followed before the index built the catalog: the tracking
                # spreadsheet may know a session the bucket does not hold yet
                self.ensure_catalog()
                row = self.catalog_row(raw)
            if row is None:
                raise
            return SessionOverview(raw, parse_name(raw), False, row)
        overview = SessionOverview(raw, parse_name(raw), True, None, assets=assets)
        raw_asset = next((a for a in assets if a.kind is AssetKind.RAW), assets[0])
        sorted_asset = overview.current(str(AssetKind.SORTED))
        jobs: dict[str, Future[Any]] = {
            "qc": self.pool.submit(self._qc, [a.name for a in assets]),
            "metadata": self.pool.submit(self._metadata, raw_asset.name),
        }
        if sorted_asset is not None:
            jobs["portal"] = self.pool.submit(self._portal, sorted_asset.name)
            jobs["figures"] = self.pool.submit(self._qc_figures, sorted_asset.name)
        overview.qc = jobs["qc"].result()
        overview.metadata, overview.metadata_error = jobs["metadata"].result()
        if "portal" in jobs:
            overview.portal, overview.portal_error = jobs["portal"].result()
            overview.qc_figures = jobs["figures"].result()
        overview.catalog_row = row_future.result()
        overview.probes = sorted({p.probe for p in overview.portal} | set(overview.qc_figures))
        planar = overview.current(str(AssetKind.PLANAR_OPHYS))
        if planar is not None:
            from ..find.assets import PLANE_FOLDER

            planes = [e.rstrip("/") for e in planar.entries if PLANE_FOLDER.match(e)]
            overview.planes = sorted(planes, key=lambda p: (int(p.rsplit("_", 1)[1]), p))
        return overview

    def _qc(self, names: list[str]) -> dict[str, Any]:
        from ..meta.qc import get_session_quality_control

        return get_session_quality_control(names, client=self.client)

    def _metadata(self, asset: str) -> tuple[Any, str | None]:
        from ..meta.metadata import get_metadata

        try:
            return get_metadata(asset, client=self.client), None
        except (NotFound, MetadataError) as exc:
            return None, str(exc)

    def _portal(self, asset: str) -> tuple[list[Any], str | None]:
        from ..meta.portal import get_portal_links

        try:
            return get_portal_links(asset, client=self.client), None
        except (NotFound, MetadataError) as exc:
            return [], str(exc)

    def _qc_figures(self, asset: str) -> dict[str, list[str]]:
        from ..meta.qc import qc_figures

        keys = [o.key for o in self.client.iter_objects(f"{asset}/quality_control/")]
        return qc_figures(keys)

    # -- NWB --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self, raw: str) -> Iterator[Session]:
        """The open :class:`Session` of ``raw``, held by this thread until the block ends."""
        from ..session import Session

        with self._sessions_lock:
            entry = self._sessions.get(raw)
            if entry is None:
                if len(self._sessions) >= 8:  # keep a few sessions' NWBs open, not all
                    old = next(iter(self._sessions))
                    old_session, old_lock = self._sessions.pop(old)
                    with old_lock:
                        old_session.close()
                entry = self._sessions[raw] = (Session(raw, client=self.client), threading.Lock())
        with entry[1]:
            yield entry[0]

    def nwb_contents(self, raw: str) -> list[dict[str, Any]]:
        """Each NWB of the session: where it is, its format and what it holds."""
        return self.cache.get(("nwb", raw), lambda: self._nwb_contents(raw))

    def _nwb_contents(self, raw: str) -> list[dict[str, Any]]:
        from ..nwb.open import open_nwb, summarize

        out = []
        with self.session(raw) as session:
            locations = session.nwb_locations()
        for location in locations:
            row = location.to_dict()
            try:
                with open_nwb(location.key, client=self.client, size=location.size) as nwb:
                    row["summary"] = summarize(nwb)
            except (NWBError, NotFound, OSError) as exc:
                row["error"] = str(exc)
            out.append(row)
        return out

    def units(self, raw: str) -> Any:
        """The session's units table with an ``area`` column where the file allows."""
        return self.cache.get(("units", raw), lambda: self._units(raw))

    def _units(self, raw: str) -> Any:
        with self.session(raw) as session:
            table = session.units()
            try:
                electrodes = session.electrodes()
            except (NotFound, NWBError, KeyError):
                electrodes = None
        table = table.copy()
        table["area"] = unit_areas(table, electrodes)
        return table

    def plot(self, raw: str, kind: str, **options: Any) -> bytes:
        """A PNG of one plot of the session (cached for an hour); options the kind does not
        take are let go."""
        from ..plots.make import options_for

        options = options_for(kind, options)
        key = ("plot", raw, kind, tuple(sorted(options.items())))
        return self.plots.get(key, lambda: self._plot(raw, kind, options))

    def _plot(self, raw: str, kind: str, options: dict[str, Any]) -> bytes:
        import tempfile
        from pathlib import Path

        from ..plots.make import make_plot

        with tempfile.TemporaryDirectory(prefix="ppdata-web-") as tmp, self.session(raw) as s:
            path = make_plot(kind, s, Path(tmp) / "plot.png", **options)
            return path.read_bytes()

    # -- the folder browser -----------------------------------------------------------------
    def list_page(self, prefix: str, token: str | None = None, size: int = PAGE_SIZE) -> Listing:
        """One page (at most ``size`` entries) of the folder ``prefix``."""
        return self.cache.get(("ls", prefix, token, size), lambda: self._list(prefix, token, size))

    def _list(self, prefix: str, token: str | None, size: int) -> Listing:
        page = self.client.list_page(prefix, delimiter="/", token=token, max_keys=size)
        listing = Listing(prefix)
        listing.folders = list(page.prefixes)
        listing.objects = [
            {"key": o.key, "size": o.size, "modified": o.last_modified}
            for o in page.objects
            if o.key != prefix
        ]
        if page.truncated:
            listing.next_token = page.token
        return listing

    def preview(self, key: str) -> tuple[str, int, bool]:
        """``(text, total size, complete)`` of the start of a text or JSON object."""
        return self.cache.get(("preview", key), lambda: self._preview(key))

    def _preview(self, key: str) -> tuple[str, int, bool]:
        data, total = self.client.get_first(key, PREVIEW_BYTES)
        complete = len(data) >= total
        text = data.decode("utf-8", errors="replace")
        if complete and key.lower().endswith(".json"):
            import json

            with contextlib.suppress(ValueError):
                text = json.dumps(json.loads(data), indent=2, ensure_ascii=False)
        return text, total, complete


def unit_areas(units: Any, electrodes: Any) -> Any:
    """The brain area of each unit: its own ``location``, else the ``location`` of its peak
    channel among its probe's electrodes (REAL_SHAPES §5), else empty."""
    import numpy as np

    if "location" in units:
        return units["location"].astype(str)
    out = np.full(len(units), "", dtype=object)
    if (
        electrodes is None
        or "location" not in electrodes
        or "extremum_channel_index" not in units
        or "probe" not in units
    ):
        return out
    group_column = "group_name" if "group_name" in electrodes else None
    for i, (probe, peak) in enumerate(
        zip(units["probe"], units["extremum_channel_index"], strict=True)
    ):
        rows = electrodes[electrodes[group_column] == probe] if group_column else electrodes
        with contextlib.suppress(ValueError, TypeError, IndexError):
            out[i] = str(rows["location"].iloc[int(peak)])
    return out
