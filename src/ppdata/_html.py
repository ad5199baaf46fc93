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
from dataclasses import asdict, dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .find.assets import Asset
    from .remote.stats import RequestCounts
    from .session import Session
    from .transfer.model import DownloadPlan

__all__ = [
    "NWBSummary",
    "assets_html",
    "html_card",
    "html_table",
    "nwb_summary_html",
    "plan_html",
    "session_html",
]

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


# --- the objects' cards -------------------------------------------------------------------
# Each ``_repr_html_`` in the package is two lines that call one of these: the layout lives
# here, the classes stay small. None of these reads from S3: a repr shows what is known.


def _bytes(n: float) -> str:
    from .units import format_bytes

    return format_bytes(n)


def _when(value: Any) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else None


def assets_html(assets: Sequence[Asset]) -> str:
    """A session's assets as a table: name, kind, processed, current or older."""
    rows = [
        (a.name, str(a.kind), _when(a.processed), "current" if a.current else "older")
        for a in assets
    ]
    sessions = {a.session for a in assets if a.session}
    title = f"{len(assets)} asset{'s' if len(assets) != 1 else ''}"
    if len(sessions) == 1:
        title += f" of {next(iter(sessions))}"
    table = html_table(["name", "kind", "processed", "version"], rows, max_rows=15)
    return html_card(title, [], table=table)


def session_html(session: Session) -> str:
    """A session's card: its name's parts, assets if already listed, open NWBs, traffic."""
    parsed = session.parsed
    fields: list[tuple[str, Any]] = [
        ("platform", parsed.platform),  # None for unprefixed (schema v2) names
        ("subject", parsed.subject_id),
        ("acquired", _when(parsed.acquired)),
    ]
    if session.versions:
        fields.append(("versions", ", ".join(f"{k}={v}" for k, v in session.versions.items())))
    table = ""
    note = "assets not listed yet: s.assets lists them"
    listed = session.__dict__.get("assets")
    if listed is not None:
        rows = [(str(a.kind), a.name) for a in listed if a.current]
        table = html_table(["kind", "current asset"], rows, max_rows=12)
        older = sum(1 for a in listed if not a.current)
        note = f"{older} older version{'s' if older != 1 else ''} in s.assets" if older else ""
    opened = list(getattr(session, "_open", {}))
    if opened:
        fields.append(("open NWBs", ", ".join(opened)))
    fields.append(("read so far", session.stats.describe()))
    return html_card(f"Session {session.name}", fields, table=table, note=note)


@dataclass(frozen=True)
class NWBSummary:
    """What :func:`ppdata.nwb.open.summarize` found in an NWB (a compact card in Jupyter).

    Attributes
    ----------
    format, source : str
        ``hdf5`` or ``zarr``; where the file is.
    session_id, identifier, session_start_time
        The file's scalars (``None`` where absent).
    acquisition, processing, intervals : tuple of str
        Names in those groups (``processing``: the modules).
    n_units : int
        Rows of the units table (0 without one).
    probes, lfp, planes : tuple of str
        Electrode groups; LFP series paths; imaging planes (modules with ROIs or ΔF/F).
    stats : RequestCounts, optional
        Requests and bytes the file's client had counted (``None`` for a local file).
    """

    format: str
    source: str
    session_id: Any = None
    identifier: Any = None
    session_start_time: Any = None
    acquisition: tuple[str, ...] = ()
    processing: tuple[str, ...] = ()
    intervals: tuple[str, ...] = ()
    n_units: int = 0
    probes: tuple[str, ...] = ()
    lfp: tuple[str, ...] = ()
    planes: tuple[str, ...] = ()
    stats: RequestCounts | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Every field but ``stats``, as JSON-ready values."""
        return {k: v for k, v in asdict(self).items() if k != "stats"}

    def _repr_html_(self) -> str:
        return nwb_summary_html(self.to_dict(), self.stats)


def nwb_summary_html(summary: dict[str, Any], stats: RequestCounts | None = None) -> str:
    """An NWB's card from :func:`ppdata.nwb.open.summarize`: what it holds, in a few lines."""

    def listed(values: Sequence[str], limit: int = 6) -> str | None:
        if not values:
            return None
        shown = ", ".join(values[:limit])
        return shown + (f" … (+{len(values) - limit})" if len(values) > limit else "")

    source = str(summary.get("source") or "")
    fields: list[tuple[str, Any]] = [
        ("source", source),
        ("format", summary.get("format")),
        ("session", summary.get("session_id")),
        ("started", summary.get("session_start_time")),
    ]
    if summary.get("n_units"):
        fields.append(("units", f"{summary['n_units']:,}"))
    for name in ("probes", "lfp", "planes", "processing", "acquisition", "intervals"):
        text = listed([str(v).rsplit("/", 1)[-1] for v in summary.get(name) or []])
        if text:
            fields.append((name, text))
    if stats:
        fields.append(("read so far", stats.describe()))
    title = "NWB " + source.rstrip("/").rsplit("/", 1)[-1]
    return html_card(title, fields)


def plan_html(plan: DownloadPlan) -> str:
    """A download plan: where from, where to, how much, and its first files."""
    fields: list[tuple[str, Any]] = [
        ("target", plan.target),
        ("destination", str(plan.dest)),
        ("files", f"{plan.count:,} ({_bytes(plan.total_bytes)})"),
    ]
    if plan.assets:
        fields.append(("assets", ", ".join(plan.assets)))
    checks = ", ".join(f"{n:,} {c}" for c, n in sorted(plan.checks.items(), key=str))
    if checks:
        fields.append(("checked by", checks))
    rows = ((f.relpath, _bytes(f.size)) for f in plan.files)
    table = html_table(["file", "size"], rows, max_rows=8, total=plan.count)
    notes = [*plan.warnings]
    if plan.refused:
        notes.append(f"{len(plan.refused)} key(s) refused: {plan.refused[0]}")
    if plan.needs_confirmation():
        notes.append(plan.confirmation_message())
    return html_card("Download plan", fields, table=table, note="; ".join(notes))
