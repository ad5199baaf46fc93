"""Benchmark: first render of a session page of ``ppdata web`` (issue 13; target <= 1 s).

ppdata web: one HTTP GET of ``/session/<name>`` with a cold cache (assets, metadata, QC of
every asset, portal links and the QC figure listing, fetched concurrently; NWB contents,
units and plots come later, lazily). Baseline: the same facts fetched one call after another,
as a notebook does with the library (find_assets, get_metadata, get_quality_control per
asset, get_portal_links, list the QC figures). Measured side by side, on loopback and with
50 ms injected per request.

    .venv/bin/python benchmarks/bench_web.py
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import endpoint_with_latency, mirror_process, print_table, ratio, timed

from ppdata.errors import NotFound
from ppdata.remote.s3 import S3Client
from ppdata.settings import Settings


def baseline(settings: Settings, session: str) -> int:
    """The session page's facts, one library call after another."""
    from ppdata.find.assets import find_assets
    from ppdata.meta.metadata import get_metadata
    from ppdata.meta.portal import get_portal_links
    from ppdata.meta.qc import get_quality_control

    with S3Client(settings) as client:
        assets = find_assets(session, client)
        get_metadata(client, assets[0].name)
        for asset in assets:
            with contextlib.suppress(NotFound):
                get_quality_control(client, asset.name)
        for asset in assets:
            if asset.kind == "sorted" and asset.current:
                get_portal_links(client, asset.name)
                client.list_objects(f"{asset.name}/quality_control/")
        return client.stats.total_requests


def main() -> None:
    import uvicorn

    from ppdata.web.app import create_app
    from ppdata.web.server import check_port

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, nargs="*", default=[0.0, 0.05])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from ppdata.mirror.world import EPHYS_COMPLETE, MESOSCOPE_A

    rows = []
    with mirror_process() as (endpoint, spreadsheet), tempfile.TemporaryDirectory() as tmp:
        for latency in args.latency:
            with endpoint_with_latency(endpoint, latency) as proxy:
                settings = Settings(
                    endpoint_url=proxy.endpoint_url,
                    cache_dir=Path(tmp) / f"cache-{latency}",
                    spreadsheet=str(spreadsheet),
                )
                app = create_app(settings)
                port = check_port("127.0.0.1", 0)
                server = uvicorn.Server(
                    uvicorn.Config(app, port=port, log_level="warning", lifespan="off")
                )
                thread = threading.Thread(target=server.run, daemon=True)
                thread.start()
                while not server.started:
                    time.sleep(0.02)
                web = app.state.web
                web.ensure_catalog()
                for session in (EPHYS_COMPLETE, MESOSCOPE_A):
                    url = f"http://127.0.0.1:{port}/session/{session}"

                    def first_render(url: str = url, web: Any = web) -> int:
                        web.cache.clear()
                        before = web.client.stats.total_requests
                        with urllib.request.urlopen(url, timeout=60) as reply:
                            reply.read()
                        return web.client.stats.total_requests - before

                    ours, n_ours = timed(first_render, args.repeat)
                    base, n_base = timed(lambda s=session, c=settings: baseline(c, s), args.repeat)
                    rows.append(
                        [
                            session,
                            f"{latency * 1000:.0f} ms",
                            base,
                            n_base,
                            ours,
                            n_ours,
                            ratio(base, ours),
                        ]
                    )
                server.should_exit = True
                thread.join(timeout=10)
                web.close()
    print_table(
        "ppdata web: first render of a session page (cold cache), seconds",
        [
            "session",
            "latency",
            "baseline s",
            "baseline requests",
            "ppdata web s",
            "ppdata web requests",
            "speed-up",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
