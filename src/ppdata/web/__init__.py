"""``ppdata web``: a local web page that knows the project's sessions, assets, QC and NWBs.

Built on Starlette + uvicorn + Jinja2 (autoescape on). Pages read the bucket through
:class:`ppdata.remote.s3.S3Client` only (anonymous, read-only); nothing is served from local disk
but this package's ``static/`` files.

Examples
--------
>>> from urllib.request import urlopen
>>> from ppdata.web import running, serve
>>> with running() as url, urlopen(url) as page:  # in a background thread, any free port
...     page.status
200
>>> serve(port=8000)  # in the foreground until Ctrl-C (what `ppdata web` does)  # doctest: +SKIP
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
