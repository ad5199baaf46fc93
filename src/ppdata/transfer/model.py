"""The download model: what a plan holds and what happened to each file.

Plain dataclasses and enums with no I/O: :mod:`ppdata.transfer.plan` fills a
:class:`DownloadPlan`, :mod:`ppdata.transfer.engine` turns it into :class:`FileResult` s and a
:class:`DownloadSummary`, and :mod:`ppdata.transfer.api` ties them together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from ..errors import DownloadError
from ..remote.s3 import ObjectInfo
from ..units import format_bytes, plural
from .manifest import Check

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..remote.transport import Body


class Ahead(NamedTuple):
    """The GET of an object's first bytes sent beside its listing (its reply's headers have
    come): the body, left for the download to read straight into the file, and what the
    reply said of the object. Let go unread with :meth:`close`."""

    body: Body
    info: ObjectInfo

    def close(self) -> None:
        self.body.close()


def let_go(aheads: Iterable[Future[Ahead | None]]) -> None:
    """Close, unread, the replies of GETs sent ahead that no download will read: each as it
    comes, without waiting for it."""
    for future in aheads:
        future.add_done_callback(_close_reply)


def _close_reply(future: Future[Ahead | None]) -> None:
    got = None if future.cancelled() or future.exception() else future.result()
    if got is not None:
        got.close()


__all__ = [
    "DEFAULT_CONFIRM_BYTES",
    "DownloadPlan",
    "DownloadSummary",
    "Existing",
    "FileResult",
    "FileStatus",
    "PlannedFile",
    "RefusedKey",
]

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
    ahead : dict
        With ``fetch_ahead``: for a target that is one object, its key and the GET of its
        first bytes started beside the listing (a future of an :class:`Ahead`, or of
        ``None`` when that GET failed); :func:`download` of the plan reads its body.
    requests : dict
        The requests planning sent towards the transfer, by S3 operation: the GET of
        ``ahead`` (each attempt sent by the end of planning). The listings are not counted.
        :func:`download` of the plan counts them in its summary's ``requests``.
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
    ahead: dict[str, Future[Ahead | None]] = field(default_factory=dict, repr=False, compare=False)
    requests: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

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

    def to_dict(self) -> dict[str, Any]:
        """As JSON (``ppdata download --dry-run --json``): target, dest, count, total_bytes,
        assets, files (key, size, check, path) and refused keys."""
        return {
            "target": self.target,
            "dest": str(self.dest),
            "count": self.count,
            "total_bytes": self.total_bytes,
            "assets": self.assets,
            "files": [
                {"key": f.key, "size": f.size, "check": str(f.check), "path": str(f.path)}
                for f in self.files
            ],
            "refused": [{"key": r.key, "reason": r.reason} for r in self.refused],
        }

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


# -- results -----------------------------------------------------------------


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


class _Results:
    """A read-only attribute of :class:`DownloadSummary`: its results of one status."""

    def __init__(self, status: FileStatus, doc: str = "") -> None:
        self.status = status
        self.__doc__ = doc or f"The files {status.value}."

    @overload
    def __get__(self, summary: None, owner: type) -> _Results: ...
    @overload
    def __get__(self, summary: DownloadSummary, owner: type) -> list[FileResult]: ...
    def __get__(self, summary: DownloadSummary | None, owner: type) -> _Results | list[FileResult]:
        if summary is None:  # on the class: the attribute itself (help, docs)
            return self
        return [r for r in summary.results if r.status is self.status]

    def __set__(self, summary: DownloadSummary, value: object) -> None:
        raise AttributeError(f"{self.status.value} is read-only: it is read from the results")


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

    fetched = _Results(FileStatus.FETCHED)
    skipped = _Results(FileStatus.SKIPPED)
    failed = _Results(FileStatus.FAILED)
    kept = _Results(
        FileStatus.KEPT,
        "Local files that differ from the bucket, left alone (see :class:`Existing`).",
    )

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

    def to_dict(self) -> dict[str, Any]:
        """As JSON (``ppdata download --json``): counts by status, bytes, time, checks,
        requests by operation, the kept files and the failures."""
        return {
            "dest": str(self.dest),
            "fetched": len(self.fetched),
            "skipped": len(self.skipped),
            "kept": [{"key": r.key, "path": str(r.path)} for r in self.kept],
            "failed": len(self.failed),
            "bytes_transferred": self.bytes_transferred,
            "seconds": self.seconds,
            "checks": dict(self.checks),
            "requests": self.requests,
            "failures": [{"key": r.key, "message": r.message} for r in self.failed],
        }

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
