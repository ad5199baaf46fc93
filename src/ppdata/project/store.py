"""The project cache: one Parquet file per table and session, and the asset versions each
was made from.

Layout, under ``<cache_dir>/project/<bucket>-<endpoint tag>/``::

    units/_manifest.json            {"sessions": {name: {"version", "rows", "written", ...}}}
    units/<session>.parquet         that session's rows (a ``session`` column included)
    rois/...  stimuli/...

A part is valid while its session's current assets (their names, from the catalog) and the
table's code version are what the manifest recorded; anything else is made again. Writes
are atomic (temporary file, then ``os.replace``), so an interrupted run leaves the previous
cache readable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PpdataError
from ..settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["ProjectStore", "encode_part"]

_MANIFEST = "_manifest.json"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def encode_part(frame: pd.DataFrame | pa.Table, session: str) -> bytes:
    """One session's part as Parquet bytes, with a ``session`` column first: made where
    the rows are (on a worker), so they travel and are stored as these bytes.

    >>> import pandas as pd, pyarrow.parquet as pq, io
    >>> data = encode_part(pd.DataFrame({"x": [1, 2]}), "s1")
    >>> pq.read_table(io.BytesIO(data)).column_names
    ['session', 'x']
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    if "session" in arrow.column_names:
        arrow = arrow.drop_columns(["session"])
    arrow = arrow.add_column(0, "session", pa.array([session] * arrow.num_rows, pa.string()))
    arrow = arrow.replace_schema_metadata({"ppdata.session": session})
    sink = pa.BufferOutputStream()
    # dictionaries for text only (labels, probes, areas repeat): on numbers they cost
    # most of the encoding time (3x here) and rarely make the part smaller
    text = [
        f.name
        for f in arrow.schema
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    pq.write_table(arrow, sink, use_dictionary=text)
    return bytes(sink.getvalue())


class ProjectStore:
    """The cached project tables of one bucket and endpoint.

    Parameters
    ----------
    settings : Settings
        ``cache_dir``, ``bucket`` and ``endpoint_url`` choose the folder.
    """

    def __init__(self, settings: Settings) -> None:
        tag = hashlib.sha1(f"{settings.endpoint_url}|{settings.bucket}".encode()).hexdigest()[:10]
        self.root = Path(settings.cache_dir) / "project" / f"{settings.bucket}-{tag}"

    # -- paths -------------------------------------------------------------------------------
    def table_dir(self, table: str) -> Path:
        return self.root / table

    def part_path(self, table: str, session: str) -> Path:
        if not _SAFE.match(session) or ".." in session:
            raise PpdataError(f"{session!r} is not a session name that can name a cache file")
        return self.table_dir(table) / f"{session}.parquet"

    # -- manifest ----------------------------------------------------------------------------
    def manifest(self, table: str) -> dict[str, dict[str, Any]]:
        """Session -> what its cached part was made from (empty if none)."""
        path = self.table_dir(table) / _MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a damaged manifest only costs a recomputation
        sessions = data.get("sessions") if isinstance(data, dict) else None
        return sessions if isinstance(sessions, dict) else {}

    def fresh(self, table: str, versions: dict[str, str]) -> set[str]:
        """The sessions whose cached part was made from exactly these asset versions."""
        known = self.manifest(table)
        return {
            name
            for name, version in versions.items()
            if known.get(name, {}).get("version") == version
            and self.part_path(table, name).exists()
        }

    def write_parts(
        self, table: str, parts: Iterable[tuple[str, str, pd.DataFrame, dict[str, Any]]]
    ) -> int:
        """Write ``(session, version, frame, info)`` parts and record them; returns how many."""
        return self.write_encoded(
            table,
            (
                (session, version, encode_part(frame, session), {"rows": len(frame), **info})
                for session, version, frame, info in parts
            ),
        )

    def write_encoded(
        self, table: str, parts: Iterable[tuple[str, str, bytes, dict[str, Any]]]
    ) -> int:
        """Write ``(session, version, parquet bytes, info)`` parts as they are (made by
        :func:`encode_part` on a worker) and record them; ``info`` holds ``rows``."""
        folder = self.table_dir(table)
        folder.mkdir(parents=True, exist_ok=True)
        known = self.manifest(table)
        written = 0
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for session, version, data, info in parts:
            path = self.part_path(table, session)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            known[session] = {"version": version, "written": now, **info}
            written += 1
        self._write_manifest(table, known)
        return written

    def _write_manifest(self, table: str, sessions: dict[str, dict[str, Any]]) -> None:
        path = self.table_dir(table) / _MANIFEST
        tmp = path.with_name(f".{_MANIFEST}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"sessions": sessions}, indent=1, sort_keys=True), "utf-8")
        os.replace(tmp, path)

    # -- reading -----------------------------------------------------------------------------
    def read_arrow(self, table: str, sessions: Iterable[str]) -> pa.Table | None:
        """The cached parts of these sessions as one Arrow table (columns unified by name;
        a column missing from a session is null there). ``None`` if none is cached."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = []
        for name in sessions:
            path = self.part_path(table, name)
            if path.exists():
                parts.append(pq.read_table(path).replace_schema_metadata(None))
        if not parts:
            return None
        return pa.concat_tables(parts, promote_options="permissive")

    def read(self, table: str, sessions: Iterable[str]) -> pd.DataFrame:
        """The cached parts of these sessions as one DataFrame (empty if none)."""
        import pandas as pd

        arrow = self.read_arrow(table, sessions)
        return arrow.to_pandas() if arrow is not None else pd.DataFrame({"session": []})

    def tables(self) -> dict[str, list[Path]]:
        """Every cached table and its part files (for SQL)."""
        out: dict[str, list[Path]] = {}
        if not self.root.exists():
            return out
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            names = self.manifest(folder.name)
            files = [self.part_path(folder.name, n) for n in sorted(names)]
            files = [f for f in files if f.exists()]
            if files:
                out[folder.name] = files
        return out
