"""Project-wide units table: ppdata on Dask vs lazynwb's ``scan_nwb``, cold and warm.

The bench world carries the release's real inventory (141 sessions, their real asset
names) with a units NWB for each of the 60 Neuropixels sessions: 56 complete HDF5 NWBs in
their ``_nwb_`` assets and 4 Zarr NWBs in ``_sorted_`` assets (whose ``_nwb_`` asset is
internal), 2,225–4,346 units each, as in the release (one hand-made session, the
bench-size NWB of 600 units, is among them).

The job: one table of every unit's scalar columns (metrics, labels, probe) over the 56
sessions with HDF5 NWBs (lazynwb cannot read the 4 Zarr ones over plain HTTP), with the
session on each row.

- ppdata: ``project_table("units")``, one task per session on a Dask LocalCluster of worker
  processes (started inside the timing), the catalog already refreshed (timed apart);
  warm = the same call again (Parquet cache, no cluster).
- lazynwb: ``scan_nwb(paths, "units", exclude_array_columns=True).collect()`` over the same
  files by URL (remfile for HDF5, fsspec HTTP for Zarr), its cache cleared before the cold
  run; warm = the same call again in the same process.

The bucket is served by the static range server (``benchmarks/_static.py``: a ranged GET
costs time per range, as on S3, and little CPU per request) after the NWB files
were read once into the page cache; every request goes through the latency proxy, which
counts requests and bytes. The runs are interleaved (ppdata 1 worker, lazynwb cold, ppdata
2 workers, lazynwb warm, ppdata warm), so load from elsewhere falls on both alike. Last, a
per-session table: requests, bytes, a task's wall and CPU time (medians), and Dask's own
cost (start-up, a no-op task per session).

Run: ``python benchmarks/bench_project.py`` (both latencies; ~15 min on a loaded machine
after the bench world is built) or ``--latency 0 --sessions 10`` for a quick look.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import endpoint_with_latency, mirror_process, print_table, ratio


def _nwb_urls(endpoint: str, bucket: str, names: list[str]) -> list[str]:
    from ppdata.mirror.layout_sessions import describe_world

    world = describe_world(Path("."), "bench")
    urls = []
    for name in names:
        asset = _reader(world, name)
        urls.append(f"{endpoint}/{bucket}/{asset.nwb_key}")
    return urls


def _warm_page_cache(names: list[str]) -> float:
    """Read the sessions' NWB files once on the server's side, so the first timed run does
    not pay the disk for the runs after it (the files are in the page cache for all)."""
    from _common import WORLD_CACHE

    from ppdata.mirror.layout_sessions import describe_world
    from ppdata.mirror.world import ensure_world

    bucket = Path(ensure_world(WORLD_CACHE, "bench")) / "bucket"
    world = describe_world(Path("."), "bench")
    started = time.perf_counter()
    for name in names:
        path = bucket / _reader(world, name).nwb_key
        with open(path, "rb") as f:
            while f.read(8 * 2**20):
                pass
    return time.perf_counter() - started


def _reader(world: Any, name: str) -> Any:
    session = world.session(name)
    return session.current("nwb" if "nwb" in session.kinds else "sorted")


def _hdf5_sessions() -> list[str]:
    """Neuropixels sessions of the inventory whose units NWB is HDF5 (a public ``_nwb_``
    asset): 56 of 60. lazynwb cannot open the other 4 (Zarr) over plain HTTP: it passes
    ``anon`` to fsspec's HTTP filesystem, which hands it to aiohttp."""
    from ppdata.mirror.inventory import inventory
    from ppdata.mirror.layout_sessions import describe_world

    world = describe_world(Path("."), "bench")
    names = [r.name for r in inventory() if r.modality == "Neuropixels"]
    return [
        n
        for n in names
        if any(s.name == n and s.on_s3 for s in world.sessions)
        and _reader(world, n).nwb_format == "hdf5"
    ]


def _cpu() -> float:
    """CPU seconds of this process (the driver, the latency proxy's threads, lazynwb) and
    of its children that ended (a local cluster's workers, once it is closed)."""
    import resource

    me, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _ours(settings: Any, names: list[str], workers: int, proxy: Any) -> dict[str, Any]:
    from ppdata.project import project_table

    proxy.reset_counts()
    cpu = _cpu()
    started = time.perf_counter()
    result = project_table(
        "units", settings=settings, sessions=names, workers=workers, recompute=False
    )
    seconds = time.perf_counter() - started
    assert not result.failed, result.failed
    out = {
        "seconds": seconds,
        "cpu_s": _cpu() - cpu,
        "rows": len(result.frame),
        "columns": result.frame.shape[1],
        "requests": proxy.total_requests,
        "bytes": proxy.bytes_sent,
        "computed": len(result.computed),
    }
    if result.computed:
        from ppdata.project.store import ProjectStore

        known = ProjectStore(settings).manifest("units")
        done = [known[n] for n in result.computed]
        out["task_s"] = statistics.median(d["seconds"] for d in done)
        out["task_cpu_s"] = statistics.median(d["cpu_seconds"] for d in done)
        out["cpu_total_s"] = sum(d["cpu_seconds"] for d in done)
    return out


def _dask_overhead(names: list[str], workers: int) -> dict[str, float]:
    """A LocalCluster's start-up and the cost of one no-op task per session on it."""
    from ppdata.project.cluster import open_client, run_tasks

    started = time.perf_counter()
    with open_client(None, n_tasks=len(names), workers=workers) as client:
        up = time.perf_counter() - started
        begun = time.perf_counter()
        run_tasks(client, _noop, [(n,) for n in names])
        tasks = time.perf_counter() - begun
    return {"startup_s": up, "per_task_ms": 1e3 * tasks / len(names), "tasks_s": tasks}


def _noop(name: str) -> str:
    return name


def _allow_plain_http() -> None:
    """The mirror speaks plain HTTP; lazynwb's obstore range reader refuses ``http://``
    unless its client allows it, and lazynwb has no setting for that. Only the default of
    that one client option changes: what is read, and how, stays lazynwb's."""
    import lazynwb._hdf5.range_reader as range_reader

    init = range_reader._RangeReaderConfig.__init__
    defaults = list(init.__defaults__)
    defaults[5] = {"allow_http": True}  # client_options
    init.__defaults__ = tuple(defaults)


def _lazynwb(urls: list[str], proxy: Any, *, clear: bool) -> dict[str, Any]:
    import lazynwb

    _allow_plain_http()
    if clear:
        lazynwb.clear_cache()
    proxy.reset_counts()
    cpu = _cpu()
    started = time.perf_counter()
    frame = lazynwb.scan_nwb(
        urls, "units", exclude_array_columns=True, disable_progress=True
    ).collect()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu_s": _cpu() - cpu,
        "rows": frame.height,
        "columns": frame.width,
        "requests": proxy.total_requests,
        "bytes": proxy.bytes_sent,
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _row(label: str, m: dict[str, Any], base: dict[str, Any] | None) -> list[Any]:
    return [
        label,
        m["seconds"],
        f"{m['cpu_s']:.1f}",
        m["rows"],
        m["requests"],
        _mb(m["bytes"]),
        ratio(base["seconds"], m["seconds"]) if base else "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, nargs="*", default=[0.0, 0.05])
    parser.add_argument("--sessions", type=int, default=56, help="Neuropixels sessions (≤56)")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--skip-lazynwb", action="store_true")
    parser.add_argument("--server", choices=["static", "moto"], default="static")
    args = parser.parse_args()

    from ppdata.find.catalog import Catalog
    from ppdata.remote.s3 import S3Client
    from ppdata.settings import Settings

    names = _hdf5_sessions()[: args.sessions]
    began = time.perf_counter()
    per_session: list[list[Any]] = []
    with mirror_process("bench", server=args.server) as (endpoint, sheet):
        print(f"page cache warmed in {_warm_page_cache(names):.1f} s", file=sys.stderr)
        for latency in args.latency:
            tag = f"[{latency * 1e3:.0f} ms]"
            with endpoint_with_latency(endpoint, latency) as proxy:
                base = Settings(
                    endpoint_url=proxy.endpoint_url,
                    spreadsheet=str(sheet),
                    cache_dir=Path(tempfile.mkdtemp(prefix="bench-project-")),
                )
                proxy.reset_counts()
                started = time.perf_counter()
                with S3Client(base) as client:
                    Catalog(base).refresh(client=client)
                catalog_s = time.perf_counter() - started
                catalog_req = proxy.total_requests
                urls = _nwb_urls(proxy.endpoint_url, base.bucket, names)
                # interleaved: ppdata 1 worker, lazynwb cold, ppdata 2 workers, lazynwb
                # warm, ppdata warm, so load from elsewhere falls on both alike
                ours: dict[int, dict[str, Any]] = {}
                lazy: dict[str, dict[str, Any]] = {}
                steps: list[tuple[str, Any]] = []
                for i, workers in enumerate(args.workers):
                    steps.append((f"ours-{workers}", workers))
                    if not args.skip_lazynwb and i < 2:
                        steps.append(("lazy-cold" if i == 0 else "lazy-warm", None))
                for step, workers in steps:
                    if step.startswith("ours"):
                        shutil.rmtree(base.cache_dir / "project", ignore_errors=True)
                        ours[workers] = _ours(base, names, workers, proxy)
                        print(f"{tag} ppdata cold, {workers} workers: {ours[workers]}",
                              file=sys.stderr, flush=True)  # fmt: skip
                    else:
                        lazy[step] = _lazynwb(urls, proxy, clear=step == "lazy-cold")
                        print(f"{tag} lazynwb {step}: {lazy[step]}", file=sys.stderr, flush=True)
                warm = _ours(base, names, max(args.workers), proxy)
                print(f"{tag} ppdata warm: {warm}", file=sys.stderr, flush=True)
                overhead = _dask_overhead(names, max(args.workers))
                print(f"{tag} dask: {overhead}", file=sys.stderr, flush=True)
                cold = lazy.get("lazy-cold")
                rows = [
                    _row(f"ppdata cold, {w} worker{'s' if w > 1 else ''}", m, cold)
                    for w, m in ours.items()
                ]
                rows.append(_row("ppdata warm (cache)", warm, lazy.get("lazy-warm")))
                for label, key in (("lazynwb cold", "lazy-cold"), ("lazynwb warm", "lazy-warm")):
                    if key in lazy:
                        rows.append(_row(label, lazy[key], None))
                best = min(ours.values(), key=lambda m: m["seconds"])
                print_table(
                    f"Units of {len(names)} sessions, {latency * 1e3:.0f} ms per request "
                    f"(catalog refresh before: {catalog_s:.1f} s, {catalog_req} requests; "
                    f"best cold: {best['seconds']:.1f} s)",
                    ["run", "seconds", "CPU s", "rows", "requests", "bytes", "lazynwb / ppdata"],
                    rows,
                )
                for w, m in ours.items():
                    n = max(1, m["computed"])
                    per_session.append(
                        [
                            f"{latency * 1e3:.0f} ms, {w} worker{'s' if w > 1 else ''}",
                            f"{m['requests'] / n:.1f}",
                            _mb(m["bytes"] / n),
                            f"{m['task_s']:.3f}",
                            f"{m['task_cpu_s']:.3f}",
                            f"{overhead['startup_s']:.1f}",
                            f"{overhead['per_task_ms']:.0f}",
                        ]
                    )
                shutil.rmtree(base.cache_dir, ignore_errors=True)
    print_table(
        "Per session (medians over the sessions of one cold run; Dask: a no-op task per "
        "session on a new LocalCluster of the most workers)",
        [
            "run",
            "requests",
            "bytes",
            "task wall s",
            "task CPU s",
            "Dask start-up s",
            "Dask ms per no-op task",
        ],
        per_session,
    )
    print(f"Total run time: {time.perf_counter() - began:.0f} s")
    print("Command: " + shlex.join([sys.executable, *sys.argv]))


if __name__ == "__main__":
    main()
