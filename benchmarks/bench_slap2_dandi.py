"""Benchmark: SLAP2 raw reads and the complete NWB on DANDI (issue 14).

(1) One trial's channel-1 data from a raw SLAP2 ``.dat``: ppdata parses the header from one
ranged GET, then reads channel 1's blocks in at most ``max_requests`` concurrent ranged GETs
split at gaps of at least ``min_gap`` bytes (each line holds channel 1's samples, then
channel 2's: with ``min_gap=0`` more requests skip more of channel 2; ``--max-requests``
lists the budgets shown). Baseline: fetch the whole file (what
``s3fs``/``boto3`` users do) and slice it locally. Also a 10-cycle window and two
frames of a registered movie (ppdata reads only those TIFF pages; baseline: whole file), and
ΔF/F of one DMD from the processed asset's ``experiment_summary.h5`` (h5py over ranged
reads; baseline: the whole file, then h5py in memory).

(2) The units table of the complete ephys NWB: from the bucket (``open_session(name)``) and
from DANDI (``open_session(name, source="dandi")``: API look-up, then the blob streamed from
the archive's S3 through the same block cache), and the route DANDI's docs show (the blob URL
opened with remfile, read with h5py). Requests are counted by the latency proxy, so DANDI
API calls count too.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_slap2_dandi.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import endpoint_with_latency, mirror_process, print_table, ratio, timed

from ppdata.remote.s3 import S3Client
from ppdata.session import open_session
from ppdata.settings import Settings


def _requests(proxy) -> int:
    return sum(proxy.requests.values())


def slap2_rows(proxy, latency: float, repeat: int, budgets: list[int]) -> list[list]:
    import numpy as np
    import tifffile

    from ppdata.mirror.world import SLAP2_SESSION

    settings = Settings(endpoint_url=proxy.endpoint_url)
    rows = []
    with S3Client(settings) as client:
        slap = open_session(SLAP2_SESSION, client=client).slap2()
        dat = next(f for f in slap.files if f.kind == "dat" and f.dmd == 1 and f.trial == 1)
        movie = next(
            f for f in slap.files if f.kind == "registered" and f.dmd == 1 and f.trial == 1
        )
        header = slap.header(1, 1)
        plan = slap.line_plan(1, 1)
        asked_trial = header.cycles * plan.superpixels * 2  # int16 samples of channel 1

        def measure(label: str, ours, base, asked: int) -> None:
            before_r, before_b = _requests(proxy), client.stats.total_bytes
            t_ours, _ = timed(ours, repeat)
            r_ours = (_requests(proxy) - before_r) / repeat
            b_ours = (client.stats.total_bytes - before_b) / repeat
            before_r, before_b = _requests(proxy), client.stats.total_bytes
            t_base, _ = timed(base, repeat)
            r_base = (_requests(proxy) - before_r) / repeat
            b_base = (client.stats.total_bytes - before_b) / repeat
            rows.append(
                [
                    label,
                    f"{latency * 1000:.0f} ms",
                    f"{asked:,}",
                    f"{r_ours:g}",
                    f"{b_ours:,.0f} ({b_ours / asked:.2f}x)",
                    f"{r_base:g}",
                    f"{b_base:,.0f} ({b_base / asked:.2f}x)",
                    f"{t_ours * 1000:.1f}",
                    f"{t_base * 1000:.1f}",
                    ratio(t_base, t_ours),
                ]
            )

        def whole_dat(cycles: slice) -> np.ndarray:
            data = client.get_bytes(dat.key)
            body = np.frombuffer(data[header.first_cycle_offset :], dtype="<u1")
            body = body[: header.cycles * header.bytes_per_cycle].reshape(header.cycles, -1)
            lh = header.line_header_bytes
            parts = [
                body[cycles, start + lh : start + lh + 2 * count].copy().view("<i2")
                for start, count in zip(plan.starts, plan.counts, strict=True)
            ]
            return np.concatenate(parts, axis=1)

        measure(
            "raw .dat, 1 trial, channel 1 (default: max_requests=3, min_gap=1 MiB)",
            lambda: slap.read_trial(1, 1, channel=1),
            lambda: whole_dat(slice(None)),
            asked_trial,
        )
        per_block = header.cycles * header.lines_per_cycle
        for budget in budgets:
            n = budget or per_block
            measure(
                f"raw .dat, 1 trial, channel 1, max_requests={n}, min_gap=0"
                + (" (one per line block)" if not budget else ""),
                lambda n=n: slap.read_trial(1, 1, channel=1, max_requests=n, min_gap=0),
                lambda: whole_dat(slice(None)),
                asked_trial,
            )
        measure(
            "raw .dat, 10 cycles, channel 1",
            lambda: slap.read_trial(1, 1, channel=1, cycles=(100, 110)),
            lambda: whole_dat(slice(100, 110)),
            asked_trial * 10 // header.cycles,
        )

        def whole_tiff() -> np.ndarray:
            import io

            with tifffile.TiffFile(io.BytesIO(client.get_bytes(movie.key))) as tif:
                return tif.asarray(key=[4, 6])

        frame_bytes = int(np.prod(slap.registered(1, 1, frames=0).shape[1:])) * 4
        measure(
            "registered movie, 2 frames of channel 1",
            lambda: slap.registered(1, 1, frames=(2, 4)),
            whole_tiff,
            2 * frame_bytes,
        )
        summary = next(f for f in slap.files if f.kind == "summary")

        def whole_summary(frames: tuple[int, int] | None) -> np.ndarray:
            import io

            import h5py

            from ppdata.slap2 import summary as slap2_summary

            with h5py.File(io.BytesIO(client.get_bytes(summary.key)), "r") as h5:
                return slap2_summary.traces(h5, 1, frames=frames)

        n_frames, n_sources = slap.traces(1).shape
        for label, frames in (("all frames", None), ("100 frames", (1000, 1100))):
            count = n_frames if frames is None else frames[1] - frames[0]
            measure(
                f"processed: DMD1 ΔF/F, {label} (dF_denoised and F0 of channel 1)",
                lambda frames=frames: slap.traces(1, frames=frames),
                lambda frames=frames: whole_summary(frames),
                2 * count * n_sources * 4,
            )
    return rows


def dandi_rows(proxy, latency: float, repeat: int) -> list[list]:
    import h5py
    import remfile

    from ppdata.dandi import find_dandi_asset
    from ppdata.mirror.world import EPHYS_COMPLETE

    settings = Settings(endpoint_url=proxy.endpoint_url, dandi_api_url=f"{proxy.endpoint_url}/api")
    rows = []

    def run(label: str, fn) -> None:
        counts, times = [], []
        for _ in range(repeat):
            before = _requests(proxy)
            t, n = timed(fn, 1)
            counts.append(_requests(proxy) - before)
            times.append(t)
        times.sort()
        rows.append(
            [
                label,
                f"{latency * 1000:.0f} ms",
                n,
                f"{counts[0]} / {min(counts)}",
                f"{times[len(times) // 2] * 1000:.0f}",
            ]
        )

    def from_s3() -> int:
        with S3Client(settings) as client, open_session(EPHYS_COMPLETE, client=client) as s:
            return len(s.units())

    def from_dandi() -> int:
        client = S3Client(settings)
        with client, open_session(EPHYS_COMPLETE, client=client, source="dandi") as s:
            return len(s.units())

    def remfile_route() -> int:
        found = find_dandi_asset(EPHYS_COMPLETE, settings)
        with h5py.File(remfile.File(found.s3_url), "r") as f:
            units = f["units"]
            columns = {
                name: units[name][()] for name in units if isinstance(units[name], h5py.Dataset)
            }
            return len(columns["id"])

    run("units from S3 (`open_session(name)`)", from_s3)
    run('units from DANDI (`open_session(name, source="dandi")`)', from_dandi)
    run("units from DANDI: dandi look-up + remfile + h5py (all columns)", remfile_route)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, nargs="*", default=[0.0, 0.05])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--max-requests",
        type=int,
        nargs="*",
        default=[3, 64, 0],
        help="request budgets for the whole-trial read with min_gap=0 (0: one per line block)",
    )
    args = parser.parse_args()
    slap, dandi = [], []
    with mirror_process("small") as (endpoint, _sheet):
        for latency in args.latency:
            with endpoint_with_latency(endpoint, latency) as proxy:
                slap += slap2_rows(proxy, latency, args.repeat, args.max_requests)
                dandi += dandi_rows(proxy, latency, args.repeat)
    print_table(
        "SLAP2: ranged reads vs whole-file GETs",
        [
            "read",
            "latency",
            "bytes asked",
            "requests ppdata",
            "bytes ppdata (x asked)",
            "requests whole file",
            "bytes whole file (x asked)",
            "ms ppdata",
            "ms whole file",
            "speed-up",
        ],
        slap,
    )
    print_table(
        "Units table of the complete ephys NWB: S3 vs DANDI",
        ["route", "latency", "units", "requests: first run / later runs", "ms (median)"],
        dandi,
    )


if __name__ == "__main__":
    main()
