"""One progress protocol for every long job: an fsspec-style :class:`Callback`.

Downloads, :func:`~ppdata.transfer.manifest.verify`, catalog refreshes, project tables,
:func:`~ppdata.map_sessions`, world builds and mirror loads all take ``callback=``, an
object with the methods of ``fsspec.callbacks.Callback``:

- ``set_size(n)``: how much the whole job counts (bytes, sessions, requests, steps); called
  again when the job finds more work;
- ``relative_update(inc)`` / ``absolute_update(value)``: progress on the whole job;
- ``branched(path_1, path_2, **kwargs)``: a child for one item of the job (a file being
  fetched or hashed, a world asset being written), used as a context manager; the child is
  told the item's ``set_size``/``relative_update`` and is closed when the item is over.
  The parent is updated too, so a callback that ignores children still sees every byte.

The default, :data:`DEFAULT_CALLBACK`, does nothing. The library never draws: the CLI
adapts callbacks to rich bars in one place (``ppdata/cli/progress.py``) and notebooks use
:class:`ppdata.notebook.NotebookProgress`.

Why not ``fsspec.callbacks.Callback`` itself: importing fsspec costs ~140 ms (``import
ppdata`` stays free of it), and its counters are not locked while ours are updated from
worker threads. The shape is the same, so an fsspec callback (``TqdmCallback``, or
``Callback(hooks=...)``) can be passed wherever ppdata takes ``callback=``.

Examples
--------
>>> from ppdata.callbacks import Callback
>>> class Printer(Callback):
...     def call(self) -> None:
...         print(f"{self.value} / {self.size}")
>>> cb = Printer()
>>> cb.set_size(3)
0 / 3
>>> cb.relative_update(2)
2 / 3
>>> with cb.branched("key", "path") as child:  # a child that does nothing by default
...     child.relative_update(5)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

__all__ = [
    "DEFAULT_CALLBACK",
    "Callback",
    "CallbackLike",
    "ItemCallback",
    "NoOpCallback",
    "resolve",
]


class CallbackLike(Protocol):
    """What ppdata calls on a ``callback=``: the methods ``fsspec.callbacks.Callback`` has."""

    def set_size(self, size: int) -> None: ...
    def relative_update(self, inc: int = 1) -> None: ...
    def absolute_update(self, value: int) -> None: ...
    def branched(self, path_1: str, path_2: str, **kwargs: Any) -> Any: ...


class Callback:
    """Progress of one job: ``size`` is how much it counts, ``value`` how much is done.

    Subclass and override :meth:`call` (run after every change, with the new ``size`` and
    ``value`` set) to draw something, and :meth:`branched` to follow items one by one.
    Updates may come from several threads at once; they are serialized by a lock, and
    :meth:`call` runs while it is held.

    Parameters
    ----------
    size : int, optional
        How much the job counts, if known before it starts.
    value : int
        How much is already done.
    """

    def __init__(self, size: int | None = None, value: int = 0) -> None:
        self.size = size
        self.value = value
        self._lock = threading.Lock()

    def set_size(self, size: int) -> None:
        """Say how much the whole job counts (again, when it grows)."""
        with self._lock:
            self.size = size
            self.call()

    def relative_update(self, inc: int = 1) -> None:
        """Add ``inc`` to what is done."""
        with self._lock:
            self.value += inc
            self.call()

    def absolute_update(self, value: int) -> None:
        """Say how much is done."""
        with self._lock:
            self.value = value
            self.call()

    def call(self) -> None:
        """Run after every change; the base class does nothing."""

    def branched(self, path_1: str, path_2: str, **kwargs: Any) -> Callback:
        """A callback for one item of the job (``path_1`` → ``path_2``); closed when it ends.

        The base class returns :data:`DEFAULT_CALLBACK`: items are not followed one by one.
        """
        return DEFAULT_CALLBACK

    def close(self) -> None:
        """The job (or item) is over; the base class does nothing."""

    def __enter__(self) -> Callback:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, value={self.value})"


class NoOpCallback(Callback):
    """A callback that does nothing, cheaply (the default)."""

    def set_size(self, size: int) -> None:
        return None

    def relative_update(self, inc: int = 1) -> None:
        return None

    def absolute_update(self, value: int) -> None:
        return None


class ItemCallback(NoOpCallback):
    """A branch that only says when its item is over: ``on_close()`` runs once, at the first
    :meth:`close`. For parents that count items (the library updates the parent's value
    itself, so a branch need not forward it).

    Examples
    --------
    >>> done = []
    >>> with ItemCallback(lambda: done.append("file")) as item:
    ...     item.relative_update(10)
    >>> item.close(); done
    ['file']
    """

    def __init__(self, on_close: Callable[[], object]) -> None:
        super().__init__()
        self._on_close: Callable[[], object] | None = on_close

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


#: The callback used when none is given.
DEFAULT_CALLBACK: Callback = NoOpCallback()


def resolve(callback: CallbackLike | None) -> Any:
    """``callback``, or :data:`DEFAULT_CALLBACK` for ``None``."""
    return DEFAULT_CALLBACK if callback is None else callback
