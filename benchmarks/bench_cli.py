"""Benchmark: ``ppdata`` commands as a user runs them, whole processes, this tree vs another.

Each command runs as its own process (interpreter start, imports, the requests, the output
and the exit all counted), turn about with the same command from ``--compare SRC`` (another
source tree's ``src/``, e.g. the one before issue 10's transport), through the mirror's
latency proxy: what a user waits for at the prompt. The in-process benchmarks
(``bench_assets.py --compare``, ``bench_download.py``) time a call; this times the command.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_cli.py --compare /path/to/old/src \\
        --latency 0.03 0.05 --rounds 9

Every run is timed from ``posix_spawn`` to ``wait4`` (its CPU from ``wait4`` too); the
requests are counted at the proxy. ``--callgrind`` adds one run of each under valgrind's
callgrind, at the first latency only: the instructions it executed, a CPU figure that the
machine's load does not move (a whole process here takes 0.2-1.5 s, where a few ms of noise
would hide a change).

One run of each command and tree before the measured ones caches the bytecode and the cache
folder (each tree its own), as on a user's second run. Medians are shown; the order of the
two trees turns each round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    endpoint_with_latency,
    instructions,
    mirror_process,
    print_table,
    run_measured,
)


def commands() -> list[list[str]]:
    """The commands measured: listings, metadata and QC, NWB summaries and slices."""
    from ppdata.mirror.world import EPHYS_COMPLETE, EPHYS_REPROCESSED, MESOSCOPE_A

    return [
        ["ls", EPHYS_REPROCESSED, "--json"],
        ["assets", EPHYS_REPROCESSED, "--json"],
        ["metadata", EPHYS_REPROCESSED, "--json"],
        ["qc", EPHYS_REPROCESSED, "--json"],
        ["nwb", EPHYS_REPROCESSED, "--json"],
        ["units", EPHYS_REPROCESSED, "--json"],
        ["units", EPHYS_COMPLETE, "--json"],
        ["lfp", EPHYS_REPROCESSED, "--probe", "ProbeA", "--start", "1", "--stop", "2", "--json"],
        ["planes", MESOSCOPE_A, "--json"],
        ["dff", MESOSCOPE_A, "--plane", "VISp_0", "--start", "0", "--stop", "60", "--json"],
    ]


def ppdata(argv: list[str]) -> list[str]:
    """The command line of ``ppdata ARGV`` under this interpreter."""
    return [sys.executable, "-m", "ppdata", *argv]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, required=True, help="another tree's src/")
    parser.add_argument("--latency", type=float, nargs="+", default=[0.03, 0.05])
    parser.add_argument("--rounds", type=int, default=9, help="measured runs per tree")
    parser.add_argument("--only", nargs="*", default=None, help="commands to run (by name)")
    parser.add_argument(
        "--callgrind", action="store_true", help="also count instructions (valgrind, slow)"
    )
    args = parser.parse_args()

    trees = {"ppdata": Path(__file__).resolve().parent.parent / "src", "old": args.compare}
    name = f"ppdata@{args.compare.resolve().parent.name}"
    todo = [c for c in commands() if args.only is None or c[0] in args.only]
    rows: list[list[Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="ppdata-bench-cli-") as work,
        mirror_process("small") as (endpoint, sheet),
    ):
        for latency in args.latency:
            with endpoint_with_latency(endpoint, latency) as proxy:
                envs = {}
                for label, src in trees.items():
                    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
                    env.update(
                        PYTHONPATH=str(src.resolve()),
                        PPDATA_ENDPOINT_URL=proxy.endpoint_url,
                        PPDATA_SPREADSHEET=str(sheet),
                        PPDATA_CACHE_DIR=str(Path(work) / label / "cache"),
                        HOME=str(Path(work) / label),
                        PYTHONPYCACHEPREFIX=str(Path(work) / label / "pycache"),
                    )
                    envs[label] = env
                for argv in todo:
                    for label in trees:  # unmeasured: bytecode and caches as on a second run
                        run_measured(ppdata(argv), envs[label])
                    walls: dict[str, list[float]] = {label: [] for label in trees}
                    cpus: dict[str, list[float]] = {label: [] for label in trees}
                    requests: dict[str, int] = {}
                    for round_ in range(args.rounds):
                        order = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
                        for label in order:
                            proxy.reset_counts()
                            run = run_measured(ppdata(argv), envs[label])
                            walls[label].append(run.seconds)
                            cpus[label].append(run.cpu)
                            requests[label] = proxy.total_requests
                    ours, theirs = (statistics.median(walls[k]) for k in trees)
                    counted = (
                        [
                            " / ".join(
                                f"{n / 1e6:.0f}" if n else "-"
                                for n in (instructions(ppdata(argv), envs[k]) for k in trees)
                            )
                        ]
                        if args.callgrind and latency == args.latency[0]
                        else []
                    )
                    rows.append(
                        [
                            "ppdata " + " ".join(a if len(a) < 24 else a[:20] + "…" for a in argv),
                            f"{latency * 1000:.0f} ms",
                            f"{requests['ppdata']} / {requests['old']}",
                            f"{ours * 1000:.0f}",
                            f"{theirs * 1000:.0f}",
                            f"{statistics.median(cpus['ppdata']) * 1000:.0f}",
                            f"{statistics.median(cpus['old']) * 1000:.0f}",
                            f"{theirs / ours:.2f}x",
                            *counted,
                        ]
                    )
    print_table(
        f"Commands, whole processes: ppdata vs {name} (medians of {args.rounds} runs each)",
        [
            "command",
            "latency",
            f"requests ppdata / {name}",
            "ms ppdata",
            f"ms {name}",
            "CPU ms ppdata",
            f"CPU ms {name}",
            f"{name} / ppdata",
            *([f"M instructions ppdata / {name} (first latency only)"] if args.callgrind else []),
        ],
        rows,
    )


if __name__ == "__main__":
    main()
