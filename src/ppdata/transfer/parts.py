"""The state of a file being downloaded: in memory (:class:`Transfer`), and on disk (its
part file and sidecar).

A file is written to ``.<name>.ppdata-part`` beside its final path. A large file, fetched
in ranged parts, also has ``.<name>.ppdata-part.json``: the ranges completed so far and the
ETag they were fetched against, so that an interrupted run fetches only what is missing.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DownloadError, NotFound, PpdataError, S3Error
from .manifest import HASH_BLOCK, Check, ManifestEntry, atomic_write_text, md5_file

if TYPE_CHECKING:
    from .model import PlannedFile

#: The smallest part a large file is fetched in (S3's smallest multipart part).
MIN_PART_SIZE = 5 * 2**20
PART_SUFFIX = ".ppdata-part"
SIDECAR_VERSION = 1


def part_paths(path: Path) -> tuple[Path, Path]:
    """The temporary file and the sidecar of a final path."""
    name = path.name
    if len(name) > 200:  # keep ".<name>.ppdata-part.json" under the 255-byte name limit
        import hashlib

        name = hashlib.sha1(name.encode()).hexdigest()
    temp = path.with_name(f".{name}{PART_SUFFIX}")
    return temp, temp.with_name(temp.name + ".json")


def read_sidecar(f: PlannedFile) -> list[list[int]] | None:
    """Completed ranges of an interrupted download of ``f``, if they can be trusted."""
    temp, sidecar = part_paths(f.path)
    try:
        doc = json.loads(sidecar.read_text())
        st = temp.stat()
    except (OSError, ValueError):
        return None
    if (
        doc.get("version") != SIDECAR_VERSION
        or doc.get("key") != f.key
        or doc.get("etag") != f.etag
        or doc.get("size") != f.size
        or st.st_size != f.size
    ):
        return None
    done = doc.get("done") or []
    if not all(isinstance(r, list) and len(r) == 2 and 0 <= r[0] < r[1] <= f.size for r in done):
        return None
    return [list(r) for r in done]


def resumable_bytes(files: list[PlannedFile]) -> int:
    """Bytes of ``files`` already preallocated by interrupted runs (for the space check)."""
    total = 0
    for f in files:
        # only files fetched in parts (over twice the smallest part size) leave a sidecar
        if f.size > 2 * MIN_PART_SIZE and read_sidecar(f) is not None:
            total += f.size
    return total


def merge(ranges: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def missing(done: list[list[int]], size: int, part: int) -> list[tuple[int, int]]:
    gaps, cur = [], 0
    for s, e in merge(done):
        if s > cur:
            gaps.append((cur, s))
        cur = max(cur, e)
    if cur < size:
        gaps.append((cur, size))
    return [(s, min(s + part, e)) for a, e in gaps for s in range(a, e, part)]


def write_sidecar(sidecar: Path, f: PlannedFile, done: list[list[int]]) -> None:
    """Record the ranges of ``f`` completed so far (atomically)."""
    doc = {"version": SIDECAR_VERSION, "key": f.key, "etag": f.etag, "size": f.size, "done": done}
    atomic_write_text(sidecar, json.dumps(doc))


def preallocate(fd: int, size: int) -> None:
    """Reserve the file's space now, so a full disk shows at the start, not mid-way."""
    if size <= 0:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except (AttributeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        os.ftruncate(fd, size)


def remove(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


class FrontMD5:
    """The MD5 of a file written in ranged parts, in any order, kept up with its front.

    Each time the completed ranges reach further from byte 0, the bytes newly joined to the
    front are read back (from the page cache) and hashed, while the other parts are still on
    their way (:mod:`hashlib` lets go of the interpreter while it hashes). One worker hashes
    at a time and takes on any front the others report meanwhile: none waits for another.
    When the last part lands only what it joined is left to hash, not the whole file.
    """

    def __init__(self, fd: int) -> None:
        import hashlib

        self._fd = fd
        self._digest = hashlib.md5()
        self._hashed = 0  # bytes hashed so far
        self._wanted = 0  # the furthest front reported
        self._busy = False  # a worker is hashing
        self._cond = threading.Condition()
        self._view: memoryview | None = None  # the read buffer, used by the busy worker only

    def advance(self, front: int, *, wait: bool = False) -> None:
        """Hash the file up to ``front`` (its bytes are all there): here, or by the worker
        already hashing (``wait``: here, once that worker is done)."""
        with self._cond:
            self._wanted = max(self._wanted, front)
            if self._busy and not wait:
                return
            while self._busy:
                self._cond.wait()
            self._busy = True
        try:
            if self._view is None:
                self._view = memoryview(bytearray(HASH_BLOCK))
            view = self._view
            while True:
                with self._cond:
                    start, stop = self._hashed, self._wanted
                    if start >= stop:  # caught up: the next report finds no one hashing
                        self._busy = False
                        self._cond.notify_all()
                        return
                n = os.preadv(self._fd, [view[: min(HASH_BLOCK, stop - start)]], start)
                if not n:
                    raise ChecksumMismatch(f"the part file ends at byte {start:,}")
                self._digest.update(view[:n])
                self._hashed = start + n  # written by the busy worker only
        except BaseException:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
            raise

    def hexdigest(self, size: int) -> str:
        """The MD5 of the whole file of ``size`` bytes (hashing what is left of it)."""
        self.advance(size, wait=True)
        return self._digest.hexdigest()


class Transfer:
    """One file in flight."""

    def __init__(self, file: PlannedFile, part_size: int, restarts: int = 0) -> None:
        self.file = file
        self.temp, self.sidecar = part_paths(file.path)
        self.ranged = file.size > 2 * part_size
        self.part_size = part_size
        self.lock = threading.Lock()
        self.done: list[list[int]] = []
        self.fd: int | None = None
        self.outstanding = 0
        self.remaining = 0
        self.state = "new"  # running | finished | changed | failed
        self.error: BaseException | None = None
        self.entry: ManifestEntry | None = None
        self.transferred = 0
        self.resumed = 0
        self.restarts = restarts
        self.child: Any = None  # the progress callback's branch for this file, once started
        self.waited = 0.0  # seconds waiting for the reply (a small file's one GET)
        self.md5: FrontMD5 | None = None  # a large file's MD5, kept up as its parts land

    @property
    def front(self) -> int:
        """How far the completed ranges reach from byte 0 (read under ``lock``)."""
        return self.done[0][1] if self.done and self.done[0][0] == 0 else 0

    def fail(self, exc: BaseException, state: str = "failed") -> None:
        with self.lock:
            if self.state == "running":
                self.state = state
                self.error = exc


class Changed(Exception):
    """The object on the server is not the one listed (ETag or size differ)."""


class Stopped(Exception):
    """The transfer was cancelled or another part of it failed."""


def s3_code(exc: BaseException) -> str:
    """The S3 error code (or HTTP status) of a failed request, else ``""``."""
    return getattr(exc, "code", "") or ""


def failure_message(t: Transfer, state: str, stopped_by: object, retries: int) -> str:
    """What to tell of a file that failed with ``t.error`` (``stopped_by``: what stopped the
    whole download, if anything did; ``retries``: the retry policy's attempts)."""
    exc = t.error
    if isinstance(exc, Stopped):
        return f"not finished: the download stopped ({stopped_by or 'cancelled'})"
    if state == "changed":
        return f"it changed on the server twice while downloading ({exc}); try again later"
    if isinstance(exc, NotFound):
        return f"it was deleted from the server after the listing ({exc})"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the destination is full"
    if isinstance(exc, S3Error) and s3_code(exc) in ("SlowDown", "503", "Throttling"):
        return (
            f"the server kept throttling requests (503 SlowDown) after {retries} retries; "
            "try again later or with fewer --jobs"
        )
    if isinstance(exc, PermissionError):
        return f"cannot write {exc.filename or t.file.path}: permission denied"
    if isinstance(exc, IsADirectoryError):
        return f"cannot write {t.file.path}: a folder of that name is in the way"
    return str(exc) if isinstance(exc, PpdataError) else f"{type(exc).__name__}: {exc}"


class ChecksumMismatch(DownloadError):
    """Size or MD5 mismatch after a transfer."""


def finish(t: Transfer, md5: str | None) -> None:
    """Check the size (and MD5: ``md5`` when computed on the way) of a transfer's part file,
    then move it into place and make its manifest entry."""
    f = t.file
    if t.fd is not None:
        os.close(t.fd)
        t.fd = None
    size = os.stat(t.temp).st_size
    if size != f.size:
        raise ChecksumMismatch(
            f"it has {size:,} bytes after the download, expected {f.size:,}; "
            "the partial file was removed"
        )
    check = Check.SIZE
    if f.md5:
        md5 = md5 or md5_file(t.temp)
        if md5 != f.md5:
            raise ChecksumMismatch(
                f"its MD5 is {md5}, but the ETag says {f.md5}: the bytes were "
                "corrupted on the way; the file was removed, re-run to fetch "
                "it again"
            )
        check = Check.MD5
    os.replace(t.temp, f.path)
    mtime_ns = None
    if f.last_modified is not None:
        with contextlib.suppress(OSError):
            stamp = int(f.last_modified.timestamp() * 1e9)
            os.utime(f.path, ns=(time.time_ns(), stamp))
            mtime_ns = stamp
    if t.ranged:
        remove(t.sidecar)
    t.entry = ManifestEntry.for_file(f, check, mtime_ns)
    with t.lock:
        if t.state == "running":
            t.state = "finished"
