"""The data tracking spreadsheet: which sessions exist, their QC status and notes.

Its column H, ``New Session id (Code Ocean)``, holds the raw session name (the folder name
on S3). The other columns are not public; we look for a QC-status column and a notes column
by their headers and keep everything else as it is.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidName, SpreadsheetError
from ..naming import parse_name

__all__ = ["SESSION_COLUMN", "Spreadsheet", "read_spreadsheet"]

logger = logging.getLogger(__name__)

SESSION_COLUMN = "New Session id (Code Ocean)"
_SESSION_INDEX = 7  # column H


def _norm(header: str) -> str:
    return re.sub(r"\s+", " ", str(header)).strip().lower()


@dataclass(frozen=True)
class Spreadsheet:
    """The tracking spreadsheet, read.

    Attributes
    ----------
    source : str
        Where it was read from.
    table : pandas.DataFrame
        One row per session with a valid name: ``session`` (raw name), ``qc_status``,
        ``notes``, then every original column.
    skipped : list of str
        Why rows were left out (empty or malformed session ids), for the user to see.
    """

    source: str
    table: Any
    skipped: tuple[str, ...] = ()

    @property
    def sessions(self) -> list[str]:
        return list(self.table["session"])


def _fetch(source: str, timeout: float) -> bytes:
    if re.match(r"https?://", source):
        from ..errors import HTTPStatusError
        from ..remote.transport import RetryPolicy, Transport

        url = source
        m = re.match(r"(https://docs\.google\.com/spreadsheets/d/[^/]+)", source)
        if m and "export" not in source:
            url = m.group(1) + "/export?format=csv"
        transport = Transport(connect_timeout=timeout, read_timeout=timeout, maxsize=1)
        try:
            data, _ = RetryPolicy(retries=2).call(lambda: _get_following(transport, url))
        except (HTTPStatusError, ConnectionError, TimeoutError) as exc:
            raise SpreadsheetError(
                f"cannot download the spreadsheet from {source}: {exc}; download it as CSV and "
                "pass the file with --spreadsheet (or PPDATA_SPREADSHEET)"
            ) from exc
        finally:
            transport.close()
        return data
    path = Path(source).expanduser()
    if not path.is_file():
        raise SpreadsheetError(
            f"spreadsheet {str(path)!r} does not exist; pass a CSV export of the data tracking "
            "spreadsheet with --spreadsheet (or PPDATA_SPREADSHEET)"
        )
    return path.read_bytes()


def _get_following(transport: Any, url: str, hops: int = 5) -> tuple[bytes, dict[str, str]]:
    """GET ``url``, following redirects (Google answers an export with one or two)."""
    from urllib.parse import urljoin

    for _ in range(hops):
        data, got = transport.fetch(
            "GET",
            url,
            headers={"User-Agent": "ppdata"},
            operation="spreadsheet",
            ok=(200, 301, 302, 303, 307, 308),
        )
        location = got.get("location")
        if not location:
            return data, got
        url = urljoin(url, location)
    raise SpreadsheetError(f"too many redirects downloading the spreadsheet ({url})")


def read_spreadsheet(source: str | Path, *, timeout: float = 15.0) -> Spreadsheet:
    """Read the tracking spreadsheet from a CSV file or URL.

    Parameters
    ----------
    source : str or Path
        A local CSV, an http(s) URL of a CSV, or a Google Sheets URL (read as its CSV export).
    timeout : float
        Seconds to wait for a URL.

    Returns
    -------
    Spreadsheet

    Raises
    ------
    SpreadsheetError
        If the file is missing, is not a CSV, or has no session-id column.
    """
    import pandas as pd

    source = str(source)
    raw = _fetch(source, timeout)
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SpreadsheetError(f"{source} is not a readable CSV: {exc}") from exc
    headers = {_norm(c): c for c in frame.columns}
    session_col = headers.get(_norm(SESSION_COLUMN))
    if session_col is None:
        session_col = next(
            (c for n, c in headers.items() if "session id" in n and "code ocean" in n), None
        )
    if session_col is None:
        cols = ", ".join(repr(c) for c in frame.columns[:12]) or "none"
        raise SpreadsheetError(
            f"{source} has no column {SESSION_COLUMN!r} (column H of the tracking spreadsheet); "
            f"its columns are: {cols}"
        )
    qc_col = next((c for n, c in headers.items() if re.search(r"\bqc\b", n)), None)
    notes_col = next((c for n, c in headers.items() if "note" in n), None)
    rows, skipped = [], []
    for i, record in enumerate(frame.to_dict("records"), start=2):
        value = str(record.get(session_col, "")).strip()
        if not value:
            continue
        try:
            parsed = parse_name(value)
        except InvalidName as exc:
            skipped.append(f"row {i}: {exc}")
            continue
        rows.append(
            {
                **{str(k): v for k, v in record.items()},
                "session": parsed.raw_name or parsed.name,
                "qc_status": (str(record.get(qc_col, "")).strip() or None) if qc_col else None,
                "notes": (str(record.get(notes_col, "")).strip() or None) if notes_col else None,
            }
        )
    for reason in skipped:
        logger.warning("spreadsheet %s: skipped %s", source, reason)
    columns = list(dict.fromkeys(["session", "qc_status", "notes", *map(str, frame.columns)]))
    table = pd.DataFrame(rows, columns=columns)
    table = table.drop_duplicates(subset="session", keep="first").reset_index(drop=True)
    return Spreadsheet(source, table, tuple(skipped))
