"""The catalog's SQLite schema: tables, version, migrations, and small helpers."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from ..assets import AssetKind

#: Bump on any change of the tables below; add a step to ``MIGRATIONS`` when data can be kept.
SCHEMA_VERSION = 1

#: ``{from_version: step}``; each step upgrades a connection's data by one version in place.
#: Without a step, a catalog of another version is rebuilt (it is a cache of S3 and the
#: spreadsheet, so nothing is lost that a refresh cannot bring back).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}

#: The kinds of the guide's availability matrix (``unknown`` is counted, not shown).
MATRIX_KINDS = tuple(k for k in AssetKind if k is not AssetKind.UNKNOWN)
#: Column-name form of each kind (``planar-ophys`` -> ``planar_ophys``).
IDENT = {k: k.value.replace("-", "_") for k in AssetKind}
#: Column holding the current asset of each matrix kind.
CURRENT = {k: f"current_{IDENT[k]}" for k in MATRIX_KINDS}

DDL = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT);
CREATE TABLE sessions (
    session TEXT PRIMARY KEY NOT NULL,
    platform TEXT,
    modality TEXT,
    subject TEXT NOT NULL,
    acquired TEXT,
    in_spreadsheet INTEGER NOT NULL DEFAULT 0 CHECK (in_spreadsheet IN (0, 1)),
    on_s3 INTEGER NOT NULL DEFAULT 0 CHECK (on_s3 IN (0, 1)),
    n_assets INTEGER NOT NULL DEFAULT 0,
    {", ".join(f"has_{c} INTEGER NOT NULL DEFAULT 0" for c in IDENT.values())},
    {", ".join(f"{c} TEXT" for c in CURRENT.values())},
    qc_status TEXT,
    asset_qc_status TEXT,
    notes TEXT,
    fingerprint TEXT NOT NULL DEFAULT '',
    refreshed_at TEXT NOT NULL,
    changed_at TEXT
);
CREATE INDEX sessions_acquired ON sessions (acquired);
CREATE INDEX sessions_subject ON sessions (subject);
CREATE INDEX sessions_platform ON sessions (platform);
CREATE INDEX sessions_qc ON sessions (qc_status COLLATE NOCASE);
CREATE TABLE assets (
    session TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    processed TEXT,
    current INTEGER NOT NULL DEFAULT 0 CHECK (current IN (0, 1)),
    qc_status TEXT,
    classified_at TEXT NOT NULL,
    PRIMARY KEY (session, name)
);
CREATE INDEX assets_name ON assets (name);
"""
TABLES = ("meta", "sessions", "assets")


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def create(con: sqlite3.Connection) -> None:
    """Create the tables (idempotent: two processes creating one catalog both succeed)."""
    ddl = DDL.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS")
    ddl = ddl.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS")
    with transaction(con):
        for statement in ddl.split(";"):
            if statement.strip():
                con.execute(statement)
        set_meta(con, schema_version=str(SCHEMA_VERSION), created_at=utcnow().isoformat())
        touch(con)
    con.execute("PRAGMA journal_mode=WAL")  # readers are not blocked by a refresh's write


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[None]:
    """All or nothing (the connection must be in autocommit mode, ``isolation_level=None``)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def set_meta(con: sqlite3.Connection, **values: str | None) -> None:
    con.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        list(values.items()),
    )


def touch(con: sqlite3.Connection) -> None:
    """Mark a write: a new random generation token tells readers their cached copy is old."""
    set_meta(con, generation=uuid.uuid4().hex)


def columns(con: sqlite3.Connection) -> dict[str, list[tuple[str, str]]]:
    """Name and declared type of every column, per table."""
    return {
        table: [(r[1], r[2]) for r in con.execute(f"PRAGMA table_info({table})")]
        for table in TABLES
    }


_EXPECTED: list[dict[str, list[tuple[str, str]]]] = []


def expected_columns() -> dict[str, list[tuple[str, str]]]:
    """The columns :data:`DDL` makes (built once, in memory)."""
    if not _EXPECTED:
        con = sqlite3.connect(":memory:", isolation_level=None)
        try:
            create(con)
            _EXPECTED.append(columns(con))
        finally:
            con.close()
    return _EXPECTED[0]


def problem(con: sqlite3.Connection, *, thorough: bool = False) -> str | None:
    """Why the database cannot be used, or ``None``: creates an empty one, migrates an old
    one when a step exists. SQLite itself notices a file that is not a database or is
    truncated; ``thorough`` adds ``PRAGMA quick_check`` (reads every page: done only after
    an operation failed).

    Raises
    ------
    sqlite3.DatabaseError
        If the file is not a readable SQLite database.
    """
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        create(con)
        return None
    if "meta" not in tables:
        return "it has no meta table (not a ppdata catalog)"
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        version = int(row[0]) if row else None
    except (TypeError, ValueError):
        version = None
    if version is None:
        return "it has no valid schema_version"
    while version != SCHEMA_VERSION and version in MIGRATIONS:
        with transaction(con):
            MIGRATIONS[version](con)
            version += 1
            set_meta(con, schema_version=str(version))
            touch(con)
    if version != SCHEMA_VERSION:
        return f"its schema version is {version}, this ppdata uses {SCHEMA_VERSION}"
    if columns(con) != expected_columns():
        return f"its tables do not match schema version {SCHEMA_VERSION}"
    check = con.execute("PRAGMA quick_check").fetchone() if thorough else ("ok",)
    if not check or check[0] != "ok":
        return f"it is damaged ({check[0] if check else 'no answer'})"
    return None
