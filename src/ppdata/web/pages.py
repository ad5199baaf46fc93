"""The request handlers: each gathers data through :class:`~ppdata.web.state.WebState` and
renders one template. Handlers are plain functions: Starlette runs them in its thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import (
    BucketUnreachable,
    CatalogError,
    InvalidName,
    NotFound,
    NWBError,
    PpdataError,
    SessionNotFound,
)
from . import snippets
from .paths import PREVIEW_IMAGE, PREVIEW_TEXT, media_type, query, split_path
from .state import LOCAL_TZ, PAGE_SIZE, WebState

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["Handlers"]

logger = logging.getLogger(__name__)

#: Sortable columns of the session table (URL value -> frame column).
SORTS = ("session", "platform", "subject", "acquired", "qc_status", "asset_qc_status")
#: The plots a session page offers (of :data:`ppdata.plots.make.PLOT_KINDS`: not the SLAP2
#: mean image, read from raw frames), and which asset kinds each needs.
PLOT_NEEDS = {
    "raster": ("sorted", "nwb"),
    "unit-quality": ("sorted", "nwb"),
    "dff": ("planar-ophys",),
    "rois": ("planar-ophys",),
    "running": ("nwb", "behavior-timing"),
    # deviant vs standard: the stimulus tables live in the complete NWB (Neuropixels) or
    # the behavior/timing NWB beside the planes (Mesoscope)
    "psth": ("nwb",),
    "aligned-dff": ("planar-ophys",),
}
PLOT_KINDS = tuple(PLOT_NEEDS)


def both_times(value: datetime | None) -> tuple[str, str] | None:
    """``(local, UTC)`` text of a time; a time without zone is taken as Seattle time."""
    if value is None:
        return None
    from zoneinfo import ZoneInfo

    local_zone = ZoneInfo(LOCAL_TZ)
    aware = value if value.tzinfo else value.replace(tzinfo=local_zone)
    local = aware.astimezone(local_zone)
    utc = aware.astimezone(UTC)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z"), utc.strftime("%Y-%m-%d %H:%M:%S UTC")


class Handlers:
    """The routes of the app, bound to one :class:`WebState` and a render function."""

    def __init__(self, web: WebState, render: Callable[..., Response]) -> None:
        self.web = web
        self.render = render

    @property
    def endpoint_url(self) -> str | None:
        return self.web.settings.endpoint_url

    def _error(self, request: Request, exc: Exception, status: int, **extra: Any) -> Response:
        banner = str(exc) if isinstance(exc, BucketUnreachable) else None
        return self.render(
            request,
            "error.html",
            status,
            title="Bucket unreachable" if banner else "Not found" if status == 404 else "Error",
            message=str(exc),
            banner=banner,
            suggestions=extra.get("suggestions", []),
        )

    # -- / ----------------------------------------------------------------------------------
    def index(self, request: Request) -> Response:
        from ..find.catalog import MATRIX_KINDS, InvalidFilter, session_records

        q = request.query_params
        filters = {
            "platform": q.get("platform") or None,
            "subject": q.get("subject") or None,
            "since": q.get("since") or None,
            "until": q.get("until") or None,
            "has": [h for h in q.getlist("has") if h] or None,
            "qc": q.get("qc") or None,
            "search": (q.get("q") or "").strip() or None,
        }
        banner, problem, status = None, None, 200
        rows: list[dict[str, Any]] = []
        everything: list[dict[str, Any]] = []
        try:
            everything = session_records(self.web.sessions())
            rows = session_records(self.web.sessions(**filters))
        except InvalidFilter as exc:
            problem, status = str(exc), 400
        except (BucketUnreachable, CatalogError) as exc:
            banner, status = str(exc), 503
        sort = str(q.get("sort")) if q.get("sort") in SORTS else "acquired"
        descending = q.get("desc", "1" if sort == "acquired" else "") == "1"
        rows.sort(key=lambda r: (r.get(sort) is None, str(r.get(sort) or "")), reverse=descending)
        if descending:  # keep blanks last either way
            rows.sort(key=lambda r: r.get(sort) is None)
        platforms = sorted({r["modality"] or r["platform"] or "" for r in everything} - {""})
        subjects = sorted({r["subject"] for r in everything if r["subject"]})
        kept = {k: v for k, v in q.multi_items() if k not in ("sort", "desc")}
        return self.render(
            request,
            "index.html",
            status,
            title="Sessions",
            rows=rows,
            total=len(everything),
            kinds=[k.value for k in MATRIX_KINDS],
            platforms=platforms,
            subjects=subjects,
            filters=filters,
            has=filters["has"] or [],
            sort=sort,
            descending=descending,
            sort_link=lambda column: (
                "?"
                + query(
                    **{k: v for k, v in kept.items() if k != "has"},
                    has=q.getlist("has"),
                    sort=column,
                    desc="" if (column == sort and descending) else "1",
                )
            ),
            banner=banner,
            problem=problem,
            refreshed=self.web.refreshed_at,
        )

    def refresh(self, request: Request) -> Response:
        from starlette.responses import RedirectResponse

        try:
            self.web.refresh_catalog()
        except (BucketUnreachable, CatalogError) as exc:
            return self._error(request, exc, 503)
        return RedirectResponse("/", status_code=303)

    # -- /session/<name> --------------------------------------------------------------------
    def session(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            overview = self.web.overview(name)
        except (SessionNotFound, InvalidName) as exc:
            return self._error(request, exc, 404, suggestions=self.web.suggest(name))
        except BucketUnreachable as exc:
            return self._error(request, exc, 503)
        raw, url = overview.name, self.endpoint_url
        qc_rows = []
        for asset_name, qc in overview.qc.items():
            if qc is None:
                continue
            if isinstance(qc, Exception):
                qc_rows.append({"asset": asset_name, "error": str(qc)})
                continue
            for row in qc.table.to_dict("records"):
                figure = row.get("figure")
                if (
                    isinstance(figure, str)
                    and figure.lower().endswith(PREVIEW_IMAGE)
                    and "://" not in figure
                ):
                    row["figure_key"] = f"{asset_name}/{figure.lstrip('/')}"
                qc_rows.append({"asset": asset_name, **row})
        plots = self._plots(overview)
        return self.render(
            request,
            "session.html",
            title=raw,
            o=overview,
            qc_rows=qc_rows,
            plots=plots,
            statuses={
                a: (None if q is None or isinstance(q, Exception) else q.status)
                for a, q in overview.qc.items()
            },
            py=lambda view, **kw: snippets.python_snippet(view, raw, url, **kw),
            dl=lambda target, **kw: snippets.download_command(target, url, **kw),
        )

    def _plots(self, overview: Any) -> list[dict[str, Any]]:
        """The plot cards the session's assets allow: kind, options, URLs, snippets."""
        raw, url, out = overview.name, self.endpoint_url, []
        ephys = (overview.parsed.platform or "").lower() == "ecephys"
        for kind in PLOT_KINDS:
            if not overview.kinds & set(PLOT_NEEDS[kind]):
                continue
            if kind in ("raster", "unit-quality", "psth") and not ephys:
                continue
            if kind == "aligned-dff" and "behavior-timing" not in overview.kinds:
                continue
            variants: list[dict[str, str]] = [{}]
            if kind == "raster" and overview.probes:
                variants = [{"probe": p} for p in overview.probes]
            if kind in ("dff", "rois", "aligned-dff") and overview.planes:
                variants = [{"plane": p} for p in overview.planes]
            for options in variants:
                source = "planar-ophys" if kind in ("dff", "rois", "aligned-dff") else None
                out.append(
                    {
                        "kind": kind,
                        "label": ", ".join(options.values()),
                        "src": f"/plot/{raw}/{kind}.png"
                        + ("?" + query(**options) if options else ""),
                        "python": snippets.python_snippet(kind, raw, url, **options),
                        "command": snippets.plot_command(kind, raw, url, **options),
                        "download": snippets.download_command(
                            raw, url, kind=source or PLOT_NEEDS[kind][0], include="*.nwb*"
                        ),
                    }
                )
        return out

    def nwb_fragment(self, request: Request) -> Response:
        raw, rows, failed = self._read(request, self.web.nwb_contents)
        if failed is not None:
            return failed
        return self.render(
            request,
            "nwb.html",
            rows=rows,
            python=snippets.python_snippet("nwb", raw, self.endpoint_url),
            command=snippets.download_command(raw, self.endpoint_url, include="*.nwb*"),
        )

    def units_fragment(self, request: Request) -> Response:
        raw, table, failed = self._read(request, self.web.units)
        if failed is not None:
            return failed
        from ..nwb.ephys import QUALITY_COLUMNS

        shown = ("probe", "area", "label", *QUALITY_COLUMNS, "depth", "num_spikes")
        columns = [c for c in shown if c in table]
        records = []
        for unit_id, row in zip(table.index, table[columns].to_dict("records"), strict=True):
            records.append({"unit_id": unit_id, **{c: _cell(row[c]) for c in columns}})
        return self.render(
            request,
            "units.html",
            columns=columns,
            rows=records,
            labels=sorted({r.get("label", "") for r in records} - {""}),
            probes=sorted({r.get("probe", "") for r in records} - {""}),
            areas=sorted({r.get("area", "") for r in records} - {""}),
            python=snippets.python_snippet("units", raw, self.endpoint_url),
            command=f"ppdata units {raw} --label sua --csv units.csv"
            + (f" --endpoint-url {self.endpoint_url}" if self.endpoint_url else ""),
        )

    def _read(
        self, request: Request, read: Callable[[str], Any]
    ) -> tuple[str, Any, Response | None]:
        """The session of a fragment's URL, ``read(session)``, and the error fragment to
        answer instead when reading failed (else ``None``)."""
        raw = self._raw(request)
        try:
            return raw, read(raw), None
        except PpdataError as exc:
            return raw, None, self._fragment_error(request, exc)

    def _fragment_error(self, request: Request, exc: Exception) -> Response:
        status = 503 if isinstance(exc, BucketUnreachable) else 404
        return self.render(request, "fragment_error.html", status, message=str(exc))

    def _raw(self, request: Request) -> str:
        from starlette.exceptions import HTTPException

        from ..naming import parse_name

        try:
            raw = parse_name(request.path_params["name"]).raw_name
        except InvalidName as exc:
            raise HTTPException(404, str(exc)) from exc
        if raw is None:
            raise HTTPException(404, "a CCF asset is not a session")
        return raw

    # -- /plot/<name>/<kind>.png ------------------------------------------------------------
    def plot(self, request: Request) -> Response:
        from starlette.responses import PlainTextResponse, Response

        raw = self._raw(request)
        kind = request.path_params["kind"]
        if kind not in PLOT_KINDS:
            return PlainTextResponse(
                f"unknown plot {kind!r}; plots: {', '.join(PLOT_KINDS)}", status_code=404
            )
        q = request.query_params
        options: dict[str, Any] = {k: q[k] for k in ("probe", "plane") if q.get(k)}
        try:
            for bound in ("start", "stop"):
                if q.get(bound):
                    options[bound] = float(q[bound])
        except ValueError:
            return PlainTextResponse("start and stop are seconds (numbers)", status_code=400)
        try:
            png = self.web.plot(raw, kind, **options)
        except BucketUnreachable as exc:
            return PlainTextResponse(str(exc), status_code=503)
        except (NotFound, NWBError, PpdataError, LookupError) as exc:
            return PlainTextResponse(f"no {kind} plot: {exc}", status_code=404)
        return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    # -- /ls/<asset>/<path> -----------------------------------------------------------------
    def browse(self, request: Request) -> Response:
        path = request.path_params["path"]
        try:
            asset, rest = split_path(path)
        except InvalidName as exc:
            return self._error(request, exc, 400)
        key = f"{asset}/{rest}"
        if rest and not rest.endswith("/"):
            return self._object_page(request, asset, key)
        token = request.query_params.get("token") or None
        try:
            page_no = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page_no = 1
        try:
            listing = self.web.list_page(key, token, PAGE_SIZE)
        except BucketUnreachable as exc:
            return self._error(request, exc, 503)
        except PpdataError as exc:
            return self._error(request, exc, 404)
        if not listing.folders and not listing.objects and not token:
            return self._error(
                request, NotFound(f"nothing at s3://{self.web.client.bucket}/{key}"), 404
            )
        cut = len(key)
        crumbs = _crumbs(key if key.endswith("/") else key + "/")
        return self.render(
            request,
            "ls.html",
            title=key,
            key=key,
            crumbs=crumbs,
            folders=[(f[cut:], f) for f in listing.folders],
            objects=[{**o, "name": o["key"][cut:]} for o in listing.objects],
            next_link=(
                "?" + query(token=listing.next_token, page=page_no + 1)
                if listing.next_token
                else None
            ),
            page_no=page_no,
            page_size=PAGE_SIZE,
            python=snippets.python_snippet("file", key, self.endpoint_url, key=key).replace(
                f"client.get_bytes({key!r})", f"client.list({key!r})"
            ),
            command=snippets.download_command(key, self.endpoint_url),
        )

    def _nothing(self, request: Request, key: str) -> Response:
        return self._error(
            request, NotFound(f"nothing at s3://{self.web.client.bucket}/{key}"), 404
        )

    def _object_page(self, request: Request, asset: str, key: str) -> Response:
        from ..remote.s3 import ObjectInfo

        try:
            info: ObjectInfo = self.web.client.head(key)
        except NotFound:
            # perhaps a folder given without its slash
            listing = self.web.list_page(key + "/", None, 1)
            if listing.folders or listing.objects:
                from starlette.responses import RedirectResponse

                return RedirectResponse(f"/ls/{_url(key)}/", status_code=307)
            return self._error(
                request, NotFound(f"nothing at s3://{self.web.client.bucket}/{key}"), 404
            )
        except BucketUnreachable as exc:
            return self._error(request, exc, 503)
        lower = key.lower()
        preview = None
        if lower.endswith(PREVIEW_TEXT):
            preview = self.web.preview(key)
        parent = key.rsplit("/", 1)[0] + "/"
        crumbs = _crumbs(key)
        return self.render(
            request,
            "object.html",
            title=key,
            key=key,
            info=info,
            crumbs=crumbs,
            parent=parent,
            image=lower.endswith(PREVIEW_IMAGE),
            preview=preview,
            python=snippets.python_snippet("file", asset, self.endpoint_url, key=key),
            command=snippets.download_command(key, self.endpoint_url),
        )

    # -- /file/<asset>/<path> ---------------------------------------------------------------
    def file(self, request: Request) -> Response:
        from starlette.responses import PlainTextResponse, StreamingResponse

        path = request.path_params["path"]
        try:
            asset, rest = split_path(path)
        except InvalidName as exc:
            return PlainTextResponse(str(exc), status_code=400)
        if not rest or rest.endswith("/"):
            return PlainTextResponse("a folder: browse it under /ls/", status_code=400)
        key = f"{asset}/{rest}"
        try:
            body, meta = self.web.client.stream(key)
        except NotFound as exc:
            return PlainTextResponse(str(exc), status_code=404)
        except BucketUnreachable as exc:
            return PlainTextResponse(str(exc), status_code=503)
        kind, inline = media_type(key)
        name = key.rsplit("/", 1)[-1]
        disposition = "inline" if inline else "attachment"
        headers = {"Content-Disposition": f"{disposition}; filename*=UTF-8''{_url(name, '')}"}
        if meta.get("ContentLength") is not None:
            headers["Content-Length"] = str(meta["ContentLength"])

        def chunks() -> Any:
            try:
                while True:
                    data = body.read(1 << 20)
                    if not data:
                        return
                    yield data
            finally:
                body.close()

        return StreamingResponse(chunks(), media_type=kind, headers=headers)


def _url(key: str, safe: str = "/") -> str:
    from urllib.parse import quote

    return quote(key, safe=safe)


def _cell(value: Any) -> Any:
    """A table cell: numbers rounded for display, NaN/None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if value != value:
            return ""
        return round(value, 3)
    return value


def _crumbs(key: str) -> list[tuple[str, str]]:
    """``(name, key)`` for each part of a key, for breadcrumbs: a folder key (ending with
    ``/``) links every part as a folder; an object's last part is the object itself."""
    parts = key.rstrip("/").split("/")
    out, acc = [], ""
    for i, part in enumerate(parts):
        acc += part + ("/" if i < len(parts) - 1 or key.endswith("/") else "")
        out.append((part, acc))
    return out
