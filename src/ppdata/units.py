"""How ppdata writes sizes and counts for people: one byte formatter, one plural rule.

Every message, table and summary (library and CLI) uses these, so a run never mixes
``kB`` and ``KB`` or says "1 entries".

Examples
--------
>>> format_bytes(1234567)
'1.2 MB'
>>> format_bytes(999)
'999 B'
>>> plural(1, "file"), plural(2, "entry", "entries")
('1 file', '2 entries')
"""

from __future__ import annotations

import math

__all__ = ["format_bytes", "plural"]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def format_bytes(n: float | int | None) -> str:
    """Bytes as a short human string, decimal SI units like the S3 console (``1.5 GB``).

    ``None`` and NaN give ``""`` (an unknown size shows as an empty cell).
    """
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return ""
    size = float(n)
    for unit in _UNITS:
        if abs(size) < 999.95 or unit == _UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` with the right form of the noun: ``1 file``, ``3 files``, ``1,204 files``."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"
