"""Reliability report: inject faults between ppdata and the mirror, count what survives.

One command writes ``benchmarks/RELIABILITY.md``::

    PYTHONPATH=src python benchmarks/reliability.py            # full run (~10 min)
    PYTHONPATH=src python benchmarks/reliability.py --quick    # a few trials of each

The mirror (``ppdata mirror serve``, a real S3 server) runs in a child process; the
latency/fault proxy (:mod:`ppdata.mirror.proxy`) sits between it and ppdata and injects, at a
random request of each trial: 503 SlowDown with ``Retry-After``, a reset before the reply, a
reset mid-body, a truncated body (clean close), a stall past the read timeout, 403 and 404.
Objects are also changed on the server mid-download. Downloads are killed with SIGKILL at
random points and resumed, interrupted with SIGINT (Ctrl-C), run twice at once into one
destination, and run out of disk. Catalog and manifest files are corrupted. Hypothesis
fuzzes names, targets and JSON documents.

Counted per scenario: trials, faults injected, files exact at the end, files corrupt under a
final name (must be 0), hangs past the timeouts (must be 0), and errors that were clear
(a ppdata error, one line, no traceback; on the command line ``Error: ...``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO

BUCKET = "aind-open-data"
PREFIX = "reliability/"
BIG = PREFIX + "big.bin"
SMALL = 24
#: Client settings of the fault trials: short timeouts so stalls are hit quickly.
READ_TIMEOUT = 1.5
CONNECT_TIMEOUT = 1.0
RETRIES = 3
STALL = 4.0
#: A trial taking longer than this is a hang (the timeouts above bound every request).
HANG_AFTER = 90.0
FAULT_KINDS = ("503", "reset-before", "reset", "truncate", "stall", "403", "404")


@dataclass
class Tally:
    """What one scenario saw."""

    scenario: str
    target: str
    trials: int = 0
    faults: int = 0
    files: int = 0
    exact: int = 0
    corrupt: int = 0
    hangs: int = 0
    errors: int = 0
    clear: int = 0
    notes: list[str] = field(default_factory=list)

    def error(self, text: str, clear: bool) -> None:
        self.errors += 1
        self.clear += int(clear)
        if not clear and len(self.notes) < 5:
            self.notes.append(f"unclear: {text[:300]!r}")

    def row(self) -> list[Any]:
        return [
            self.scenario,
            self.target,
            self.trials,
            self.faults,
            f"{self.exact}/{self.files}",
            self.corrupt,
            self.hangs,
            f"{self.clear}/{self.errors}",
        ]

    @property
    def ok(self) -> bool:
        return self.corrupt == 0 and self.hangs == 0 and self.clear == self.errors


def clear_message(exc: BaseException) -> bool:
    """A clear error: a ppdata error with a one-line message that says something."""
    from ppdata.errors import PpdataError

    text = str(exc)
    return isinstance(exc, PpdataError) and "\n" not in text and 10 < len(text) < 2000


def clear_cli(stderr: str) -> bool:
    """A clear command-line error: ``Error: ...`` lines, no traceback, nothing unexpected."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return (
        bool(lines)
        and "Traceback" not in stderr
        and "unexpected" not in stderr
        and any(ln.startswith(("Error:", "Resume with:")) for ln in lines)
    )


# -- the lab: a mirror with scratch objects, and a writer to change them -------------------


def _bytes(seed: str, n: int) -> bytes:
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


class Lab:
    """The mirror (child process) plus the scratch objects the download trials fetch."""

    def __init__(self, endpoint: str, spreadsheet: Path, tmp: Path, big_mb: int) -> None:
        import boto3

        from ppdata.mirror.server import _LOADER_CREDENTIALS

        self.endpoint = endpoint
        self.spreadsheet = spreadsheet
        self.tmp = tmp
        self.writer = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-west-2", **_LOADER_CREDENTIALS
        )
        self.objects: dict[str, bytes] = {
            f"{PREFIX}small/f{i:02d}.bin": _bytes(f"s{i}", 2_000 + 3_001 * i) for i in range(SMALL)
        }
        self.objects[BIG] = _bytes("big", big_mb * 2**20)
        # This mirror is the lab's own: keep public reads, drop the read-only Deny so objects
        # can be changed while downloads read them (lifting the whole policy would make
        # those reads fail with 403).
        import json

        from ppdata.mirror.server import public_read_policy

        policy = public_read_policy(BUCKET)
        policy["Statement"] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        self.writer.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
        for key, data in self.objects.items():
            self.put(key, data)
        self._n = 0

    def put(self, key: str, data: bytes) -> None:
        """Write an object (the lab's mirror allows writes; see ``__init__``)."""
        self.writer.put_object(Bucket=BUCKET, Key=key, Body=data)

    def dest(self, name: str = "d") -> Path:
        self._n += 1
        path = self.tmp / f"{name}{self._n}"
        path.mkdir(parents=True)
        return path

    def settings(self, endpoint: str, **changes: Any) -> Any:
        from ppdata.settings import Settings

        values = {
            "endpoint_url": endpoint,
            "bucket": BUCKET,
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "retries": RETRIES,
            "cache_dir": self.tmp / "cache",
            "spreadsheet": str(self.spreadsheet),
            **changes,
        }
        return Settings(**values)

    def check(self, dest: Path, tally: Tally, objects: dict[str, bytes] | None = None) -> bool:
        """Count final-name files exact or corrupt; True when every object is there, exact."""
        objects = objects or self.objects
        complete = True
        for key, data in objects.items():
            path = dest.joinpath(*key.split("/"))
            tally.files += 1
            if not path.exists():
                complete = False
                continue
            if path.read_bytes() == data:
                tally.exact += 1
            else:
                tally.corrupt += 1
                complete = False
                if len(tally.notes) < 5:
                    tally.notes.append(f"CORRUPT under its final name: {key}")
        return complete

    def check_midway(self, dest: Path, tally: Tally) -> None:
        """After a fault or a kill: count only files corrupt under their final name (missing
        and exact files are the final check's business), with their notes."""
        probe = Tally("", "")
        self.check(dest, probe)
        tally.corrupt += probe.corrupt
        tally.notes.extend(probe.notes[: max(0, 5 - len(tally.notes))])

    def cli(
        self, args: list[str], endpoint: str, env: dict[str, str] | None = None, **popen: Any
    ) -> subprocess.Popen[str]:
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PPDATA_")},
            "PYTHONPATH": str(REPO / "src"),
            "PPDATA_ENDPOINT_URL": endpoint,
            "PPDATA_CACHE_DIR": str(self.tmp / "cache"),
            "PPDATA_READ_TIMEOUT": str(READ_TIMEOUT),
            "PPDATA_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
            "PPDATA_RETRIES": str(RETRIES),
            **(env or {}),
        }
        extra = popen.pop("preexec_fn", None)

        def child() -> None:
            # a shell's background job ignores SIGINT, and children inherit that: give the
            # command the default handler back so Ctrl-C reaches it as it would a user's
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            if extra is not None:
                extra()

        return subprocess.Popen(
            [sys.executable, "-m", "ppdata", *args],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=child,
            **popen,
        )


@contextlib.contextmanager
def proxy_for(lab: Lab, latency: float = 0.0) -> Iterator[Any]:
    from ppdata.mirror.proxy import LatencyProxy

    with LatencyProxy(lab.endpoint, latency=latency) as proxy:
        yield proxy


def watchdog(fn: Callable[[], Any], limit: float = HANG_AFTER) -> tuple[str, Any]:
    """Run ``fn`` in a thread: ``("ok", result)``, ``("error", exc)`` or ``("hang", None)``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["ok"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        return "hang", None
    return ("ok", box["ok"]) if "ok" in box else ("error", box["error"])


# -- scenarios --------------------------------------------------------------------------------


def download_faults(lab: Lab, kind: str, trials: int, rng: random.Random) -> Tally:
    """Download the scratch prefix with one fault at a random request; then resume."""
    from ppdata.mirror.proxy import Fault
    from ppdata.remote.s3 import S3Client
    from ppdata.transfer.api import download

    tally = Tally(f"download, {kind}", "download")
    for _ in range(trials):
        tally.trials += 1
        dest = lab.dest()
        with proxy_for(lab) as proxy:
            count = rng.randint(1, 3) if kind in ("503", "reset-before", "reset") else 1
            proxy.add_fault(
                Fault(
                    kind,
                    count=count,
                    match=PREFIX,
                    method="GET",
                    after=rng.randint(0, SMALL),
                    retry_after=str(rng.choice([0, 1])),
                    stall=STALL,
                )
            )
            with S3Client(lab.settings(proxy.endpoint_url)) as client:
                outcome, value = watchdog(
                    lambda c=client, d=dest: download(PREFIX, client=c, dest=d, part_size=2**20)
                )
            tally.faults += sum(proxy.injected.values())
        if outcome == "hang":
            tally.hangs += 1
            continue
        if outcome == "error":
            tally.error(str(value), clear_message(value))
        lab.check_midway(dest, tally)
        # resume without faults: everything must end exact
        with S3Client(lab.settings(lab.endpoint)) as client:
            outcome, value = watchdog(lambda c=client, d=dest: download(PREFIX, client=c, dest=d))
        if outcome == "error":
            tally.error(str(value), clear_message(value))
        lab.check(dest, tally)
    return tally


def changed_mid_download(lab: Lab, trials: int, rng: random.Random) -> Tally:
    """Replace an object on the server while its ranged parts are being fetched."""
    from ppdata.callbacks import Callback
    from ppdata.remote.s3 import S3Client
    from ppdata.transfer.api import download

    tally = Tally("object changed mid-download", "download")
    original = lab.objects[BIG]
    for t in range(trials):
        tally.trials += 1
        dest = lab.dest()
        new = _bytes(f"changed{t}", len(original) + rng.randint(-1000, 1000))
        fired = threading.Event()

        class Changer(Callback):
            def __init__(self, fired: threading.Event, new: bytes) -> None:
                super().__init__()
                self.fired, self.new = fired, new

            def relative_update(self, inc: int = 1) -> None:
                if not self.fired.is_set():
                    self.fired.set()
                    lab.put(BIG, self.new)

        with (
            proxy_for(lab, latency=0.005) as proxy,
            S3Client(lab.settings(proxy.endpoint_url)) as client,
        ):
            outcome, value = watchdog(
                lambda c=client, d=dest, f=fired, n=new: download(
                    BIG, client=c, dest=d, part_size=2**20, callback=Changer(f, n)
                )
            )
        tally.faults += int(fired.is_set())
        if outcome == "hang":
            tally.hangs += 1
        elif outcome == "error":
            tally.error(str(value), clear_message(value))
        path = dest.joinpath(*BIG.split("/"))
        tally.files += 1
        if path.exists():
            # the new version, or the old one when every part had arrived before the change
            if path.read_bytes() in (new, original):
                tally.exact += 1
            else:
                tally.corrupt += 1
                tally.notes.append("CORRUPT: a mix of two versions under the final name")
        lab.put(BIG, original)
    return tally


def nwb_faults(lab: Lab, kind: str, trials: int, rng: random.Random) -> Tally:
    """Read units and spike times from the Zarr and HDF5 NWBs with one fault injected."""
    import numpy as np

    from ppdata.find.nwbs import find_nwbs
    from ppdata.mirror.proxy import Fault
    from ppdata.mirror.world import EPHYS_COMPLETE, EPHYS_REPROCESSED
    from ppdata.nwb.open import open_nwb
    from ppdata.remote.s3 import S3Client

    def read(client: Any, key: str) -> list[Any]:
        nwb = open_nwb(key, client=client)
        try:
            return [nwb.read("units/id"), nwb.read("units/spike_times")]
        finally:
            nwb.close()

    with S3Client(lab.settings(lab.endpoint)) as client:
        keys = [find_nwbs(s, client=client)[0].key for s in (EPHYS_REPROCESSED, EPHYS_COMPLETE)]
        truth = {key: read(client, key) for key in keys}
    tally = Tally(f"NWB read, {kind}", "NWB read")
    for t in range(trials):
        tally.trials += 1
        key = keys[t % len(keys)]
        with proxy_for(lab) as proxy:
            proxy.add_fault(Fault(kind, count=1, match="", after=rng.randint(0, 2), stall=STALL))
            with S3Client(lab.settings(proxy.endpoint_url)) as client:
                outcome, value = watchdog(lambda c=client, k=key: read(c, k))
            tally.faults += sum(proxy.injected.values())
        tally.files += 1
        if outcome == "hang":
            tally.hangs += 1
        elif outcome == "error":
            tally.error(str(value), clear_message(value))
        elif all(np.array_equal(a, b) for a, b in zip(value, truth[key], strict=True)):
            tally.exact += 1
        else:
            tally.corrupt += 1
            tally.notes.append(f"WRONG DATA read from {key} under {kind}")
    return tally


def finish(proc: subprocess.Popen[str], tally: Tally) -> str | None:
    """The stderr of ``proc`` once it ends, or ``None`` (counted as a hang, the process
    killed and reaped) if it runs past ``HANG_AFTER``."""
    try:
        return proc.communicate(timeout=HANG_AFTER)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        tally.hangs += 1
        return None


def kill_and_resume(lab: Lab, trials: int, rng: random.Random) -> Tally:
    """SIGKILL ``ppdata download`` at a random moment, then resume it to the end."""
    tally = Tally("kill -9 at a random point, then resume", "download (CLI)")
    args = ["download", PREFIX, "--yes", "-q"]
    with proxy_for(lab, latency=0.02) as proxy:
        whole = timed_cli(lab, args, proxy.endpoint_url)
        tally.notes.append(f"an uninterrupted run takes {whole:.1f} s; kills land in it")
        attempts = 0
        while tally.faults < trials and attempts < 3 * trials:
            attempts += 1
            tally.trials += 1
            dest = lab.dest("k")
            proc = lab.cli([*args, "--dest", str(dest)], proxy.endpoint_url)
            time.sleep(rng.uniform(0.05, 0.95) * whole)
            if proc.poll() is None:
                proc.kill()
                tally.faults += 1
            proc.communicate()
            lab.check_midway(dest, tally)  # after the kill: what has a final name must be exact
            resume = lab.cli([*args, "--dest", str(dest)], proxy.endpoint_url)
            err = finish(resume, tally)
            if err is None:
                continue
            if resume.returncode != 0:
                tally.error(err, clear_cli(err))
            lab.check(dest, tally)
    return tally


def ctrl_c(lab: Lab, trials: int, rng: random.Random) -> Tally:
    """SIGINT (Ctrl-C) mid-download: it must say what finished and print a resume command
    that, run as printed, completes the download."""
    import shlex

    tally = Tally("Ctrl-C, then the printed resume command", "download (CLI)")
    with proxy_for(lab, latency=0.02) as proxy:
        whole = timed_cli(lab, ["download", PREFIX, "--yes", "-q"], proxy.endpoint_url)
        for _ in range(trials):
            tally.trials += 1
            dest = lab.dest("c")
            proc = lab.cli(["download", PREFIX, "--dest", str(dest), "--yes"], proxy.endpoint_url)
            # signal once bytes are arriving (timing alone misses on a busy machine)
            deadline = time.monotonic() + whole * 3 + 10
            while proc.poll() is None and time.monotonic() < deadline:
                if any(dest.rglob("*.bin*")):
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.3) * whole)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            err = finish(proc, tally)
            if err is None:
                continue
            resume_line = next(
                (ln for ln in err.splitlines() if ln.startswith("Resume with: ")), None
            )
            if proc.returncode == 130:  # the signal landed (not just as the process ended)
                tally.faults += 1
                started = any(dest.rglob("*.bin*"))  # anything written: a resume is needed
                tally.error(err, "Interrupted" in err and (resume_line is not None or not started))
            if resume_line is None:
                lab.check(dest, tally)
                continue
            words = shlex.split(resume_line[len("Resume with: ") :])
            again = lab.cli(words[1:], proxy.endpoint_url)
            _, err = again.communicate(timeout=HANG_AFTER)
            if again.returncode != 0:
                tally.error(err, clear_cli(err))
            lab.check(dest, tally)
    return tally


def timed_cli(lab: Lab, args: list[str], endpoint: str) -> float:
    """Seconds an uninterrupted command takes (to aim kills inside it)."""
    started = time.monotonic()
    proc = lab.cli([*args, "--dest", str(lab.dest("t"))], endpoint)
    proc.communicate(timeout=HANG_AFTER)
    return time.monotonic() - started


def two_processes(lab: Lab, trials: int) -> Tally:
    """Two ``ppdata download`` processes into one destination at the same time."""
    tally = Tally("two processes, one destination", "download (CLI)")
    args = ["download", PREFIX, "--yes", "-q"]
    with proxy_for(lab, latency=0.005) as proxy:
        for _ in range(trials):
            tally.trials += 1
            dest = lab.dest("two")
            procs = [lab.cli([*args, "--dest", str(dest)], proxy.endpoint_url) for _ in range(2)]
            tally.faults += 1
            for proc in procs:
                err = finish(proc, tally)
                if err is None:
                    continue
                if proc.returncode != 0:
                    tally.error(err, clear_cli(err) and "another ppdata download" in err)
            lab.check_midway(dest, tally)
            final = lab.cli([*args, "--dest", str(dest)], proxy.endpoint_url)
            final.communicate(timeout=HANG_AFTER)
            lab.check(dest, tally)
    return tally


@contextlib.contextmanager
def small_disk(tmp: Path, size: str) -> Iterator[Path | None]:
    """A small tmpfs (as root), else ``None`` (the caller uses RLIMIT_FSIZE)."""
    mount = tmp / f"tmpfs-{size}"
    mount.mkdir()
    ok = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
            capture_output=True,
        ).returncode
        == 0
    )
    try:
        yield mount if ok else None
    finally:
        if ok:
            subprocess.run(["umount", str(mount)], capture_output=True)


def disk_full(lab: Lab) -> Tally:
    """No room: a small tmpfs (the free-space check), and RLIMIT_FSIZE (a write that fails
    half-way). Either way: a clear error, nothing corrupt under a final name, and a resume
    with room completes."""
    import resource

    tally = Tally("disk full (tmpfs / RLIMIT_FSIZE)", "download (CLI)")
    args = ["download", PREFIX, "--yes", "-q"]
    with small_disk(lab.tmp, "2m") as mount:
        if mount is not None:
            tally.trials += 1
            tally.faults += 1
            proc = lab.cli([*args, "--dest", str(mount / "d")], lab.endpoint)
            _, err = proc.communicate(timeout=HANG_AFTER)
            if proc.returncode != 0:
                tally.error(err, clear_cli(err) and "space" in err)
            lab.check_midway(mount / "d", tally)
        else:
            tally.notes.append("not root (or no mount): tmpfs trial skipped")
    limit = len(lab.objects[BIG]) // 2

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    tally.trials += 1
    tally.faults += 1
    dest = lab.dest("fsize")
    proc = lab.cli([*args, "--dest", str(dest)], lab.endpoint, preexec_fn=cap)
    _, err = proc.communicate(timeout=HANG_AFTER)
    if proc.returncode != 0:
        tally.error(err, clear_cli(err))
    lab.check_midway(dest, tally)
    resume = lab.cli([*args, "--dest", str(dest)], lab.endpoint)
    resume.communicate(timeout=HANG_AFTER)
    lab.check(dest, tally)
    return tally


def _corruptions(valid: bytes) -> list[tuple[str, bytes]]:
    return [
        ("garbage", os.urandom(4096)),
        ("empty", b""),
        ("truncated", valid[: len(valid) // 2]),
        ("zeros", b"\0" * max(len(valid), 512)),
    ]


def corrupt_files(lab: Lab) -> Tally:
    """Corrupt the catalog (SQLite) and the download manifest, then use them."""
    import json

    from ppdata.transfer.manifest import MANIFEST_NAME

    tally = Tally("corrupt catalog and manifest files", "sessions / download (CLI)")
    cache = lab.tmp / "catalog-cache"
    env = {"PPDATA_CACHE_DIR": str(cache), "PPDATA_SPREADSHEET": str(lab.spreadsheet)}
    first = lab.cli(["sessions", "--json"], lab.endpoint, env=env)
    first.communicate(timeout=HANG_AFTER)
    (db,) = cache.glob("catalog-*.sqlite")
    valid_db = db.read_bytes()
    for name, data in _corruptions(valid_db):
        tally.trials += 1
        tally.faults += 1
        db.write_bytes(data)
        proc = lab.cli(["sessions", "--json"], lab.endpoint, env=env)
        out, err = proc.communicate(timeout=HANG_AFTER)
        tally.files += 1
        if proc.returncode == 0:
            try:
                json.loads(out)
                tally.exact += 1
            except ValueError:
                tally.corrupt += 1
                tally.notes.append(f"catalog {name}: exit 0 with invalid JSON")
        else:
            tally.error(err, clear_cli(err))
        db.write_bytes(valid_db)
    dest = lab.dest("m")
    args = ["download", PREFIX, "--yes", "-q", "--dest", str(dest)]
    lab.cli(args, lab.endpoint).communicate(timeout=HANG_AFTER)
    manifest = dest / MANIFEST_NAME
    valid = manifest.read_bytes()
    doc = json.loads(valid)
    odd = [
        ("wrong types", json.dumps({**doc, "files": "x"}).encode()),
        ("bad entries", json.dumps({**doc, "files": [1, {"path": 2}, None]}).encode()),
        (
            "sizes as text",
            json.dumps({**doc, "files": [{**f, "size": "many"} for f in doc["files"]]}).encode(),
        ),
        ("a list", b"[1, 2, 3]"),
    ]
    for name, data in [*_corruptions(valid), *odd]:
        tally.trials += 1
        tally.faults += 1
        manifest.write_bytes(data)
        proc = lab.cli(args, lab.endpoint)
        _, err = proc.communicate(timeout=HANG_AFTER)
        if proc.returncode != 0:
            tally.error(err, clear_cli(err))
            if len(tally.notes) < 5 and not clear_cli(err):
                tally.notes.append(f"manifest {name}")
        lab.check(dest, tally)
    return tally


def fuzz(lab: Lab, examples: int) -> Tally:
    """Hypothesis: names, download targets and JSON documents give a result or a clear
    ppdata error, never anything else."""
    import json
    import logging
    import warnings

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from ppdata.errors import PpdataError
    from ppdata.meta.metadata import read_metadata
    from ppdata.meta.portal import read_portal_links
    from ppdata.meta.qc import read_quality_control
    from ppdata.naming import as_s3_uri, parse_name
    from ppdata.remote.s3 import S3Client
    from ppdata.transfer.api import plan_download
    from ppdata.transfer.manifest import Manifest
    from ppdata.transfer.plan import safe_relative_path

    tally = Tally("Hypothesis fuzzing", "names, targets, JSON")
    json_docs = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
        ),
        max_leaves=20,
    )
    keys = ["name", "schema_version", "evaluations", "metrics", "subject_id", "files", "size"]
    doc_like = st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), json_docs)
    name_like = st.one_of(
        st.text(max_size=60),
        st.from_regex(
            r"(ecephys|multiplane-ophys)?_?\d{0,7}_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d(_[a-z]+_"
            r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d)?/?[a-z./ #]{0,10}",
            fullmatch=True,
        ),
        st.builds(lambda k: f"https://aind-open-data.s3.amazonaws.com/{k}", st.text(max_size=30)),
    )
    conf = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )

    def attempt(label: str, fn: Callable[[], Any]) -> None:
        tally.trials += 1
        try:
            fn()
        except PpdataError as exc:
            tally.error(f"{label}: {exc}", clear_message(exc))
        except Exception as exc:
            tally.error(f"{label}: {type(exc).__name__}: {exc}", False)

    @conf
    @given(name_like)
    def names(text: str) -> None:
        attempt("parse_name", lambda: parse_name(text))
        attempt("as_s3_uri", lambda: as_s3_uri(text))
        attempt("safe_relative_path", lambda: safe_relative_path(text))

    @conf
    @given(st.one_of(doc_like, json_docs))
    def documents(doc: Any) -> None:
        data = json.dumps(doc).encode()  # as the files come from S3
        files = {"data_description.json": data, "subject.json": data}
        attempt("read_metadata", lambda: read_metadata(files))
        attempt("read_quality_control", lambda: read_quality_control(data))
        attempt("read_portal_links", lambda: read_portal_links(data))

    with S3Client(lab.settings(lab.endpoint)) as client:

        @settings(conf, max_examples=max(5, examples // 5))
        @given(name_like)
        def targets(text: str) -> None:
            attempt("plan_download", lambda: plan_download(text, client=client, dest=lab.tmp / "n"))

        targets()

    manifests = lab.tmp / "fuzz-manifest"
    manifests.mkdir()

    @conf
    @given(st.one_of(doc_like, json_docs))
    def manifest_docs(doc: Any) -> None:
        (manifests / ".ppdata-manifest.json").write_text(json.dumps(doc))
        attempt("Manifest.load", lambda: Manifest.load(manifests))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("ppdata").setLevel(logging.ERROR)
        manifest_docs()
        names()
        documents()
    tally.files = tally.exact = 0
    return tally


# -- the report -------------------------------------------------------------------------------


HEADER = [
    "scenario",
    "target",
    "trials",
    "faults injected",
    "files exact",
    "corrupt under a final name",
    "hangs",
    "clear errors",
]


def run_all(quick: bool, seed: int = 1) -> list[Tally]:
    from ppdata.mirror.server import serve_in_subprocess

    rng = random.Random(seed)
    n = 2 if quick else 8
    tallies: list[Tally] = []
    cache = REPO / ".cache" / "test-worlds"
    with (
        tempfile.TemporaryDirectory(prefix="ppdata-reliability-") as tmp,
        serve_in_subprocess(cache) as (endpoint, spreadsheet),
    ):
        lab = Lab(endpoint, spreadsheet, Path(tmp), big_mb=6 if quick else 40)

        def step(tally: Tally) -> None:
            tallies.append(tally)
            print(" | ".join(str(c) for c in tally.row()), *tally.notes, sep="\n  ", flush=True)

        for kind in FAULT_KINDS:
            step(download_faults(lab, kind, n, rng))
        step(changed_mid_download(lab, n, rng))
        for kind in FAULT_KINDS:
            step(nwb_faults(lab, kind, n, rng))
        step(kill_and_resume(lab, 3 if quick else 50, rng))
        step(ctrl_c(lab, 1 if quick else 5, rng))
        step(two_processes(lab, 1 if quick else 5))
        step(disk_full(lab))
        step(corrupt_files(lab))
        step(fuzz(lab, 30 if quick else 300))
        shutil.rmtree(tmp, ignore_errors=True)
    return tallies


def report(tallies: list[Tally], command: str, seconds: float) -> str:
    total = Tally("**all**", "")
    for t in tallies:
        for name in ("trials", "faults", "files", "exact", "corrupt", "hangs", "errors", "clear"):
            setattr(total, name, getattr(total, name) + getattr(t, name))
    lines = [
        "# Reliability report",
        "",
        f"Made by `{command}` in {seconds:.0f} s (seed 1; client timeouts: connect "
        f"{CONNECT_TIMEOUT} s, read {READ_TIMEOUT} s, {RETRIES} retries; stalls last "
        f"{STALL} s; a trial over {HANG_AFTER:.0f} s counts as a hang).",
        "",
        "Faults are injected by `ppdata.mirror.proxy.LatencyProxy` between ppdata and the "
        "mirror (`ppdata mirror serve`, a real S3 server), at a random request of each "
        "trial. After every failed download trial the same download is run again without "
        "faults; *files exact* counts files whose final bytes equal the bucket's at the end. "
        "*Corrupt under a final name* is checked right after each fault or kill, before any "
        "resume. *Clear errors*: a ppdata error with a one-line message (CLI: an `Error:` "
        "line, no traceback), over all errors seen.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    for t in [*tallies, total]:
        lines.append("| " + " | ".join(str(c) for c in t.row()) + " |")
    notes = [f"- {t.scenario}: {note}" for t in tallies for note in t.notes]
    if notes:
        lines += ["", "Notes:", "", *notes]
    verdict = "PASS" if all(t.ok for t in tallies) else "FAIL"
    lines += [
        "",
        f"Verdict: **{verdict}** (corrupt files {total.corrupt}, hangs {total.hangs}, "
        f"unclear errors {total.errors - total.clear}).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="A few trials of each scenario.")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "RELIABILITY.md")
    args = parser.parse_args()
    started = time.monotonic()
    tallies = run_all(args.quick)
    command = "PYTHONPATH=src python benchmarks/reliability.py" + (" --quick" if args.quick else "")
    text = report(tallies, command, time.monotonic() - started)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
