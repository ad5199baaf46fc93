"""The ``ppdata`` click group and what every command shares: :class:`App` (settings and a
lazily made client), the connection options, ``pass_app`` and the option helpers.

Command modules (``cli/<group>.py``) import from here; :mod:`ppdata.cli.main` names them in
its command table, and :class:`LazyGroup` imports one when its command runs, so nothing
imports back.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import logging
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import click

from ..settings import Settings

__all__ = [
    "App",
    "LazyGroup",
    "TimeWindow",
    "bundle",
    "cli",
    "common_options",
    "file_option",
    "json_option",
    "listen_options",
    "pass_app",
    "window_options",
]

F = TypeVar("F", bound=Callable[..., Any])
_META = "ppdata.options"
#: options that are settings (see :class:`ppdata.settings.Settings`)
_SETTING_OPTIONS = (
    "endpoint_url",
    "bucket",
    "cache_dir",
    "spreadsheet",
    "connect_timeout",
    "read_timeout",
    "retries",
)


class App:
    """What a command needs: resolved settings and a lazily made S3 client."""

    def __init__(self, ctx: click.Context) -> None:
        self.ctx = ctx

    @property
    def options(self) -> dict[str, Any]:
        return self.ctx.meta.setdefault(_META, {})

    @cached_property
    def settings(self) -> Settings:
        opts = self.options
        return Settings.resolve(**{name: opts.get(name) for name in _SETTING_OPTIONS})

    @cached_property
    def client(self) -> Any:
        from ..remote.s3 import S3Client

        return S3Client(self.settings)

    @property
    def debug(self) -> bool:
        return bool(self.options.get("debug"))


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    unset = (
        value is None or value is False or value == () or (param.name == "verbose" and not value)
    )
    if not unset:
        ctx.meta.setdefault(_META, {})[param.name] = value
        if param.name in ("debug", "verbose"):
            _configure_logging(ctx.meta[_META])
    return value


def _configure_logging(opts: dict[str, Any]) -> None:
    level = logging.WARNING
    if opts.get("verbose"):
        level = logging.INFO if opts["verbose"] == 1 else logging.DEBUG
    if opts.get("debug"):
        level = logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ppdata").setLevel(level)


def common_options(f: F) -> F:
    """Add the connection and diagnostics options to a command (or the group)."""
    options = [
        click.option(
            "--endpoint-url",
            metavar="URL",
            help="S3-compatible endpoint, e.g. a mirror at http://127.0.0.1:PORT "
            "[env PPDATA_ENDPOINT_URL; default: AWS S3, us-west-2].",
        ),
        click.option(
            "--bucket", metavar="NAME", help="Bucket [env PPDATA_BUCKET; default aind-open-data]."
        ),
        click.option(
            "--cache-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Where the catalog and caches live [env PPDATA_CACHE_DIR].",
        ),
        click.option(
            "--spreadsheet",
            metavar="CSV_OR_URL",
            help="The data tracking spreadsheet (CSV path or URL) [env PPDATA_SPREADSHEET].",
        ),
        click.option(
            "--connect-timeout",
            type=click.FloatRange(0.1),
            metavar="S",
            help="Seconds to wait for a connection [env PPDATA_CONNECT_TIMEOUT; default 5].",
        ),
        click.option(
            "--read-timeout",
            type=click.FloatRange(0.1),
            metavar="S",
            help="Seconds to wait for each read [env PPDATA_READ_TIMEOUT; default 30].",
        ),
        click.option(
            "--retries",
            type=click.IntRange(0, 20),
            metavar="N",
            help="Retries of throttled or failed requests [env PPDATA_RETRIES; default 4].",
        ),
        click.option("-v", "--verbose", count=True, help="More log output (-vv for debug)."),
        click.option("--debug", is_flag=True, help="Show tracebacks and debug logs."),
    ]
    for option in reversed(options):
        f = option(f)
    for param in f.__click_params__[-len(options) :]:  # type: ignore[attr-defined]
        param.expose_value = False
        param.callback = _store
        param.is_eager = True
    return f


def pass_app(f: F) -> F:
    """Pass an :class:`App` as the first argument."""

    @click.pass_context
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        return ctx.invoke(f, App(ctx), *args, **kwargs)

    wrapper.__name__ = f.__name__
    wrapper.__doc__ = f.__doc__
    return wrapper  # type: ignore[return-value]


def listen_options(default_port: int, host_help: str) -> Callable[[F], F]:
    """Add ``--port`` (default ``default_port``) and ``--host`` (default loopback) to a
    command that serves on this machine."""

    def decorate(f: F) -> F:
        f = click.option("--host", default="127.0.0.1", show_default=True, help=host_help)(f)
        return click.option(
            "--port",
            type=click.IntRange(0, 65535),
            default=default_port,
            show_default=True,
            help="Port to listen on (0: any free port).",
        )(f)

    return decorate


#: ``--json`` (as ``as_json``): the result as JSON instead of a table.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def file_option(*names: str, help: str, **kwargs: Any) -> Callable[[F], F]:
    """An option naming a file (not a folder) to write, given to the command as a ``Path``.

    ``names`` and ``kwargs`` are :func:`click.option`'s (e.g. ``"--plot", "plot_path"``).
    """
    return click.option(
        *names, type=click.Path(dir_okay=False, path_type=Path), help=help, **kwargs
    )


@dataclasses.dataclass(frozen=True)
class TimeWindow:
    """What ``--start`` and ``--stop`` asked for, in seconds (``None``: that end is open)."""

    start: float | None
    stop: float | None


def window_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--start`` and ``--stop`` (seconds) to a command that reads a time window; the
    command takes them as one :class:`TimeWindow`, ``time_window``."""
    f = bundle(f, TimeWindow, "time_window")
    f = click.option("--stop", type=float, help="Up to this time (s).")(f)
    return click.option("--start", type=float, help="From this time (s).")(f)


def bundle(f: Callable[..., Any], cls: type, name: str) -> Callable[..., Any]:
    """Wrap the command ``f`` so that the options named by ``cls``'s fields (a dataclass)
    reach it as one ``cls`` keyword argument ``name``."""
    names = tuple(field.name for field in dataclasses.fields(cls))

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs[name] = cls(**{k: kwargs.pop(k) for k in names})
        return f(*args, **kwargs)

    return wrapper


class LazyGroup(click.Group):
    """A group whose command modules are imported when one of their commands is used.

    Each ``cli/<group>.py`` pulls in what its commands need (pandas, the web app, Dask...):
    ``ppdata download`` imports ``cli/download.py`` only. :attr:`commands` still holds
    every command for whoever reads it (``--help`` lists them all).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._modules: dict[str, str] = {}
        super().__init__(*args, **kwargs)

    def add_lazy(self, modules: Mapping[str, str]) -> None:
        """Register ``{command name: module}``; the module's ``register(group)`` adds its
        commands the first time one of them is asked for."""
        self._modules.update(modules)

    def _load(self, name: str) -> None:
        module = self._modules.get(name)
        if module is not None:
            for other in [n for n, m in self._modules.items() if m == module]:
                del self._modules[other]
            importlib.import_module(module).register(self)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        for name in list(self._modules):
            self._load(name)
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = value

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._commands[name] = cmd  # not through .commands: that would import every module

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._commands:
            self._load(cmd_name)
        return self._commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self._commands, *self._modules})


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="ppdata", prog_name="ppdata")
@common_options
def cli() -> None:
    """Find, stream and download the OpenScope Predictive Processing data.

    Reads the public bucket s3://aind-open-data anonymously. Without internet, or to try
    things out, serve the synthetic mirror with `ppdata mirror serve` and pass its
    --endpoint-url (or set PPDATA_ENDPOINT_URL). `ppdata tour` shows it all in one go.
    """
