"""Where per-session tasks run: a Dask cluster, local by default, anyone's on request.

``scheduler=None`` (and no ``PPDATA_SCHEDULER``) starts a :class:`distributed.LocalCluster`
of worker *processes* on this machine for the duration of one call; an address
(``tcp://host:8786``) connects to an existing scheduler instead, so the same call runs on
any Dask deployment (dask-jobqueue, Kubernetes, a cloud service) unchanged. Workers read S3
themselves: what they need to know (endpoint, bucket, timeouts) travels with each task in
the frozen :class:`~ppdata.settings.Settings`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..callbacks import CallbackLike, resolve
from ..errors import ClusterError

__all__ = [
    "CONNECT_TIMEOUT",
    "ENV_SCHEDULER",
    "open_client",
    "resolve_scheduler",
    "run_tasks",
]

logger = logging.getLogger(__name__)

ENV_SCHEDULER = "PPDATA_SCHEDULER"
#: Seconds to wait for an existing scheduler before saying it cannot be reached.
CONNECT_TIMEOUT = 5.0


def resolve_scheduler(scheduler: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The scheduler address to use: the argument, else ``PPDATA_SCHEDULER``, else ``None``
    (a local cluster). ``"local"`` forces a local cluster.

    >>> resolve_scheduler(None, env={"PPDATA_SCHEDULER": "tcp://10.0.0.1:8786"})
    'tcp://10.0.0.1:8786'
    >>> resolve_scheduler("local", env={"PPDATA_SCHEDULER": "tcp://10.0.0.1:8786"}) is None
    True
    """
    env = os.environ if env is None else env
    value = scheduler if scheduler else env.get(ENV_SCHEDULER, "")
    value = (value or "").strip()
    if not value or value.lower() == "local":
        return None
    return value


def _local_workers(n_tasks: int, workers: int | None) -> int:
    if workers is not None:
        return max(1, int(workers))
    return max(1, min(os.cpu_count() or 1, n_tasks, 8))


@contextlib.contextmanager
def open_client(
    scheduler: str | None = None,
    *,
    n_tasks: int = 1,
    workers: int | None = None,
    threads_per_worker: int = 4,
    timeout: float = CONNECT_TIMEOUT,
) -> Iterator[Any]:
    """A :class:`distributed.Client` on the scheduler asked for, or on a new local cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:port``); ``None`` starts a local
        cluster of worker processes that lives as long as the ``with`` block.
    n_tasks : int
        How many tasks will run (a local cluster gets no more workers than that).
    workers : int, optional
        Worker processes of a local cluster (default: one per CPU, at most 8).
    threads_per_worker : int
        Threads per local worker: tasks mostly wait on the network, so a few per core.
    timeout : float
        Seconds to wait for an existing scheduler.

    Raises
    ------
    ClusterError
        The scheduler cannot be reached within ``timeout``, or the local cluster fails to
        start.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({exc}); "
                f"check that it runs, or run on this machine by leaving out --scheduler and "
                f"unsetting {ENV_SCHEDULER}"
            ) from exc
        try:
            yield client
        finally:
            client.close()
        return
    n = _local_workers(n_tasks, workers)
    try:
        with _script_not_rerun():
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=threads_per_worker,
                processes=True,
                # no dashboard (bokeh is not installed); the scheduler's HTTP server (health
                # routes) still starts: on any free port, not 8787, which another cluster on
                # this machine may hold (Dask then warns and moves)
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
    except (OSError, TimeoutError, RuntimeError) as exc:
        raise ClusterError(f"cannot start a local Dask cluster of {n} workers: {exc}") from exc
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


@contextlib.contextmanager
def _script_not_rerun() -> Iterator[None]:
    """Start local worker processes without running the user's script again in each.

    Dask starts them with multiprocessing's "spawn", which re-runs the ``__main__`` script
    in every new process: a script that calls ppdata at its top level, without
    ``if __name__ == "__main__":``, would start a cluster inside each worker while it boots,
    and every worker would fail ("Nanny failed to start"). The workers do not need the
    script (functions from ``__main__`` travel by value, with cloudpickle), so while they
    start ``__main__`` shows neither its file nor its module spec, as in a notebook.
    """
    import sys

    main = sys.modules.get("__main__")
    names = ("__file__", "__spec__")
    hidden: dict[str, Any] = {k: main.__dict__[k] for k in names if main and k in main.__dict__}
    if main is None or not any(v is not None for v in hidden.values()):
        yield
        return
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.update(hidden)


def run_tasks(
    client: Any,
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    *,
    keys: Sequence[str] | None = None,
    callback: CallbackLike | None = None,
) -> list[Any]:
    """Run ``fn(*a)`` for every ``a`` in ``args`` on the cluster; results in input order.

    ``fn`` must not raise for an expected failure (the per-session wrappers return an error
    record instead). A worker that dies has its task rescheduled by Dask; Ctrl-C cancels
    every task still queued or running on the cluster before it propagates.
    """
    from distributed import as_completed

    total = len(args)
    callback = resolve(callback)
    callback.set_size(total)
    if not total:
        return []
    futures = [
        client.submit(fn, *a, key=(keys[i] if keys else None), pure=False, retries=1)
        for i, a in enumerate(args)
    ]
    position = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * total
    try:
        for future in as_completed(futures, loop=client.loop):
            results[position[future.key]] = future.result()
            callback.relative_update(1)
    except BaseException:
        # KeyboardInterrupt (Ctrl-C) above all: stop the work on the cluster, not just here
        client.cancel(futures, force=True)
        raise
    return results
