"""The download manifest: what ppdata put in a destination folder, and how it was checked.

Each destination folder holds one ``.ppdata-manifest.json`` (written atomically: temporary
file in the same folder, then ``os.replace``). It records, per downloaded file, the key and
source URI, size, ETag, MD5 (when the ETag is one), which check was done, when it was
downloaded, and the local file's size and modification time after the download. A re-run
skips a file whose manifest entry still matches the file on disk without any request or any
read of the file; :func:`verify` re-reads every file and checks it against its entry.

Examples
--------
>>> from ppdata.transfer.api import download
>>> summary = download("ecephys_820459_2025-11-12_14-34-33_sorted_2026-06-27_09-05-10/nwb",
...                    dest="data")
>>> report = verify("data/")
>>> report.ok, report.checked == len(summary.fetched), report.problems
(True, True, [])
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..callbacks import CallbackLike, resolve
from ..errors import DownloadError

__all__ = [
    "LOCK_NAME",
    "MANIFEST_NAME",
    "Check",
    "Manifest",
    "ManifestEntry",
    "VerifyProblem",
    "VerifyReport",
    "md5_file",
    "verify",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME = ".ppdata-manifest.json"
LOCK_NAME = ".ppdata-manifest.lock"
MANIFEST_VERSION = 1
HASH_BLOCK = 4 * 2**20


class Check(StrEnum):
    """How a downloaded file was checked against the server's object."""

    MD5 = "md5"  #: the MD5 of the bytes equals the ETag (objects uploaded in one part)
    SIZE = "size"  #: only the size (multipart ETags are not an MD5 of the content)


@dataclass
class ManifestEntry:
    """One downloaded file.

    Attributes
    ----------
    path : str
        POSIX path relative to the destination (equal to the key: the layout mirrors the
        bucket's).
    key, uri : str
        The object it came from.
    size : int
        Its size in bytes.
    etag : str or None
        The ETag it was downloaded against.
    md5 : str or None
        The MD5 hex digest, when known (single-part ETag).
    check : str
        The check done after the download (:class:`Check`).
    downloaded : str
        ISO time of the download.
    mtime_ns : int
        The local file's modification time after the download (a re-run compares it).
    last_modified : str or None
        The object's LastModified on the server.
    """

    path: str
    key: str
    uri: str
    size: int
    etag: str | None
    md5: str | None
    check: str
    downloaded: str
    mtime_ns: int
    last_modified: str | None = None

    @classmethod
    def for_file(cls, f: Any, check: str, mtime_ns: int | None = None) -> ManifestEntry:
        """The entry of a planned file (:class:`ppdata.transfer.model.PlannedFile`) now on disk.

        ``mtime_ns`` defaults to the local file's modification time.
        """
        return cls(
            path=f.relpath,
            key=f.key,
            uri=f.uri,
            size=f.size,
            etag=f.etag,
            md5=f.md5,
            check=str(check),
            downloaded=_now(),
            mtime_ns=f.path.stat().st_mtime_ns if mtime_ns is None else mtime_ns,
            last_modified=f.last_modified.isoformat() if f.last_modified else None,
        )

    def matches_disk(self, dest: Path) -> bool:
        """True when the local file still has the size and mtime recorded (no read)."""
        try:
            st = (dest / self.path).stat()
        except OSError:
            return False
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns


class Manifest:
    """The manifest of one destination folder (thread-safe; saved atomically).

    Parameters
    ----------
    dest : Path
        The destination folder.
    entries : dict, optional
        Entries by relative path.
    """

    def __init__(
        self,
        dest: Path,
        entries: dict[str, ManifestEntry] | None = None,
        header: dict[str, Any] | None = None,
    ) -> None:
        self.dest = Path(dest)
        self.entries: dict[str, ManifestEntry] = dict(entries or {})
        self.header: dict[str, Any] = dict(header or {})
        #: paths whose files ppdata downloaded but :func:`verify` found damaged: fetched
        #: again by the next download (other differing local files are kept)
        self.damaged: set[str] = set(self.header.pop("damaged", None) or ())
        self._lock = threading.Lock()
        self._dirty = False
        self._saved_at = time.monotonic()

    @property
    def path(self) -> Path:
        return self.dest / MANIFEST_NAME

    @classmethod
    def load(cls, dest: str | os.PathLike[str]) -> Manifest:
        """Read the manifest of ``dest`` (an empty one if there is none).

        A manifest that cannot be parsed is set aside as ``.ppdata-manifest.json.bad`` and an
        empty one is used instead: files already present are then checked locally again.
        """
        dest = Path(dest)
        path = dest / MANIFEST_NAME
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict) or not isinstance(raw.get("files", []), list):
                raise ValueError("not a ppdata manifest (no list of files)")
        except FileNotFoundError:
            return cls(dest)
        except (OSError, ValueError) as exc:
            logger.warning("the manifest %s cannot be read (%s); starting a new one", path, exc)
            with contextlib.suppress(OSError):
                os.replace(path, path.with_name(MANIFEST_NAME + ".bad"))
            return cls(dest)
        entries: dict[str, ManifestEntry] = {}
        for item in raw.get("files", []):
            entry = _entry(item)
            if entry is not None:  # a malformed entry: the file gets checked again
                entries[entry.path] = entry
        header = {k: v for k, v in raw.items() if k != "files"}
        return cls(dest, entries, header)

    def get(self, path: str) -> ManifestEntry | None:
        with self._lock:
            return self.entries.get(path)

    def record(self, entry: ManifestEntry) -> None:
        """Add or replace an entry (saved by the next :meth:`save`)."""
        with self._lock:
            self.entries[entry.path] = entry
            self.damaged.discard(entry.path)
            self._dirty = True

    def forget(self, path: str, *, damaged: bool = True) -> None:
        """Drop an entry; with ``damaged`` its file is fetched again by the next download
        (rather than kept as a local file that differs from the bucket)."""
        with self._lock:
            if self.entries.pop(path, None) is not None:
                self._dirty = True
                if damaged:
                    self.damaged.add(path)

    def save(self, *, force: bool = False) -> None:
        """Write the manifest atomically if it changed."""
        with self._lock:
            if not (self._dirty or force):
                return
            files = [dict(vars(e)) for _, e in sorted(self.entries.items())]
            self._dirty = False
            self._saved_at = time.monotonic()
        doc = {
            **self.header,
            **({"damaged": sorted(self.damaged)} if self.damaged else {}),
            "version": MANIFEST_VERSION,
            "written": _now(),
            "files": files,
        }
        atomic_write_text(self.path, _dump(doc))

    def save_every(self, seconds: float) -> None:
        """Save if it changed and the last save is older than ``seconds``."""
        if self._dirty and time.monotonic() - self._saved_at >= seconds:
            self.save()

    def __len__(self) -> int:
        return len(self.entries)


def _entry(item: Any) -> ManifestEntry | None:
    """A manifest entry from its JSON, or ``None`` if any field is missing or mistyped."""
    if not isinstance(item, dict):
        return None
    values: dict[str, Any] = {}
    for name, allowed, required in _entry_fields():
        if name not in item:
            if required:
                return None
            continue
        value = item[name]
        if isinstance(value, bool) or not isinstance(value, allowed):
            return None
        values[name] = value
    if not values["path"] or values["size"] < 0:
        return None
    return ManifestEntry(**values)


@functools.cache
def _entry_fields() -> tuple[tuple[str, tuple[type, ...], bool], ...]:
    """``ManifestEntry``'s fields as (name, the JSON types it accepts, required), worked out
    from its type hints once (a manifest of thousands of entries is read on every re-run)."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(ManifestEntry)
    return tuple(
        (
            f.name,
            tuple(
                a for a in typing.get_args(hints[f.name]) or (hints[f.name],) if isinstance(a, type)
            ),
            f.default is dataclasses.MISSING,
        )
        for f in dataclasses.fields(ManifestEntry)
    )


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def destination_lock(dest: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``dest`` so two downloads never write into it at once."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = dest / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DownloadError(
                f"another ppdata download is writing into {dest} (it holds {path}); wait for "
                "it to finish or choose another destination"
            ) from exc
        yield
    finally:
        os.close(fd)  # closing releases the lock


def md5_file(path: Path, *callbacks: CallbackLike) -> str:
    """The MD5 hex digest of a file, read in 4 MB blocks; ``callbacks`` see the bytes read."""
    import hashlib

    digest = hashlib.md5()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(HASH_BLOCK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            digest.update(view[:n])
            for callback in callbacks:
                callback.relative_update(n)
    return digest.hexdigest()


# -- verify -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyProblem:
    """A file that failed verification."""

    path: str
    problem: str  #: ``missing``, ``size`` or ``md5``
    expected: str
    found: str

    def __str__(self) -> str:
        if self.problem == "missing":
            return f"{self.path}: missing"
        return f"{self.path}: {self.problem} is {self.found}, expected {self.expected}"


@dataclass
class VerifyReport:
    """What :func:`verify` found.

    Attributes
    ----------
    dest : Path
        The folder checked.
    checked : int
        Files in the manifest.
    checks : Counter
        How many files got each check (``md5``: size and MD5; ``size``: size only).
    problems : list of VerifyProblem
        Files missing or different from what was downloaded. They are dropped from the
        manifest, so the next download of the same target fetches them again.
    bytes_read : int
        Bytes read to compute MD5s.
    seconds : float
        Time taken.
    """

    dest: Path
    checked: int = 0
    checks: Counter[str] = field(default_factory=Counter)
    problems: list[VerifyProblem] = field(default_factory=list)
    bytes_read: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every file matched."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """As JSON (``ppdata download --verify DEST --json``)."""
        return {
            "dest": str(self.dest),
            "checked": self.checked,
            "ok": self.ok,
            "checks": dict(self.checks),
            "problems": [asdict(p) for p in self.problems],
        }


def verify(
    dest: str | os.PathLike[str],
    *,
    jobs: int = 4,
    callback: CallbackLike | None = None,
    forget_bad: bool = True,
) -> VerifyReport:
    """Re-check every file of a destination's manifest: size, and MD5 where known.

    Only the files the manifest lists are looked at. Each one that is missing, has another
    size or another MD5 becomes a :class:`VerifyProblem` in the report; with ``forget_bad``
    it is also dropped from the manifest, which is saved once, at the end.

    Parameters
    ----------
    dest : path
        A folder ppdata downloaded into.
    jobs : int
        Files hashed concurrently.
    callback : Callback, optional
        Progress (see :mod:`ppdata.callbacks`): ``set_size`` is the bytes to hash, updated as
        they are read; ``branched(path, path, size=...)`` follows each file hashed.
    forget_bad : bool
        Drop entries that fail from the manifest, so the next download re-fetches them.

    Returns
    -------
    VerifyReport

    Raises
    ------
    DownloadError
        If ``dest`` holds no manifest.
    """
    dest = Path(dest)
    if not (dest / MANIFEST_NAME).is_file():
        raise DownloadError(
            f"{dest} has no {MANIFEST_NAME}: nothing was downloaded there by ppdata "
            "(give the folder passed as --dest)"
        )
    started = time.monotonic()
    manifest = Manifest.load(dest)
    entries = list(manifest.entries.values())
    report = VerifyReport(dest=dest, checked=len(entries))
    callback = resolve(callback)
    callback.set_size(sum(e.size for e in entries if e.md5))

    def one(entry: ManifestEntry) -> tuple[ManifestEntry, VerifyProblem | None, int]:
        path = dest / entry.path
        try:
            size = path.stat().st_size
        except OSError:
            return entry, VerifyProblem(entry.path, "missing", str(entry.size), "-"), 0
        if size != entry.size:
            return entry, VerifyProblem(entry.path, "size", str(entry.size), str(size)), 0
        if not entry.md5:
            return entry, None, 0
        with callback.branched(entry.path, str(path), size=size) as child:
            child.set_size(size)
            digest = md5_file(path, callback, child)
        if digest != entry.md5:
            return entry, VerifyProblem(entry.path, "md5", entry.md5, digest), size
        return entry, None, size

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for entry, problem, nread in pool.map(one, entries):
            report.bytes_read += nread
            if problem is None:
                report.checks[Check.MD5 if entry.md5 else Check.SIZE] += 1
            else:
                report.problems.append(problem)
                if forget_bad:
                    manifest.forget(entry.path)
    if forget_bad and report.problems:
        manifest.save()
    report.seconds = time.monotonic() - started
    return report


def _dump(doc: dict[str, Any]) -> str:
    """The manifest as JSON, one file a line: readable, and written by json's C encoder
    (``indent`` would take its pure-Python one, ~10x slower for thousands of files)."""
    files = doc.get("files", [])
    head = json.dumps({k: v for k, v in doc.items() if k != "files"})
    lines = ",\n  ".join(json.dumps(f) for f in files)
    body = f'"files": [\n  {lines}\n]' if files else '"files": []'
    return head[:-1] + (", " if head != "{}" else "") + body + "}\n"


def _now() -> str:
    """The time now, to the second, ISO 8601 in UTC."""
    return _iso_second(int(time.time()))


@functools.lru_cache(maxsize=1)
def _iso_second(second: int) -> str:
    # formatted once per second: thousands of small files finish within one
    return datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")
