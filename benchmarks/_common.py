"""Shared benchmark plumbing: a mirror server in its own process, a latency proxy, tables.

The server runs in a separate process (``ppdata mirror serve``) so it never shares the GIL
with the client being measured; the proxy adds per-request latency like a real network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parents[1]
WORLD_CACHE = Path(os.environ.get("PPDATA_BENCH_WORLD_CACHE", REPO / ".cache" / "bench-worlds"))


@contextlib.contextmanager
def mirror_process(
    size: str = "small", cache_dir: Path | None = None, server: str = "moto"
) -> Iterator[tuple[str, Path]]:
    """Serve the synthetic world from a child process; yields (endpoint, spreadsheet).

    ``server="moto"`` is the project's mirror (``ppdata mirror serve``). ``server="static"``
    serves the world's bucket folder read-only from ``_static.py``: a request costs what it
    costs on S3 (the mirror reads only a ranged GET's range too, but moto spends a few ms of
    CPU on each request, on the cores the client runs on). Use it for wall times on large
    files; it has no DANDI stand-in and no writes.
    """
    cache = cache_dir or (WORLD_CACHE if size == "bench" else REPO / ".cache" / "test-worlds")
    if server == "static":
        from _static import static_server

        from ppdata.mirror.world import ensure_world, load_world
        from ppdata.settings import Settings

        world = load_world(ensure_world(cache, size))  # type: ignore[arg-type]
        with static_server(world.root / "bucket", Settings().bucket) as endpoint:
            yield endpoint, world.spreadsheet
        return
    from ppdata.mirror.server import serve_in_subprocess

    with serve_in_subprocess(cache, size=size) as served:
        yield served


@contextlib.contextmanager
def endpoint_with_latency(endpoint: str, latency: float) -> Iterator[Any]:
    """The endpoint itself (latency 0) or a LatencyProxy in front of it."""
    from ppdata.mirror.proxy import LatencyProxy

    with LatencyProxy(endpoint, latency=latency) as proxy:
        yield proxy


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Median wall time over ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Print a GitHub-markdown table (pasteable into RESULTS.md) and return it."""
    lines = [
        f"### {title}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(c) for c in row) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    return text


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def ratio(baseline: float, ours: float) -> str:
    """``baseline / ours`` as ``12.3x`` (higher is better for ppdata)."""
    if ours == 0:
        return "inf"
    return f"{baseline / ours:.1f}x"


class Measured(NamedTuple):
    """One process's run: wall and CPU seconds, its own peak RSS, what it printed."""

    seconds: float
    cpu: float
    rss_mb: int
    stdout: str
    stderr: str


def run_measured(cmd: Sequence[str], env: dict[str, str]) -> Measured:
    """Run ``cmd`` with exactly ``env``, timed from ``posix_spawn`` to ``wait4``; its CPU
    and peak RSS from ``wait4`` (its own, not the max over all children). A failure raises
    ``RuntimeError`` with the end of its standard error."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        pid = os.posix_spawn(
            cmd[0],
            list(cmd),
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ],
        )
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode()
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{' '.join(cmd)[:200]} failed: {stderr[-2000:]}")
        return Measured(
            seconds,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss // 1024,
            out.read().decode(),
            stderr,
        )


def instructions(cmd: Sequence[str], env: dict[str, str]) -> int | None:
    """User-space instructions of one run of ``cmd`` under ``valgrind --tool=callgrind``: a
    CPU figure that the machine's load does not move (``None`` if valgrind is missing)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    prefix = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    stderr = run_measured([*prefix, *cmd], env).stderr
    found = [line for line in stderr.splitlines() if "Collected :" in line]
    return int(found[-1].rsplit(":", 1)[1].strip().replace(",", "")) if found else None
