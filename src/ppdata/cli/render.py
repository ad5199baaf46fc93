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

from ..units import format_bytes, plural

__all__ = [
    "console",
    "emit_json",
    "emit_table",
    "err_console",
    "format_bytes",
    "human_size",
    "plural",
    "width",
]


def console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=False, highlight=False)


def err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


#: The one byte formatter (:func:`ppdata.units.format_bytes`), under its CLI name.
human_size = format_bytes


def width() -> int:
    """Columns to render tables in: ``$COLUMNS`` when set, the terminal's, or 200 in a pipe."""
    import os
    import shutil

    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 20:
        return int(env)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((100, 24)).columns
    return 200


def _default(obj: Any) -> Any:
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, pandas objects
        return _clean(obj.tolist())
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    return str(obj)


def emit_json(data: Any, *, indent: int | None = 2) -> None:
    """Print strict JSON to stdout (for ``--json``); ``indent=None`` for large arrays."""
    click.echo(json.dumps(_clean(data), indent=indent, default=_default, allow_nan=False))


def _clean(data: Any) -> Any:
    """Replace NaN and infinities with null so the output is strict JSON."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, Mapping):
        return {str(k): _clean(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_clean(v) for v in data]
    if hasattr(data, "tolist") and not isinstance(data, (str, bytes)):  # numpy, with NaN
        return _clean(data.tolist())
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


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def emit_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    caption: str | None = None,
) -> None:
    """Print rows as a table for people.

    No name or number is ever broken across lines: each column is at least as wide as its
    longest word (cells wrap only at spaces). When the columns cannot fit the terminal
    that way, the table is printed wider than the terminal rather than cutting a name.
    """
    from rich.table import Table

    rows = list(rows)
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    labels = [(headers or {}).get(col, col) for col in columns]
    floor = [
        max([_longest_word(label), *(_longest_word(r[i]) for r in cells)], default=1)
        for i, label in enumerate(labels)
    ]
    full = [
        max([len(label), *(len(line) for r in cells for line in r[i].splitlines())], default=1)
        for i, label in enumerate(labels)
    ]
    words = max(_longest_word(title or ""), _longest_word(caption or ""))
    overhead = 3 * len(columns) + 1  # borders and padding
    widths = _fit(full, floor, width() - overhead)
    table = Table(
        title=title,
        caption=caption,
        show_lines=False,
        header_style="bold",
        min_width=words + 4 if words else None,
    )
    for label, w in zip(labels, widths, strict=True):
        table.add_column(label, overflow="fold", width=max(w, 1))
    for row in cells:
        table.add_row(*row)
    out = console()
    out.width = max(width(), sum(widths) + overhead, words + 4)
    out.print(table)


def _fit(full: list[int], floor: list[int], room: int) -> list[int]:
    """Column widths within ``room``: narrow the widest wrappable column first, never below
    its longest word (so names and numbers are never cut)."""
    widths = list(full)
    excess = sum(widths) - room
    while excess > 0:
        shrinkable = [i for i, w in enumerate(widths) if w > floor[i]]
        if not shrinkable:
            break
        i = max(shrinkable, key=lambda j: widths[j])
        others = sorted((widths[j] for j in shrinkable if j != i), reverse=True)
        target = max(floor[i], others[0] if others else floor[i], widths[i] - excess)
        if target >= widths[i]:
            target = widths[i] - 1
        excess -= widths[i] - target
        widths[i] = target
    return widths
