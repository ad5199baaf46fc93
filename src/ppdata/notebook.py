"""Progress in a Jupyter cell: one bar that the library's progress callbacks move.

The library never draws progress itself; long calls take a ``callback=`` (see
:mod:`ppdata.callbacks`: ``download``, ``verify``, ``project_table``, ``map_sessions``,
``Catalog.refresh``). In a terminal the CLI passes rich bars; in a notebook pass a
:class:`NotebookProgress`. It draws an HTML ``<progress>`` element through IPython's display
machinery, so it needs no widgets package and shows in Jupyter, VS Code and in notebooks
executed by nbclient; outside IPython it draws nothing.

Examples
--------
>>> from ppdata.transfer.api import download
>>> from ppdata.notebook import NotebookProgress
>>> bar = NotebookProgress("sessions")
>>> bar.set_size(4)
>>> bar.relative_update(3)  # as project_table and map_sessions call it, session by session
>>> bar.text
'sessions: 3 / 4 (75%)'
>>> bar = NotebookProgress("sorted NWB", in_bytes=True)
>>> summary = download("ecephys_820459_2025-11-12_14-34-33_sorted_2026-06-27_09-05-10/nwb",
...                    dest="data", callback=bar)
>>> bar.files_done == len(summary.fetched), bar.done == bar.total
(True, True)
"""

from __future__ import annotations

import threading
import time
from html import escape
from typing import Any

from .callbacks import Callback, ItemCallback

__all__ = ["NotebookProgress"]

#: At most this many redraws per second (callbacks can come from many threads at once).
_REDRAWS_PER_SECOND = 8


class NotebookProgress(Callback):
    """A progress bar in the notebook cell that runs the call.

    Pass it as the ``callback=`` of a long call (see :mod:`ppdata.callbacks`). The files a
    download or a verify goes through (its branches) are counted in the label.

    Parameters
    ----------
    description : str
        What is counted, shown before the numbers.
    in_bytes : bool
        The job counts bytes (a download, a verify): show sizes, not counts.
    """

    def __init__(self, description: str = "", *, in_bytes: bool = False) -> None:
        super().__init__()
        self.description = description
        self.in_bytes = in_bytes
        self.files_done = 0
        self._files_lock = threading.Lock()
        self._handle: Any = None
        self._last = 0.0

    @property
    def done(self) -> int:
        """How much is done (``value``)."""
        return self.value

    @property
    def total(self) -> int | None:
        """How much the job counts (``size``)."""
        return self.size

    def call(self) -> None:
        self._draw(force=self.size is not None and self.value >= self.size)

    def branched(self, path_1: str, path_2: str, **kwargs: Any) -> Callback:
        return ItemCallback(self._file_done)

    def _file_done(self) -> None:
        with self._files_lock:
            self.files_done += 1
        self._draw()

    # -- drawing ----------------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The bar's label: ``"files: 3 / 4 (75%)"``."""
        if self.in_bytes:
            from .units import format_bytes

            amount = f"{format_bytes(self.done)} / {format_bytes(self.total or 0)}"
            amount += f", {self.files_done:,} files"
        else:
            amount = f"{self.done:,}" + (f" / {self.total:,}" if self.total is not None else "")
        if self.total:
            amount += f" ({100 * min(self.done, self.total) / self.total:.0f}%)"
        return f"{self.description}: {amount}" if self.description else amount

    def _repr_html_(self) -> str:
        value = f' value="{min(self.done, self.total)}" max="{self.total}"' if self.total else ""
        return (
            f'<div class="ppdata-progress"><progress style="width:18em;vertical-align:middle"'
            f"{value}></progress> <span>{escape(self.text)}</span></div>"
        )

    def __repr__(self) -> str:
        return f"NotebookProgress({self.text!r})"

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 1 / _REDRAWS_PER_SECOND:
            return
        self._last = now
        try:
            from IPython import get_ipython
            from IPython.display import HTML, display
        except ImportError:
            return
        if get_ipython() is None:
            return
        html = HTML(self._repr_html_())
        if self._handle is None:
            self._handle = display(html, display_id=True)
        else:
            self._handle.update(html)
