"""A small thread-safe cache with a time to live and a size bound, computed once per key.

Concurrent requests for the same missing key wait for one computation instead of each
repeating it (the session page and its fragments ask for the same listings at once).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["TTLCache"]

T = TypeVar("T")


class TTLCache:
    """Keep up to ``size`` values for ``ttl`` seconds; errors are not cached.

    Parameters
    ----------
    size : int
        Most entries kept (least recently used dropped first).
    ttl : float
        Seconds a value stays fresh.
    """

    def __init__(self, size: int = 256, ttl: float = 600.0) -> None:
        self.size = size
        self.ttl = ttl
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value of ``key``, computing it with ``compute()`` if absent or stale."""
        while True:
            with self._lock:
                hit = self._data.get(key)
                if hit is not None and time.monotonic() - hit[0] < self.ttl:
                    self._data.move_to_end(key)
                    return hit[1]
                gate = self._pending.get(key)
                if gate is None:
                    gate = self._pending[key] = threading.Lock()
                    gate.acquire()
                    break
            with gate:  # another thread computes it: wait, then look again
                pass
        try:
            value = compute()
            with self._lock:
                self._data[key] = (time.monotonic(), value)
                self._data.move_to_end(key)
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._pending.pop(key, None)
            gate.release()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
