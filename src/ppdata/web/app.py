"""The Starlette application: routes, error pages and security headers.

Every page is rendered by Jinja2 with autoescape on; nothing is served from local disk but
the package's own ``static/`` files; objects are read through :class:`ppdata.remote.s3.S3Client`
(anonymous) and streamed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..settings import Settings
from .state import WebState

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def _templates() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ppdata.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from ..units import format_bytes
    from .pages import both_times

    env.filters["size"] = lambda n: "" if n is None else format_bytes(int(n))
    env.filters["both_times"] = both_times
    env.filters["urlkey"] = lambda key: quote(str(key), safe="/")
    env.filters["q"] = lambda value: quote(str(value), safe="")
    return env


def create_app(settings: Settings | None = None, *, state: WebState | None = None) -> Starlette:
    """The ``ppdata web`` application.

    Parameters
    ----------
    settings : Settings, optional
        Where to read (default :meth:`Settings.resolve`).
    state : WebState, optional
        Shared state to use instead of making one (tests).

    Returns
    -------
    starlette.applications.Starlette
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from . import pages

    web = state or WebState(settings)
    env = _templates()

    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        from starlette.responses import HTMLResponse

        context.setdefault("banner", None)
        context.setdefault("title", "ppdata")
        html = env.get_template(name).render(
            request=request,
            settings=web.settings,
            endpoint=web.settings.where,
            bucket=web.settings.bucket,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    handlers = pages.Handlers(web, render)

    async def not_found(request: Request, exc: Exception) -> Response:
        return render(
            request,
            "error.html",
            404,
            title="Not found",
            message=str(getattr(exc, "detail", "")) or "Nothing here.",
            suggestions=[],
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.exception("error serving %s", request.url.path)
        return render(
            request,
            "error.html",
            500,
            title="Error",
            message=f"unexpected {type(exc).__name__}: {exc}",
            suggestions=[],
        )

    routes = [
        Route("/", handlers.index),
        Route("/refresh", handlers.refresh, methods=["POST"]),
        Route("/session/{name}", handlers.session),
        Route("/session/{name}/nwb", handlers.nwb_fragment),
        Route("/session/{name}/units", handlers.units_fragment),
        Route("/plot/{name}/{kind}.png", handlers.plot),
        Route("/ls/{path:path}", handlers.browse),
        Route("/file/{path:path}", handlers.file),
        Mount("/static", StaticFiles(packages=[("ppdata.web", "static")]), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: not_found, 500: server_error},
    )
    app.state.web = web
    return app


class SecurityHeaders:
    """Adds a strict Content-Security-Policy, ``nosniff`` and no-referrer to every reply."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
