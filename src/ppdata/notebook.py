"""Progress in a Jupyter cell: one bar that the library's progress callbacks move.

The library never draws progress itself; long calls take a callback (``download(...,
progress=)``, ``project_table(..., progress=)``, ``map_sessions(..., progress=)``). In a
terminal the CLI passes rich bars; in a notebook pass a :class:`NotebookProgress`. It draws an
HTML ``<progress>`` element through IPython's display machinery, so it needs no widgets
package and shows in Jupyter, VS Code and in notebooks executed by nbclient; outside IPython
it draws nothing.

Examples
--------
>>> from ppdata.transfer.api import download
>>> from ppdata.notebook import NotebookProgress
>>> bar = NotebookProgress("sessions")
>>> bar(3, 4)  # a (done, total) callback, as project_table and map_sessions call it
>>> bar.text
'sessions: 3 / 4 (75%)'
>>> bar = NotebookProgress("sorted NWB")
>>> summary = download("ecephys_820459_2025-11-12_14-34-33_sorted_2026-06-27_09-05-10/nwb",
...                    dest="data", progress=bar)
>>> bar.files_done == len(summary.fetched), bar.done == bar.total
(True, True)
"""

from __future__ import annotations

import threading
import time
from html import escape
from typing import Any

__all__ = ["NotebookProgress"]

#: At most this many redraws per second (callbacks can come from many threads at once).
_REDRAWS_PER_SECOND = 8


class NotebookProgress:
    """A progress bar in the notebook cell that runs the call.

    Use it as a ``progress(done, total)`` callable (project tables, ``map_sessions``) or as
    the ``progress=`` of :func:`ppdata.download` (it implements that protocol: bytes done of
    the total, files done in the label).

    Parameters
    ----------
    description : str
        What is counted, shown before the numbers.
    """

    def __init__(self, description: str = "") -> None:
        self.description = description
        self.done = 0
        self.total: int | None = None
        self.files_done = 0
        self.files_total: int | None = None
        self._bytes = False
        self._lock = threading.Lock()
        self._handle: Any = None
        self._last = 0.0

    # -- (done, total) callable -------------------------------------------------------------
    def __call__(self, done: int, total: int | None = None) -> None:
        with self._lock:
            self.done = done
            if total is not None:
                self.total = total
        self._draw(force=total is not None and done >= total)

    # -- the download protocol --------------------------------------------------------------
    def start(self, total_bytes: int, total_files: int) -> None:
        with self._lock:
            self._bytes = True
            self.total, self.done = total_bytes, 0
            self.files_total, self.files_done = total_files, 0
        self._draw(force=True)

    def file_started(self, file: Any) -> None:
        return None

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self.done += nbytes
        self._draw()

    def file_done(self, result: Any) -> None:
        with self._lock:
            self.files_done += 1
            finished = self.files_total is not None and self.files_done >= self.files_total
        self._draw(force=finished)

    # -- drawing ----------------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The bar's label: ``"files: 3 / 4 (75%)"``."""
        if self._bytes:
            from .units import format_bytes

            amount = f"{format_bytes(self.done)} / {format_bytes(self.total or 0)}"
            if self.files_total is not None:
                amount += f", {self.files_done:,} / {self.files_total:,} files"
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
