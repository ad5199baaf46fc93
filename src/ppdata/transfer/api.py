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
from pathlib import Path
from typing import Any

from ..callbacks import CallbackLike, resolve
from ..errors import (
    DownloadError,
    InvalidName,
    UnsafeKey,
)
from ..remote.s3 import S3Client
from ..units import format_bytes
from .manifest import (
    Check,
    Manifest,
    ManifestEntry,
    VerifyReport,
    destination_lock,
    md5_file,
    verify,
)
from .model import (
    DownloadPlan,
    DownloadSummary,
    Existing,
    FileResult,
    FileStatus,
    PlannedFile,
    let_go,
)
from .plan import safe_relative_path

__all__ = [
    "Check",
    "VerifyReport",
    "download",
    "plan_download",
    "safe_relative_path",
    "verify",
]

logger = logging.getLogger(__name__)


def plan_download(
    target: str,
    *,
    client: S3Client | None = None,
    dest: str | os.PathLike[str] = ".",
    kinds: Iterable[str] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    versions: str = "current",
    fetch_ahead: int = 0,
) -> DownloadPlan:
    """List what a download of ``target`` would fetch (nothing is fetched unless
    ``fetch_ahead`` asks for it).

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
    fetch_ahead : int
        For a target that may be one object (a path or URL not ending in ``/``), start a GET
        of its first ``fetch_ahead`` bytes beside the listing that resolves it, for a
        :func:`download` of this plan to use: the download starts one round trip sooner.
        Not when a file is already at its destination. 0 (default): nothing is fetched.

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
            target,
            client,
            Path(dest),
            kinds,
            tuple(include),
            tuple(exclude),
            versions,
            fetch_ahead=fetch_ahead,
        )
    finally:
        if own:
            client.close()


# -- download -----------------------------------------------------------------------------


def download(
    target: str | DownloadPlan,
    *,
    client: S3Client | None = None,
    dest: str | os.PathLike[str] | None = None,
    kinds: Iterable[str] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    versions: str = "current",
    existing: Existing | str = Existing.SKIP,
    jobs: int | None = None,
    callback: CallbackLike | None = None,
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
    callback : Callback, optional
        Progress (see :mod:`ppdata.callbacks`): ``set_size`` is the bytes to fetch, updated
        as they arrive; ``branched(key, path, size=...)`` follows each file fetched.
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
    from .engine import DEFAULT_PART_SIZE, run_plan

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
                client=client,
                dest=dest if dest is not None else ".",
                kinds=kinds,
                include=include,
                exclude=exclude,
                versions=versions,
                fetch_ahead=part_size or DEFAULT_PART_SIZE,
            )
        if not plan.files and plan.refused and len(plan.refused) == 1:
            raise UnsafeKey(plan.refused[0].reason)
        summary = _download_plan(plan, client, policy, jobs, resolve(callback), part_size, run_plan)
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
    callback: CallbackLike,
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
        # the GETs started beside the listing, for the files still to fetch (the others'
        # bytes are let go), and what they cost when they were sent: both handed over once
        ahead = {f.key: plan.ahead.pop(f.key) for f in todo if f.key in plan.ahead}
        let_go(plan.ahead.values())
        requests = Counter(plan.requests)
        plan.ahead.clear()
        plan.requests = {}
        before = client.stats.snapshot()
        try:
            run_plan(
                client,
                todo,
                manifest,
                summary,
                callback=callback,
                jobs=jobs or client.settings.max_workers,
                part_size=part_size,
                ahead=ahead,
            )
        except KeyboardInterrupt as exc:
            exc.summary = summary  # type: ignore[attr-defined]  # what finished, for the CLI
            raise
        finally:
            manifest.save()
            spent = client.stats.snapshot() - before
            requests.update({op: c.requests for op, c in spent.by_operation.items()})
            summary.requests = {op: n for op, n in sorted(requests.items()) if n}
            summary.retries = spent.retries
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
