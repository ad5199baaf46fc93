"""Project-wide tables: every session of the catalog at once, cached, made on Dask.

:func:`project_table` picks the sessions from the catalog (spreadsheet ⋈ S3) that have the
data, reads the cached part of each whose assets have not changed, computes the others one
task per session on the cluster, stores them, and returns one table with a ``session``
column on every row. :func:`query` runs SQL (DuckDB) over the cached tables.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..callbacks import CallbackLike
from ..errors import NotFound, PpdataError
from ..settings import Settings
from .tables import TABLES, TableSpec

if TYPE_CHECKING:
    import pandas as pd

    from ..session import Session

__all__ = ["ProjectResult", "project_sessions", "project_table", "query", "table_versions"]

logger = logging.getLogger(__name__)


@dataclass
class ProjectResult:
    """A project table and how it was made.

    Attributes
    ----------
    frame : pandas.DataFrame
        The rows; a session that failed has one row with only ``session`` and ``error``
        (the ``error`` column exists only when some session failed).
    table : str
    sessions : list of str
        Every session the table covers.
    cached, computed : list of str
        Sessions read from the cache / computed in this call.
    failed : dict
        Session -> why it failed.
    seconds : float
    requests, bytes : int
        HTTP requests and bytes the workers used for the computed sessions.
    """

    frame: pd.DataFrame
    table: str
    sessions: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    requests: int = 0
    bytes: int = 0

    def summary(self) -> str:
        """One line for people."""
        parts = [f"{len(self.sessions)} sessions", f"{len(self.cached)} from the cache"]
        if self.computed:
            parts.append(f"{len(self.computed)} computed ({self.requests} requests)")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return (
            f"{self.table}: {len(self.frame)} rows; " + ", ".join(parts) + f"; {self.seconds:.1f} s"
        )


def _spec(table: str) -> TableSpec:
    try:
        return TABLES[table]
    except KeyError:
        raise NotFound(
            f"no project table {table!r}: tables are {', '.join(sorted(TABLES))}"
        ) from None


def _catalog_sessions(
    settings: Settings,
    *,
    platform: str | Sequence[str] | None,
    subject: str | Sequence[str] | None,
    qc: str | Sequence[str] | None,
    refresh_catalog: bool,
) -> pd.DataFrame:
    from ..find.catalog import Catalog

    catalog = Catalog(settings)
    if refresh_catalog or catalog.is_empty:
        from ..remote.s3 import S3Client

        with S3Client(settings) as client:
            catalog.refresh(client=client)
    return catalog.sessions(platform=platform, subject=subject, qc=qc, on_s3=True)


def current_assets(spec: TableSpec, sessions: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Session -> asset kind -> name of the current asset, for the kinds the table may read
    (as the catalog knows them). Sessions with none of those assets are left out."""
    out: dict[str, dict[str, str]] = {}
    for row in sessions.to_dict("records"):
        names = {}
        for kind in spec.kinds:
            current = row.get(f"current_{kind.replace('-', '_')}")
            if isinstance(current, str) and current:
                names[kind] = current
        if names:
            out[str(row["session"])] = names
    return out


def table_versions(spec: TableSpec, sessions: pd.DataFrame) -> dict[str, str]:
    """Session -> the version of its part: the table code's version and the names of the
    current assets it may read. Sessions with none of those assets are left out."""
    return {
        name: f"{spec.name}/{spec.version}:" + ";".join(assets.values())
        for name, assets in current_assets(spec, sessions).items()
    }


def project_table(
    table: str,
    *,
    platform: str | Sequence[str] | None = None,
    subject: str | Sequence[str] | None = None,
    qc: str | Sequence[str] | None = None,
    where: str | None = None,
    sessions: Sequence[str] | None = None,
    scheduler: str | None = None,
    settings: Settings | None = None,
    recompute: bool = False,
    refresh_catalog: bool = False,
    workers: int | None = None,
    retries: int = 2,
    callback: CallbackLike | None = None,
) -> ProjectResult:
    """One table over every session that has the data, from the cache where it can.

    Parameters
    ----------
    table : {"units", "rois", "stimuli"}
        Which table (see :data:`ppdata.project.tables.TABLES`).
    platform, subject, qc : str or sequence of str, optional
        Catalog filters (as :meth:`ppdata.Catalog.sessions`); default platform: the
        table's (Neuropixels for units, Mesoscope for ROIs).
    where : str, optional
        A pandas query on the rows, e.g. ``"label == 'sua' and snr > 3"``.
    sessions : sequence of str, optional
        Only these sessions (raw names) among those the filters select.
    scheduler : str, optional
        Dask scheduler address (default ``PPDATA_SCHEDULER``, else a local cluster).
    settings : Settings, optional
    recompute : bool
        Ignore the cache and compute every session again.
    refresh_catalog : bool
        Refresh the catalog first (it is refreshed anyway when empty): new assets are seen
        only through it.
    workers : int, optional
        Worker processes of a local cluster.
    retries : int
        Further attempts of a failing session.
    callback : Callback, optional
        Progress in sessions computed (see :mod:`ppdata.callbacks`).

    Returns
    -------
    ProjectResult

    Raises
    ------
    NotFound
        Unknown table, or a ``where`` that cannot be applied.
    ClusterError
        The scheduler cannot be reached.
    """
    import pandas as pd

    from .mapping import run_per_session
    from .store import ProjectStore

    started = time.perf_counter()
    spec = _spec(table)
    settings = settings or Settings.resolve()
    catalog = _catalog_sessions(
        settings,
        platform=platform or list(spec.platforms),
        subject=subject,
        qc=qc,
        refresh_catalog=refresh_catalog,
    )
    # a table only covers its platforms, whatever --platform asked for
    ours = catalog[catalog["platform"].isin(spec.platforms)]
    versions = table_versions(spec, ours)
    current = current_assets(spec, ours)
    if sessions is not None:
        wanted = set(sessions)
        versions = {k: v for k, v in versions.items() if k in wanted}
    store = ProjectStore(settings)
    fresh = set() if recompute else store.fresh(spec.name, versions)
    todo = [name for name in versions if name not in fresh]
    result = ProjectResult(pd.DataFrame(), spec.name, list(versions), sorted(fresh))
    if todo:
        outcomes = run_per_session(
            functools.partial(table_part, spec.compute),
            todo,
            settings=settings,
            scheduler=scheduler,
            retries=retries,
            workers=workers,
            callback=callback,
            kwargs={name: {"assets": current[name]} for name in todo}
            if spec.takes_assets
            else None,
        )
        parts = []
        for outcome in outcomes:
            result.requests += outcome.requests
            result.bytes += outcome.bytes
            if outcome.error is not None:
                result.failed[outcome.session] = outcome.error
                continue
            data, rows = outcome.value
            info = {
                "rows": rows,
                "seconds": round(outcome.seconds, 3),
                "cpu_seconds": round(outcome.cpu, 3),
                "requests": outcome.requests,
                "bytes": outcome.bytes,
            }
            parts.append((outcome.session, versions[outcome.session], data, info))
            result.computed.append(outcome.session)
        store.write_encoded(spec.name, parts)
    frame = store.read(spec.name, [n for n in versions if n not in result.failed])
    if where:
        frame = _where(frame, where, spec.name)
    if result.failed:
        errors = pd.DataFrame(
            {"session": list(result.failed), "error": list(result.failed.values())}
        )
        frame = pd.concat([frame, errors], ignore_index=True, sort=False)
    result.frame = frame
    result.seconds = time.perf_counter() - started
    return result


def table_part(compute: Callable[..., Any], session: Session, **known: Any) -> tuple[bytes, int]:
    """Run a table's ``compute`` on a worker (with what the driver knows of the session,
    ``assets=``, for the tables that take it) and return its part as Parquet bytes (with
    the ``session`` column) and its row count: what travels back to the driver."""
    from .store import encode_part

    value = compute(session, **known)
    return encode_part(value, session.name), int(value.shape[0])


def _where(frame: pd.DataFrame, where: str, table: str) -> pd.DataFrame:
    try:
        return frame.query(where)
    # pandas raises many kinds of exception for a bad expression; all mean the same here
    except Exception as exc:
        raise NotFound(
            f"cannot apply --where {where!r} to the {table} table ({type(exc).__name__}: "
            f"{exc}); its columns are {', '.join(map(str, frame.columns))}"
        ) from exc


def project_sessions(
    *,
    platform: str | Sequence[str] | None = None,
    subject: str | Sequence[str] | None = None,
    qc: str | Sequence[str] | None = None,
    settings: Settings | None = None,
    refresh_catalog: bool = False,
) -> pd.DataFrame:
    """The sessions the project tables cover: catalog columns, and per table whether the
    session has the data and how many rows are cached (``units_rows`` ...; empty if none).
    """
    import pandas as pd

    from .store import ProjectStore

    settings = settings or Settings.resolve()
    catalog = _catalog_sessions(
        settings, platform=platform, subject=subject, qc=qc, refresh_catalog=refresh_catalog
    )
    store = ProjectStore(settings)
    keep = ["session", "platform", "subject", "acquired", "qc_status", "n_assets"]
    frame = catalog[[c for c in keep if c in catalog]].copy()
    for name, spec in TABLES.items():
        versions = table_versions(spec, catalog[catalog["platform"].isin(spec.platforms)])
        known = store.manifest(name)
        frame[f"has_{name}"] = frame["session"].isin(list(versions))
        frame[f"{name}_rows"] = pd.array(
            [
                known[s]["rows"]
                if s in known and known[s].get("version") == versions.get(s)
                else None
                for s in frame["session"]
            ],
            dtype="Int64",
        )
    return frame


def query(sql: str, *, settings: Settings | None = None) -> pd.DataFrame:
    """Run SQL (DuckDB) over the cached project tables (``units``, ``rois``, ``stimuli``:
    those computed at least once).

    Examples
    --------
    >>> query("SELECT session, count(*) AS n FROM units WHERE label = 'sua' "
    ...       "GROUP BY session")  # doctest: +SKIP
    """
    import duckdb

    from .store import ProjectStore

    store = ProjectStore(settings or Settings.resolve())
    tables = store.tables()
    con = duckdb.connect()
    try:
        for name, files in tables.items():
            listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            con.execute(
                f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{listing}], '
                "union_by_name = true)"
            )
        try:
            return con.execute(sql).df()
        except duckdb.Error as exc:
            have = ", ".join(sorted(tables)) or "none yet (run `ppdata project units` first)"
            raise PpdataError(
                f"the SQL query failed: {str(exc).splitlines()[0]}; cached tables: {have}"
            ) from exc
    finally:
        con.close()
