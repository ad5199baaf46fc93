"""Counting spikes in trial windows: the PSTH's arithmetic, one sorted train at a time.

Every (spike, trial) pair with the spike inside the trial's window is found exactly (no
time grid, no quantisation) and its bin computed from the spike's offset in the window;
the counts are what a histogram of ``train - onset`` per trial, summed over trials,
gives. The trial windows of every condition compared are merged, sorted and indexed
once (:class:`Windows`), so that each unit's train is searched once for all conditions
and its pairs counted with one ``bincount`` of combined (condition, bin) indices.

Examples
--------
>>> import numpy as np
>>> windows = Windows([np.array([10.0, 20.0]), np.array([15.0])], np.linspace(-0.5, 1.0, 4))
>>> windows.count(np.array([9.6, 10.2, 15.9, 20.4, 20.6])).tolist()
[[1, 2, 1], [0, 0, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Windows", "unit_counts"]

#: Steps the table search takes at most; values bunched closer than this use
#: ``np.searchsorted``.
MAX_WIDTH = 8
#: Table cells per sorted value (more cells: fewer steps, a bigger table).
CELLS_PER_VALUE = 4


class _Lookup:
    """``np.searchsorted(hay, x, side="right")`` for values ``x`` in ``[lo, hi]``.

    A binary search costs about a dozen dependent loads per value. Here the span is cut
    into equal cells, a few per value of ``hay``; a table holds, for each cell, the answer
    at the start of the cell before it (a lower bound, with a cell of margin for
    rounding), and the answer is reached from it by at most ``width`` vectorised steps
    (``width`` is the most values of ``hay`` in three neighbouring cells). Exact for any
    sorted ``hay``: where the values bunch, ``width`` exceeds ``MAX_WIDTH`` and the binary
    search is used.
    """

    def __init__(self, hays: Sequence[np.ndarray], lo: float, hi: float) -> None:
        size = max(len(h) for h in hays)
        cells = max(1, min(CELLS_PER_VALUE * size, 1 << 22))
        span = hi - lo
        self.lo = lo
        self.scale = cells / span if span > 0 else 0.0
        self.hays = list(hays)
        self.tables: list[np.ndarray] = []
        self.padded: list[np.ndarray] = []
        self.width = 0
        if span <= 0:
            self.width = MAX_WIDTH + 1
            return
        # cell c holds the x with c <= (x - lo) * scale < c + 1, up to a rounding that moves
        # no x by a whole cell: x lies in [grid[c - 1], grid[c + 2])
        grid = lo + np.arange(-1, cells + 3, dtype=np.float64) / self.scale
        for hay in self.hays:
            at = np.searchsorted(hay, grid, side="right")
            self.tables.append(at[: cells + 1])
            self.width = max(self.width, int((at[3:] - at[: cells + 1]).max(initial=0)))
            self.padded.append(np.concatenate([hay, [np.inf]]))

    def find(self, x: np.ndarray) -> list[np.ndarray]:
        """The answer for each ``hay``, for ``x`` sorted or not (``lo <= x <= hi``)."""
        if self.width > MAX_WIDTH:
            return [np.searchsorted(hay, x, side="right") for hay in self.hays]
        cell = x - self.lo
        cell *= self.scale
        cell = cell.astype(np.intp)
        np.minimum(cell, len(self.tables[0]) - 1, out=cell)
        out = []
        for table, padded in zip(self.tables, self.padded, strict=True):
            at = table[cell]
            for _ in range(self.width):  # hay is sorted: step right while it is <= x
                at += padded[at] <= x
            out.append(at)
        return out


class Windows:
    """The trial windows of the conditions compared, merged and sorted once.

    Parameters
    ----------
    onsets : sequence of numpy.ndarray
        The onsets of each condition (seconds; any order).
    edges : numpy.ndarray
        Equal bins' edges relative to the onset (the window is ``edges[0]..edges[-1]``).

    Notes
    -----
    A spike ``s`` is in trial ``j``'s window when ``onset + edges[0] <= s < onset +
    edges[-1]``, and in bin ``int((s - (onset + edges[0])) * n_bins / (edges[-1] -
    edges[0]))``; a spike a rounding below the window's end that lands on ``n_bins`` is
    counted in the last bin.
    """

    def __init__(self, onsets: Sequence[np.ndarray], edges: np.ndarray) -> None:
        self.n_cond = len(onsets)
        self.n_bins = len(edges) - 1
        self.scale = self.n_bins / (edges[-1] - edges[0])
        every = np.concatenate([np.asarray(o, dtype=np.float64) for o in onsets])
        condition = np.repeat(np.arange(self.n_cond), [len(o) for o in onsets])
        order = np.argsort(every, kind="stable")
        order = order[np.isfinite(every[order])]  # a trial without an onset has no window
        every = every[order]
        self.lows = every + edges[0]
        self.highs = every + edges[-1]
        # each condition's bins, and one more for the spikes that round onto the end
        self.slots = condition[order].astype(np.intp) * (self.n_bins + 1)
        self.size = len(every)
        if self.size:
            self.span = (float(self.lows[0]), float(self.highs[-1]))
            self._lookup = _Lookup([self.highs, self.lows], *self.span)

    def count(self, train: np.ndarray) -> np.ndarray:
        """Spike counts of one sorted train, condition × bin, summed over trials.

        The pairs are found from whichever side asks fewer questions: each spike's trials
        (a table search, see :class:`_Lookup`) or, when the trials are far fewer than the
        train's spikes in their span, each trial's spikes (binary search in the train).
        Only the pairs are touched after that: the cost is in proportion to spikes in
        windows, not trials × bins.
        """
        n_bins, slots = self.n_bins, self.n_cond * (self.n_bins + 1)
        if train.size == 0 or self.size == 0:
            return np.zeros((self.n_cond, n_bins), dtype=np.int64)
        i0, i1 = np.searchsorted(train, self.span, side="left")
        spikes = train[i0:i1]
        if spikes.size == 0:
            return np.zeros((self.n_cond, n_bins), dtype=np.int64)
        by_trial = 4 * self.size < spikes.size
        if by_trial:  # trial j's window holds spikes[a[j] : a[j] + n[j]]
            a = np.searchsorted(spikes, self.lows, side="left")
            n = np.searchsorted(spikes, self.highs, side="left")
        else:  # spike i is in the windows of trials a[i] .. n[i] - 1
            a, n = self._lookup.find(spikes)
        n -= a
        total = int(n.sum())
        if total == 0:
            return np.zeros((self.n_cond, n_bins), dtype=np.int64)
        # the pairs: a[i] + k for k < n[i], for every i, built with one repeat
        a -= np.cumsum(n) - n
        other = np.repeat(a, n)
        other += np.arange(total, dtype=other.dtype)
        if by_trial:
            relative = spikes[other]
            relative -= np.repeat(self.lows, n)
            slot = np.repeat(self.slots, n)
        else:
            relative = np.repeat(spikes, n)
            relative -= self.lows[other]  # minus its trial's window start
            slot = self.slots[other]
        # equal bins: the bin index is arithmetic (np.histogram would search the edges)
        relative *= self.scale
        slot += relative.astype(np.intp)
        counts = np.bincount(slot, minlength=slots).reshape(self.n_cond, n_bins + 1)
        counts[:, n_bins - 1] += counts[:, n_bins]
        return counts[:, :n_bins]


def unit_counts(train: np.ndarray, onsets: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Spike counts per bin of one sorted train, summed over the trials at ``onsets``.

    Examples
    --------
    >>> import numpy as np
    >>> unit_counts(np.array([0.05, 0.15, 1.05]), np.array([0.0, 1.0]), np.array([0, 0.1, 0.2]))
    array([2, 1])
    """
    return Windows([onsets], edges).count(train)[0]
