"""Compact HTML for notebooks: the ``_repr_html_`` of ppdata's objects is built here.

Every value is escaped (a key name can hold ``<script>``). Tables are cut to a few rows with
a line saying how many were left out, so an object never prints as a wall of text.

Examples
--------
>>> print(html_card("Session", [("subject", "820459")], note="a <note>"))  # doctest: +ELLIPSIS
<div class="ppdata-card"...<b>Session</b>...820459...a &lt;note&gt;...
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

__all__ = ["html_card", "html_table"]

_STYLE = (
    "font-family:var(--jp-content-font-family,sans-serif);font-size:13px;"
    "border-left:3px solid #4c72b0;padding:4px 8px;margin:2px 0"
)
_CELL = "padding:1px 8px;text-align:left;border:none"


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    max_rows: int = 12,
    total: int | None = None,
) -> str:
    """A small HTML table of ``rows`` (escaped), cut to ``max_rows``.

    Parameters
    ----------
    columns : sequence of str
        Column headings.
    rows : iterable of sequences
        The rows; only the first ``max_rows`` are read.
    max_rows : int
        How many rows to show.
    total : int, optional
        How many rows there are in all (for the "… N more" line) when ``rows`` is lazy.

    Returns
    -------
    str
        HTML.
    """
    shown: list[Sequence[Any]] = []
    count = 0
    for row in rows:
        count += 1
        if len(shown) < max_rows:
            shown.append(row)
    total = count if total is None else total
    head = "".join(f'<th style="{_CELL}">{escape(str(c))}</th>' for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{_text(v)}</td>' for v in row) + "</tr>"
        for row in shown
    )
    more = total - len(shown)
    tail = f"<div style='color:#666'>… {more:,} more</div>" if more > 0 else ""
    return f"<table style='border-collapse:collapse'><tr>{head}</tr>{body}</table>{tail}"


def html_card(
    title: str,
    fields: Sequence[tuple[str, Any]],
    *,
    table: str = "",
    note: str = "",
) -> str:
    """A titled card: ``fields`` as ``name: value`` lines, then an optional table and note.

    Parameters
    ----------
    title : str
        Bold heading (escaped).
    fields : sequence of (str, value)
        Short facts, one line each.
    table : str
        HTML from :func:`html_table` (already escaped), shown under the facts.
    note : str
        A closing line in grey (escaped).

    Returns
    -------
    str
        HTML.
    """
    facts = "".join(
        f"<div><span style='color:#666'>{escape(name)}:</span> {_text(value)}</div>"
        for name, value in fields
    )
    tail = f"<div style='color:#666'>{escape(note)}</div>" if note else ""
    return (
        f'<div class="ppdata-card" style="{_STYLE}"><div><b>{escape(title)}</b></div>'
        f"{facts}{table}{tail}</div>"
    )
