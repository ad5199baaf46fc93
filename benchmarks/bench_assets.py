"""Benchmark: the assets of one session (issue 3).

ppdata: one root listing + (ecephys) one CCF listing + one content listing per `_processed_`
asset, the content listings concurrent. Baseline: what a person does in a bucket viewer or a
notebook today: list the root, then open every asset folder one after the other to see what
it is. Measured side by side, on loopback and with 50 ms injected per request.

    .venv/bin/python benchmarks/bench_assets.py

``--compare SRC`` also measures ppdata from another source tree (its ``src/``) against ours,
each in its own process, turn about, through the same proxy (the HTTP stack comparison of
issue 10): the first call of a process (lazy imports and new connections included) and the
calls after it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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


#: One process's calls of ``find_assets`` (this tree's layout or the one before the move).
ONE_PROCESS = """
import json, statistics, sys, time
try:
    from ppdata.find.assets import find_assets
    from ppdata.remote.s3 import S3Client
    def find(session, client):
        return find_assets(session, client=client)
except ImportError:  # a tree from before the layout move
    from ppdata.assets import find_assets as find
    from ppdata.s3 import S3Client
from ppdata.settings import Settings
endpoint, session, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
with S3Client(Settings(endpoint_url=endpoint)) as client:
    for _ in range(calls):
        start = time.perf_counter()
        assets = find(session, client)
        times.append(time.perf_counter() - start)
    requests = client.stats.total_requests // calls
print(json.dumps({"first": times[0], "then": statistics.median(times[1:]),
                  "requests": requests, "assets": len(assets)}))
"""


def one_process(src: Path, endpoint: str, session: str, calls: int = 4) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # run as installed: bytecode cached after run 1
    out = subprocess.run(
        [sys.executable, "-c", ONE_PROCESS, endpoint, session, str(calls)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def compare(endpoint: str, latencies: list[float], other: Path, rounds: int) -> None:
    """ppdata from this tree vs from ``other``, each call in its own process, turn about."""
    from ppdata.mirror.world import EPHYS_REPROCESSED, MESOSCOPE_A

    ours = Path(__file__).resolve().parent.parent / "src"
    name = f"ppdata@{other.resolve().parent.name}"
    rows = []
    for latency in latencies:
        with endpoint_with_latency(endpoint, latency) as proxy:
            for session in (MESOSCOPE_A, EPHYS_REPROCESSED):
                for src in (ours, other):  # unmeasured: bytecode cached, the world warm
                    one_process(src, proxy.endpoint_url, session, calls=2)
                got: dict[str, list[dict[str, float]]] = {"ours": [], "theirs": []}
                for round_ in range(rounds):
                    order = [("ours", ours), ("theirs", other)]
                    for label, src in order if round_ % 2 == 0 else order[::-1]:
                        got[label].append(one_process(src, proxy.endpoint_url, session))
                med = {
                    side: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                    for side, runs in got.items()
                }
                rows.append(
                    [
                        session,
                        f"{latency * 1000:.0f} ms",
                        f"{med['ours']['requests']:.0f} / {med['theirs']['requests']:.0f}",
                        f"{med['ours']['first'] * 1000:.1f}",
                        f"{med['theirs']['first'] * 1000:.1f}",
                        f"{med['theirs']['first'] / med['ours']['first']:.2f}x",
                        f"{med['ours']['then'] * 1000:.1f}",
                        f"{med['theirs']['then'] * 1000:.1f}",
                        f"{med['theirs']['then'] / med['ours']['then']:.2f}x",
                    ]
                )
    print_table(
        f"Assets of one session: ppdata vs {name} (medians of {rounds} processes each)",
        [
            "session",
            "latency",
            f"requests ppdata / {name}",
            "first call ms",
            f"first call ms {name}",
            f"{name} / ppdata",
            "later calls ms",
            f"later calls ms {name}",
            f"{name} / ppdata",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, nargs="*", default=[0.0, 0.05])
    parser.add_argument(
        "--compare", type=Path, default=None, help="another ppdata source tree (its src/)"
    )
    parser.add_argument("--rounds", type=int, default=7, help="with --compare: processes per side")
    args = parser.parse_args()
    if args.compare is not None:
        with mirror_process("small") as (endpoint, _sheet):
            compare(endpoint, args.latency, args.compare, args.rounds)
        return
    from ppdata.mirror.world import EPHYS_REPROCESSED, MESOSCOPE_A

    rows = []
    with mirror_process("small") as (endpoint, _sheet):
        for latency in args.latency:
            with endpoint_with_latency(endpoint, latency) as proxy:
                for session in (MESOSCOPE_A, EPHYS_REPROCESSED):
                    settings = Settings(endpoint_url=proxy.endpoint_url)
                    with S3Client(settings) as ours, S3Client(settings) as base:
                        t_ours, assets = timed(lambda c=ours, s=session: find_assets(s, client=c))
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
