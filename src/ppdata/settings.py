"""Settings, resolved in one place: explicit argument > ``PPDATA_*`` environment variable > default.

Everything that says *where* and *how* ppdata talks to S3 or keeps files lives in one frozen
:class:`Settings` object. Tests point everything at the local mirror by building one
``Settings(endpoint_url=...)``; nothing reads the environment at import time.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_BUCKET", "DEFAULT_REGION", "Settings"]

DEFAULT_BUCKET = "aind-open-data"
DEFAULT_REGION = "us-west-2"
DEFAULT_DANDI_API_URL = "https://api.dandiarchive.org/api"
ENV_PREFIX = "PPDATA_"


def _default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("ppdata", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Where ppdata reads from and how it behaves on the network.

    Parameters
    ----------
    bucket : str
        The bucket holding the data (env ``PPDATA_BUCKET``).
    endpoint_url : str or None
        An S3-compatible endpoint, e.g. the local mirror ``http://127.0.0.1:9000``
        (env ``PPDATA_ENDPOINT_URL``). ``None`` means AWS S3 itself.
    region : str
        AWS region of the bucket (env ``PPDATA_REGION``).
    connect_timeout, read_timeout : float
        Seconds to wait for a connection and for each read (env ``PPDATA_CONNECT_TIMEOUT``,
        ``PPDATA_READ_TIMEOUT``).
    retries : int
        Attempts after the first one for retryable failures (env ``PPDATA_RETRIES``).
    cache_dir : Path
        Where the catalog and other caches live (env ``PPDATA_CACHE_DIR``; default from
        platformdirs).
    spreadsheet : str or None
        Local path or URL of the tracking spreadsheet CSV (env ``PPDATA_SPREADSHEET``).
    max_workers : int
        Concurrent requests for listings and transfers (env ``PPDATA_MAX_WORKERS``).
    dandi_api_url : str
        The DANDI REST API (env ``PPDATA_DANDI_API_URL``; the mirror serves a stand-in at
        ``<endpoint>/api``).
    """

    bucket: str = DEFAULT_BUCKET
    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 4
    cache_dir: Path = field(default_factory=_default_cache_dir)
    spreadsheet: str | None = None
    max_workers: int = 32
    dandi_api_url: str = DEFAULT_DANDI_API_URL

    def __post_init__(self) -> None:
        if self.endpoint_url is not None:
            object.__setattr__(self, "endpoint_url", check_endpoint(self.endpoint_url))

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from explicit values, then ``PPDATA_*`` variables, then defaults.

        Parameters
        ----------
        env : Mapping, optional
            The environment to read (default: ``os.environ``).
        **overrides
            Explicit values; ``None`` means "not given" and falls through to the environment.

        Returns
        -------
        Settings

        Examples
        --------
        >>> Settings.resolve(env={}, bucket="my-bucket").bucket
        'my-bucket'
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            given = overrides.pop(f.name, None)
            if given is None:
                raw = env.get(ENV_PREFIX + f.name.upper())
                if raw is None or raw == "":
                    continue
                given = raw
            values[f.name] = _coerce(f.name, f.type, given)
        if overrides:
            raise TypeError(f"unknown settings: {', '.join(sorted(overrides))}")
        return cls(**values)

    @property
    def is_aws(self) -> bool:
        """True when requests go to AWS S3 itself rather than another endpoint."""
        return self.endpoint_url is None

    @property
    def where(self) -> str:
        """A short human description of the endpoint, for messages."""
        return self.endpoint_url or f"AWS S3 ({self.region})"

    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog file of this bucket and endpoint."""
        import hashlib

        tag = hashlib.sha1(f"{self.endpoint_url}|{self.bucket}".encode()).hexdigest()[:10]
        return self.cache_dir / f"catalog-{self.bucket}-{tag}.sqlite"

    def with_(self, **changes: Any) -> Settings:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _coerce(name: str, type_: Any, value: Any) -> Any:
    type_name = type_ if isinstance(type_, str) else getattr(type_, "__name__", str(type_))
    try:
        if "Path" in type_name:
            return Path(value).expanduser()
        if type_name == "float":
            return float(value)
        if type_name == "int":
            return int(value)
    except (TypeError, ValueError) as exc:
        from .errors import PpdataError

        raise PpdataError(
            f"setting {name!r} (env {ENV_PREFIX}{name.upper()}) must be a {type_name}, "
            f"got {value!r}"
        ) from exc
    if isinstance(value, str) and name == "endpoint_url":
        return check_endpoint(value)
    if isinstance(value, str) and name == "dandi_api_url":
        return value.rstrip("/")
    return value


def check_endpoint(url: str) -> str:
    """An endpoint URL with its trailing ``/`` removed, or an error saying what is wrong.

    Examples
    --------
    >>> check_endpoint("http://127.0.0.1:9517/")
    'http://127.0.0.1:9517'
    >>> check_endpoint("127.0.0.1:9517")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ppdata.errors.PpdataError: the endpoint URL '127.0.0.1:9517' has no scheme; ...
    """
    from urllib.parse import urlsplit

    from .errors import PpdataError

    text = url.strip().rstrip("/")
    hint = "give it as http://HOST:PORT or https://HOST (env PPDATA_ENDPOINT_URL)"
    if "://" not in text:
        raise PpdataError(f"the endpoint URL {url!r} has no scheme; {hint}, e.g. http://{text}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise PpdataError(f"the endpoint URL {url!r} is not valid ({exc}); {hint}") from None
    if parts.scheme not in ("http", "https"):
        raise PpdataError(
            f"the endpoint URL {url!r} has the scheme {parts.scheme!r}; only http and https "
            f"work; {hint}"
        )
    if not parts.hostname:
        raise PpdataError(f"the endpoint URL {url!r} names no host; {hint}")
    if parts.query or parts.fragment:
        raise PpdataError(f"the endpoint URL {url!r} has a query or fragment; {hint}")
    del port
    return text


def check_listen(host: str, port: int, error: type[Exception]) -> int:
    """Check that a server can listen on ``host:port``; return the port (a free one for 0).

    The one check behind ``ppdata web`` and ``ppdata mirror serve``: a port in use (or not
    ours to bind) raises ``error`` with a message that says how to choose another.

    Raises
    ------
    error
        If the port is taken or may not be used.
    """
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise error(
                    f"port {port} on {host} is already in use; choose another with --port "
                    "(or --port 0 for any free port)"
                ) from exc
            raise error(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        return int(sock.getsockname()[1])
