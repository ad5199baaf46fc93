"""A real S3-compatible server on loopback, holding the synthetic world.

moto's server speaks the S3 REST protocol (ListObjectsV2 pagination, ranged GET, HEAD). The
world's files are uploaded once, then a bucket policy makes the bucket public-read and
read-only, the way ``aind-open-data`` is: anonymous GET/HEAD/LIST allowed, writes denied.
ppdata itself only ever reads it with unsigned requests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..callbacks import CallbackLike, resolve
from ..errors import MirrorError
from ..settings import check_listen

__all__ = [
    "MirrorServer",
    "RunningMirror",
    "load_directory",
    "public_read_policy",
    "serve_in_subprocess",
    "start_mirror",
]

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# moto accepts any credentials; these only sign the uploads that fill the mirror.
_LOADER_CREDENTIALS = {"aws_access_key_id": "mirror", "aws_secret_access_key": "mirror"}


def public_read_policy(bucket: str) -> dict[str, Any]:
    """The bucket policy of a public, read-only bucket."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": [
                    "s3:GetObject",
                    "s3:HeadObject",
                    "s3:ListBucket",
                    "s3:GetBucketLocation",
                ],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            },
            {
                "Sid": "ReadOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            },
        ],
    }


def require_mirror_extra() -> None:
    """Raise a clear :class:`MirrorError` when the ``[mirror]`` extra is not installed.

    The S3 server (moto, werkzeug) and its loader (boto3) are not needed to read the real
    bucket, so a plain ``pip install ppdata`` leaves them out.
    """
    import importlib.util

    missing = [m for m in ("moto", "werkzeug", "boto3") if importlib.util.find_spec(m) is None]
    if missing:
        raise MirrorError(
            f"the local mirror needs {', '.join(missing)}, which a plain install leaves out: "
            "install it with `pip install 'ppdata[mirror]'`"
        )


def _check_port_free(host: str, port: int) -> None:
    if port:
        check_listen(host, port, MirrorError)


class Serving:
    """A local server run in a daemon thread: ``start()`` makes ``self._server`` (a
    ``socketserver``-style server) and returns ``self._serve(name)``; ``stop()`` and the
    context manager are shared (the mirror and the latency proxy)."""

    _server: Any = None
    _thread: threading.Thread | None = None

    def start(self) -> Any:
        raise NotImplementedError

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise MirrorError(f"{type(self).__name__} is not running: start() it first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _serve(self, name: str) -> Any:
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (nothing if not started)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class MirrorServer(Serving):
    """A moto S3 server on ``host:port`` (port 0 picks a free one).

    Examples
    --------
    >>> with MirrorServer() as server:  # doctest: +SKIP
    ...     load_directory(server.endpoint_url, "aind-open-data", world.bucket_dir)
    """

    host: str = LOOPBACK
    port: int = 0
    #: The DANDI stand-in's index (``dandi.json``): when given, DANDI API paths are answered
    #: beside S3 (see :mod:`ppdata.mirror.dandi_api`).
    dandi_index: Path | None = None

    def start(self) -> MirrorServer:
        """Start serving in a background thread; returns self."""
        require_mirror_extra()
        os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        _check_port_free(self.host, self.port)
        from .ranges import RangedReads

        # a ranged GET reads its range only, as on S3 (moto reads the whole object)
        app = RangedReads(DomainDispatcherApplication(create_backend_app), _moto_backend)
        if self.dandi_index is not None:
            from .dandi_api import wrap

            app = wrap(app, self.dandi_index)
        try:
            self._server = make_server(
                self.host,
                self.port,
                app,
                threaded=True,
                request_handler=_QuietHandler.wrap(MotoRequestHandler),
            )
        except OSError as exc:
            raise MirrorError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; "
                "choose another --port"
            ) from exc
        return self._serve("ppdata-mirror")


class _QuietHandler:
    """Silence werkzeug's per-request log lines (they would drown the user's terminal), and
    send small replies without Nagle's wait for the client's delayed ACK (~40 ms)."""

    @staticmethod
    def wrap(handler: type) -> type:
        class Quiet(handler):  # type: ignore[misc, valid-type]
            disable_nagle_algorithm = True

            def log_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        return Quiet


def load_directory(
    endpoint_url: str,
    bucket: str,
    directory: Path,
    *,
    workers: int = 8,
    callback: CallbackLike | None = None,
    in_process: bool = False,
) -> int:
    """Upload every file under ``directory`` as a key of ``bucket``, then make it public.

    The bucket is created first; at the end a public-read policy lets ppdata's anonymous,
    unsigned requests read it as they read ``aind-open-data``.

    Parameters
    ----------
    endpoint_url : str
        The mirror server.
    bucket : str
        Bucket to create and fill.
    directory : Path
        Its files become keys (relative POSIX paths).
    workers : int
        Concurrent uploads of large files.
    callback : Callback, optional
        Progress in objects uploaded (see :mod:`ppdata.callbacks`).
    in_process : bool
        The server runs in this process: put small objects straight into its store, which is
        ~50x faster than uploading them over HTTP. Large objects always go over HTTP as
        multipart uploads, so their ETags look like the real bucket's (``<md5>-<parts>``).

    Returns
    -------
    int
        The number of objects uploaded.
    """
    require_mirror_extra()
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    directory = Path(directory)
    if not directory.is_dir():
        raise MirrorError(f"no world at {directory}: build it first (ppdata mirror build)")
    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-west-2",
        config=Config(max_pool_connections=workers + 4, retries={"max_attempts": 5}),
        **_LOADER_CREDENTIALS,
    )
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    transfer = TransferConfig(
        multipart_threshold=_MULTIPART, multipart_chunksize=_MULTIPART, max_concurrency=4
    )
    callback = resolve(callback)
    callback.set_size(len(files))

    def tick() -> None:
        callback.relative_update(1)

    def upload(path: Path) -> None:
        client.upload_file(
            str(path), bucket, path.relative_to(directory).as_posix(), Config=transfer
        )
        tick()

    large = [p for p in files if p.stat().st_size >= _MULTIPART]
    small = [p for p in files if p.stat().st_size < _MULTIPART]
    if in_process:
        backend = _moto_backend()
        for path in small:
            key = backend.put_object(
                bucket, path.relative_to(directory).as_posix(), path.read_bytes()
            )
            # moto computes an ETag on first use, reading the object's buffer unlocked:
            # here, before any request can read that buffer at the same time
            key.etag  # noqa: B018
            tick()
    else:
        large = files
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(upload, large))
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read_policy(bucket)))
    logger.info("loaded %d objects into %s/%s", len(files), endpoint_url, bucket)
    return len(files)


_MULTIPART = 64 * 2**20


def _moto_backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


@dataclass
class RunningMirror(contextlib.AbstractContextManager["RunningMirror"]):
    """A mirror server filled with the synthetic world; ``with`` it to stop it at the end."""

    server: MirrorServer
    world_root: Path
    bucket: str
    objects: int

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    @property
    def spreadsheet(self) -> Path:
        """The world's tracking spreadsheet (CSV)."""
        return self.world_root / "tracking.csv"

    def stop(self) -> None:
        self.server.stop()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_mirror(
    cache_dir: Path,
    *,
    size: str = "small",
    host: str = LOOPBACK,
    port: int = 0,
    bucket: str = "aind-open-data",
    world_root: Path | None = None,
    callback: CallbackLike | None = None,
    world_callback: CallbackLike | None = None,
) -> RunningMirror:
    """Build (once, cached) the synthetic world, start a server and load the world into it.

    Parameters
    ----------
    cache_dir : Path
        Where built worlds are cached (``<cache_dir>/world-<version>-<size>/``).
    size : {"small", "bench"}
        The small world for tests and the tour; ``bench`` adds benchmark-size data.
    host, port : str, int
        Where to listen (loopback by default; port 0 picks a free port).
    bucket : str
        Bucket name to serve.
    world_root : Path, optional
        Serve this already-built world instead.
    callback : Callback, optional
        Progress in objects loaded (see :mod:`ppdata.callbacks`).
    world_callback : Callback, optional
        Progress of a first-time world build (see :func:`~ppdata.mirror.world.build_world`).

    Returns
    -------
    RunningMirror
        Stop it with ``.stop()`` or use it as a context manager.
    """
    require_mirror_extra()  # before a world build of a minute, not after it
    if world_root is None:
        from .world import ensure_world

        world_root = Path(
            ensure_world(Path(cache_dir), size=size, callback=world_callback)  # type: ignore[arg-type]
        )
    from .layout_dandi import BLOB_BUCKET, DANDI_DIRNAME, INDEX_NAME

    index = world_root / INDEX_NAME
    server = MirrorServer(
        host=host, port=port, dandi_index=index if index.exists() else None
    ).start()
    try:
        count = load_directory(
            server.endpoint_url, bucket, world_root / "bucket", in_process=True, callback=callback
        )
        if (world_root / DANDI_DIRNAME).is_dir():
            load_directory(
                server.endpoint_url, BLOB_BUCKET, world_root / DANDI_DIRNAME, in_process=True
            )
    except BaseException:
        server.stop()
        raise
    return RunningMirror(server, world_root, bucket, count)


@contextlib.contextmanager
def serve_in_subprocess(
    cache_dir: Path,
    *,
    size: str = "small",
    timeout: float = 600.0,
    log: Path | None = None,
) -> Iterator[tuple[str, Path]]:
    """Run ``ppdata mirror serve`` in a child process on a free port, for tests and benchmarks.

    A separate process keeps the server off the measured client's GIL.

    Yields
    ------
    (endpoint_url, spreadsheet)
        Once the server is ready; the child is stopped on exit.
    """
    import subprocess
    import sys
    import tempfile
    import time

    with tempfile.TemporaryDirectory(prefix="ppdata-mirror-") as tmp:
        ready = Path(tmp) / "ready"
        log_path = log or Path(tmp) / "server.log"
        env = {**os.environ, "PPDATA_CACHE_DIR": str(cache_dir)}
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ppdata",
                    "mirror",
                    "serve",
                    "--port",
                    "0",
                    "--size",
                    size,
                    "--ready-file",
                    str(ready),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            try:
                deadline = time.monotonic() + timeout
                while not ready.exists():
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise MirrorError(
                            "the mirror server did not start: " + log_path.read_text()[-2000:]
                        )
                    time.sleep(0.1)
                endpoint, spreadsheet = ready.read_text().split()[:2]
                yield endpoint, Path(spreadsheet)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
