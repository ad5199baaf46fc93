"""A stand-in for the DANDI REST API, served by the mirror beside its S3 endpoint.

It answers the calls ppdata (through the ``dandi`` client library) makes, in the shapes of
the published API (https://api.dandiarchive.org/swagger/):

- ``GET /server-info`` and ``GET /api/info/``: server info (the client checks versions);
- ``GET /api/dandisets/{id}/``: the dandiset, its draft version;
- ``GET /api/dandisets/{id}/versions/{v}/assets/?path=&page=&page_size=&glob=``: a page
  ``{count, next, previous, results}`` of assets whose path starts with ``path``;
- ``GET /api/dandisets/{id}/versions/{v}/assets/{asset_id}/`` and ``…/info/``, and
  ``GET /api/assets/{asset_id}/``: asset metadata, with ``contentUrl`` [API download URL,
  S3 URL of the blob];
- ``GET /api/assets/{asset_id}/download/``: a 302 to the blob.

Blobs are objects of the mirror's ``dandiarchive`` bucket; URLs are built from the request's
``Host`` header, so a client behind the latency proxy is sent back through it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

__all__ = ["DandiStandIn", "wrap"]

_VERSION = "0.5.0"


class DandiStandIn:
    """The API over a ``dandi.json`` index (see :mod:`ppdata.mirror.layout_dandi`)."""

    def __init__(self, index_path: Path) -> None:
        self.index = json.loads(Path(index_path).read_text(encoding="utf-8"))
        self.bucket = self.index.get("blob_bucket", "dandiarchive")
        self.by_id: dict[str, tuple[str, dict[str, Any]]] = {}
        for dandiset, entry in self.index["dandisets"].items():
            for asset in entry["assets"]:
                self.by_id[asset["asset_id"]] = (dandiset, asset)

    # -- documents ---------------------------------------------------------------------------
    def _version(self, dandiset: str) -> dict[str, Any]:
        entry = self.index["dandisets"][dandiset]
        return {
            "version": entry["version"],
            "name": entry["name"],
            "asset_count": len(entry["assets"]),
            "size": sum(a["size"] for a in entry["assets"]),
            "status": "Valid",
            "created": "2026-07-01T00:00:00.000000Z",
            "modified": "2026-07-01T00:00:00.000000Z",
            "dandiset": {"identifier": dandiset},
        }

    @staticmethod
    def _asset_row(asset: dict[str, Any]) -> dict[str, Any]:
        return {
            "asset_id": asset["asset_id"],
            "blob": asset["blob"],
            "zarr": None,
            "path": asset["path"],
            "size": asset["size"],
            "created": asset["created"],
            "modified": asset["modified"],
        }

    def _metadata(self, base: str, dandiset: str, asset: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"dandiasset:{asset['asset_id']}",
            "schemaKey": "Asset",
            "schemaVersion": "0.6.10",
            "identifier": asset["asset_id"],
            "path": asset["path"],
            "contentSize": asset["size"],
            "encodingFormat": "application/x-nwb",
            "digest": {"dandi:sha2-256": asset["sha256"]},
            "contentUrl": [
                f"{base}/api/assets/{asset['asset_id']}/download/",
                f"{base}/{self.bucket}/{asset['key']}",
            ],
            "dateModified": asset["modified"],
            "access": [{"schemaKey": "AccessRequirements", "status": "dandi:OpenAccess"}],
            "isPartOf": f"DANDI:{dandiset}/draft",
        }

    # -- routing -----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, base: str) -> tuple[int, Any, dict]:
        """Answer one request: (status, JSON body or None, extra headers)."""
        if method not in ("GET", "HEAD"):
            return 405, {"detail": f'Method "{method}" not allowed.'}, {}
        if path in ("/server-info", "/api/info/"):
            return 200, self._info(base), {}
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        m = re.fullmatch(r"/api/dandisets/(\d{6})/", path)
        if m and m[1] in self.index["dandisets"]:
            draft = self._version(m[1])
            body = {
                "identifier": m[1],
                "created": draft["created"],
                "modified": draft["modified"],
                "contact_person": "OpenScope",
                "embargo_status": "OPEN",
                "draft_version": draft,
                "most_recent_published_version": None,
            }
            return 200, body, {}
        m = re.fullmatch(r"/api/dandisets/(\d{6})/versions/([^/]+)/assets/", path)
        if m and self._has_version(m[1], m[2]):
            return 200, self._page(base, path, m[1], params), {}
        m = re.fullmatch(r"/api/dandisets/(\d{6})/versions/([^/]+)/assets/([^/]+)/(info/)?", path)
        if m and self._has_version(m[1], m[2]) and self.by_id.get(m[3], ("",))[0] == m[1]:
            dandiset, asset = self.by_id[m[3]]
            metadata = self._metadata(base, dandiset, asset)
            if m[4]:
                return 200, {**self._asset_row(asset), "metadata": metadata}, {}
            return 200, metadata, {}
        m = re.fullmatch(r"/api/assets/([^/]+)/(download/)?", path)
        if m and m[1] in self.by_id:
            dandiset, asset = self.by_id[m[1]]
            if m[2]:
                return 302, None, {"Location": f"{base}/{self.bucket}/{asset['key']}"}
            return 200, self._metadata(base, dandiset, asset), {}
        return 404, {"detail": "Not found."}, {}

    def _has_version(self, dandiset: str, version: str) -> bool:
        entry = self.index["dandisets"].get(dandiset)
        return entry is not None and version == entry["version"]

    def _info(self, base: str) -> dict[str, Any]:
        return {
            "schema_version": "0.6.10",
            "schema_url": "https://raw.githubusercontent.com/dandi/schema/master/releases/0.6.10/dandiset.json",
            "version": _VERSION,
            "cli-minimal-version": "0.60.0",
            "cli-bad-versions": [],
            "services": {
                "api": {"url": f"{base}/api"},
                "webui": {"url": base},
                "jupyterhub": {"url": base},
            },
        }

    def _page(self, base: str, path: str, dandiset: str, params: dict[str, str]) -> dict:
        assets = self.index["dandisets"][dandiset]["assets"]
        prefix = params.get("path", "")
        found = [a for a in assets if a["path"].startswith(prefix)]
        if params.get("glob"):
            found = [a for a in found if fnmatch.fnmatchcase(a["path"], params["glob"])]
        order = params.get("order") or "path"
        key = order.lstrip("-")
        if key in ("path", "created", "modified"):
            found.sort(key=lambda a: a[key], reverse=order.startswith("-"))
        page = max(1, int(params.get("page", 1)))
        size = max(1, min(1000, int(params.get("page_size", 100))))
        rows = found[(page - 1) * size : page * size]

        def link(n: int) -> str | None:
            if n < 1 or (n - 1) * size >= len(found):
                return None
            return f"{base}{path}?{urlencode({**params, 'page': n})}"

        return {
            "count": len(found),
            "next": link(page + 1),
            "previous": link(page - 1) if page > 1 else None,
            "results": [self._asset_row(a) for a in rows],
        }


def wrap(app: Any, index_path: Path) -> Any:
    """A WSGI app that answers DANDI API paths itself and passes the rest to ``app``."""
    api = DandiStandIn(index_path)

    def dispatch(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not (path == "/server-info" or path.startswith("/api/")):
            return app(environ, start_response)
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        status, body, headers = api.handle(
            environ.get("REQUEST_METHOD", "GET"),
            path,
            environ.get("QUERY_STRING", ""),
            f"{scheme}://{host}",
        )
        data = b"" if body is None else json.dumps(body).encode()
        reason = {200: "OK", 302: "Found", 404: "Not Found", 405: "Method Not Allowed"}
        start_response(
            f"{status} {reason.get(status, 'OK')}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                *headers.items(),
            ],
        )
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else data]

    return dispatch
