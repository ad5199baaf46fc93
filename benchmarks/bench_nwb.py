"""Benchmark: reading NWB data, ppdata vs the notebook method (issue 4, Performance).

Operations, on the benchmark-size world (``--quick``: the small one):

1. open + units table (Zarr ephys NWB, ~250 MB);
2. spike times of one unit;
3. LFP, 10 s x 96 channels of one probe;
4. one ROI's ΔF/F over the whole session;
5. one plane's ΔF/F for 60 s;
6. open + units table of the complete HDF5 NWB;
7. a 1-s LFP window (96 channels) of a 75-min series with explicit timestamps, in the
   complete HDF5 NWB (contiguous, uncompressed) and in the sorted Zarr NWB (chunked): the
   notebook reads the timestamps, searches them, then slices the data; ppdata reads only the
   part of the timestamps that covers the window. Its bytes are also checked against the
   floor: data + the timestamp chunks (HDF5: the byte range) covering the window.

ppdata: ``Session`` with an ``S3Client`` pointed at the proxy, starting from the session
name (so its "open" includes finding the assets and the NWB). Notebook: the guide's method,
also from the session name: list keys down to the NWB (the session's folders, then each
folder on the path to the NWB: the fewest listings that find it; boto3, unsigned), then
pynwb + ``NWBZarrIO(url, mode="r", storage_options={"anon": True, ...})`` for Zarr, remfile
+ h5py + ``NWBHDF5IO`` for HDF5, then ``units.to_dataframe()``, ``units["spike_times"][i]``,
``<series>.data[a:b, ...]``.

Both sides run in a worker process (not in the process that runs the proxy, so they never
share its GIL), one fresh client / reader per operation. Requests and bytes are counted at
the HTTP layer by the proxy, the same layer for both. For operations 2-5 the NWB is opened
first, the proxy counts are reset, and only the operation is timed; the cost of the open is
reported separately ("including open" tables). A notebook phase that runs past the budget is
stopped (its worker killed) and reported as ``>budget`` with what was counted until then.

    /tmp/venv/bin/python benchmarks/bench_nwb.py            # bench world, 0 and 50 ms
    /tmp/venv/bin/python benchmarks/bench_nwb.py --quick    # small world, smoke test

``--quick`` checks that every path runs, in about two minutes: the small world, the smaller
Mesoscope session, budgets of 10 s per operation and 30 s per open (the notebook's units
table is cut off), and at 50 ms one read per NWB (spikes, roi, units_hdf5). Its numbers are
not results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

SIDES = ("ppdata", "notebook")


@dataclass(frozen=True)
class Op:
    name: str
    label: str
    includes_open: bool


OPS = (
    Op("units", "open + units table (Zarr)", True),
    Op("spikes", "spike times of one unit", False),
    Op("lfp", "LFP 10 s x 96 channels", False),
    Op("roi", "one ROI's ΔF/F, whole session", False),
    Op("plane", "one plane's ΔF/F, 60 s", False),
    Op("units_hdf5", "open + units table (HDF5 complete NWB)", True),
    Op("lfp_1s_hdf5", "LFP 1 s x 96 ch of a 75-min series (HDF5, contiguous)", False),
    Op("lfp_1s_zarr", "LFP 1 s x 96 ch of a 75-min series (Zarr, chunked)", False),
)


# ------------------------------------------------------------------------------------------
# the worker: runs one side of one operation, timing it; the parent counts at the proxy
# ------------------------------------------------------------------------------------------


def _checksum(values: Any, scale: float = 1.0, offset: float = 0.0) -> dict[str, Any]:
    import numpy as np

    arr = np.asarray(values, dtype=np.float64) * scale + offset
    return {"shape": list(arr.shape), "sum": float(arr.sum()), "abs": float(np.abs(arr).sum())}


#: The plan's session each operation reads.
SESSION_OF = {"units": "ephys_session", "spikes": "ephys_session", "lfp": "ephys_session"}
SESSION_OF.update(roi="ophys_session", plane="ophys_session", units_hdf5="hdf5_session")
SESSION_OF.update(lfp_1s_hdf5="hdf5_session", lfp_1s_zarr="hdf5_session")
#: Bytes of the data + timestamp chunks covering the 1-s window (set by main from the plan).
LFP_FLOOR: dict[str, int] = {}
#: The LFP operations on the long (75-min) series, and the asset kind holding each.
LONG_LFP = {"lfp_1s_hdf5": "nwb", "lfp_1s_zarr": "sorted"}


def _mod(*names: str) -> Any:
    """A ppdata module by its name since the layout move, or before it (``--compare`` with
    an older tree): the first of ``names`` that imports."""
    import importlib

    for name in names[:-1]:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return importlib.import_module(names[-1])


class _PpdataSide:
    """ppdata, from the session name, through an S3Client pointed at the proxy."""

    def __init__(self, endpoint: str, plan: dict[str, Any]) -> None:
        self.endpoint, self.plan, self.session = endpoint, plan, None

    def open(self, op: str) -> None:
        from ppdata.session import Session
        from ppdata.settings import Settings

        S3Client = _mod("ppdata.remote.s3", "ppdata.s3").S3Client

        client = S3Client(Settings(endpoint_url=self.endpoint))
        self.session = Session(self.plan[SESSION_OF[op]], client=client)
        if op in ("spikes", "lfp"):
            self.session.nwb("sorted")
        elif op in ("roi", "plane"):
            self.session.nwb("planar-ophys")
        elif op in LONG_LFP:
            lfp = _mod("ppdata.nwb.lfp", "ppdata.nwb.ephys", "ppdata.ephys").lfp

            # open = the file and the series' metadata, as pynwb's read() does for the
            # notebook (an empty window at the series' start: nothing near the one measured)
            nwb = self.session.nwb(LONG_LFP[op])
            p = self.plan
            lfp(nwb, p["long_probe"], p["long_first"], p["long_first"])

    def run(self, op: str) -> dict[str, Any]:
        p, s = self.plan, self.session
        assert s is not None
        if op in ("units", "units_hdf5"):
            return {"rows": len(s.units())}
        if op == "spikes":
            return _checksum(s.spike_times(p["unit_id"])[p["unit_id"]])
        if op == "lfp":
            return _checksum(s.lfp(p["probe"], p["lfp_start"], p["lfp_stop"]).data)
        if op in LONG_LFP:
            lfp = _mod("ppdata.nwb.lfp", "ppdata.nwb.ephys", "ppdata.ephys").lfp

            nwb = s.nwb(LONG_LFP[op])
            return _checksum(lfp(nwb, p["long_probe"], p["long_start"], p["long_stop"]).data)
        if op == "roi":
            return _checksum(s.dff(p["plane"], rois=[p["roi_id"]]).to_numpy())
        return _checksum(s.dff(p["plane"], p["plane_start"], p["plane_stop"]).to_numpy())

    def close(self) -> None:
        if self.session is not None:
            client = self.session.client  # a closed Session refuses to hand it out
            self.session.close()
            client.close()


class _NotebookSide:
    """The guide's notebook method: list keys down to the NWB, then open its URL."""

    def __init__(self, endpoint: str, plan: dict[str, Any]) -> None:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        self.endpoint, self.plan = endpoint, plan
        self.io: Any = None
        self.nwbfile: Any = None
        self.h5: Any = None
        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-west-2",
            config=Config(signature_version=UNSIGNED),
        )

    def discover(self, session: str, key: str) -> None:
        """The fewest listings that lead from a session name to its NWB: the session's
        folders (``Prefix=<session>``, as DOMAIN.md says), then each folder on the way down
        to the NWB. A notebook user who does not know which asset holds it lists more."""
        bucket = self.plan["bucket"]
        self.s3.list_objects_v2(Bucket=bucket, Prefix=session, Delimiter="/")
        parts = key.rstrip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth]) + "/"
            self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")

    def open(self, op: str) -> None:
        from urllib.parse import quote

        p = self.plan
        key = {"units_hdf5": p["hdf5_key"], "roi": p["ophys_key"], "plane": p["ophys_key"]}
        key.update(lfp_1s_hdf5=p["hdf5_key"], lfp_1s_zarr=p["long_zarr_key"])
        self.discover(p[SESSION_OF[op]], key.get(op, p["ephys_key"]))
        if op in ("units_hdf5", "lfp_1s_hdf5"):
            import h5py
            import remfile
            from pynwb import NWBHDF5IO

            url = f"{self.endpoint}/{p['bucket']}/{quote(p['hdf5_key'])}"
            self.h5 = h5py.File(remfile.File(url), "r")
            self.io = NWBHDF5IO(file=self.h5, mode="r")
        else:
            from hdmf_zarr import NWBZarrIO

            key = p["ephys_key"] if op in ("units", "spikes", "lfp") else p["ophys_key"]
            key = p["long_zarr_key"] if op == "lfp_1s_zarr" else key
            self.io = NWBZarrIO(
                f"s3://{p['bucket']}/{key}",
                mode="r",
                storage_options={"anon": True, "client_kwargs": {"endpoint_url": self.endpoint}},
            )
        self.nwbfile = self.io.read()

    def run(self, op: str) -> dict[str, Any]:
        import numpy as np

        p, nwbfile = self.plan, self.nwbfile
        if op in ("units", "units_hdf5"):
            return {"rows": len(nwbfile.units.to_dataframe())}
        if op == "spikes":
            return _checksum(nwbfile.units["spike_times"][p["unit_row"]])
        if op == "lfp":
            series = nwbfile.processing["ecephys"]["LFP"][f"ElectricalSeries{p['probe']}-LFP"]
            data = series.data[p["lfp_rows"][0] : p["lfp_rows"][1], :]
            return _checksum(data, series.conversion, series.offset)
        if op in LONG_LFP:  # the notebook way: the timestamps, a search, then the rows
            lfp = nwbfile.processing["ecephys"]["LFP"]
            series = lfp[f"ElectricalSeries{p['long_probe']}-LFP"]
            stamps = series.timestamps[:]
            i0, i1 = np.searchsorted(stamps, [p["long_start"], p["long_stop"]], side="left")
            return _checksum(series.data[i0:i1, :], series.conversion, series.offset)
        series = nwbfile.processing[p["plane"]]["dff_timeseries"]["dff_timeseries"]
        if op == "roi":
            series.timestamps[:]
            return _checksum(series.data[:, p["roi_column"]][:, None])
        stamps = series.timestamps[:]
        i0, i1 = np.searchsorted(stamps, [p["plane_start"], p["plane_stop"]], side="left")
        return _checksum(series.data[i0:i1, :])

    def close(self) -> None:
        if self.io is not None:
            self.io.close()
        if self.h5 is not None:
            self.h5.close()


def worker_main() -> None:
    """Serve requests from the parent: one JSON line in, JSON lines out (see ``Worker``)."""
    import warnings

    warnings.simplefilter("ignore")
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the protocol
    import h5py  # noqa: F401  -- imports and client set-up are not part of any timing
    import hdmf_zarr  # noqa: F401
    import pandas  # noqa: F401
    import pynwb  # noqa: F401
    import remfile  # noqa: F401
    import s3fs
    import zarr  # noqa: F401

    import ppdata.session  # noqa: F401
    from ppdata.settings import Settings

    for new, old in [("behavior", "behavior"), ("ephys", "ephys"), ("ophys", "ophys")]:
        _mod(f"ppdata.nwb.{new}", f"ppdata.{old}")
    install_safe_pickle = _mod("ppdata.nwb.open", "ppdata.nwbstore").install_safe_pickle
    S3Client = _mod("ppdata.remote.s3", "ppdata.s3").S3Client

    # hdmf-zarr pickles strings; numcodecs 0.15 refuses to unpickle them. This restricted
    # decoder rebuilds plain numpy arrays only; it changes nothing in what is read.
    install_safe_pickle()
    S3Client(Settings(endpoint_url="http://127.0.0.1:9")).close()  # warm botocore's loaders
    s3fs.S3FileSystem(anon=True, client_kwargs={"endpoint_url": "http://127.0.0.1:9"})
    print(json.dumps({"event": "ready"}), file=out)

    def send(**msg: Any) -> None:
        print(json.dumps(msg), file=out)

    for line in sys.stdin:
        job = json.loads(line)
        s3fs.S3FileSystem.clear_instance_cache()  # nothing carries over between operations
        cls = _PpdataSide if job["side"] == "ppdata" else _NotebookSide
        side = cls(job["endpoint"], job["plan"])
        op = job["op"]
        includes_open = next(o.includes_open for o in OPS if o.name == op)
        try:
            start = time.perf_counter()
            if not includes_open:
                side.open(op)
            send(event="opened", seconds=time.perf_counter() - start)
            if sys.stdin.readline().strip() != "go":
                return
            start = time.perf_counter()
            if includes_open:
                side.open(op)
            check = side.run(op)
            send(event="done", seconds=time.perf_counter() - start, check=check)
        except Exception as exc:
            send(event="error", message=f"{type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(Exception):
                side.close()


# ------------------------------------------------------------------------------------------
# the parent: one worker process, one proxy per measurement
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """Seconds a phase may run before its worker is stopped."""

    operation: float
    open: float


@dataclass
class Measurement:
    """What one side of one operation cost.

    ``seconds`` is ``None`` when a phase was stopped at its budget; ``at_least`` is then the
    time it had run, and the counts are what the proxy saw until then (lower bounds).
    """

    open_requests: int = 0
    open_bytes: int = 0
    open_seconds: float | None = 0.0
    requests: int = 0
    bytes: int = 0
    seconds: float | None = None
    at_least: float = 0.0
    check: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    open_timed_out: bool = False

    @property
    def timed_out(self) -> bool:
        return self.seconds is None and not self.error

    def total(self) -> Measurement:
        """The cost including the open."""
        opened = self.open_seconds or 0.0
        return Measurement(
            requests=self.open_requests + self.requests,
            bytes=self.open_bytes + self.bytes,
            seconds=None if self.seconds is None else opened + self.seconds,
            at_least=self.at_least if self.open_timed_out else opened + self.at_least,
            check=self.check,
            error=self.error,
        )


def _settled(proxy: Any) -> tuple[int, int]:
    """The proxy's counts once they stop moving: it adds a response's bytes after sending
    the last of them, which can be a moment after the client has what it needs."""
    counts = (proxy.total_requests, proxy.bytes_sent)
    while True:
        time.sleep(0.1)
        now = (proxy.total_requests, proxy.bytes_sent)
        if now == counts:
            return now
        counts = now


class Worker:
    """A worker process (this file with ``--worker``), restarted after a timeout."""

    def __init__(self, src: str | None = None) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.src = src  # another ppdata source tree to measure (its src/ folder)

    def _start(self) -> None:
        env = {**os.environ, "PYTHONPATH": self.src} if self.src else None
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        if self._next(120)["event"] != "ready":
            raise RuntimeError("the benchmark worker did not start")

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return {"event": "timeout"}
        if line is None:
            return {"event": "error", "message": "the worker exited"}
        return json.loads(line)

    def _send(self, text: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait(timeout=30)
            self.proc = None

    def measure(
        self, side: str, op: Op, plan: dict[str, Any], proxy: Any, budget: Budget
    ) -> Measurement:
        """Run one side of one operation through ``proxy``; count there."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        result = Measurement()
        proxy.reset_counts()
        job = {"side": side, "op": op.name, "endpoint": proxy.endpoint_url, "plan": plan}
        self._send(json.dumps(job))
        msg = self._next(budget.open)
        result.open_requests, result.open_bytes = _settled(proxy)
        if msg["event"] != "opened":
            result.open_seconds = None
            result.open_timed_out = msg["event"] == "timeout"
            result.at_least = budget.open
            return self._fail(result, msg, "open")
        result.open_seconds = msg["seconds"]
        proxy.reset_counts()
        self._send("go")
        msg = self._next(budget.operation)
        result.requests, result.bytes = _settled(proxy)
        if msg["event"] != "done":
            result.at_least = budget.operation
            return self._fail(result, msg, "operation")
        result.seconds, result.check = msg["seconds"], msg["check"]
        return result

    def _fail(self, result: Measurement, msg: dict[str, Any], phase: str) -> Measurement:
        if msg["event"] == "timeout":
            self.stop()
        else:
            result.error = f"{phase}: {msg.get('message', msg)}"
        return result


# ------------------------------------------------------------------------------------------
# what to read: chosen from the world through a direct (uncounted) client
# ------------------------------------------------------------------------------------------


def make_plan(endpoint: str, ophys_session: str) -> tuple[dict[str, Any], list[str]]:
    """Sessions, keys, unit, probe, windows, plane, ROI; and lines describing the NWBs."""
    import numpy as np

    from ppdata.mirror.world import EPHYS_COMPLETE, EPHYS_REPROCESSED
    from ppdata.nwb.lfp import list_lfp_probes
    from ppdata.nwb.ophys import list_planes
    from ppdata.remote.s3 import S3Client
    from ppdata.session import Session
    from ppdata.settings import Settings

    client = S3Client(Settings(endpoint_url=endpoint))
    plan: dict[str, Any] = {
        "bucket": client.bucket,
        "ephys_session": EPHYS_REPROCESSED,
        "ophys_session": ophys_session,
        "hdf5_session": EPHYS_COMPLETE,
    }
    notes = []

    def size_of(key: str, folder: bool) -> str:
        objs = client.list_objects(key + "/") if folder else [client.head(key)]
        return f"{sum(o.size for o in objs) / 1e6:.0f} MB in {len(objs)} object(s)"

    ephys = Session(EPHYS_REPROCESSED, client=client)
    nwb = ephys.nwb("sorted")
    plan["ephys_key"] = nwb.key
    ids = nwb.read("units/id")
    plan["unit_row"] = min(5, len(ids) - 1)
    plan["unit_id"] = int(ids[plan["unit_row"]])
    plan["probe"] = probe = list_lfp_probes(nwb)[0]
    series = f"processing/ecephys/LFP/ElectricalSeries{probe}-LFP"
    n_rows, n_channels = nwb.shape(f"{series}/data")
    stamps = nwb.read(f"{series}/timestamps")  # explicit, as in the real files
    rate = (n_rows - 1) / float(stamps[-1] - stamps[0])
    width = min(round(10 * rate), n_rows)
    first = (n_rows - width) // 2
    plan["lfp_start"], plan["lfp_stop"] = float(stamps[first]), float(stamps[first + width - 1])
    i0, i1 = np.searchsorted(stamps, [plan["lfp_start"], plan["lfp_stop"]], side="left")
    plan["lfp_rows"] = [int(i0), int(i1)]
    notes.append(
        f"ephys Zarr NWB ({EPHYS_REPROCESSED}, sorted): {size_of(nwb.key, True)}; "
        f"{len(ids)} units; LFP of {probe}: {n_rows} x {n_channels} at {rate:g} Hz; "
        f"read rows {first}:{first + width} ({width / rate:g} s), unit row {plan['unit_row']}"
    )

    ophys = Session(ophys_session, client=client)
    nwb = ophys.nwb("planar-ophys")
    plan["ophys_key"] = nwb.key
    plan["plane"] = plane = list_planes(nwb)[0]
    series = f"processing/{plane}/dff_timeseries/dff_timeseries"
    stamps = nwb.read(f"{series}/timestamps")
    table_ids = nwb.read(f"processing/{plane}/image_segmentation/roi_table/id")
    rows = nwb.read(f"{series}/rois").astype(np.int64)
    plan["roi_column"] = column = min(3, len(rows) - 1)
    plan["roi_id"] = int(table_ids[rows[column]])
    span = float(stamps[-1] - stamps[0])
    start = float(stamps[int(np.searchsorted(stamps, stamps[0] + max(0.0, (span - 60) / 2)))])
    plan["plane_start"], plan["plane_stop"] = start, start + 60.0
    notes.append(
        f"ophys Zarr NWB ({ophys_session}): {size_of(nwb.key, True)}; plane {plane}: "
        f"{nwb.shape(f'{series}/data')} (time x ROI) over {span:.0f} s; ROI column {column}"
    )

    complete = Session(EPHYS_COMPLETE, client=client)
    location = complete.nwb_locations()[0]
    plan["hdf5_key"] = location.key
    nwb = complete.nwb()
    notes.append(
        f"complete NWB ({EPHYS_COMPLETE}): {nwb.format.value}, "
        f"{size_of(location.key, False)}; {nwb.shape('units/id')[0]} units"
    )
    plan["long_probe"] = probe = list_lfp_probes(nwb)[0]
    series = f"processing/ecephys/LFP/ElectricalSeries{probe}-LFP"
    stamps = nwb.read(f"{series}/timestamps")
    n_rows, n_channels = nwb.shape(f"{series}/data")
    middle = float(stamps[len(stamps) // 2])
    plan["long_first"] = float(stamps[0])
    plan["long_start"], plan["long_stop"] = middle, middle + 1.0
    i0, i1 = (int(i) for i in np.searchsorted(stamps, [middle, middle + 1.0], side="left"))
    item = 2 * n_channels
    plan["lfp_floor"] = {"lfp_1s_hdf5": (i1 - i0) * (item + 8)}  # the rows + their stamps
    span = float(stamps[-1] - stamps[0])
    notes.append(
        f"long LFP of {probe} in the complete NWB: {n_rows} x {n_channels} int16 over "
        f"{span / 60:.0f} min, contiguous; 1-s window rows {i0}:{i1} = "
        f"{(i1 - i0) * item / 1e3:.0f} kB of data + {(i1 - i0) * 8 / 1e3:.0f} kB of "
        f"timestamps; the timestamps array is {n_rows * 8 / 1e6:.0f} MB"
    )
    sorted_nwb = complete.nwb("sorted")
    plan["long_zarr_key"] = sorted_nwb.key
    data = sorted_nwb.array(f"{series}/data")
    stamps_arr = sorted_nwb.array(f"{series}/timestamps")
    covering = 0
    for arr, name in ((data, "data"), (stamps_arr, "timestamps")):
        chunk = arr.chunks[0]
        for c in range(i0 // chunk, (i1 - 1) // chunk + 1):
            suffix = f"{c}.0" if name == "data" else f"{c}"
            covering += client.head(f"{sorted_nwb.key}/{series}/{name}/{suffix}").size
    plan["lfp_floor"]["lfp_1s_zarr"] = covering
    notes.append(
        f"long LFP of {probe} in the sorted Zarr NWB: chunks of {data.chunks} / "
        f"{stamps_arr.chunks}; the data + timestamp chunks covering the window hold "
        f"{covering / 1e6:.2f} MB"
    )
    for s in (ephys, ophys, complete):
        s.close()
    client.close()
    return plan, notes


# ------------------------------------------------------------------------------------------
# tables and targets
# ------------------------------------------------------------------------------------------


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 10_000 else f"{n / 1e3:.1f} kB"


def _times(ratio: float) -> str:
    return f"{ratio:.2g}x" if ratio < 0.1 else f"{ratio:.2f}x"


def _secs(m: Measurement) -> str:
    if m.error:
        return "error"
    return f">{m.at_least:.0f}" if m.seconds is None else f"{m.seconds:.3g}"


def _row(op: Op, pp: Measurement, nb: Measurement) -> list[str]:
    if nb.open_timed_out or pp.open_timed_out:  # only in the operation-only view
        gone = f"n/a (open >{max(nb.at_least, pp.at_least):.0f} s)"
        return [op.label, str(pp.requests), gone, "n/a", _mb(pp.bytes), gone, "n/a",
                _secs(pp), gone, "n/a"]  # fmt: skip
    low = ">=" if nb.timed_out else ""  # counts of a stopped baseline are lower bounds
    req = f"{low}{nb.requests / max(pp.requests, 1):.1f}x"
    byt = "inf" if nb.bytes == 0 else _times(pp.bytes / nb.bytes)
    if nb.timed_out and nb.bytes:
        byt = f"<={byt}"
    if pp.seconds is None or nb.error or pp.error:
        speed = "n/a"
    elif nb.seconds is None:
        speed = f">{nb.at_least / pp.seconds:.1f}x"
    else:
        speed = f"{nb.seconds / pp.seconds:.1f}x"
    return [
        op.label,
        str(pp.requests),
        f"{low}{nb.requests}",
        req,
        _mb(pp.bytes),
        f"{low}{_mb(nb.bytes)}",
        byt,
        _secs(pp),
        _secs(nb),
        speed,
    ]


HEADER = [
    "operation",
    "requests ppdata",
    "requests notebook",
    "ratio",
    "bytes ppdata",
    "bytes notebook",
    "ratio",
    "s ppdata",
    "s notebook",
    "speed-up",
]


def _targets(
    results: list[tuple[Op, Measurement, Measurement]], latency: float, floors: bool = True
) -> list[str]:
    """One line per target: met / not met, and for which operations."""

    def verdict(name: str, test: Any) -> str:
        met, not_met = [], []
        for op, pp, nb in results:
            ok, value = test(pp, nb)
            (met if ok else not_met).append(f"{op.name} {value}")
        status = "met" if not not_met else "NOT met"
        detail = f"met: {', '.join(met) or '-'}; not met: {', '.join(not_met) or '-'}"
        return f"- {name}: {status} ({detail})"

    def requests(pp: Measurement, nb: Measurement) -> tuple[bool, str]:
        if nb.open_timed_out:
            return False, "n/a"
        r = nb.requests / max(pp.requests, 1)
        return r >= 10, f"{r:.1f}x"

    def bytes_(pp: Measurement, nb: Measurement) -> tuple[bool, str]:
        if nb.open_timed_out:
            return False, "n/a"
        r = pp.bytes / nb.bytes if nb.bytes else float("inf")
        return r <= 1.5, _times(r)

    def speed(pp: Measurement, nb: Measurement) -> tuple[bool, str]:
        if pp.seconds is None or pp.error or nb.error or nb.open_timed_out:
            return False, "n/a"
        nb_s = nb.at_least if nb.seconds is None else nb.seconds
        r = nb_s / pp.seconds
        return r >= 5, f"{'>' if nb.seconds is None else ''}{r:.1f}x"

    lines = [
        verdict(">= 10x fewer requests", requests),
        verdict("bytes <= 1.5x the notebook's", bytes_),
    ]
    long_lfp = [(op, pp, nb) for op, pp, nb in results if floors and op.name in LFP_FLOOR]
    for op, pp, _nb in long_lfp:
        floor = LFP_FLOOR[op.name]
        r = pp.bytes / floor if floor else float("inf")
        status = "met" if r <= 1.5 else "NOT met"
        lines.append(
            f"- {op.name}: bytes <= 1.5x (data + the timestamp chunks covering the window, "
            f"{_mb(floor)}): {status} ({_mb(pp.bytes)} = {r:.2f}x)"
        )
    if latency > 0:
        lines.append(verdict(f">= 5x less wall time at {latency * 1000:.0f} ms", speed))
    return lines


def report(
    latency: float, rows: list[tuple[Op, Measurement, Measurement]], budget: Budget, world: str
) -> None:
    from _common import print_table

    ms = f"{latency * 1000:.0f} ms"
    where = "loopback" if latency == 0 else f"{ms} injected per request"
    print_table(
        f"NWB reads, {world} world, {where}: the operation only",
        HEADER,
        [_row(op, pp, nb) for op, pp, nb in rows],
    )
    print(
        "Notes: the two 'open + units table' rows include the open in both tables. For the "
        "other rows the NWB was opened first (ppdata: "
        "Session from the session name, which also finds the assets and the NWB; notebook: "
        "listings from the session name down to the NWB, then NWBZarrIO.read() on its URL), "
        "then the proxy counts were reset and only the "
        "operation was timed. Requests ratio = notebook / ppdata (target >= 10x); bytes "
        "ratio = ppdata / notebook (target <= 1.5x); speed-up = notebook s / ppdata s "
        "(target >= 5x at 50 ms). '>' / '>=' : the notebook was stopped at the budget "
        f"({budget.operation:.0f} s per operation, {budget.open:.0f} s per open) and these "
        "are the counts until then.\n"
    )
    totals = [(op, pp.total(), nb.total()) for op, pp, nb in rows]
    print_table(
        f"NWB reads, {world} world, {where}: including the open",
        HEADER,
        [_row(op, pp, nb) for op, pp, nb in totals],
    )
    print(f"Targets, {ms}, the operation only:")
    print("\n".join(_targets(rows, latency)))
    print(f"Targets, {ms}, including the open:")
    print("\n".join(_targets(totals, latency, floors=False)))
    for op, pp, nb in rows:
        for side, m in (("ppdata", pp), ("notebook", nb)):
            if m.error:
                print(f"! {op.name} {side}: {m.error}")
        if pp.check and nb.check and not _same(pp.check, nb.check):
            print(f"! {op.name}: results differ: ppdata {pp.check} vs notebook {nb.check}")
    print()


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same shape and sums (to float32 rounding: ppdata scales LFP in float32)."""
    if set(a) != set(b):
        return False
    scale = 1e-5 * max(a.get("abs", 0.0), b.get("abs", 0.0)) + 1e-12
    return all(abs(a[k] - b[k]) <= scale if isinstance(a[k], float) else a[k] == b[k] for k in a)


# ------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------


#: With --quick, the operations measured at a latency above 0: one per NWB (each notebook open
#: of a Zarr NWB takes 10-15 s at 50 ms even in the small world; its units table would only
#: be cut off at the budget, as it is at 0 ms).
QUICK_AT_LATENCY = ("spikes", "roi", "units_hdf5")


def compare(
    ours: Worker,
    theirs: Worker,
    args: argparse.Namespace,
    ops: list[Op],
    plan: dict[str, Any],
    endpoint: str,
    latency: float,
    budget: Budget,
    world: str,
) -> None:
    """ppdata from this tree vs ppdata from ``--compare``, turn about, median of rounds."""
    import statistics

    from _common import endpoint_with_latency, print_table

    name = f"ppdata@{args.compare.resolve().parent.name}"
    rows = []
    for op in ops:
        times: dict[str, list[float]] = {"ours": [], "theirs": []}
        counts: dict[str, int] = {}
        for round_ in range(args.rounds):
            order = [("ours", ours), ("theirs", theirs)]
            for label, worker in order if round_ % 2 == 0 else order[::-1]:
                with endpoint_with_latency(endpoint, latency) as proxy:
                    m = worker.measure("ppdata", op, plan, proxy, budget).total()
                if m.seconds is not None:
                    times[label].append(m.seconds)
                counts[label] = m.requests
        med = {k: statistics.median(v) if v else float("nan") for k, v in times.items()}
        rows.append(
            [
                op.label,
                counts.get("ours", 0),
                counts.get("theirs", 0),
                f"{med['ours']:.3f}",
                f"{med['theirs']:.3f}",
                f"{med['theirs'] / med['ours']:.2f}x",
            ]
        )
    where = "loopback" if latency == 0 else f"{latency * 1000:.0f} ms injected per request"
    print_table(
        f"NWB reads including the open, {world} world, {where}: ppdata vs {name} "
        f"(median of {args.rounds})",
        ["operation", "requests", f"requests {name}", "s", f"s {name}", f"{name} s / s"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test, about 2 min: small world, smaller Mesoscope session, short budgets, "
        f"at 50 ms only {', '.join(QUICK_AT_LATENCY)}",
    )
    parser.add_argument("--latency", type=float, nargs="*", default=[0.0, 0.05])
    parser.add_argument(
        "--budget", type=float, help="seconds an operation may run (600; --quick: 10)"
    )
    parser.add_argument(
        "--open-budget", type=float, help="seconds an open may run (600; --quick: 30)"
    )
    parser.add_argument("--ops", nargs="*", choices=[o.name for o in OPS], help="a subset")
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="another ppdata source tree (its src/): its ppdata side is measured beside ours "
        "(the HTTP stack comparison of issue 10)",
    )
    parser.add_argument(
        "--no-notebook", action="store_true", help="skip the notebook side (with --compare)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs per side (median shown)")
    parser.add_argument(
        "--server",
        choices=["moto", "static"],
        default="moto",
        help="moto: the project's mirror; static: the world's bucket folder served read-only, "
        "a request costing what it costs on S3 (moto spends a few ms of CPU on each, on the "
        "cores the client runs on)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main()
        return
    from _common import endpoint_with_latency, mirror_process

    from ppdata.mirror.world import MESOSCOPE_A, MESOSCOPE_B

    world = "small" if args.quick else "bench"
    budget = Budget(
        operation=args.budget or (10.0 if args.quick else 600.0),
        open=args.open_budget or (30.0 if args.quick else 600.0),
    )
    began = time.perf_counter()
    worker = Worker()
    other = Worker(str(args.compare.resolve())) if args.compare else None
    try:
        with mirror_process(world, server=args.server) as (endpoint, _sheet):
            plan, notes = make_plan(endpoint, MESOSCOPE_B if args.quick else MESOSCOPE_A)
            LFP_FLOOR.update(plan["lfp_floor"])
            print(f"World: {world}. " + "\n".join(["", *notes]).replace("\n", "\n- ") + "\n")
            for latency in args.latency:
                ops = [o for o in OPS if not args.ops or o.name in args.ops]
                if args.quick and latency > 0 and not args.ops:
                    ops = [o for o in ops if o.name in QUICK_AT_LATENCY]
                if other is not None:
                    compare(worker, other, args, ops, plan, endpoint, latency, budget, world)
                    if args.no_notebook:
                        continue
                rows = []
                for op in ops:
                    got = {}
                    for side in SIDES:
                        with endpoint_with_latency(endpoint, latency) as proxy:
                            got[side] = m = worker.measure(side, op, plan, proxy, budget)
                        print(
                            f"  [{latency * 1000:.0f} ms] {op.name:<10} {side:<8} "
                            f"open {m.open_requests} req; op {m.requests} req "
                            f"{_mb(m.bytes)} {_secs(m)} s {m.error}",
                            file=sys.stderr,
                            flush=True,
                        )
                    rows.append((op, got["ppdata"], got["notebook"]))
                report(latency, rows, budget, world)
    finally:
        worker.stop()
        if other is not None:
            other.stop()
    print(f"Total run time: {time.perf_counter() - began:.0f} s")
    print("Command: " + shlex.join([sys.executable, *sys.argv]))


if __name__ == "__main__":
    main()
