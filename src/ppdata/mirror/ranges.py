"""Ranged GETs answered in time proportional to the range, as S3 answers them.

moto answers a GET of a byte range by reading the whole object and cutting the range out of
it: on the bench world's 1.4 GB NWB that is ~0.7 s a request, whatever the range, where S3
(and a client's latency budget) pays for the range only. :class:`RangedReads` sits in
front of moto's WSGI app: moto answers the same request as a HEAD (the range checked
against the object's size, the ``If-*`` conditions, the headers: ``206`` and
``Content-Range`` when all is well), and the range's bytes are read from the object's
buffer. Any other request, and any ranged GET moto does not answer ``206`` to (a bad
range, a failed condition, a missing key), goes to moto unchanged.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["RangedReads"]

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class RangedReads:
    """WSGI middleware over moto's S3 app (see the module's docstring).

    Parameters
    ----------
    app : WSGI application
        moto's (path-style requests: ``/<bucket>/<key>``).
    backend : callable
        Returns moto's S3 backend (where the objects are).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], backend: Callable[[], Any]) -> None:
        self.app = app
        self.backend = backend

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or not environ.get("HTTP_RANGE")
            or environ.get("QUERY_STRING")
        ):
            return self.app(environ, start_response)
        got: dict[str, Any] = {}

        def headers_only(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            got.update(status=status, headers=headers)
            return lambda data: None

        reply = self.app(dict(environ, REQUEST_METHOD="HEAD"), headers_only)
        try:
            for _ in reply:  # a HEAD's body is empty; moto may still hand back an iterable
                pass
        finally:
            close = getattr(reply, "close", None)
            if close is not None:
                close()
        data = self._range(environ, got) if str(got.get("status", "")).startswith("206") else None
        if data is None:
            return self.app(environ, start_response)
        headers = [(k, v) for k, v in got["headers"] if k.lower() != "content-length"]
        start_response(got["status"], [*headers, ("Content-Length", str(len(data)))])
        return [data]

    def _range(self, environ: dict[str, Any], got: dict[str, Any]) -> bytes | None:
        """The bytes the HEAD's ``Content-Range`` names, read from the object's buffer;
        ``None`` when the object or moto's buffer is not found as expected."""
        found = next((v for k, v in got["headers"] if k.lower() == "content-range"), "")
        match = _CONTENT_RANGE.fullmatch(found)
        # WSGI hands the path over decoded, as latin-1 text
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        bucket, _, key = path.lstrip("/").partition("/")
        if match is None or not key:
            return None
        start, end, size = (int(g) for g in match.groups())
        from moto.s3.exceptions import S3ClientError

        try:
            obj = self.backend().get_object(bucket, key)
        except S3ClientError:  # no such bucket: moto answers the GET itself
            return None
        if obj is None or getattr(obj, "size", None) != size:
            return None
        # read without moving the buffer's position: moto computes an object's ETag on
        # first use by seeking and reading that buffer without a lock, so a seek here
        # could land in the middle of it
        stored = getattr(getattr(obj, "_value_buffer", None), "_file", None)
        n = end + 1 - start
        if isinstance(stored, io.BytesIO):
            data = bytes(stored.getbuffer()[start : start + n])
        elif stored is not None and hasattr(stored, "fileno"):
            data = os.pread(stored.fileno(), n, start)
        else:
            return None
        return data if len(data) == n else None
