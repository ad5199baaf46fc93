"""The local catalog: the tracking spreadsheet joined with what is on S3, kept in SQLite.

One row per session: platform, subject, acquisition datetime, which asset kinds exist (the
guide's availability matrix), the current asset of each kind, QC status (the spreadsheet's
and the assets' own), notes, whether it is on S3, and when the row was last refreshed.

Refreshing costs requests in proportion to the catalog, never to the bucket:

- one delimiter listing per *subject prefix* (``Prefix="<platform>_<subject>_"``, or
  ``"<subject>_"`` for unprefixed schema-v2 names), made concurrently. It returns the
  subject's raw and derived folders *and* its ``ecephys_<subject>_ccf`` asset, and it is
  how sessions on S3 that the spreadsheet does not list are discovered (``discover=True``):
  only other sessions of subjects already known, never by listing the bucket;
- per session a fingerprint (hash of its sorted asset names). Only a new asset name costs
  more: one listing of a ``_processed_`` asset to classify it, one GET of its
  ``quality_control.json``, and for an unprefixed session whose platform the spreadsheet
  does not give, one listing of its raw folder. Asset names are immutable, so a kind once
  found is kept; ``full=True`` reads everything again (QC edited in place, assets that were
  ``unknown`` while being uploaded).

All network I/O happens before one write transaction, so a failed refresh leaves the
previous catalog as it was. The database is a cache: a damaged file or a schema this code
does not know is rebuilt with a :class:`CatalogWarning`, never a crash.

Examples
--------
>>> from ppdata import Settings
>>> settings = Settings.resolve()
>>> catalog = Catalog(settings)
>>> report = catalog.refresh()
>>> sorted(catalog.sessions(platform="mesoscope", has="planar-ophys")["session"])
['multiplane-ophys_832700_2026-01-24_12-06-12', 'multiplane-ophys_837568_2026-03-05_14-14-51']
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import re
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._keywords import check_keywords
from ...callbacks import CallbackLike, resolve
from ...errors import BucketUnreachable, CatalogError, InvalidName, SessionNotFound
from ...naming import parse_name
from ...settings import Settings
from . import _refresh, _schema
from ._query import InvalidFilter, SessionFilters, resolve_platform, session_records
from ._refresh import RefreshReport
from ._schema import MATRIX_KINDS, SCHEMA_VERSION

if TYPE_CHECKING:
    import pandas as pd
    from typing_extensions import Unpack

    from ...remote.s3 import S3Client

__all__ = [
    "MATRIX_KINDS",
    "SCHEMA_VERSION",
    "Catalog",
    "CatalogInfo",
    "CatalogWarning",
    "InvalidFilter",
    "RefreshReport",
    "SessionFilters",
    "format_age",
    "resolve_platform",
    "session_records",
]

logger = logging.getLogger(__name__)


class CatalogWarning(UserWarning):
    """The catalog had to be rebuilt (damaged file or unknown schema); refresh it."""


def format_age(age: timedelta | None) -> str:
    """``"3 min ago"``-style text for an age (``"never"`` for ``None``).

    >>> format_age(timedelta(minutes=3, seconds=10))
    '3 min ago'
    """
    if age is None:
        return "never"
    seconds = max(0, int(age.total_seconds()))
    if seconds < 10:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return f"{seconds} s ago"


@dataclass(frozen=True)
class CatalogInfo:
    """What ``ppdata catalog info`` shows.

    ``last_refresh`` is the last refresh of any kind; ``oldest_row`` the least recently
    refreshed session, which is what :attr:`age` measures (a refresh of a few sessions does
    not make the rest younger).
    """

    path: Path
    schema_version: int
    sessions: int
    on_s3: int
    missing: int
    last_refresh: datetime | None
    oldest_row: datetime | None
    size_bytes: int
    bucket: str
    endpoint: str
    spreadsheet: str | None

    @property
    def age(self) -> timedelta | None:
        """How old the oldest row is (``None`` if never refreshed)."""
        return _schema.utcnow() - self.oldest_row if self.oldest_row else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        out["age_seconds"] = round(self.age.total_seconds(), 1) if self.age else None
        out["age"] = format_age(self.age)
        return out


class Catalog:
    """The local session catalog of one bucket and endpoint.

    Parameters
    ----------
    settings : Settings, optional
        ``settings.catalog_path`` is the database, ``settings.spreadsheet`` the tracking
        spreadsheet (default: :meth:`Settings.resolve`).

    Attributes
    ----------
    path : Path
        The SQLite file (WAL mode: readers never wait for a refresh).
    warnings : list of str
        Why the database had to be rebuilt, if it had (also issued as
        :class:`CatalogWarning`).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.resolve()
        self.path = Path(self.settings.catalog_path)
        self.warnings: list[str] = []
        self._checked = False
        self._suspect = False  # an operation failed: check every page next time
        # The whole table of one generation, kept once it is asked for twice (see sessions)
        self._snapshot: tuple[str, pd.DataFrame, pd.Index] | None = None
        self._uncached: set[str] = set()

    # -- the database file ----------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot open the catalog {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._checked:
            self._check()
        con = self._open()
        try:
            yield con
        except sqlite3.DatabaseError as exc:
            if re.search(r"locked|busy", str(exc)):
                raise CatalogError(
                    f"the catalog {self.path} is busy ({exc}): another ppdata is refreshing "
                    "it; try again in a moment"
                ) from exc
            self._checked, self._suspect, self._snapshot = False, True, None
            raise CatalogError(
                f"the catalog {self.path} cannot be read ({exc}); it is checked, and rebuilt "
                "if damaged, on its next use"
            ) from exc
        finally:
            con.close()

    def _check(self) -> None:
        """Open the database once per instance: create, migrate, or rebuild it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(
                f"cannot create the catalog folder {self.path.parent}: {exc}; choose another "
                "with --cache-dir or PPDATA_CACHE_DIR"
            ) from exc
        con = self._open()
        try:
            problem = _schema.problem(con, thorough=self._suspect)
        except sqlite3.DatabaseError as exc:
            problem = f"it is not a readable SQLite database ({exc})"
        finally:
            con.close()
        if problem is not None:
            self._rebuild(problem)
        self._checked, self._suspect = True, False

    def _rebuild(self, problem: str) -> None:
        message = (
            f"the catalog {self.path} was rebuilt empty because {problem}; "
            "run `ppdata catalog refresh` to fill it again"
        )
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        try:
            os.replace(self.path, f"{self.path}.bad")  # kept for a post-mortem, replaced next time
        except OSError:
            self.path.unlink(missing_ok=True)
        con = self._open()
        try:
            _schema.create(con)
        finally:
            con.close()
        self._snapshot = None
        self.warnings.append(message)
        logger.info("%s", message)  # users see the warning, once
        warnings.warn(message, CatalogWarning, stacklevel=5)

    # -- reading --------------------------------------------------------------------------
    def info(self) -> CatalogInfo:
        """Path, schema version, counts, last refresh and age (no network)."""
        with self._connect() as con:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            total, on_s3, oldest = con.execute(
                "SELECT count(*), coalesce(sum(on_s3), 0), min(refreshed_at) FROM sessions"
            ).fetchone()
        files = (self.path, Path(f"{self.path}-wal"))
        return CatalogInfo(
            path=self.path,
            schema_version=int(meta.get("schema_version", _schema.SCHEMA_VERSION)),
            sessions=total,
            on_s3=on_s3,
            missing=total - on_s3,
            last_refresh=_schema.parse_time(meta.get("last_refresh")),
            oldest_row=_schema.parse_time(oldest),
            size_bytes=sum(p.stat().st_size for p in files if p.exists()),
            bucket=self.settings.bucket,
            endpoint=self.settings.where,
            spreadsheet=meta.get("spreadsheet"),
        )

    @property
    def is_empty(self) -> bool:
        """True if the catalog holds no session (typically: never refreshed)."""
        with self._connect() as con:
            return con.execute("SELECT 1 FROM sessions LIMIT 1").fetchone() is None

    @staticmethod
    def _check_statuses(
        con: sqlite3.Connection, column: str, wanted: str | Sequence[str] | None
    ) -> None:
        """Refuse a QC status that is neither a known one nor in the catalog (a typo such
        as ``passed`` would otherwise silently match nothing). Only a status that is not
        a known one is looked up."""
        from ._query import BLANK_STATUSES, QC_STATUSES, InvalidFilter

        values = [wanted] if isinstance(wanted, str) else list(wanted or [])
        known = {v.lower() for v in (*QC_STATUSES, *BLANK_STATUSES)}
        if all(v.strip().lower() in known for v in values):
            return
        found = {
            str(r[0])
            for r in con.execute(f"SELECT DISTINCT {column} FROM sessions")
            if r[0] is not None
        }
        valid = {v.lower(): v for v in (*QC_STATUSES, *sorted(found))}
        valid.update({"none": "none"})
        bad = [
            v for v in values if v.strip().lower() not in valid and v.strip().lower() not in known
        ]
        if bad:
            option = "--qc" if column == "qc_status" else "asset_qc"
            raise InvalidFilter(
                f"{option} {bad[0]!r} is not a QC status; use one of "
                f"{', '.join(sorted(set(valid.values()), key=str.lower))} (case does not matter)"
            )

    def sessions(self, **filters: Unpack[SessionFilters]) -> pd.DataFrame:
        """The session table, filtered in SQL, newest acquisition first.

        Parameters
        ----------
        **filters
            Any of the keywords below (:class:`SessionFilters`); each one left out, or
            ``None``, does not filter.
        platform : str or sequence of str, optional
            Platform prefix or modality, case-insensitive: ``ecephys``/``neuropixels``,
            ``multiplane-ophys``/``mesoscope``, ``SLAP2``.
        subject : str or sequence of str, optional
            Subject (mouse) ids.
        since, until : str or date, optional
            Acquired on or after ``since``, on or before ``until`` (a date alone includes
            that whole day). ISO text (``2025-01-31``, ``2025-01-31T12:00``) or a date.
        qc : str or sequence of str, optional
            The spreadsheet's QC status (``Pass``, ``Fail``, ``Pending``; ``none`` = blank).
        asset_qc : str or sequence of str, optional
            The QC status combined from the current assets' ``quality_control.json``.
        has : str or sequence of str, optional
            Asset kinds the session must all have (``sorted``, ``planar-ophys``, ``nwb`` ...).
        search : str, optional
            Case-insensitive text in the session name, subject or notes.
        on_s3 : bool, optional
            Only sessions on S3 (``True``) or only those missing from it (``False``).

        Returns
        -------
        pandas.DataFrame
            One row per session: ``session, platform, modality, subject, acquired,
            qc_status, asset_qc_status, on_s3, in_spreadsheet, n_assets, kinds`` (tuple),
            ``has_<kind>`` (bool) for every kind, ``current_<kind>`` (the current asset's
            name) for the matrix kinds, ``notes`` and ``refreshed_at`` (UTC). In column
            names a kind's ``-`` is ``_`` (``has_planar_ophys``).

        Raises
        ------
        CatalogError
            If the catalog has never been refreshed.
        InvalidFilter
            For an unknown platform or kind, or a date that cannot be read.
        TypeError
            For a keyword that is not one of the filters.

        Examples
        --------
        >>> catalog = Catalog(Settings.resolve())
        >>> _ = catalog.refresh()
        >>> catalog.sessions(platform="neuropixels", has=["sorted", "ccf"])["session"].tolist()
        ['ecephys_820459_2025-11-12_14-34-33']
        """
        import numpy as np
        import pandas as pd

        from ._query import SELECT, frame, where

        check_keywords(filters, tuple(SessionFilters.__annotations__), "sessions()")
        conditions, params = where(filters)
        clause = " WHERE " + " AND ".join(conditions) if conditions else ""
        # Fetching rows costs more than filtering them, so a Catalog used again and again
        # (a notebook) keeps the whole table of the current generation (a token every write
        # changes) and selects rows by the rowids SQL finds. A single query (the CLI) only
        # fetches the rows it needs.
        with self._connect() as con:
            con.execute("BEGIN")  # one consistent snapshot for every read below
            self._check_statuses(con, "qc_status", filters.get("qc"))
            self._check_statuses(con, "asset_qc_status", filters.get("asset_qc"))
            row = con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            generation = row[0] if row else None
            cached = self._snapshot if self._snapshot and self._snapshot[0] == generation else None
            if cached is None and generation and (not conditions or generation in self._uncached):
                table, rowids = frame(con.execute(f"SELECT {SELECT} FROM sessions").fetchall())
                cached = self._snapshot = (generation, table, pd.Index(rowids))
            if cached is None:
                self._uncached.add(generation or "")
                result = frame(
                    con.execute(f"SELECT {SELECT} FROM sessions{clause}", params).fetchall()
                )[0]
            elif conditions:
                ids = [r[0] for r in con.execute(f"SELECT rowid FROM sessions{clause}", params)]
                positions = np.sort(cached[2].get_indexer(ids))
                result = cached[1].take(positions).reset_index(drop=True)
            else:
                result = cached[1].copy()
            if result.empty:
                self._require_refreshed(con)
            con.execute("COMMIT")
        return result

    def _require_refreshed(self, con: sqlite3.Connection) -> None:
        if con.execute("SELECT 1 FROM meta WHERE key = 'last_refresh'").fetchone() is None:
            raise CatalogError(
                f"the catalog {self.path} is empty: run `ppdata catalog refresh` when online, "
                "or use a mirror (`ppdata mirror serve`, then --endpoint-url)"
            )

    def suggest(self, name: str, n: int = 5) -> list[str]:
        """Session names close to ``name`` (did-you-mean), best first.

        A derived name is reduced to its session first. An SQL pre-ranking by the name
        parts it shares (subject, date, time; the platform only if nothing else matches)
        keeps at most 20 candidates for difflib, so a look-up stays fast on 10,000 sessions.
        """
        if not self.path.exists():
            return []  # no catalog yet: nothing to suggest, and nothing to create for it
        text = name.strip().strip("/")
        with contextlib.suppress(InvalidName):
            text = parse_name(text).raw_name or text
        tokens = [t for t in re.split(r"[_\s/]+", text.lower().replace(":", "-")) if len(t) > 2]
        rare = [t for t in tokens if resolve_platform(t) is None]
        with self._connect() as con:
            rows: list[tuple[str, ...]] = []
            for group in (g for g in (rare, tokens) if g):
                score = " + ".join(f"(instr(lower(session), ?) > 0) * {len(t)}" for t in group)
                rows = con.execute(
                    f"SELECT session, {score} AS score FROM sessions WHERE score > 0 "
                    "ORDER BY score DESC LIMIT 20",
                    group,
                ).fetchall()
                if rows:
                    break
        pool = {r[0].lower(): r[0] for r in rows}
        return [pool[c] for c in difflib.get_close_matches(text.lower(), list(pool), n, 0.6)]

    def get_session(self, name: str) -> dict[str, Any]:
        """One session's row (the ``ppdata sessions --json`` shape).

        Raises
        ------
        SessionNotFound
            If the catalog does not know it; the message offers the closest names.
        """
        session = _refresh.session_of(name)
        hit = self.sessions(search=session)
        hit = hit[hit["session"] == session]
        if hit.empty:
            close = self.suggest(session)
            hint = f"; did you mean: {', '.join(close)}" if close else ""
            raise SessionNotFound(f"session {session!r} is not in the catalog {self.path}{hint}")
        return session_records(hit)[0]

    # -- refreshing -----------------------------------------------------------------------
    def refresh(
        self,
        sessions: Iterable[str] | None = None,
        *,
        client: S3Client | None = None,
        full: bool = False,
        discover: bool = True,
        asset_qc: bool = True,
        callback: CallbackLike | None = None,
    ) -> RefreshReport:
        """Bring the catalog up to date with the spreadsheet and the bucket.

        Parameters
        ----------
        sessions : iterable of str, optional
            Refresh (and add) only these sessions (raw or derived names). Default: every
            session of the spreadsheet and of the catalog, plus (``discover``) other
            sessions of their subjects found on S3.
        client : S3Client, optional
            Reads the bucket this catalog is for (default: a client of the catalog's
            settings, closed after).
        full : bool
            Read every asset again (kinds and QC), not only those of changed sessions.
        discover : bool
            Add sessions on S3 that the spreadsheet does not list, found in the subject
            listings (never by listing the bucket).
        asset_qc : bool
            Read the ``quality_control.json`` of new assets (one GET each).
        callback : Callback, optional
            Progress (see :mod:`ppdata.callbacks`) in requests: ``set_size`` is the
            requests planned (it grows once the subject listings are in).

        Returns
        -------
        RefreshReport

        Raises
        ------
        CatalogError
            If the catalog is empty and the bucket cannot be reached, or there is nothing
            to refresh (no spreadsheet and no sessions).
        BucketUnreachable, S3Error, SpreadsheetError
            If reading fails; the stored catalog is left as it was.
        """
        if client is None:
            from ...remote.s3 import S3Client

            with S3Client(self.settings) as own:
                return self.refresh(
                    sessions,
                    client=own,
                    full=full,
                    discover=discover,
                    asset_qc=asset_qc,
                    callback=callback,
                )
        mine = (self.settings.bucket, self.settings.endpoint_url)
        if (client.settings.bucket, client.settings.endpoint_url) != mine:
            raise CatalogError(
                f"this catalog is for s3://{self.settings.bucket} at {self.settings.where}, "
                f"the client reads s3://{client.bucket} at {client.settings.where}"
            )
        report = RefreshReport(full=full)
        started, before = time.monotonic(), client.stats.total_requests
        sheet = _refresh.read_sheet(self.settings, report)
        with self._connect() as con:
            stored = {
                r[0]: r[1:]
                for r in con.execute(
                    "SELECT session, fingerprint, platform, in_spreadsheet FROM sessions"
                )
            }
        explicit = sessions is not None
        if explicit:
            wanted = list(dict.fromkeys(_refresh.session_of(s) for s in sessions or ()))
        else:
            wanted = list(dict.fromkeys([*(sheet or {}), *stored]))
        if not wanted:
            raise CatalogError(
                "nothing to refresh: set the tracking spreadsheet (--spreadsheet or "
                "PPDATA_SPREADSHEET) or name the sessions to add"
            )
        try:
            scans = _refresh.scan(
                client,
                wanted,
                stored,
                self._known_assets,
                sheet,
                report,
                full=full,
                discover=discover and not explicit,
                asset_qc=asset_qc,
                callback=resolve(callback),
            )
        except BucketUnreachable as exc:
            if stored:
                raise
            raise CatalogError(
                f"the catalog {self.path} is empty and the bucket cannot be reached: run "
                f"`ppdata catalog refresh` when online, or use a mirror. ({exc})"
            ) from exc
        if explicit:
            known = set(sheet or ()) | set(stored)
            report.not_found = [s for s in wanted if not scans[s].names and s not in known]
            for session in report.not_found:
                del scans[session]
        now = _schema.utcnow().isoformat()
        meta = {
            "last_refresh": now,
            "spreadsheet": self.settings.spreadsheet or None,
            "bucket": self.settings.bucket,
            "endpoint": self.settings.where,
        }
        if full and not explicit:
            meta["last_full_refresh"] = now
        with self._connect() as con, _schema.transaction(con):
            _refresh.write(con, scans, stored, sheet, report, explicit=explicit, now=now)
            _schema.set_meta(con, **meta)
            _schema.touch(con)
        report.requests = client.stats.total_requests - before
        report.seconds = round(time.monotonic() - started, 3)
        logger.info("catalog refresh: %s", report)
        return report

    def _known_assets(self) -> dict[str, tuple[str, str | None]]:
        with self._connect() as con:
            return {r[0]: r[1:] for r in con.execute("SELECT name, kind, qc_status FROM assets")}
