"""Rendering for people (rich tables) and for scripts (JSON). Only the CLI prints."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

__all__ = ["console", "emit_json", "emit_table", "err_console", "human_size"]


def console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=False, highlight=False)


def err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def human_size(n: float | int | None) -> str:
    """Bytes as a short human string (``1.5 GB``), decimal units like the S3 console."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(size) < 1000 or unit == "PB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} PB"  # pragma: no cover


def _default(obj: Any) -> Any:
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    return str(obj)


def emit_json(data: Any) -> None:
    """Print JSON to stdout (for ``--json``)."""
    click.echo(json.dumps(_clean(data), indent=2, default=_default))


def _clean(data: Any) -> Any:
    """Replace NaN with null so the output is strict JSON."""
    if isinstance(data, float) and math.isnan(data):
        return None
    if isinstance(data, Mapping):
        return {str(k): _clean(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_clean(v) for v in data]
    return data


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    return str(value)


def emit_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    caption: str | None = None,
) -> None:
    """Print rows as a table for people."""
    from rich.table import Table

    rows = list(rows)
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    table = Table(title=title, caption=caption, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column((headers or {}).get(col, col), overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    out = console()
    if not sys.stdout.isatty():
        out.width = max(out.width, 200)
    out.print(table)
