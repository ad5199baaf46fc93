"""Refreshing: the network part (listings, QC reads), then one write transaction."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import InvalidName
from ...naming import NameKind, SessionName, parse_name
from ..assets import Asset, AssetKind, classify, mark_versions
from ._query import modality_of, resolve_platform
from ._schema import CURRENT, IDENT

if TYPE_CHECKING:
    from ...remote.s3 import Listing, S3Client
    from ...settings import Settings

#: Modality folder of a raw asset -> platform (for unprefixed names).
RAW_FOLDERS = {"slap2/": "SLAP2", "ecephys/": "ecephys", "pophys/": "multiplane-ophys"}

#: What a stored session row tells a refresh: fingerprint, platform, in_spreadsheet.
Stored = dict[str, tuple[str, str | None, int]]
#: The spreadsheet, by session: qc_status, notes, platform (from a modality column).
Sheet = dict[str, dict[str, Any]]


@dataclass
class RefreshReport:
    """What a refresh did: sessions by outcome and the requests it made.

    Attributes
    ----------
    sessions : int
        Sessions in the catalog after the refresh (of those it looked at).
    new, changed : list of str
        Sessions added, and sessions whose assets changed (these were read again).
    unchanged : int
        Sessions whose assets are as before (one shared listing each, nothing more).
    missing : list of str
        Spreadsheet sessions with no asset on S3.
    discovered : list of str
        Sessions on S3 the spreadsheet does not list (other sessions of known subjects).
    removed : list of str
        Sessions dropped: neither in the spreadsheet nor on S3 any more.
    not_found : list of str
        Sessions named in the call that exist nowhere (not stored).
    root_listings, content_listings, qc_reads, requests : int
        Subject-prefix listings, listings inside assets, quality_control.json reads, and all
        HTTP requests (retries included).
    seconds : float
    full : bool
    warnings : list of str
        E.g. spreadsheet rows that were skipped.
    """

    sessions: int = 0
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)
    discovered: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    root_listings: int = 0
    content_listings: int = 0
    qc_reads: int = 0
    requests: int = 0
    seconds: float = 0.0
    full: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Scan:
    """One session as the listings show it (built before anything is written)."""

    session: str
    parsed: SessionName
    names: list[str]
    fingerprint: str
    changed: bool
    kinds: dict[str, AssetKind] = field(default_factory=dict)
    qc: dict[str, str | None] = field(default_factory=dict)
    platform: str | None = None


def read_sheet(settings: Settings, report: RefreshReport) -> Sheet | None:
    """The spreadsheet's rows by session, or ``None`` when no spreadsheet is configured."""
    if not settings.spreadsheet:
        return None
    from ..spreadsheet import read_spreadsheet

    sheet = read_spreadsheet(settings.spreadsheet, timeout=settings.read_timeout)
    report.warnings.extend(f"spreadsheet: skipped {reason}" for reason in sheet.skipped)
    modality = next(
        (c for c in sheet.table.columns if re.sub(r"\W", "", str(c).lower()) in ("modality",)),
        None,
    )
    return {
        row["session"]: {
            "qc_status": row.get("qc_status") or None,
            "notes": row.get("notes") or None,
            "platform": resolve_platform(str(row.get(modality) or "")) if modality else None,
        }
        for row in sheet.table.to_dict("records")
    }


def session_of(name: str) -> str:
    """The raw session name of a raw or derived name."""
    parsed = parse_name(name)
    if parsed.raw_name is None:
        raise InvalidName(f"{name!r} is a subject's CCF asset, not a session")
    return parsed.raw_name


def _subject_prefix(p: SessionName) -> str:
    return f"{p.platform}_{p.subject_id}_" if p.platform else f"{p.subject_id}_"


class _Ticker:
    def __init__(self, progress: Callable[[int, int], None] | None, total: int) -> None:
        self.progress, self.done, self.total = progress, 0, total

    def plan(self, more: int) -> None:
        self.total += more
        self.advance(0)

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)


def _list_all(client: S3Client, prefixes: list[str], ticker: _Ticker) -> dict[str, Listing]:
    """Delimiter listings of many prefixes, concurrently in the client's pool."""
    from concurrent.futures import as_completed

    futures = {client.pool.submit(client.list, p): p for p in prefixes}
    out: dict[str, Listing] = {}
    try:
        for future in as_completed(futures):
            out[futures[future]] = future.result()
            ticker.advance()
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return out


def _read_qc(client: S3Client, names: list[str]) -> dict[str, str | None]:
    """Overall QC status of each asset (``None``: no or unreadable quality_control.json)."""
    from ...meta.qc import get_session_quality_control, overall_status

    out: dict[str, str | None] = {}
    for name, qc in get_session_quality_control(client, names).items():
        status = overall_status(qc) if qc is not None and not isinstance(qc, Exception) else None
        out[name] = str(status) if status is not None else None
    return out


def scan(
    client: S3Client,
    wanted: list[str],
    stored: Stored,
    known_assets: Callable[[], dict[str, tuple[str, str | None]]],
    sheet: Sheet | None,
    report: RefreshReport,
    *,
    full: bool,
    discover: bool,
    asset_qc: bool,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Scan]:
    """All the network I/O of a refresh.

    One listing per subject prefix finds every asset of the wanted sessions (and their
    subject's CCF asset, and other sessions of the subject when ``discover``). Then, for
    new or changed sessions only: one listing per new ``_processed_`` asset (its kind is in
    its contents), one per unprefixed raw folder whose platform nobody told us, and one
    quality_control.json GET per new asset. ``known_assets`` gives the stored kind and QC of
    asset names seen before (names are immutable, so they are not read again).
    """
    parsed = {s: parse_name(s) for s in wanted}
    groups: dict[str, str] = {}
    for p in parsed.values():
        groups.setdefault(_subject_prefix(p), p.subject_id)
    ticker = _Ticker(progress, len(groups))
    roots = _list_all(client, list(groups), ticker)
    report.root_listings = len(groups)
    found: dict[str, set[str]] = {}
    ccf: dict[str, str] = {}
    for prefix, listing in roots.items():
        for folder in listing.prefixes:
            try:
                name = parse_name(folder.rstrip("/"))
            except InvalidName:
                continue  # a look-alike that is not an asset name
            if name.subject_id != groups[prefix]:
                continue
            if name.kind is NameKind.CCF:
                ccf[name.subject_id] = name.name
            elif name.raw_name:
                found.setdefault(name.raw_name, set()).add(name.name)
                if discover and name.raw_name not in parsed:
                    parsed[name.raw_name] = parse_name(name.raw_name)
                    report.discovered.append(name.raw_name)
    scans: dict[str, Scan] = {}
    for session, p in parsed.items():
        names = sorted(found.get(session, ()))
        if names and p.platform == "ecephys" and p.subject_id in ccf:
            names.append(ccf[p.subject_id])
        fingerprint = hashlib.sha1("\n".join(names).encode()).hexdigest()[:16] if names else ""
        old = stored.get(session)
        changed = full or old is None or old[0] != fingerprint
        platform = p.platform
        if platform is None:  # unprefixed name: the spreadsheet says, or what we found before
            platform = (sheet or {}).get(session, {}).get("platform") or (old[1] if old else None)
        scans[session] = Scan(session, p, names, fingerprint, changed, platform=platform)
    _classify(client, scans, known_assets, report, full=full, asset_qc=asset_qc, ticker=ticker)
    return scans


def _classify(
    client: S3Client,
    scans: dict[str, Scan],
    known_assets: Callable[[], dict[str, tuple[str, str | None]]],
    report: RefreshReport,
    *,
    full: bool,
    asset_qc: bool,
    ticker: _Ticker,
) -> None:
    changed = [s for s in scans.values() if s.changed and s.names]
    known = known_assets() if changed and not full else {}
    to_list: list[str] = []  # key prefixes of new _processed_ assets and unknown raw folders
    to_qc: list[str] = []
    for scan_ in changed:
        if scan_.platform is None and scan_.session in scan_.names:
            to_list.append(f"{scan_.session}/")
        for name in scan_.names:
            if name in known:
                scan_.kinds[name] = AssetKind(known[name][0])
                scan_.qc[name] = known[name][1]
                continue
            n = parse_name(name)
            if n.process == "processed":
                to_list.append(f"{name}/")
            else:
                scan_.kinds[name] = classify(n)
            if asset_qc and n.kind is not NameKind.CCF:
                to_qc.append(name)
    ticker.plan(len(to_list) + len(to_qc))
    contents = _list_all(client, to_list, ticker)
    qc = _read_qc(client, to_qc) if to_qc else {}
    ticker.advance(len(to_qc))
    report.content_listings, report.qc_reads = len(to_list), len(to_qc)
    for scan_ in changed:
        for name in scan_.names:
            if name != scan_.session and f"{name}/" in contents:
                scan_.kinds[name] = classify(name, contents[f"{name}/"].names)
            if name in qc:
                scan_.qc[name] = qc[name]
        raw = contents.get(f"{scan_.session}/")
        if raw is not None:
            scan_.platform = next((p for f, p in RAW_FOLDERS.items() if f in raw.names), None)


def write(
    con: sqlite3.Connection,
    scans: dict[str, Scan],
    stored: Stored,
    sheet: Sheet | None,
    report: RefreshReport,
    *,
    explicit: bool,
    now: str,
) -> None:
    """Write a refresh (the caller holds the transaction)."""
    for session, scan_ in scans.items():
        if sheet is not None:
            in_sheet = session in sheet
        else:  # no spreadsheet configured: keep what the last one said
            in_sheet = session in stored and bool(stored[session][2])
        row = (sheet or {}).get(session, {})
        if not scan_.names and not in_sheet and not explicit:
            if session in stored:  # neither listed nor on S3 any more
                con.execute("DELETE FROM sessions WHERE session = ?", (session,))
                con.execute("DELETE FROM assets WHERE session = ?", (session,))
                report.removed.append(session)
            continue
        if not scan_.names:
            report.missing.append(session)
        report.sessions += 1
        if scan_.changed:
            (report.changed if session in stored else report.new).append(session)
            write_session(con, scan_, in_sheet, row, now)
            continue
        report.unchanged += 1
        sets = "refreshed_at = ?, in_spreadsheet = ?, platform = ?, modality = ?"
        values = [now, int(in_sheet), scan_.platform, modality_of(scan_.platform)]
        if sheet is not None:
            sets += ", qc_status = ?, notes = ?"
            values += [row.get("qc_status"), row.get("notes")]
        con.execute(f"UPDATE sessions SET {sets} WHERE session = ?", (*values, session))
    report.discovered = [s for s in report.discovered if s in scans and scans[s].names]


def write_session(
    con: sqlite3.Connection, scan_: Scan, in_sheet: bool, row: dict[str, Any], now: str
) -> None:
    """Replace one session's row and its assets."""
    from ...meta.qc import session_status

    assets = mark_versions(
        Asset(n, scan_.kinds.get(n, AssetKind.UNKNOWN), "", parse_name(n)) for n in scan_.names
    )
    current = {a.kind: a.name for a in assets if a.current and a.kind is not AssetKind.UNKNOWN}
    kinds = {a.kind for a in assets}
    status = session_status([scan_.qc.get(a.name) for a in assets if a.current])
    p = scan_.parsed
    values: dict[str, Any] = {
        "session": scan_.session,
        "platform": scan_.platform,
        "modality": modality_of(scan_.platform),
        "subject": p.subject_id,
        "acquired": p.acquired.strftime("%Y-%m-%d %H:%M:%S") if p.acquired else None,
        "in_spreadsheet": int(in_sheet),
        "on_s3": int(bool(scan_.names)),
        "n_assets": len(assets),
        **{f"has_{c}": int(k in kinds) for k, c in IDENT.items()},
        **{column: current.get(k) for k, column in CURRENT.items()},
        "qc_status": row.get("qc_status"),
        "asset_qc_status": str(status) if status else None,
        "notes": row.get("notes"),
        "fingerprint": scan_.fingerprint,
        "refreshed_at": now,
        "changed_at": now,
    }
    marks = ", ".join("?" * len(values))
    con.execute(
        f"INSERT OR REPLACE INTO sessions ({', '.join(values)}) VALUES ({marks})",
        list(values.values()),
    )
    con.execute("DELETE FROM assets WHERE session = ?", (scan_.session,))
    con.executemany(
        "INSERT INTO assets (session, name, kind, processed, current, qc_status, classified_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                scan_.session,
                a.name,
                str(a.kind),
                a.processed.strftime("%Y-%m-%d %H:%M:%S") if a.processed else None,
                int(a.current),
                scan_.qc.get(a.name),
                now,
            )
            for a in assets
        ],
    )
