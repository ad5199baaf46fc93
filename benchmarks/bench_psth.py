"""Benchmark: PSTH of every unit, deviant vs standard, from the session name (issue 9, part 3).

ppdata: ``Session(name).aligned_spikes(to="deviant", vs="standard")`` — finds the assets,
opens the complete NWB, reads the unit ids, probes and ``spike_times_index``, starts the
``spike_times`` chunk downloads (exact byte ranges, several GETs in flight, inflated as they
arrive), reads the context block's stimulus table meanwhile, and bins each unit as soon as
its train has arrived.

Notebook method (the intro notebook's way, unit by unit): list down to the NWB (boto3,
unsigned), open it with remfile + h5py + pynwb ``NWBHDF5IO``, read
``intervals["<context> block_presentations"].to_dataframe()``, then for each unit
``nwbfile.units["spike_times"][i]`` and a histogram per trial. It is stopped after a
budget; its total time is then extrapolated from the units it finished (marked ``~``).

Reference: one bulk read of the same number of bytes (a single ranged GET of the NWB file
through the same proxy), and the bytes the analysis needs, measured on the local file: the
``spike_times`` chunks that hold any spike inside the block's span (± the window), the
index (``id``, ``spike_times_index``) and the stimulus table's datasets.

Each side runs in its own process (not the one running the latency proxy), after imports;
requests and bytes are counted at the proxy.

    python benchmarks/bench_psth.py                 # bench world, 50 ms, 3 rounds
    python benchmarks/bench_psth.py --quick         # small world, smoke test (not results)

The server is ``_static.py`` by default (``--server static``): a ranged GET costs time in
proportion to its range, as on S3, and little CPU per request (moto's is a few ms).
ppdata and the bulk read alternate for ``--rounds`` rounds (medians reported, the load
average beside them: the machine is shared); the notebook runs once, after them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

WINDOW = (-0.5, 1.0)
BIN = 0.01


# -- the sides (run in a child process) ------------------------------------------------------


def _ppdata(endpoint: str, plan: dict[str, Any], budget: float) -> dict[str, Any]:
    from ppdata.remote.s3 import S3Client
    from ppdata.session import Session
    from ppdata.settings import Settings

    start, cpu = time.perf_counter(), time.process_time()
    with (
        S3Client(Settings(endpoint_url=endpoint)) as client,
        Session(plan["session"], client=client) as s,
    ):
        psth = s.aligned_spikes(to="deviant", vs="standard", window=WINDOW, bin_size=BIN)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "units": int(psth.sizes["unit"]),
        "trials": psth.attrs["trials"],
        "checksum": float(psth.values.sum()),
    }


def _notebook(endpoint: str, plan: dict[str, Any], budget: float) -> dict[str, Any]:
    from urllib.parse import quote

    import boto3
    import h5py
    import numpy as np
    import remfile
    from botocore import UNSIGNED
    from botocore.config import Config
    from pynwb import NWBHDF5IO

    start = time.perf_counter()
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-west-2",
                      config=Config(signature_version=UNSIGNED))  # fmt: skip
    bucket, key = plan["bucket"], plan["key"]
    s3.list_objects_v2(Bucket=bucket, Prefix=plan["session"], Delimiter="/")
    s3.list_objects_v2(Bucket=bucket, Prefix=key.rsplit("/", 1)[0] + "/", Delimiter="/")
    h5 = h5py.File(remfile.File(f"{endpoint}/{bucket}/{quote(key)}"), "r")
    io = NWBHDF5IO(file=h5, mode="r")
    nwbfile = io.read()
    table = nwbfile.intervals[plan["table"]].to_dataframe()
    kinds = table["TrialType"].map(lambda v: v.decode() if isinstance(v, bytes) else str(v))
    deviant = kinds.isin(["orientation_45", "orientation_90", "halt", "omission", "jitter"])
    onsets = {
        "deviant": table.loc[deviant, "start_time"].to_numpy(),
        "standard": table.loc[kinds == "standard", "start_time"].to_numpy(),
    }
    edges = np.arange(WINDOW[0], WINDOW[1] + BIN / 2, BIN)
    n_units = len(nwbfile.units.id)
    total = 0.0
    done = 0
    for i in range(n_units):
        spikes = np.asarray(nwbfile.units["spike_times"][i])
        for condition in ("deviant", "standard"):
            counts = sum(np.histogram(spikes - t, bins=edges)[0] for t in onsets[condition])
            total += float(np.sum(counts) / (len(onsets[condition]) * BIN))
        done += 1
        if time.perf_counter() - start > budget:
            break
    seconds = time.perf_counter() - start
    io.close()
    return {"seconds": seconds, "units": done, "of": n_units, "checksum": total,
            "complete": done == n_units}  # fmt: skip


def _bulk(endpoint: str, plan: dict[str, Any], budget: float) -> dict[str, Any]:
    from ppdata.remote.s3 import S3Client
    from ppdata.settings import Settings

    with S3Client(Settings(endpoint_url=endpoint)) as client:
        start, cpu = time.perf_counter(), time.process_time()
        data = client.get_bytes(plan["key"], 0, plan["bulk_bytes"])
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu": time.process_time() - cpu, "bytes": len(data)}


SIDES = {"ppdata": _ppdata, "notebook": _notebook, "bulk": _bulk}


def child_main(side: str) -> None:
    import warnings

    warnings.simplefilter("ignore")
    import boto3  # noqa: F401  -- imports are not part of any timing
    import h5py  # noqa: F401
    import pynwb  # noqa: F401
    import remfile  # noqa: F401
    import xarray

    import ppdata.nwb.aligned
    import ppdata.session  # noqa: F401

    # xarray imports its duck-array modules (dask, ...) on the first DataArray: an import
    xarray.DataArray([0.0, 1.0])

    job = json.loads(sys.stdin.read())
    result = SIDES[side](job["endpoint"], job["plan"], job["budget"])
    print(json.dumps(result))


def run_side(side: str, endpoint: str, plan: dict[str, Any], budget: float) -> dict[str, Any]:
    job = json.dumps({"endpoint": endpoint, "plan": plan, "budget": budget})
    done = subprocess.run(
        [sys.executable, __file__, "--side", side],
        input=job,
        capture_output=True,
        text=True,
        timeout=budget * 3 + 600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{side} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the plan and the bytes the analysis needs (local file) ----------------------------------


def make_plan(world_root: Path, session: str) -> dict[str, Any]:
    import h5py
    import numpy as np

    from ppdata.mirror.world import load_world
    from ppdata.nwb.stimuli import CONTEXT_HINT

    world = load_world(world_root)
    asset = world.session(session).current("nwb")
    key = asset.nwb_key
    path = world.path(key)
    with h5py.File(path, "r") as f:
        tables = [n for n in f["intervals"] if CONTEXT_HINT in n.lower()]
        table = f["intervals"][tables[0]]
        kinds = [v.decode() if isinstance(v, bytes) else str(v) for v in table["TrialType"][:]]
        starts = table["start_time"][:]
        context = [t for t, k in zip(starts, kinds, strict=True) if k != ""]
        span = (min(context) + WINDOW[0], max(context) + WINDOW[1])
        table_bytes = sum(
            d.id.get_storage_size() for d in table.values() if isinstance(d, h5py.Dataset)
        )
        st = f["units/spike_times"]
        index_bytes = (
            f["units/spike_times_index"].id.get_storage_size() + f["units/id"].id.get_storage_size()
        )
        chunk = st.chunks[0] if st.chunks else len(st)
        n_chunks = -(-len(st) // chunk)
        holding, holding_bytes = 0, 0
        for c in range(n_chunks):
            values = st[c * chunk : (c + 1) * chunk]
            if np.any((values >= span[0]) & (values <= span[1])):
                holding += 1
                if st.chunks:
                    holding_bytes += st.id.get_chunk_info_by_coord((c * chunk,)).size
                else:
                    holding_bytes = st.id.get_storage_size()
        units = len(f["units/id"])
        spikes = len(st)
    return {
        "session": session,
        "bucket": world.bucket_dir.name if hasattr(world, "bucket_dir") else "aind-open-data",
        "key": key,
        "table": tables[0],
        "span": span,
        "units": units,
        "spikes": spikes,
        "chunks": n_chunks,
        "chunks_holding_span": holding,
        "needed_bytes": holding_bytes + index_bytes + table_bytes,
        "spike_chunk_bytes": holding_bytes,
        "index_bytes": index_bytes,
        "table_bytes": table_bytes,
        "file_bytes": path.stat().st_size,
    }


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


def main() -> None:
    import os

    from _common import endpoint_with_latency, mirror_process, print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small world, smoke test")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--budget", type=float, default=None, help="notebook budget (s)")
    parser.add_argument("--rounds", type=int, default=3, help="ppdata / bulk rounds (medians)")
    parser.add_argument("--no-notebook", action="store_true", help="skip the notebook side")
    parser.add_argument(
        "--server",
        choices=("static", "moto"),
        default="static",
        help="static: ranged GETs cost time per range, as on S3 (default); moto: the mirror",
    )
    parser.add_argument("--side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        child_main(args.side)
        return
    from ppdata.mirror.world import EPHYS_COMPLETE

    size = "small" if args.quick else "bench"
    budget = args.budget or (20.0 if args.quick else 120.0)
    loads = [os.getloadavg()[0]]
    with mirror_process(size, server=args.server) as (endpoint, _sheet):
        from _common import REPO, WORLD_CACHE

        from ppdata.mirror.world import world_dir
        from ppdata.remote.s3 import S3Client
        from ppdata.settings import Settings

        cache = REPO / ".cache" / "test-worlds" if size == "small" else WORLD_CACHE
        plan = make_plan(Path(world_dir(cache, size)), EPHYS_COMPLETE)
        plan["bucket"] = "aind-open-data"
        with S3Client(Settings(endpoint_url=endpoint)) as client:
            client.head(plan["key"])  # the static server computes an ETag on first use
        results: dict[str, list[dict[str, Any]]] = {"ppdata": [], "bulk": [], "notebook": []}
        counts: dict[str, tuple[int, int]] = {}
        with endpoint_with_latency(endpoint, args.latency) as proxy:

            def measure(side: str) -> None:
                proxy.reset_counts()
                results[side].append(run_side(side, proxy.endpoint_url, plan, budget))
                time.sleep(0.3)
                counts[side] = (proxy.total_requests, proxy.bytes_sent)
                loads.append(os.getloadavg()[0])

            # interleaved rounds: ppdata, then one bulk read of the bytes it fetched
            for _ in range(max(1, args.rounds)):
                measure("ppdata")
                plan["bulk_bytes"] = counts["ppdata"][1]
                measure("bulk")
            if not args.no_notebook:
                measure("notebook")
    ours = [r["seconds"] for r in results["ppdata"]]
    bulk = [r["seconds"] for r in results["bulk"]]
    ratios = [a / b for a, b in zip(ours, bulk, strict=True)]
    each = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(ours, bulk, strict=True))
    cpu = {side: _median([r["cpu"] for r in results[side]]) for side in ("ppdata", "bulk")}
    rows = [
        ["ppdata (bulk, from the session name)", f"{_median(ours):.2f}", f"{cpu['ppdata']:.2f}",
         counts["ppdata"][0], f"{counts['ppdata'][1] / 1e6:.1f}"],
        ["one bulk read of ppdata's bytes", f"{_median(bulk):.2f}", f"{cpu['bulk']:.2f}",
         counts["bulk"][0], f"{counts['bulk'][1] / 1e6:.1f}"],
    ]  # fmt: skip
    if results["notebook"]:
        nb = results["notebook"][0]
        nb_time = (
            nb["seconds"] if nb["complete"] else nb["seconds"] * nb["of"] / max(nb["units"], 1)
        )
        nb_label = (
            f"{nb_time:.1f}"
            if nb["complete"]
            else f"~{nb_time:.0f} ({nb['units']}/{nb['of']} units in {nb['seconds']:.0f} s)"
        )
        rows.insert(1, ["notebook (pynwb, unit by unit), one run", nb_label, "",
                        f"{counts['notebook'][0]}" + ("" if nb["complete"] else " (partial)"),
                        f"{counts['notebook'][1] / 1e6:.1f}"])  # fmt: skip
    title = (
        f"PSTH of {plan['units']} units, deviant vs standard, {plan['table']} "
        f"({results['ppdata'][0]['trials']}), {args.latency * 1000:.0f} ms latency, "
        f"{size} world, median of {len(ours)} rounds"
    )
    header = ["method", "wall time (s)", "CPU time (s)", "requests", "MB"]
    print_table(title, header, rows)
    needed = plan["needed_bytes"]
    print_table(
        "Bytes and time: what ppdata did against what the analysis needs",
        ["quantity", "value"],
        [
            ["spike_times chunks / holding the block's span",
             f"{plan['chunks']} / {plan['chunks_holding_span']}"],
            ["needed: those chunks + index + stimulus table (MB)", f"{needed / 1e6:.2f}"],
            ["fetched by ppdata (MB)", f"{counts['ppdata'][1] / 1e6:.2f}"],
            ["fetched / needed", f"{counts['ppdata'][1] / needed:.2f}x (target <= 1.2x)"],
            ["ppdata time / one bulk read, median of rounds",
             f"{_median(ratios):.2f}x (target <= 2x)"],
            ["rounds, ppdata s / bulk s", each],
            ["load average (1 min) during the run",
             f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores"],
            ["NWB file size (MB)", f"{plan['file_bytes'] / 1e6:.1f}"],
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
