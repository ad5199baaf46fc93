"""The ``ppdata`` command: a thin layer that parses, calls one library function, renders.

Every command takes the connection options (``--endpoint-url``, ``--bucket``, ...) either
before or after its name. User mistakes print one line, ``Error: ...``, and exit non-zero;
a traceback only with ``--debug``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import PpdataError
from ..settings import Settings

__all__ = ["App", "cli", "common_options", "main", "pass_app"]

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


def window_options(f: F) -> F:
    """Add ``--start`` and ``--stop`` (seconds) to a command that reads a time window."""
    f = click.option("--stop", type=float, help="Up to this time (s).")(f)
    return click.option("--start", type=float, help="From this time (s).")(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ppdata", prog_name="ppdata")
@common_options
def cli() -> None:
    """Find, stream and download the OpenScope Predictive Processing data.

    Reads the public bucket s3://aind-open-data anonymously. Without internet, or to try
    things out, serve the synthetic mirror with `ppdata mirror serve` and pass its
    --endpoint-url (or set PPDATA_ENDPOINT_URL). `ppdata tour` shows it all in one go.
    """


def _register() -> None:
    from . import (
        behavior,
        catalog,
        dandi,
        data,
        download,
        meta,
        mirror,
        nwb,
        project,
        slap2,
        stimuli,
        tour,
        web,
    )

    for module in (
        tour,
        catalog,
        data,
        meta,
        nwb,
        stimuli,
        behavior,
        slap2,
        dandi,
        download,
        mirror,
        web,
        project,
    ):
        module.register(cli)


_register()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``ppdata`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PPDATA_DEBUG", "") not in ("", "0")
    from ..nwb.open import STRICT_WINDOWS

    strict = STRICT_WINDOWS.set(True)  # a window outside the data is an error, not blank output
    try:
        code = cli.main(args=args, prog_name="ppdata", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            click.echo("Interrupted (Ctrl-C); run the same command again to redo it.", err=True)
        else:
            click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except PpdataError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {exc} (run again with --debug for the "
            "traceback, and please report it)",
            err=True,
        )
        sys.exit(1)
    finally:
        STRICT_WINDOWS.reset(strict)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
