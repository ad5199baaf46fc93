"""A static, read-only S3 endpoint over a folder, in a child process, for benchmarks.

ListObjectsV2 (and v1), HEAD, GET with Range and If-Match, ``sendfile`` bodies, multipart-style
ETags for objects of 64 MB and more. It serves a ranged GET in time proportional to the
range, as S3 does, so it measures the clients; the project's mirror reads a ranged GET's
range only too (``ppdata.mirror.ranges``), but moto spends a few ms of CPU on every request,
on the cores the client runs on. Requests and bytes are counted at ``/__stats`` (reset at
``/__reset``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

BUCKET = "bench-bucket"
MULTIPART = 64 * 2**20
PART = 8 * 2**20


def _etag(path: Path) -> str:
    size = path.stat().st_size
    if size < MULTIPART:
        return '"' + hashlib.md5(path.read_bytes()).hexdigest() + '"'
    parts = []
    with open(path, "rb") as f:
        while block := f.read(PART):
            parts.append(hashlib.md5(block).digest())
    return f'"{hashlib.md5(b"".join(parts)).hexdigest()}-{len(parts)}"'


def serve_static(root: Path, conn: Any, bucket: str = BUCKET) -> None:
    """Serve ``root`` as ``bucket``; send the endpoint through ``conn``.

    ETags are computed on first use (a world of several GB starts at once).
    """
    from collections import Counter
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, unquote, urlparse

    sizes: dict[str, int] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.startswith(".done-"):
            sizes[p.relative_to(root).as_posix()] = p.stat().st_size
    keys = sorted(sizes)
    etags: dict[str, str] = {}
    locks: dict[str, threading.Lock] = {}
    guard = threading.Lock()

    def meta(key: str) -> tuple[int, str]:
        # one lock per key: while one request hashes a 1.4 GB file, requests for other keys
        # go on (one global lock made every request wait for the slowest hash)
        etag = etags.get(key)
        if etag is None:
            with guard:
                lock = locks.setdefault(key, threading.Lock())
            with lock:
                etag = etags.get(key)
                if etag is None:
                    etag = etags[key] = _etag(root / key)
        return sizes[key], etag

    stamp = "2025-01-01T00:00:00.000Z"
    counts: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # no Nagle: the body's last partial segment must not wait for a delayed ACK (the
        # same stdlib switch as the latency proxy's and the mirror's)
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            return None

        def _send(
            self,
            status: int,
            body: bytes,
            ctype: str = "application/xml",
            extra: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str) -> None:
            counts["error"] += 1
            self._send(
                status, f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()
            )

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/__stats":
                self._send(200, json.dumps(counts).encode(), "application/json")
                return
            if url.path == "/__reset":
                counts.clear()
                self._send(200, b"{}", "application/json")
                return
            parts = url.path.lstrip("/").split("/", 1)
            if parts[0] != bucket:
                self._error(404, "NoSuchBucket")
                return
            key = unquote(parts[1]) if len(parts) > 1 else ""
            if not key:
                self._list(parse_qs(url.query))
                return
            self._object(key)

        def _list(self, q: dict[str, list[str]]) -> None:
            counts["LIST"] += 1
            prefix = q.get("prefix", [""])[0]
            delim = q.get("delimiter", [""])[0]
            max_keys = int(q.get("max-keys", ["1000"])[0])
            v2 = q.get("list-type", [""])[0] == "2"
            after = q.get("continuation-token" if v2 else "marker", [""])[0]
            if v2 and not after:
                after = q.get("start-after", [""])[0]
            import bisect

            i = bisect.bisect_right(keys, after) if after else bisect.bisect_left(keys, prefix)
            contents, prefixes, last = [], [], ""
            while i < len(keys) and keys[i].startswith(prefix):
                k = keys[i]
                if len(contents) + len(prefixes) >= max_keys:
                    break
                rest = k[len(prefix) :]
                if delim and delim in rest:
                    cp = prefix + rest.split(delim, 1)[0] + delim
                    prefixes.append(cp)
                    last = cp + "\uffff"
                    i = bisect.bisect_left(keys, last)
                    continue
                contents.append(k)
                last = k
                i += 1
            truncated = i < len(keys) and keys[i].startswith(prefix)
            xml = [
                '<?xml version="1.0" encoding="UTF-8"?>',
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                f"<Name>{bucket}</Name><Prefix>{escape(prefix)}</Prefix>",
                f"<MaxKeys>{max_keys}</MaxKeys><IsTruncated>{str(truncated).lower()}</IsTruncated>",
            ]
            if delim:
                xml.append(f"<Delimiter>{escape(delim)}</Delimiter>")
            if v2:
                xml.append(f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>")
                if truncated:
                    xml.append(f"<NextContinuationToken>{escape(last)}</NextContinuationToken>")
            elif truncated:
                xml.append(f"<NextMarker>{escape(last)}</NextMarker>")
            for k in contents:
                size, etag = meta(k)
                xml.append(
                    f"<Contents><Key>{escape(k)}</Key><LastModified>{stamp}"
                    f"</LastModified><ETag>{escape(etag)}</ETag><Size>{size}</Size>"
                    "<StorageClass>STANDARD</StorageClass></Contents>"
                )
            xml.extend(
                f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in prefixes
            )
            xml.append("</ListBucketResult>")
            self._send(200, "".join(xml).encode())

        def _object(self, key: str) -> None:
            counts[self.command] += 1
            if key not in sizes:
                self._error(404, "NoSuchKey")
                return
            size, etag = meta(key)
            match = self.headers.get("If-Match")
            if match and match.strip() not in (etag, etag.strip('"'), "*"):
                self._error(412, "PreconditionFailed")
                return
            start, end, status = 0, size, 200
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                a, _, b = rng[6:].partition("-")
                if a:
                    start, end = int(a), min(size, int(b) + 1) if b else size
                else:
                    start, end = max(0, size - int(b)), size
                if start >= size:
                    self._error(416, "InvalidRange")
                    return
                status = 206
            self.send_response(status)
            self.send_header("Content-Type", "binary/octet-stream")
            self.send_header("Content-Length", str(end - start))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(1735689600, usegmt=True))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
            self.end_headers()
            if self.command == "HEAD":
                return
            counts["bytes"] += end - start
            self.wfile.flush()
            with open(root / key, "rb") as f, contextlib.suppress(ConnectionError):
                # a client that closes early (remfile stops reading mid-body) is not an error
                offset = start
                while offset < end:
                    sent = os.sendfile(
                        self.connection.fileno(), f.fileno(), offset, min(end - offset, 2**30)
                    )
                    if sent == 0:
                        break
                    offset += sent

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        # set before listen() (a class attribute): set on the instance after it was made,
        # the listen backlog stayed at socketserver's 5, and a burst of 16 new connections
        # (16 download lanes starting at once, each through the proxy) overflowed it: SYNs
        # dropped, a 1-s retransmit charged to whichever client opened them
        request_queue_size = 1024

    server = Server(("127.0.0.1", 0), Handler)
    conn.send(f"http://127.0.0.1:{server.server_address[1]}")
    server.serve_forever()


@contextlib.contextmanager
def child_server(target: Callable[..., None], root: Path, **kwargs: Any) -> Iterator[str]:
    """Run ``target(root, conn, **kwargs)`` in a spawned child process (off the measured
    client's GIL); yields the endpoint URL it sends through ``conn``, stops it on exit."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(root, theirs), kwargs=kwargs, daemon=True)
    proc.start()
    try:
        if not ours.poll(600):
            raise RuntimeError("the benchmark server did not start")
        yield ours.recv()
    finally:
        proc.terminate()
        proc.join(10)


def static_server(root: Path, bucket: str = BUCKET) -> contextlib.AbstractContextManager[str]:
    """Serve ``root`` as ``bucket`` from a child process; yields the endpoint URL."""
    return child_server(serve_static, root, bucket=bucket)


def server_stats(endpoint: str, reset: bool = False) -> dict[str, int]:
    """The server's request and byte counts (``reset``: read and zero them)."""
    import urllib.request

    with urllib.request.urlopen(f"{endpoint}/{'__reset' if reset else '__stats'}") as r:
        return json.loads(r.read())
