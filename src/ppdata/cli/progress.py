"""Progress bars (rich), drawn only by the CLI, only on a terminal.

The one place where the library's progress callbacks (:mod:`ppdata.callbacks`) become bars:
every long command passes the :class:`BarCallback` that :func:`progress_bar` yields as the
library call's ``callback=``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..callbacks import Callback, ItemCallback

__all__ = ["BarCallback", "progress_bar", "world_bar"]

#: How many in-flight item names the bar's label shows before "+N".
_SHOWN = 2


class BarCallback(Callback):
    """A library callback that moves one rich bar; its branches (files, steps) name what is
    in flight in the bar's label. Without a bar (not a terminal, ``--quiet``) it only counts,
    and ``echo`` (if given) is called with each branch's name."""

    def __init__(
        self,
        progress: Any,
        task: Any,
        description: str,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self._progress, self._task, self.description = progress, task, description
        self._echo = echo
        self._names: list[str] = []
        self._names_lock = threading.Lock()
        self.items_done = 0

    def call(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=self.value, total=self.size)

    def branched(self, path_1: str, path_2: str, **kwargs: Any) -> Callback:
        name = path_1.rsplit("/", 1)[-1] or path_1
        with self._names_lock:
            self._names.append(name)
            self._relabel()
        if self._echo is not None:
            self._echo(path_1)
        return ItemCallback(lambda: self._finished(name))

    def _finished(self, name: str) -> None:
        with self._names_lock:
            if name in self._names:
                self._names.remove(name)
            self.items_done += 1
            self._relabel()

    def _relabel(self) -> None:
        if self._progress is None:
            return
        names = ", ".join(self._names[:_SHOWN])
        more = f" +{len(self._names) - _SHOWN}" if len(self._names) > _SHOWN else ""
        label = f"{self.description} ({self.items_done:,} done) {names}{more}".rstrip()
        self._progress.update(self._task, description=label)


@contextmanager
def progress_bar(
    description: str,
    *,
    unit: str = "",
    total: int | None = None,
    transient: bool = True,
    quiet: bool = False,
    in_bytes: bool = False,
    echo: Callable[[str], None] | None = None,
) -> Iterator[BarCallback]:
    """A progress bar on stderr when it is a terminal; a silent callback otherwise.

    ``in_bytes`` shows sizes, speed and time left (downloads, verify) instead of counts;
    ``echo`` is told each branch's name when no bar is drawn (a log line per step).
    """
    if quiet or not sys.stderr.isatty():
        yield BarCallback(None, None, description, echo=None if quiet else echo)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    if in_bytes:
        columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    else:
        columns += [MofNCompleteColumn(), TextColumn(unit), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=transient) as progress:
        task = progress.add_task(description, total=total)
        yield BarCallback(progress, task, description)


@contextmanager
def world_bar() -> Iterator[BarCallback]:
    """The bar of a first-time world build: one step an asset; a log line a step when
    stderr is not a terminal (a build takes a minute and should not look stuck)."""
    import click

    with progress_bar(
        "Building the world", unit="steps", echo=lambda step: click.echo(f"  {step}", err=True)
    ) as bar:
        yield bar
