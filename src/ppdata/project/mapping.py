"""``map_sessions``: a user's per-session function on every session, on a Dask cluster.

Each task opens its session on the worker (with an S3 client the worker keeps for all its
tasks of the same settings), calls the function, retries it on failure, and returns either
the result or why it failed. One failing session never ends the run: it becomes a row with
an ``error``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..callbacks import CallbackLike, resolve
from ..settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from ..remote.s3 import S3Client
    from ..session import Session

__all__ = ["Outcome", "map_sessions", "outcomes_to_frame", "run_per_session"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What one task brought back: a value, or the error that ended its last attempt."""

    session: str
    value: Any = None
    error: str | None = None
    attempts: int = 1
    seconds: float = 0.0
    requests: int = 0
    bytes: int = 0
    #: CPU seconds of the task's own thread (h5py, decoding, Parquet; not the S3 pool's)
    cpu: float = 0.0


#: Failures that another attempt would repeat (a missing table, a bad argument): not retried.
_FINAL = (LookupError, ValueError, TypeError, AttributeError, NotImplementedError)


@lru_cache(maxsize=4)
def _worker_client(settings: Settings) -> S3Client:
    """One S3 client (one connection pool) per worker process and settings, kept for all
    the tasks that worker runs: the second session on a worker pays no new connection."""
    from ..remote.s3 import S3Client

    return S3Client(settings)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def call_on_session(
    fn: Callable[..., Any],
    name: str,
    settings: Settings,
    retries: int,
    kwargs: Mapping[str, Any] | None = None,
) -> Outcome:
    """Run ``fn(Session(name), **kwargs)`` on a worker, with retries; never raises for a
    failure of ``fn`` (it becomes :attr:`Outcome.error`)."""
    from ..session import Session

    client = _worker_client(settings)
    before = client.stats.snapshot()
    started = time.perf_counter()
    cpu = time.thread_time()
    error: str | None = None
    attempt = 0

    def outcome(value: Any, error: str | None) -> Outcome:
        # tasks on one worker share its client, so concurrent tasks' counts may overlap
        spent = client.stats.snapshot() - before
        return Outcome(
            name,
            value,
            error,
            attempt,
            time.perf_counter() - started,
            spent.requests,
            spent.bytes,
            time.thread_time() - cpu,
        )

    for attempt in range(1, retries + 2):
        session = None
        try:
            session = Session(name, client=client)
            value = fn(session, **(kwargs or {}))
        # A user's function may fail in any way; the contract is a row saying why, so every
        # ordinary exception is caught here (never KeyboardInterrupt or SystemExit).
        except Exception as exc:
            error = _describe(exc)
            logger.info("session %s failed (attempt %d): %s", name, attempt, error)
            if isinstance(exc, _FINAL):
                break  # the same input fails the same way: another attempt only costs time
            if attempt <= retries:
                time.sleep(min(0.25 * 2 ** (attempt - 1), 2.0))
            continue
        finally:
            if session is not None:
                session.close()
        return outcome(value, None)
    return outcome(None, error)


def run_per_session(
    fn: Callable[[Session], Any],
    sessions: Iterable[str],
    *,
    settings: Settings | None = None,
    scheduler: str | None = None,
    retries: int = 2,
    workers: int | None = None,
    callback: CallbackLike | None = None,
    kwargs: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Outcome]:
    """Run ``fn`` on every session on the cluster; one :class:`Outcome` per session, in
    input order (see :func:`map_sessions`). ``kwargs``: session -> keyword arguments of
    ``fn`` for that session (what the driver already knows about it)."""
    from .cluster import open_client, resolve_scheduler, run_tasks

    names = list(dict.fromkeys(str(s) for s in sessions))
    settings = settings or Settings.resolve()
    if not names:
        resolve(callback).set_size(0)
        return []
    token = uuid.uuid4().hex[:8]
    with open_client(resolve_scheduler(scheduler), n_tasks=len(names), workers=workers) as client:
        return run_tasks(
            client,
            call_on_session,
            [(fn, name, settings, retries, (kwargs or {}).get(name)) for name in names],
            keys=[f"ppdata-{token}-{name}" for name in names],
            callback=callback,
        )


def outcomes_to_frame(outcomes: Iterable[Outcome]) -> pd.DataFrame:
    """One DataFrame from the outcomes: a ``session`` column first, an ``error`` column
    last (``None`` where the session succeeded).

    A DataFrame result contributes its rows, a dict or Series one row, anything else one
    row with a ``value`` column; a failed session one row with only its error.
    """
    import pandas as pd

    parts = []
    for outcome in outcomes:
        value = outcome.value
        if outcome.error is not None:
            frame = pd.DataFrame({"error": [outcome.error]})
        elif isinstance(value, pd.DataFrame):
            frame = value.reset_index() if _has_named_index(value) else value.copy()
        elif isinstance(value, pd.Series):
            frame = value.to_frame().T.reset_index(drop=True)
        elif isinstance(value, dict):
            frame = pd.DataFrame([value])
        else:
            frame = pd.DataFrame({"value": [value]})
        if outcome.error is None:
            frame["error"] = None
        frame.insert(0, "session", outcome.session)
        parts.append(frame)
    if not parts:
        return pd.DataFrame({"session": pd.Series(dtype=object), "error": pd.Series(dtype=object)})
    parts = [p for p in parts if not p.empty] or parts[:1]
    out = pd.concat(parts, ignore_index=True, sort=False)
    columns = [c for c in out.columns if c != "error"] + ["error"]
    return out[columns]


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(name is not None for name in frame.index.names)


def map_sessions(
    fn: Callable[[Session], Any],
    sessions: Iterable[str] | pd.DataFrame,
    scheduler: str | None = None,
    *,
    settings: Settings | None = None,
    retries: int = 2,
    workers: int | None = None,
    callback: CallbackLike | None = None,
) -> pd.DataFrame:
    """Run a function on every session, one task per session, on a Dask cluster.

    Parameters
    ----------
    fn : callable
        ``fn(session)`` for a :class:`ppdata.Session`; returns a DataFrame (its rows), a
        dict or Series (one row) or a scalar (a ``value`` column). It runs on a worker, so
        it must be picklable (cloudpickle: lambdas and local functions are fine).
    sessions : iterable of str or DataFrame
        Session names, or a table with a ``session`` column (e.g.
        ``Catalog().sessions(...)``).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); default
        ``PPDATA_SCHEDULER``, else a local cluster of worker processes for this call.
    settings : Settings, optional
        Where workers read from (default :meth:`Settings.resolve`); sent with each task.
    retries : int
        Further attempts of a session whose function raised, with backoff; not for
        failures another attempt would repeat (``LookupError`` such as
        :class:`~ppdata.NotFound`, ``ValueError``, ``TypeError``, ``AttributeError``).
    workers : int, optional
        Worker processes of a local cluster (default: one per CPU).
    callback : Callback, optional
        Progress in sessions (see :mod:`ppdata.callbacks`): ``set_size`` is the sessions,
        updated as each finishes.

    Returns
    -------
    pandas.DataFrame
        ``session`` first, then ``fn``'s columns, then ``error`` (``None`` where the session
        succeeded; otherwise why its last attempt failed).

    Raises
    ------
    ClusterError
        The scheduler cannot be reached (within seconds), or a local cluster cannot start.

    Examples
    --------
    >>> ppdata.map_sessions(lambda s: {"units": len(s.units())},
    ...                     ["ecephys_820459_2025-11-12_14-34-33"])  # doctest: +SKIP
    """
    import pandas as pd

    if isinstance(sessions, pd.DataFrame):
        sessions = sessions["session"].tolist()
    outcomes = run_per_session(
        fn,
        sessions,
        settings=settings,
        scheduler=scheduler,
        retries=retries,
        workers=workers,
        callback=callback,
    )
    return outcomes_to_frame(outcomes)
