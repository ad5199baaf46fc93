"""Benchmark: the assets of one session (issue 3).

ppdata: one root listing + (ecephys) one CCF listing + one content listing per `_processed_`
asset, the content listings concurrent. Baseline: what a person does in a bucket viewer or a
notebook today: list the root, then open every asset folder one after the other to see what
it is. Measured side by side, on loopback and with 50 ms injected per request.

    .venv/bin/python benchmarks/bench_assets.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import endpoint_with_latency, mirror_process, print_table, ratio, timed

from ppdata.find.assets import find_assets
from ppdata.remote.s3 import S3Client
from ppdata.settings import Settings


def baseline(client: S3Client, session: str) -> int:
    """Root listing, the CCF listing, then each asset folder opened in turn."""
    subject = session.split("_")[-3] if session.count("_") >= 3 else session.split("_")[0]
    root = client.list(session, delimiter="/")
    client.list(f"ecephys_{subject}_ccf", delimiter="/")
    for prefix in root.prefixes:
        client.list(prefix, delimiter="/")
    return len(root.prefixes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, nargs="*", default=[0.0, 0.05])
    args = parser.parse_args()
    from ppdata.mirror.world import EPHYS_REPROCESSED, MESOSCOPE_A

    rows = []
    with mirror_process("small") as (endpoint, _sheet):
        for latency in args.latency:
            with endpoint_with_latency(endpoint, latency) as proxy:
                for session in (MESOSCOPE_A, EPHYS_REPROCESSED):
                    settings = Settings(endpoint_url=proxy.endpoint_url)
                    with S3Client(settings) as ours, S3Client(settings) as base:
                        t_ours, assets = timed(lambda c=ours, s=session: find_assets(s, c))
                        t_base, _ = timed(lambda c=base, s=session: baseline(c, s))
                        r_ours = ours.stats.total_requests // 3
                        r_base = base.stats.total_requests // 3
                    processed = sum("_processed_" in a.name for a in assets)
                    bound = 1 + (1 if session.startswith("ecephys") else 0) + processed
                    rows.append(
                        [
                            session,
                            f"{latency * 1000:.0f} ms",
                            len(assets),
                            bound,
                            r_ours,
                            r_base,
                            f"{t_ours * 1000:.1f}",
                            f"{t_base * 1000:.1f}",
                            ratio(t_base, t_ours),
                        ]
                    )
    print_table(
        "Assets of one session (find + classify)",
        [
            "session",
            "latency",
            "assets",
            "request bound",
            "requests ppdata",
            "requests baseline",
            "ms ppdata",
            "ms baseline",
            "speed-up",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
