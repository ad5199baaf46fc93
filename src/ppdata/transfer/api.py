"""Download exactly what you need: session-aware, selective, parallel, resumable, verified.

Two steps, so a command line can show what it is about to do before doing it:

1. :func:`plan_download` resolves a target (a session, an asset, ``asset/sub/path`` or an
   ``s3://`` URL), lists it, applies ``include``/``exclude`` globs and refuses keys that would
   escape the destination. The :class:`DownloadPlan` has the files, their total size and the
   check each will get, and says whether it is big enough to ask for confirmation.
2. :func:`download` fetches the plan (see :mod:`ppdata.transfer.engine` for how): small files many
   at a time, large files in concurrent ranged parts written into a preallocated temporary
   file beside the final one; every file is renamed into place only after its size (and MD5,
   when the ETag is one) matched. A manifest in the destination makes re-runs instant, and
   :func:`ppdata.transfer.manifest.verify` re-checks everything.

Examples
--------
>>> plan = plan_download("ecephys_820459_2025-11-12_14-34-33", kinds=["sorted"],
...                      include=["nwb/*"], dest="data")
>>> plan.count > 0, plan.needs_confirmation()
(True, False)
>>> summary = download(plan)
>>> summary.ok, len(summary.fetched) == plan.count
(True, True)
>>> len(download(plan).skipped) == plan.count  # a re-run fetches nothing
True
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from ..errors import (
    DownloadError,
    InvalidName,
    PpdataError,
    UnsafeKey,
)
from ..remote.s3 import ObjectInfo, S3Client
from ..units import format_bytes, plural
from .manifest import (
    Check,
    Manifest,
    ManifestEntry,
    VerifyReport,
    destination_lock,
    md5_file,
    verify,
)
from .plan import safe_relative_path

__all__ = [
    "DEFAULT_CONFIRM_BYTES",
    "Check",
    "DownloadPlan",
    "DownloadSummary",
    "Existing",
    "FileResult",
    "FileStatus",
    "NullProgress",
    "PlannedFile",
    "ProgressCallback",
    "RefusedKey",
    "VerifyReport",
    "download",
    "plan_download",
    "safe_relative_path",
    "verify",
]

logger = logging.getLogger(__name__)

#: Above this many bytes a command line should ask before downloading (10 GB).
DEFAULT_CONFIRM_BYTES = 10 * 10**9


class Existing(StrEnum):
    """What to do with files already in the destination.

    ``skip``: keep files already downloaded and verified (recorded in the manifest and
    unchanged on disk, or matching the listing's size and MD5); fetch missing files. A
    local file that differs from the bucket and that ppdata did not download (it is not in
    the manifest) is kept and reported, never replaced (dandi-cli's semantics).
    ``refresh``: like ``skip``, and also fetch files whose ETag or size on the server differs
    from what was downloaded. ``overwrite``: fetch everything again. ``error``: refuse to
    start if any file is already there.
    """

    SKIP = "skip"
    OVERWRITE = "overwrite"
    REFRESH = "refresh"
    ERROR = "error"


class FileStatus(StrEnum):
    FETCHED = "fetched"
    SKIPPED = "skipped"
    KEPT = "kept"  #: a local file that differs from the bucket, left alone
    FAILED = "failed"


# -- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedFile:
    """One object to download and where it goes."""

    key: str
    size: int
    etag: str | None
    path: Path
    uri: str
    last_modified: datetime | None = None

    @cached_property
    def md5(self) -> str | None:
        """The MD5 the content must have (single-part ETags), else ``None``."""
        return ObjectInfo(self.key, self.size, self.etag).md5

    @property
    def check(self) -> Check:
        """The check the file will get: MD5 when the ETag is one, else size only."""
        return Check.MD5 if self.md5 else Check.SIZE

    @property
    def relpath(self) -> str:
        """The path under the destination (the key)."""
        return self.key


@dataclass(frozen=True)
class RefusedKey:
    """A key that will not be downloaded, and why."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key!r}: {self.reason}"


@dataclass
class DownloadPlan:
    """What a download would fetch.

    Attributes
    ----------
    target : str
        The target as given.
    dest : Path
        The destination folder; each file goes to ``dest/<key>``.
    bucket, endpoint_url : str
        Where the files come from.
    roots : list of str
        The key prefixes (or single keys) the target resolved to.
    assets : list of str
        Asset names, when the target is a session or an asset.
    files : list of PlannedFile
        The files, in listing order.
    refused : list of RefusedKey
        Keys left out because they would escape the destination or clash.
    warnings : list of str
        Things worth telling (an include glob that matched nothing while others did).
    """

    target: str
    dest: Path
    bucket: str
    endpoint_url: str | None
    roots: list[str] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)
    files: list[PlannedFile] = field(default_factory=list)
    refused: list[RefusedKey] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.files)

    def to_frame(self) -> Any:
        """One row per planned file: ``key, size, check, path`` (a pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame(
            [[f.key, f.size, str(f.check), str(f.path)] for f in self.files],
            columns=["key", "size", "check", "path"],
        )

    def __repr__(self) -> str:
        refused = f", {len(self.refused):,} refused" if self.refused else ""
        return (
            f"<DownloadPlan {self.target}: {plural(self.count, 'file')}, "
            f"{format_bytes(self.total_bytes)} into {self.dest}{refused}; .to_frame() lists "
            "them>"
        )

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def checks(self) -> Counter[Check]:
        """How many files get each check."""
        return Counter(f.check for f in self.files)

    def needs_confirmation(self, threshold_bytes: int = DEFAULT_CONFIRM_BYTES) -> bool:
        """True when the download is larger than ``threshold_bytes`` (default 10 GB)."""
        return self.total_bytes > threshold_bytes

    def confirmation_message(self) -> str:
        """What to tell a user before a large download."""
        msg = (
            f"this downloads {format_bytes(self.total_bytes)} in {self.count:,} files "
            f"from {self.target}"
        )
        raw = any(
            "_sorted_" not in a
            and "_processed_" not in a
            and "_nwb_" not in a
            and not a.endswith("_ccf")
            for a in self.assets
        )
        hint = (
            "; streaming the NWB (ppdata nwb) is usually what is wanted instead of the raw data"
            if raw or not self.assets
            else "; streaming the NWB (ppdata nwb) avoids downloading"
        )
        return msg + hint

    def _repr_html_(self) -> str:
        from .._html import plan_html

        return plan_html(self)


def plan_download(
    target: str,
    client: S3Client | None = None,
    *,
    dest: str | os.PathLike[str] = ".",
    kinds: Iterable[str] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    versions: str = "current",
) -> DownloadPlan:
    """List what a download of ``target`` would fetch, without fetching anything.

    Parameters
    ----------
    target : str
        A session name (all its assets, or the ``kinds`` chosen), an asset name, a path
        inside an asset (``<asset>/nwb``, ``<asset>/data_description.json``) or an
        ``s3://<bucket>/<key or prefix>`` URL of the configured bucket.
    client : S3Client, optional
        Where to read (default: one from :meth:`Settings.resolve`).
    dest : path
        Destination folder; files go to ``dest/<key>`` (the bucket's layout).
    kinds : iterable of str, optional
        For a session: only these asset kinds (``raw``, ``sorted``, ``planar-ophys``,
        ``behavior-videos``, ``behavior-timing``, ``nwb``, ``ccf``).
    include, exclude : iterable of str
        Shell globs matched against each file's path inside its asset (``nwb/*``,
        ``*.json``) and against its whole key; ``*`` also matches ``/``. A file is kept if
        it matches any ``include`` (or none are given) and no ``exclude``.
    versions : {"current", "all"}
        For a session: only the newest asset of each kind (default), or every version.

    Returns
    -------
    DownloadPlan

    Raises
    ------
    SessionNotFound, AssetNotFound, NotFound
        If the target does not exist; the message says what there is instead.
    NotFound
        If the globs match no file (the message lists what is there).
    DownloadError
        If an ``s3://`` URL names another bucket, or the target is the whole bucket.
    """
    from .plan import build_plan

    own = client is None
    client = client or S3Client()
    try:
        return build_plan(
            target, client, Path(dest), kinds, tuple(include), tuple(exclude), versions
        )
    finally:
        if own:
            client.close()


# -- progress and results -----------------------------------------------------------------


class ProgressCallback(Protocol):
    """What :func:`download` tells about its progress. Called from worker threads."""

    def start(self, total_bytes: int, total_files: int) -> None: ...
    def file_started(self, file: PlannedFile) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def file_done(self, result: FileResult) -> None: ...


class NullProgress:
    """A progress callback that does nothing (the default); subclass to draw bars."""

    def start(self, total_bytes: int, total_files: int) -> None:
        return None

    def file_started(self, file: PlannedFile) -> None:
        return None

    def advance(self, nbytes: int) -> None:
        return None

    def file_done(self, result: FileResult) -> None:
        return None


@dataclass(frozen=True)
class FileResult:
    """What happened to one file."""

    key: str
    path: Path
    status: FileStatus
    size: int
    check: str | None = None  #: ``md5``/``size`` after a fetch; ``manifest`` when skipped
    transferred: int = 0  #: bytes received for it in this run
    resumed: int = 0  #: bytes an interrupted run had already fetched
    message: str = ""


@dataclass
class DownloadSummary:
    """What :func:`download` did.

    Attributes
    ----------
    results : list of FileResult
        One per planned file.
    refused : list of RefusedKey
        Keys not downloaded because they were unsafe.
    bytes_transferred : int
        Bytes received from the server in this run.
    seconds : float
        Wall time.
    requests : dict
        HTTP requests made during the transfer, by S3 operation (``GetObject``...).
    notes : list of str
        Things that happened: files restarted because they changed on the server, resumed
        files.
    """

    dest: Path
    results: list[FileResult] = field(default_factory=list)
    refused: list[RefusedKey] = field(default_factory=list)
    bytes_transferred: int = 0
    seconds: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    notes: list[str] = field(default_factory=list)

    def _of(self, status: FileStatus) -> list[FileResult]:
        return [r for r in self.results if r.status is status]

    @property
    def fetched(self) -> list[FileResult]:
        return self._of(FileStatus.FETCHED)

    @property
    def skipped(self) -> list[FileResult]:
        return self._of(FileStatus.SKIPPED)

    @property
    def failed(self) -> list[FileResult]:
        return self._of(FileStatus.FAILED)

    @property
    def kept(self) -> list[FileResult]:
        """Local files that differ from the bucket, left alone (see :class:`Existing`)."""
        return self._of(FileStatus.KEPT)

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    @property
    def checks(self) -> Counter[str]:
        """How many files got each check (``md5``, ``size``, ``manifest``)."""
        return Counter(
            r.check for r in self.results if r.check and r.status is not FileStatus.FAILED
        )

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_transferred / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        """A one-line summary."""
        kept = f"{len(self.kept):,} kept (differ from the bucket), " if self.kept else ""
        text = (
            f"{len(self.fetched):,} fetched, {len(self.skipped):,} skipped, {kept}"
            f"{len(self.failed):,} failed; {format_bytes(self.bytes_transferred)} in "
            f"{self.seconds:.1f} s ({format_bytes(self.bytes_per_second)}/s)"
        )
        if self.refused:
            text += f"; {plural(len(self.refused), 'unsafe key')} refused"
        return text

    @property
    def files(self) -> Any:
        """One row per file: ``key, path, status, size, check, transferred, resumed,
        message`` (a pandas DataFrame)."""
        import pandas as pd

        columns = ["key", "path", "status", "size", "check", "transferred", "resumed", "message"]
        return pd.DataFrame(
            [
                [
                    r.key,
                    str(r.path),
                    str(r.status),
                    r.size,
                    r.check,
                    r.transferred,
                    r.resumed,
                    r.message,
                ]
                for r in self.results
            ],
            columns=columns,
        )

    def __repr__(self) -> str:
        return f"<DownloadSummary {self.dest}: {self.describe()}; .files has the details>"

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(str(status))}</td><td>{n:,}</td></tr>"
            for status, n in Counter(str(r.status) for r in self.results).items()
        )
        return (
            f"<p><b>Download into {escape(str(self.dest))}</b>: {escape(self.describe())}</p>"
            f"<table><tr><th>status</th><th>files</th></tr>{rows}</table>"
            "<p><code>.files</code> is a DataFrame with one row per file.</p>"
        )

    def raise_for_failures(self) -> None:
        """Raise :class:`DownloadError` naming the failed files, if any."""
        failed = self.failed
        if not failed:
            return
        lines = "; ".join(f"{r.key}: {r.message}" for r in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        err = DownloadError(
            f"{len(failed):,} of {plural(len(self.results), 'file')} failed: {lines}{more}. "
            "Re-run the same "
            "download to retry them; completed files and parts are kept"
        )
        err.summary = self  # type: ignore[attr-defined]
        raise err


# -- download -----------------------------------------------------------------------------


def download(
    target: str | DownloadPlan,
    client: S3Client | None = None,
    *,
    dest: str | os.PathLike[str] | None = None,
    kinds: Iterable[str] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    versions: str = "current",
    existing: Existing | str = Existing.SKIP,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    part_size: int | None = None,
    raise_on_error: bool = True,
) -> DownloadSummary:
    """Download a target (or a plan from :func:`plan_download`) into ``dest``.

    Parameters
    ----------
    target : str or DownloadPlan
        What to download (see :func:`plan_download`), or a plan made before.
    client : S3Client, optional
        Where to read (default: one from :meth:`Settings.resolve`, or matching the plan).
    dest, kinds, include, exclude, versions
        As for :func:`plan_download` (only with a target, not with a plan). ``dest``
        defaults to the current folder.
    existing : Existing or str
        What to do with files already there: ``skip`` (default), ``refresh``,
        ``overwrite`` or ``error`` (see :class:`Existing`).
    jobs : int, optional
        Concurrent requests (default: the client's ``max_workers``).
    progress : ProgressCallback, optional
        Told about bytes and files as they arrive (default: nothing).
    part_size : int, optional
        Size of the ranged parts of large files (default 16 MiB); files over twice this
        size are fetched in parts.
    raise_on_error : bool
        Raise :class:`DownloadError` at the end if any file failed (the error's ``summary``
        attribute holds the summary). With ``False`` the summary reports them instead.

    Returns
    -------
    DownloadSummary

    Raises
    ------
    DownloadError
        If the destination cannot be written or lacks space, if ``existing="error"`` and a
        file is there, or (with ``raise_on_error``) if any file failed.
    SessionNotFound, AssetNotFound, NotFound, UnsafeKey
        As for :func:`plan_download`; :class:`UnsafeKey` when the only key asked for is
        unsafe.
    KeyboardInterrupt
        Passed on after the transfers stop, with the summary of what finished as its
        ``summary`` attribute; a re-run resumes where this one stopped.

    Examples
    --------
    >>> s = download("ecephys_820459_2025-11-12_14-34-33", kinds=["sorted"], dest="data")
    >>> s.describe()  # doctest: +ELLIPSIS
    '... fetched, ... skipped, 0 failed; ... in ... s (.../s)'
    """
    from .engine import run_plan

    try:
        policy = Existing(str(existing).lower())
    except ValueError:
        raise InvalidName(
            f"existing must be one of {', '.join(Existing)}, not {existing!r}"
        ) from None
    started = time.monotonic()
    own = client is None
    if isinstance(target, DownloadPlan):
        if dest is not None or kinds is not None or include or exclude:
            raise TypeError(
                "dest, kinds, include and exclude belong to the plan; pass them to plan_download"
            )
        plan = target
        if client is None:
            from ..settings import Settings

            client = S3Client(Settings.resolve(bucket=plan.bucket, endpoint_url=plan.endpoint_url))
    else:
        client = client or S3Client()
    try:
        if not isinstance(target, DownloadPlan):
            plan = plan_download(
                target,
                client,
                dest=dest if dest is not None else ".",
                kinds=kinds,
                include=include,
                exclude=exclude,
                versions=versions,
            )
        if not plan.files and plan.refused and len(plan.refused) == 1:
            raise UnsafeKey(plan.refused[0].reason)
        summary = _download_plan(
            plan, client, policy, jobs, progress or NullProgress(), part_size, run_plan
        )
        summary.seconds = time.monotonic() - started  # planning included
    finally:
        if own:
            client.close()
    if raise_on_error:
        summary.raise_for_failures()
    return summary


def _download_plan(
    plan: DownloadPlan,
    client: S3Client,
    policy: Existing,
    jobs: int | None,
    progress: ProgressCallback,
    part_size: int | None,
    run_plan: Any,
) -> DownloadSummary:
    started = time.monotonic()
    dest = plan.dest
    _prepare_destination(dest)
    summary = DownloadSummary(dest=dest, refused=list(plan.refused))
    with destination_lock(dest):
        manifest = Manifest.load(dest)
        manifest.header.update({"bucket": plan.bucket, "endpoint_url": plan.endpoint_url})
        todo, skipped = _sort_existing(plan, manifest, policy)
        summary.results.extend(skipped)
        _check_free_space(dest, todo)
        before = client.stats.snapshot()
        try:
            run_plan(
                client,
                todo,
                manifest,
                summary,
                progress=progress,
                jobs=jobs or client.settings.max_workers,
                part_size=part_size,
            )
        except KeyboardInterrupt as exc:
            exc.summary = summary  # type: ignore[attr-defined]  # what finished, for the CLI
            raise
        finally:
            manifest.save()
            after = client.stats.snapshot()
            summary.requests = {
                op: v["requests"] - before["by_operation"].get(op, {}).get("requests", 0)
                for op, v in after["by_operation"].items()
                if v["requests"] - before["by_operation"].get(op, {}).get("requests", 0)
            }
            summary.retries = after["retries"] - before["retries"]
            summary.seconds = time.monotonic() - started
    return summary


def _prepare_destination(dest: Path) -> None:
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot create the destination folder {dest}: {exc.strerror or exc}; choose "
            "another --dest"
        ) from exc
    try:
        with tempfile.NamedTemporaryFile(dir=dest, prefix=".ppdata-probe-"):
            pass
    except OSError as exc:
        raise DownloadError(
            f"the destination folder {dest} is not writable ({exc.strerror or exc}); choose "
            "another --dest"
        ) from exc


def _check_free_space(dest: Path, todo: list[PlannedFile]) -> None:
    from .parts import resumable_bytes

    need = sum(f.size for f in todo) - resumable_bytes(todo)
    if need <= 0:
        return
    free = shutil.disk_usage(dest).free
    if need > free:
        raise DownloadError(
            f"not enough free space in {dest}: the download needs {format_bytes(need)} but "
            f"only {format_bytes(free)} is free; free some space, choose another --dest, or "
            "narrow the download with --kind/--include"
        ) from OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _sort_existing(
    plan: DownloadPlan,
    manifest: Manifest,
    policy: Existing,
) -> tuple[list[PlannedFile], list[FileResult]]:
    """Split the plan into files to fetch and files to skip, without any request."""
    todo: list[PlannedFile] = []
    skipped: list[FileResult] = []
    present: list[PlannedFile] = []
    for f in plan.files:
        if policy is Existing.OVERWRITE:
            todo.append(f)
            continue
        if policy is Existing.ERROR:
            if f.path.exists():
                present.append(f)
            todo.append(f)
            continue
        entry = manifest.get(f.relpath)
        if entry is not None and entry.matches_disk(plan.dest):
            same = entry.etag == f.etag and entry.size == f.size
            if policy is Existing.SKIP or same:
                skipped.append(
                    FileResult(f.key, f.path, FileStatus.SKIPPED, f.size, check="manifest")
                )
                continue
            logger.info("%s changed on the server since it was downloaded; fetching it", f.uri)
            todo.append(f)
            continue
        check = _check_local(f)
        if check is not None:
            manifest.record(ManifestEntry.for_file(f, check))
            skipped.append(FileResult(f.key, f.path, FileStatus.SKIPPED, f.size, check=check))
        elif entry is None and f.relpath not in manifest.damaged and f.path.is_file():
            skipped.append(
                FileResult(
                    f.key,
                    f.path,
                    FileStatus.KEPT,
                    f.size,
                    message="differs from the bucket and was not downloaded by ppdata; kept "
                    "(use --existing overwrite to replace it)",
                )
            )
        else:
            todo.append(f)
    if present:
        raise DownloadError(
            f"{len(present)} of the {plan.count} files are already in {plan.dest} "
            f"(e.g. {present[0].path}); use --existing skip, refresh or overwrite"
        )
    return todo, skipped


def _check_local(f: PlannedFile) -> str | None:
    """Adopt a file already on disk that matches the listing (size, and MD5 when known)."""
    try:
        st = f.path.stat()
    except OSError:
        return None
    if not f.path.is_file() or st.st_size != f.size:
        return None
    if f.md5 is None:
        return str(Check.SIZE)
    return str(Check.MD5) if md5_file(f.path) == f.md5 else None


def _error_text(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, PpdataError) else f"{type(exc).__name__}: {exc}"
