"""What the transport counts: requests, response bytes and retries, per S3 operation.

:class:`RequestStats` is the live, thread-safe counter one client shares with everything
that reads through it (the transport, s3fs for hdmf-zarr); :class:`RequestCounts` is a
snapshot of it, and the difference of two snapshots is what happened in between.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OperationCounts", "RequestCounts", "RequestStats"]


@dataclass(frozen=True)
class OperationCounts:
    """Requests and response bytes of one S3 operation (``GetObject``...)."""

    requests: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class RequestCounts:
    """Requests, response bytes and retries counted so far (:meth:`RequestStats.snapshot`),
    or between two snapshots (``after - before``).

    Attributes
    ----------
    requests, bytes, retries : int
        Totals over every operation.
    by_operation : dict of str to OperationCounts
        Per S3 operation, sorted by name.
    dandi : RequestCounts, optional
        A :class:`~ppdata.Session`'s reads of a DANDI blob, when it used one.
    api_requests : int
        Look-ups in the DANDI API (only in ``dandi``).

    Examples
    --------
    >>> after = RequestCounts(3, 1_200_000, 0, {"GetObject": OperationCounts(3, 1_200_000)})
    >>> before = RequestCounts(1, 200_000, 0, {"GetObject": OperationCounts(1, 200_000)})
    >>> (after - before).describe()
    '2 requests, 1.0 MB'
    >>> (after - before).to_dict()["by_operation"]
    {'GetObject': {'requests': 2, 'bytes': 1000000}}
    """

    requests: int = 0
    bytes: int = 0
    retries: int = 0
    by_operation: Mapping[str, OperationCounts] = field(default_factory=dict)
    dandi: RequestCounts | None = None
    api_requests: int = 0

    def __sub__(self, before: RequestCounts) -> RequestCounts:
        ops = {}
        for op, now in self.by_operation.items():
            was = before.by_operation.get(op, OperationCounts())
            if now.requests != was.requests or now.bytes != was.bytes:
                ops[op] = OperationCounts(now.requests - was.requests, now.bytes - was.bytes)
        return RequestCounts(
            self.requests - before.requests,
            self.bytes - before.bytes,
            self.retries - before.retries,
            ops,
        )

    def describe(self) -> str:
        """``"12 requests, 3.4 MB"``."""
        from ..units import format_bytes

        return f"{self.requests:,} requests, {format_bytes(self.bytes)}"

    def to_dict(self) -> dict[str, Any]:
        """As JSON: ``requests``, ``bytes``, ``retries``, ``by_operation`` (and ``dandi``,
        ``api_requests`` when set)."""
        out: dict[str, Any] = {
            "requests": self.requests,
            "bytes": self.bytes,
            "retries": self.retries,
            "by_operation": {
                op: {"requests": c.requests, "bytes": c.bytes}
                for op, c in self.by_operation.items()
            },
        }
        if self.api_requests:
            out["api_requests"] = self.api_requests
        if self.dandi is not None:
            out["dandi"] = self.dandi.to_dict()
        return out


class RequestStats:
    """Counts of HTTP requests and response bytes, by operation.

    Counted once per HTTP attempt (retries count too), for our own requests and for s3fs's.
    Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.bytes: dict[str, int] = {}
        self.retries = 0
        #: Seconds from sending a request to its reply's headers, the fastest seen so far:
        #: how far away the server is (used to size the download's concurrency).
        self.fastest_reply: float | None = None

    def add_request(self, operation: str) -> None:
        with self._lock:
            self.requests[operation] = self.requests.get(operation, 0) + 1

    def add_bytes(self, operation: str, n: int) -> None:
        with self._lock:
            self.bytes[operation] = self.bytes.get(operation, 0) + n

    def add_reply_time(self, seconds: float) -> None:
        with self._lock:
            if self.fastest_reply is None or seconds < self.fastest_reply:
                self.fastest_reply = seconds

    def add_retry(self) -> None:
        with self._lock:
            self.retries += 1

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    def snapshot(self) -> RequestCounts:
        """The counts so far (subtract an earlier snapshot for the counts in between)."""
        with self._lock:
            return RequestCounts(
                self.total_requests,
                self.total_bytes,
                self.retries,
                {
                    op: OperationCounts(n, self.bytes.get(op, 0))
                    for op, n in sorted(self.requests.items())
                },
            )

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes.clear()
            self.retries = 0

    def __repr__(self) -> str:
        return f"RequestStats(requests={self.total_requests}, bytes={self.total_bytes})"
