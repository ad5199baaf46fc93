"""The transfer engine behind :func:`ppdata.transfer.api.download`.

- Small files (up to twice the part size): one streaming GET each, many at a time, written to
  ``.<name>.ppdata-part`` beside the final file while their MD5 is computed on the fly.
- Large files: concurrent ranged GETs of ``part_size`` bytes, written with ``os.pwrite`` into
  a preallocated ``.<name>.ppdata-part``. After each part, the sidecar
  ``.<name>.ppdata-part.json`` records the completed ranges and the ETag they were fetched
  against, so an interrupted run (Ctrl-C, kill -9, network drop) fetches only what is missing.
- Every GET carries ``If-Match: <ETag from the listing>``: an object replaced on the server
  between the listing and the fetch is detected (HTTP 412), and the file is started again
  against the new version (once).
- A body cut mid-transfer (connection reset, timeout) is resumed from the last byte received,
  under the client's retry budget.
- A file is renamed to its final name with ``os.replace`` only after its size, and its MD5
  when the ETag is one, matched. Memory stays bounded: 1 MiB chunks per worker.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BucketUnreachable, DownloadError, PpdataError, S3Error
from .model import let_go
from .parts import (
    MIN_PART_SIZE,
    Changed,
    ChecksumMismatch,
    FrontMD5,
    Stopped,
    Transfer,
    failure_message,
    finish,
    merge,
    missing,
    preallocate,
    read_sidecar,
    remove,
    s3_code,
    write_sidecar,
)

if TYPE_CHECKING:
    from ..callbacks import Callback
    from ..remote.s3 import S3Client
    from ..remote.transport import Body
    from .manifest import Manifest
    from .model import Ahead, DownloadSummary, PlannedFile

logger = logging.getLogger(__name__)

DEFAULT_PART_SIZE = 16 * 2**20
#: Workers fetching small files at first; more join while replies are slow to come.
LANES_AT_START = 4
#: Seconds a reply takes from a server far enough away that every lane starts at once.
SLOW_REPLY = 0.015
CHUNK = 2**20


class Engine:
    """Runs the transfers of one download (see the module docstring)."""

    def __init__(
        self,
        client: S3Client,
        manifest: Manifest,
        summary: DownloadSummary,
        callback: Callback,
        jobs: int,
        part_size: int,
        ahead: Mapping[str, Future[Ahead | None]] | None = None,
    ) -> None:
        self.client = client
        #: per key, the GET of the file's first bytes started beside its listing
        self.ahead = dict(ahead or {})
        self.manifest = manifest
        self.summary = summary
        self.callback = callback
        self.jobs = max(1, jobs)
        self.part_size = max(part_size, MIN_PART_SIZE)
        self.cancel = threading.Event()
        self._made: set[Path] = set()
        self.fatal: DownloadError | None = None
        self._stats_lock = threading.Lock()
        self._local = threading.local()

    # -- scheduling (main thread) ---------------------------------------------------------
    def run(self, files: list[PlannedFile]) -> None:
        transfers = [Transfer(f, self.part_size) for f in files]
        self.callback.set_size(sum(f.size for f in files) - self._resumed_total(transfers))
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="ppdata-download")
        try:
            # large files first: they are the long pole, and their parts keep every worker
            # busy; then the small ones, each fetched whole by one worker from start to end
            self._run_parts(pool, [t for t in transfers if t.ranged])
            if self.fatal is None:
                self._run_small(pool, [t for t in transfers if not t.ranged])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            let_go(self.ahead.values())  # sent ahead for a file that failed before its read
        if self.fatal is not None:
            raise self.fatal

    def _run_small(self, pool: ThreadPoolExecutor, transfers: list[Transfer]) -> None:
        """Small files: workers ("lanes"), each taking the next file and doing all of it
        (start, GET, checks, rename, record); no per-file scheduling by this thread.

        Lanes start few and double while they spend most of their time waiting for replies
        (Little's law: the concurrency a link needs is its latency over the work per file).
        Far from the server (S3: tens of ms a request) that reaches ``jobs`` within a
        fraction of a second; next to it (a mirror on this machine) replies come as fast as
        the CPU handles them, and more threads would only contend for the interpreter. When
        even the fastest reply so far (the listing's) took ``SLOW_REPLY`` or more, all lanes
        start at once: the ramp would only lose the first round trips.
        """
        if not transfers:
            return
        queue = deque(transfers)
        clock = {"wait": 0.0, "total": 0.0}

        def lane() -> None:
            while not self.cancel.is_set() and self.fatal is None:
                try:
                    t: Transfer | None = queue.popleft()
                except IndexError:
                    return
                while t is not None:
                    parts = self._start(t)
                    if not parts or t.state != "running":
                        break  # could not even start: settled as failed by _start
                    began = time.perf_counter()
                    # one part for a small file; a file that changed on the server into a
                    # large one comes back ranged, and this worker fetches its parts in turn
                    for _, start, end in parts:
                        with t.lock:
                            t.outstanding += 1
                        self._work(t, start, end)
                    with self._stats_lock:
                        clock["wait"] += t.waited
                        clock["total"] += time.perf_counter() - began
                    t = self._settle(t)  # a file changed on the server comes back once

        fastest = self.client.stats.fastest_reply
        first = self.jobs if fastest is not None and fastest >= SLOW_REPLY else LANES_AT_START
        lanes = [pool.submit(lane) for _ in range(min(self.jobs, first, len(queue)))]
        if first > LANES_AT_START:
            logger.debug(
                "replies are slow (%.0f ms): %d lanes", 1000 * (fastest or 0.0), len(lanes)
            )
        try:
            while True:
                done, pending = wait(lanes, timeout=0.05)
                self.manifest.save_every(2.0)
                if not pending:
                    break
                with self._stats_lock:
                    waited, total = clock["wait"], clock["total"]
                    clock["wait"] = clock["total"] = 0.0
                # mostly waiting for replies: more requests in flight will help
                if total > 0 and waited > 0.75 * total and len(lanes) < self.jobs and queue:
                    more = min(self.jobs, 2 * len(lanes)) - len(lanes)
                    lanes += [pool.submit(lane) for _ in range(more)]
                    logger.debug(
                        "replies are slow (%.0f%% of the time): %d lanes",
                        100 * waited / total,
                        len(lanes),
                    )
            for fut in done:
                fut.result()
        except BaseException:
            self.cancel.set()  # each worker ends the file it has (small), then stops
            wait(lanes)
            raise

    def _run_parts(self, pool: ThreadPoolExecutor, transfers: list[Transfer]) -> None:
        """Large files, as concurrent ranged parts scheduled from this thread."""
        queue: deque[Any] = deque(transfers)
        in_flight: dict[Future[None], Transfer] = {}
        try:
            while queue or in_flight:
                while queue and len(in_flight) < 2 * self.jobs and self.fatal is None:
                    item = queue.popleft()
                    if isinstance(item, Transfer):
                        queue.extendleft(reversed(self._start(item)))
                        continue
                    t, start, end = item
                    if t.state != "running":
                        continue
                    with t.lock:
                        t.outstanding += 1
                    in_flight[pool.submit(self._work, t, start, end)] = t
                if not in_flight:
                    if self.fatal is not None:
                        break
                    continue
                done, _ = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in done:
                    t = in_flight.pop(fut)
                    restart = self._settle(t)
                    if restart is not None:
                        queue.appendleft(restart)
                self.manifest.save_every(2.0)
                if self.fatal is not None:
                    self.cancel.set()
                    queue.clear()
        except BaseException:
            self.cancel.set()
            wait(in_flight)
            for t in in_flight.values():
                self._close(t)
                if t.state == "finished" and t.entry is not None:
                    self.manifest.record(t.entry)
                elif not t.ranged:
                    remove(t.temp)
            raise

    def _resumed_total(self, transfers: list[Transfer]) -> int:
        total = 0
        for t in transfers:
            if t.ranged and (done := read_sidecar(t.file)):
                total += sum(e - s for s, e in merge(done))
        return total

    def _start(self, t: Transfer) -> list[tuple[Transfer, int, int]]:
        """Open a transfer: temp file, resumed ranges; returns its parts."""
        f = t.file
        try:
            if f.path.parent not in self._made:
                f.path.parent.mkdir(parents=True, exist_ok=True)
                self._made.add(f.path.parent)
            if t.ranged:
                t.done = read_sidecar(f) or []
                if t.done:
                    t.resumed = sum(e - s for s, e in merge(t.done))
                    t.fd = os.open(t.temp, os.O_RDWR)
                    logger.info(
                        "resuming %s: %d of %d bytes already here", f.uri, t.resumed, f.size
                    )
                else:
                    with contextlib.suppress(FileNotFoundError):
                        t.sidecar.unlink()
                    t.fd = os.open(t.temp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
                    preallocate(t.fd, f.size)
                parts = missing(t.done, f.size, t.part_size)
                t.md5 = FrontMD5(t.fd) if f.md5 else None
            else:
                parts = [(0, f.size)]
        except OSError as exc:
            t.state = "failed"
            t.error = exc
            self._settle(t)
            return []
        t.state = "running"
        t.remaining = len(parts)
        t.child = self.callback.branched(f.key, str(f.path), size=f.size)
        t.child.set_size(f.size - t.resumed)
        if not parts:  # every range was already here: only the checks remain
            return [(t, 0, 0)]
        if f.key in self.ahead and parts[0][0] == 0:
            parts = [*parts[1:], parts[0]]  # the others' GETs go out before the first is read
        return [(t, s, e) for s, e in parts]

    def _settle(self, t: Transfer) -> Transfer | None:
        """Record a transfer whose work is over; return a restarted transfer if needed."""
        from .model import FileResult, FileStatus

        with t.lock:
            if t.outstanding > 0 or t.state in ("running", "settled"):
                return None
            state, t.state = t.state, "settled"
        f = t.file
        self._close(t)
        if t.child is not None:
            t.child.close()
        if state == "finished" and t.entry is not None:
            self.manifest.record(t.entry)
            result = FileResult(
                f.key,
                f.path,
                FileStatus.FETCHED,
                f.size,
                check=t.entry.check,
                transferred=t.transferred,
                resumed=t.resumed,
            )
            if t.resumed:
                self.summary.notes.append(
                    f"{f.uri}: resumed, {t.resumed:,} bytes were already here"
                )
            self.summary.results.append(result)
            return None
        if state == "changed" and t.restarts == 0 and self.fatal is None:
            remove(t.temp, t.sidecar)
            try:
                info = self.client.head(f.key)
            except PpdataError as exc:
                t.error = exc
            else:
                from dataclasses import replace

                new = replace(f, size=info.size, etag=info.etag, last_modified=info.last_modified)
                note = (
                    f"{f.uri} changed on the server after it was listed (ETag {f.etag} → "
                    f"{info.etag}, {f.size:,} → {info.size:,} bytes); downloading the "
                    "new version"
                )
                logger.warning("%s", note)
                self.summary.notes.append(note)
                return Transfer(new, self.part_size, restarts=t.restarts + 1)
        message = failure_message(t, state, self.fatal, self.client.settings.retries)
        if state == "changed" or isinstance(t.error, ChecksumMismatch) or not t.ranged:
            remove(t.temp, t.sidecar)
        # else: keep a large file's completed parts and sidecar, for the next run to resume
        result = FileResult(
            f.key,
            f.path,
            FileStatus.FAILED,
            f.size,
            transferred=t.transferred,
            resumed=t.resumed,
            message=message,
        )
        logger.error("%s: %s", f.uri, message)
        self.summary.results.append(result)
        return None

    def _close(self, t: Transfer) -> None:
        if t.fd is not None:
            with contextlib.suppress(OSError):
                os.close(t.fd)
            t.fd = None

    # -- work (worker threads) ------------------------------------------------------------
    def _work(self, t: Transfer, start: int, end: int) -> None:
        try:
            if t.state != "running":
                return
            if t.ranged:
                # the first part may have been asked for beside the listing: its reply is read
                # here, in this worker, while the other parts are already on their way
                sent = self._ahead(t.file, end - start) if start == 0 else None
                if end > start:
                    self._stream(t, start, end, lambda off, data: _pwrite(t.fd, data, off), sent)
                with t.lock:
                    if end > start:
                        t.done = merge([*t.done, [start, end]])
                        write_sidecar(t.sidecar, t.file, t.done)
                    t.remaining -= 1
                    last = t.remaining <= 0 and t.state == "running"
                    front = t.front
                if t.md5 is not None:
                    t.md5.advance(front)  # while the other parts are still coming
                if last:
                    finish(t, t.md5.hexdigest(t.file.size) if t.md5 is not None else None)
            else:
                self._fetch_whole(t)
        except Changed as exc:
            t.fail(exc, "changed")
        except Stopped:
            t.fail(Stopped("cancelled"))
        except BaseException as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                self._out_of_space(exc)
            t.fail(exc)
        finally:
            with t.lock:
                t.outstanding -= 1

    def _fetch_whole(self, t: Transfer) -> None:
        """A small file: one GET into one buffer (or the rest of what was fetched ahead),
        hashed and written at once."""
        f = t.file
        if self.cancel.is_set():
            raise Stopped
        head = self._ahead_bytes(f)
        body = head if head and len(head) == f.size else head + self._get(t, len(head))
        md5 = None
        if f.md5:
            import hashlib  # only here: a download of multipart objects never loads it

            md5 = hashlib.md5(body).hexdigest()
        fd = os.open(t.temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view, written = memoryview(body), 0
            while written < len(body):
                written += os.write(fd, view[written:])
        finally:
            os.close(fd)
        self._received(t, len(body))
        finish(t, md5)

    def _get(self, t: Transfer, start: int) -> bytes:
        """One GET of a small file's bytes from ``start`` to its end, into one buffer."""
        f = t.file
        began = time.perf_counter()
        try:
            body, resp = self.client.get_whole(
                f.key, start=start or None, end=f.size if start else None, if_match=f.etag
            )
        except S3Error as exc:
            if s3_code(exc) in ("PreconditionFailed", "412"):
                raise Changed(f"ETag {f.etag} no longer matches") from exc
            cause = exc.__cause__
            if isinstance(cause, _stream_errors()) and not isinstance(exc, BucketUnreachable):
                attempts = self.client.settings.retries + 1
                raise DownloadError(
                    f"the connection kept failing mid-transfer ({type(cause).__name__}: "
                    f"{cause}) after {attempts} attempts; re-run to fetch it again"
                ) from exc
            raise
        t.waited = time.perf_counter() - began
        etag = resp.get("ETag")
        if (f.etag and etag and etag != f.etag) or len(body) != f.size - start:
            raise Changed(
                f"the server sent ETag {etag}, {len(body)} bytes; expected {f.etag}, "
                f"{f.size - start} bytes"
            )
        return body

    def _ahead(self, f: PlannedFile, length: int | None = None) -> Body | None:
        """The reply of the GET of ``f``'s first bytes sent beside its listing, if it is of
        the version listed (and of ``length`` bytes, if given); else ``None`` (let go)."""
        future = self.ahead.pop(f.key, None)
        got = future.result() if future is not None else None
        if got is None:
            return None
        info, size = got.info, got.body.length
        if info.size != f.size or (f.etag and info.etag != f.etag) or length not in (None, size):
            got.close()
            return None
        return got.body

    def _ahead_bytes(self, f: PlannedFile) -> bytes:
        """The first bytes of ``f`` read from the reply sent for beside its listing (empty:
        there was none, it was of another version, or it broke off)."""
        body = self._ahead(f)
        if body is None:
            return b""
        with body:
            try:
                return body.read()
            except _stream_errors():
                return b""  # the whole file is asked for again

    def _received(self, t: Transfer, nbytes: int) -> None:
        """Count bytes received for ``t`` and tell the job's callback and the file's branch."""
        with self._stats_lock:
            t.transferred += nbytes
            self.summary.bytes_transferred += nbytes
        self.callback.relative_update(nbytes)
        if t.child is not None:
            t.child.relative_update(nbytes)

    def _buffer(self) -> memoryview:
        """This worker's reusable read buffer: a part streams through it into the file,
        with no new allocation (and no page faults) per chunk."""
        buffer: memoryview | None = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = self._local.buffer = memoryview(bytearray(CHUNK))
        return buffer

    def _stream(
        self,
        t: Transfer,
        start: int,
        end: int,
        sink: Any,
        sent: Body | None = None,
    ) -> None:
        """GET ``[start, end)`` into ``sink(offset, data)``, resuming a body cut mid-way;
        ``sent``: a reply to that GET already checked (its first attempt)."""
        f = t.file
        cur = start
        failures = 0
        errors = _stream_errors()
        while True:
            try:
                body, resp = (
                    (sent, {})
                    if sent
                    else self.client.stream(f.key, start=cur, end=end, if_match=f.etag)
                )
                sent = None
            except S3Error as exc:
                if s3_code(exc) in ("PreconditionFailed", "412"):
                    raise Changed(f"ETag {f.etag} no longer matches") from exc
                raise
            try:
                etag = resp.get("ETag")
                length = resp.get("ContentLength")
                if (f.etag and etag and etag != f.etag) or (
                    length is not None and int(length) != end - cur
                ):
                    raise Changed(
                        f"the server sent ETag {etag}, {length} bytes; expected "
                        f"{f.etag}, {end - cur} bytes"
                    )
                buffer = self._buffer()
                while True:
                    if self.cancel.is_set() or t.state != "running":
                        raise Stopped
                    n = body.readinto(buffer)
                    if not n:
                        break
                    data = buffer[:n]
                    if cur + len(data) > end:
                        raise Changed("the server sent more bytes than the object has")
                    sink(cur, data)
                    cur += len(data)
                    self._received(t, len(data))
                if cur != end:
                    raise ConnectionError(f"the body ended at byte {cur:,} of {end:,}")
                return
            except errors as exc:
                failures += 1
                if failures > self.client.settings.retries:
                    raise DownloadError(
                        f"the connection kept failing mid-transfer ({type(exc).__name__}: "
                        f"{exc}) after {failures} attempts; re-run to resume: the bytes "
                        "already here are kept"
                    ) from exc
                self.client.stats.add_retry()
                delay = self.client.policy.backoff(failures)
                logger.info(
                    "%s: body cut at byte %d (%s); resuming in %.2fs", f.uri, cur, exc, delay
                )
                time.sleep(delay)
            finally:
                with contextlib.suppress(*errors):
                    body.close()

    def _out_of_space(self, exc: OSError) -> None:
        if self.fatal is None:
            import shutil

            from ..units import format_bytes

            free = shutil.disk_usage(self.manifest.dest).free
            self.fatal = DownloadError(
                f"the destination {self.manifest.dest} is full ({exc.strerror}; "
                f"{format_bytes(free)} free); free some space and re-run to resume"
            )
            self.fatal.__cause__ = exc
            self.cancel.set()


def _stream_errors() -> tuple[type[BaseException], ...]:
    from ..remote.transport import STREAM_ERRORS

    return STREAM_ERRORS


def _pwrite(fd: int | None, data: bytes, offset: int) -> None:
    if fd is None:
        raise Stopped("the part file is closed")
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def run_plan(
    client: S3Client,
    files: list[PlannedFile],
    manifest: Manifest,
    summary: DownloadSummary,
    *,
    callback: Callback,
    jobs: int,
    part_size: int | None,
    ahead: Mapping[str, Future[Ahead | None]] | None = None,
) -> None:
    """Fetch ``files`` (see the module docstring), recording results in ``summary``;
    ``ahead``: per key, the GET of a file's first bytes started while it was listed."""
    pool_size = client.transport.maxsize
    if jobs > pool_size:
        logger.info(
            "limiting --jobs %d to the client's %d connections (raise PPDATA_MAX_WORKERS for more)",
            jobs,
            pool_size,
        )
        jobs = pool_size
    Engine(client, manifest, summary, callback, jobs, part_size or DEFAULT_PART_SIZE, ahead).run(
        files
    )
