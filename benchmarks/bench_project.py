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

Every request goes through the latency proxy, which counts requests and bytes.

Run: ``python benchmarks/bench_project.py`` (both latencies; ~10 min after the bench world
is built) or ``--latency 0 --sessions 10`` for a quick look.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
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


def _ours(settings: Any, names: list[str], workers: int, proxy: Any) -> dict[str, Any]:
    from ppdata.project import project_table

    proxy.reset_counts()
    started = time.perf_counter()
    result = project_table(
        "units", settings=settings, sessions=names, workers=workers, recompute=False
    )
    seconds = time.perf_counter() - started
    assert not result.failed, result.failed
    return {
        "seconds": seconds,
        "rows": len(result.frame),
        "columns": result.frame.shape[1],
        "requests": proxy.total_requests,
        "bytes": proxy.bytes_sent,
        "computed": len(result.computed),
    }


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
    started = time.perf_counter()
    frame = lazynwb.scan_nwb(
        urls, "units", exclude_array_columns=True, disable_progress=True
    ).collect()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": frame.height,
        "columns": frame.width,
        "requests": proxy.total_requests,
        "bytes": proxy.bytes_sent,
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, nargs="*", default=[0.0, 0.05])
    parser.add_argument("--sessions", type=int, default=56, help="Neuropixels sessions (≤56)")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--skip-lazynwb", action="store_true")
    args = parser.parse_args()

    from ppdata.find.catalog import Catalog
    from ppdata.remote.s3 import S3Client
    from ppdata.settings import Settings

    names = _hdf5_sessions()[: args.sessions]
    began = time.perf_counter()
    tables = []
    with mirror_process("bench") as (endpoint, sheet):
        for latency in args.latency:
            with endpoint_with_latency(endpoint, latency) as proxy:
                base = Settings(
                    endpoint_url=proxy.endpoint_url,
                    spreadsheet=str(sheet),
                    cache_dir=Path(tempfile.mkdtemp(prefix="bench-project-")),
                )
                proxy.reset_counts()
                started = time.perf_counter()
                with S3Client(base) as client:
                    Catalog(base).refresh(client)
                catalog_s = time.perf_counter() - started
                catalog_req = proxy.total_requests
                rows: list[list[Any]] = []
                ours: dict[int, dict[str, Any]] = {}
                for workers in args.workers:
                    shutil.rmtree(base.cache_dir / "project", ignore_errors=True)
                    ours[workers] = _ours(base, names, workers, proxy)
                    print(
                        f"[{latency * 1e3:.0f} ms] ppdata cold, {workers} workers: {ours[workers]}",
                        file=sys.stderr,
                        flush=True,
                    )
                warm = _ours(base, names, max(args.workers), proxy)
                print(f"[{latency * 1e3:.0f} ms] ppdata warm: {warm}", file=sys.stderr, flush=True)
                lazy_cold = lazy_warm = None
                if not args.skip_lazynwb:
                    urls = _nwb_urls(proxy.endpoint_url, base.bucket, names)
                    lazy_cold = _lazynwb(urls, proxy, clear=True)
                    print(f"[{latency * 1e3:.0f} ms] lazynwb cold: {lazy_cold}", file=sys.stderr)
                    lazy_warm = _lazynwb(urls, proxy, clear=False)
                    print(f"[{latency * 1e3:.0f} ms] lazynwb warm: {lazy_warm}", file=sys.stderr)
                best = min(ours.values(), key=lambda m: m["seconds"])
                for workers, m in ours.items():
                    rows.append(
                        [
                            f"ppdata cold, {workers} worker{'s' if workers > 1 else ''}",
                            m["seconds"],
                            m["rows"],
                            m["requests"],
                            _mb(m["bytes"]),
                            ratio(lazy_cold["seconds"], m["seconds"]) if lazy_cold else "",
                        ]
                    )
                rows.append(
                    [
                        "ppdata warm (cache)",
                        warm["seconds"],
                        warm["rows"],
                        warm["requests"],
                        _mb(warm["bytes"]),
                        ratio(lazy_warm["seconds"], warm["seconds"]) if lazy_warm else "",
                    ]
                )
                for label, m in (("lazynwb cold", lazy_cold), ("lazynwb warm", lazy_warm)):
                    if m:
                        rows.append(
                            [label, m["seconds"], m["rows"], m["requests"], _mb(m["bytes"]), ""]
                        )
                tables.append(
                    print_table(
                        f"Units of {len(names)} sessions, {latency * 1e3:.0f} ms per request "
                        f"(catalog refresh before: {catalog_s:.1f} s, {catalog_req} requests; "
                        f"best cold: {best['seconds']:.1f} s)",
                        ["run", "seconds", "rows", "requests", "bytes", "lazynwb / ppdata"],
                        rows,
                    )
                )
                shutil.rmtree(base.cache_dir, ignore_errors=True)
    print(f"Total run time: {time.perf_counter() - began:.0f} s")
    print("Command: " + shlex.join([sys.executable, *sys.argv]))


if __name__ == "__main__":
    main()
