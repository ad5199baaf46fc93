"""Project scale: every session at once, on a Dask cluster.

- :func:`map_sessions` runs any per-session function on a cluster and returns one table;
- :func:`project_table` makes (and caches, as Parquet) the built-in ``units``, ``rois`` and
  ``stimuli`` tables over every session that has the data;
- :func:`query` runs SQL (DuckDB) over the cached tables;
- :mod:`ppdata.project.results` holds the cross-session results and their plots.
"""

from __future__ import annotations

from .api import ProjectResult, project_sessions, project_table, query
from .mapping import map_sessions
from .tables import TABLES

__all__ = [
    "TABLES",
    "ProjectResult",
    "map_sessions",
    "project_sessions",
    "project_table",
    "query",
]
