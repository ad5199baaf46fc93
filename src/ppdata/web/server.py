"""Running the web app with uvicorn: in the foreground (``ppdata web``) or in a thread."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import PpdataError
from ..settings import Settings, check_listen

__all__ = ["PortInUse", "check_port", "running", "serve"]

logger = logging.getLogger(__name__)


class PortInUse(PpdataError, OSError):
    """The port asked for is taken (or cannot be bound)."""


def check_port(host: str, port: int) -> int:
    """Check that ``host:port`` can be bound; return the port (a free one for 0).

    Raises
    ------
    PortInUse
        If the port is taken or may not be used.
    """
    return check_listen(host, port, PortInUse)


def _server(settings: Settings | None, host: str, port: int) -> tuple[Any, Any, int]:
    """``(app, uvicorn server, port)`` for the web app on ``host:port`` (checked first;
    a free port for 0).

    Raises
    ------
    PortInUse
        If the port is taken.
    """
    import uvicorn

    from .app import create_app

    port = check_port(host, port)
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off", access_log=False
    )
    return app, uvicorn.Server(config), port


def serve(
    settings: Settings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the web app until interrupted.

    Parameters
    ----------
    settings : Settings, optional
        Where to read (default :meth:`Settings.resolve`).
    host : str
        Interface to bind; loopback unless told otherwise.
    port : int
        Port (0: any free port).
    on_ready : callable, optional
        Called with the page's URL once the server listens (the CLI opens a browser).

    Raises
    ------
    PortInUse
        If the port is taken.
    """
    app, server, port = _server(settings, host, port)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    if on_ready is not None:

        def announce() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                on_ready(url)

        threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()
    finally:
        app.state.web.close()


@contextlib.contextmanager
def running(
    settings: Settings | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Run the app in a background thread; yield its base URL (tests, notebooks).

    Raises
    ------
    PortInUse
        If the port is taken.
    """
    app, server, port = _server(settings, host, port)
    thread = threading.Thread(target=server.run, name="ppdata-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise PortInUse(f"the web server did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.web.close()
