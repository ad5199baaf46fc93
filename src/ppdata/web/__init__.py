"""``ppdata web``: a local web page that knows the project's sessions, assets, QC and NWBs.

Built on Starlette + uvicorn + Jinja2 (autoescape on). Pages read the bucket through
:class:`ppdata.s3.S3Client` only (anonymous, read-only); nothing is served from local disk
but this package's ``static/`` files.

Examples
--------
>>> from ppdata.web import create_app, serve            # doctest: +SKIP
>>> serve(Settings(endpoint_url="http://127.0.0.1:9000"), port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["PortInUse", "create_app", "running", "serve"]

if TYPE_CHECKING:
    from .app import create_app
    from .server import PortInUse, running, serve


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name in ("PortInUse", "running", "serve"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module 'ppdata.web' has no attribute {name!r}")
