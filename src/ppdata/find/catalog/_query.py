"""Filters (as SQL), the sessions frame, and platform names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypedDict

from ...errors import PpdataError
from ..assets import AssetKind
from ._schema import CURRENT, IDENT

if TYPE_CHECKING:
    import pandas as pd

#: Friendly names -> platform prefix. Keys are lower case without separators.
PLATFORM_ALIASES = {
    "ecephys": "ecephys",
    "neuropixels": "ecephys",
    "neuropixel": "ecephys",
    "np": "ecephys",
    "ephys": "ecephys",
    "multiplaneophys": "multiplane-ophys",
    "mesoscope": "multiplane-ophys",
    "meso": "multiplane-ophys",
    "multiplane": "multiplane-ophys",
    "singleplaneophys": "single-plane-ophys",
    "singleplane": "single-plane-ophys",
    "slap2": "SLAP2",
    "slap": "SLAP2",
    "behavior": "behavior",
}
MODALITY = {
    "ecephys": "Neuropixels",
    "multiplane-ophys": "Mesoscope",
    "SLAP2": "SLAP2",
    "single-plane-ophys": "Single-plane ophys",
    "behavior": "Behavior",
}

#: Text columns sessions() fetches as they are.
TEXT = (
    "session",
    "platform",
    "subject",
    "qc_status",
    "asset_qc_status",
    *CURRENT.values(),
    "notes",
)
#: Every value fetched costs (~0.2 us each), so the flags and the asset count travel as one
#: integer: bit 0 on_s3, bit 1 in_spreadsheet, bits 2.. has_<kind>, bits 16.. n_assets.
_FLAGS = " | ".join(
    (
        "on_s3",
        "(in_spreadsheet << 1)",
        *(f"(has_{c} << {i})" for i, c in enumerate(IDENT.values(), start=2)),
        "(n_assets << 16)",
    )
)
SELECT = ", ".join((*TEXT, "acquired", "refreshed_at", _FLAGS, "rowid"))
FRAME_COLUMNS = (
    "session",
    "platform",
    "modality",
    "subject",
    "acquired",
    "qc_status",
    "asset_qc_status",
    "on_s3",
    "in_spreadsheet",
    "n_assets",
    "kinds",
    *(f"has_{c}" for c in IDENT.values()),
    *CURRENT.values(),
    "notes",
    "refreshed_at",
)


class InvalidFilter(PpdataError, ValueError):
    """A catalog filter value that means nothing (unknown platform or asset kind, bad date)."""


def resolve_platform(value: str) -> str | None:
    """The platform prefix of a platform or modality name, or ``None`` if unknown.

    >>> resolve_platform("Mesoscope"), resolve_platform("neuropixels")
    ('multiplane-ophys', 'ecephys')
    """
    return PLATFORM_ALIASES.get(re.sub(r"[^a-z0-9]", "", value.lower()))


def modality_of(platform: str | None) -> str | None:
    return MODALITY.get(platform or "", platform)


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _time_bound(value: str | date, *, end: bool) -> str:
    """``YYYY-MM-DD HH:MM:SS`` for a datetime; for a date alone, the day after when ``end``
    (``YYYY-MM-DD``, compared with ``<``, so the whole day is included)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return (value + timedelta(days=1)).isoformat() if end else f"{value} 00:00:00"
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return _time_bound(date.fromisoformat(text), end=end)
        return datetime.fromisoformat(text.replace("_", "T", 1)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise InvalidFilter(
            f"cannot read the date {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"
        ) from exc


class SessionFilters(TypedDict, total=False):
    """The filters of :meth:`Catalog.sessions <ppdata.Catalog.sessions>`, by keyword (each
    is documented there); a filter left out, or ``None``, does not filter."""

    platform: str | Sequence[str] | None
    subject: str | Sequence[str] | None
    since: str | date | None
    until: str | date | None
    qc: str | Sequence[str] | None
    asset_qc: str | Sequence[str] | None
    has: str | Sequence[str] | None
    search: str | None
    on_s3: bool | None


#: The QC statuses of the tracking spreadsheet and of ``quality_control.json``.
QC_STATUSES = ("Pass", "Fail", "Pending")
#: What a QC filter may say for "no status" (the column is blank).
BLANK_STATUSES = ("", "none", "null", "blank")


def where(filters: SessionFilters) -> tuple[list[str], list[Any]]:
    """SQL conditions and their parameters for ``Catalog.sessions``.

    Raises
    ------
    InvalidFilter
        For an unknown platform or asset kind, or a date that cannot be read.
    """
    conditions: list[str] = []
    params: list[Any] = []
    platforms = []
    for value in _as_list(filters.get("platform")):
        canonical = resolve_platform(value)
        if canonical is None:
            known = sorted({*PLATFORM_ALIASES.values(), *MODALITY.values()})
            raise InvalidFilter(f"unknown platform {value!r}; known: {', '.join(known)}")
        platforms.append(canonical)
    for column, values in (("platform", platforms), ("subject", _as_list(filters.get("subject")))):
        if values:
            conditions.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    since, until = filters.get("since"), filters.get("until")
    if since is not None:
        conditions.append("acquired >= ?")
        params.append(_time_bound(since, end=False))
    if until is not None:
        bound = _time_bound(until, end=True)
        conditions.append("acquired < ?" if len(bound) == 10 else "acquired <= ?")
        params.append(bound)
    qc, asset_qc = _as_list(filters.get("qc")), _as_list(filters.get("asset_qc"))
    for column, wanted in (("qc_status", qc), ("asset_qc_status", asset_qc)):
        if not wanted:
            continue
        blank = [w for w in wanted if w.strip().lower() in BLANK_STATUSES]
        named = [w for w in wanted if w not in blank]
        either = [f"{column} IS NULL"] if blank else []
        if named:
            either.append(f"{column} COLLATE NOCASE IN ({', '.join('?' * len(named))})")
            params.extend(named)
        conditions.append("(" + " OR ".join(either) + ")")
    for kind in _as_list(filters.get("has")):
        try:
            conditions.append(f"has_{IDENT[AssetKind(kind.strip().lower())]} = 1")
        except ValueError:
            kinds = ", ".join(k.value for k in AssetKind)
            raise InvalidFilter(f"unknown asset kind {kind!r}; kinds: {kinds}") from None
    search, on_s3 = filters.get("search"), filters.get("on_s3")
    if search:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search.strip()) + "%"
        conditions.append(
            "(session LIKE ? ESCAPE '\\' OR subject LIKE ? ESCAPE '\\' OR notes LIKE ? ESCAPE '\\')"
        )
        params += [pattern] * 3
    if on_s3 is not None:
        conditions.append("on_s3 = ?")
        params.append(int(on_s3))
    return conditions, params


def frame(rows: list[tuple[Any, ...]]) -> tuple[pd.DataFrame, Any]:
    """The sessions frame from rows of :data:`SELECT`, built column by column, and the
    rows' ``rowid`` (a numpy array, in the frame's order)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    def text(values: Sequence[str | None]) -> Any:
        # the columns are TEXT (SQLite's affinity makes every value str or NULL): built by
        # Arrow in C, ~5x faster than pandas converting each value
        return pd.array(pa.array(values, type=pa.large_string()), dtype="str")

    n = len(TEXT)
    # newest first, then by name: two stable C-level sorts, cheaper than SQL's ORDER BY
    rows.sort(key=itemgetter(0))
    rows.sort(key=itemgetter(n), reverse=True)
    columns = list(zip(*rows, strict=True)) if rows else [()] * (n + 4)
    # explicit dtypes: the same columns whatever the rows (an all-blank column stays str)
    data: dict[str, Any] = {name: text(values) for name, values in zip(TEXT, columns, strict=False)}
    platforms = columns[TEXT.index("platform")]
    modality = {p: modality_of(p) for p in set(platforms)}
    data["modality"] = text([modality[p] for p in platforms])
    data["acquired"] = np.array(columns[n], dtype="datetime64[s]")
    data["refreshed_at"] = pd.to_datetime(
        pd.Series(columns[n + 1], dtype=object), format="ISO8601", utc=True
    ).astype("datetime64[us, UTC]")
    flags = np.array(columns[n + 2], dtype="int64")
    data["on_s3"] = flags & 1 == 1
    data["in_spreadsheet"] = flags & 2 == 2
    data["n_assets"] = flags >> 16
    for bit, ident in enumerate(IDENT.values(), start=2):
        data[f"has_{ident}"] = (flags >> bit) & 1 == 1
    masks = flags.tolist()
    kinds = {
        m: tuple(k.value for b, k in enumerate(IDENT, start=2) if m >> b & 1) for m in set(masks)
    }
    data["kinds"] = pd.Series([kinds[m] for m in masks], dtype=object)
    rowids = np.array(columns[n + 3], dtype="int64")
    return pd.DataFrame(data, columns=list(FRAME_COLUMNS)), rowids


def session_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready dicts of a ``Catalog.sessions`` frame (the ``ppdata sessions --json`` shape).

    Each has ``session, platform, modality, subject, acquired`` (ISO 8601), ``qc_status,
    asset_qc_status, on_s3, in_spreadsheet, n_assets, kinds`` (list), ``assets`` (kind ->
    current asset name), ``notes`` and ``refreshed_at`` (ISO 8601, UTC).
    """
    import pandas as pd

    def plain(value: Any) -> Any:
        if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        return value.item() if hasattr(value, "item") else value

    scalars = FRAME_COLUMNS[: FRAME_COLUMNS.index("kinds")]
    out = []
    for record in table.to_dict("records"):
        row = {key: plain(record[key]) for key in scalars}
        row["kinds"] = list(record["kinds"])
        names = {kind.value: plain(record[column]) for kind, column in CURRENT.items()}
        row["assets"] = {kind: name for kind, name in names.items() if name is not None}
        row["notes"] = plain(record["notes"])
        row["refreshed_at"] = plain(record["refreshed_at"])
        out.append(row)
    return out
