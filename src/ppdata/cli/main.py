"""The ``ppdata`` command: a thin layer that parses, calls one library function, renders.

Every command takes the connection options (``--endpoint-url``, ``--bucket``, ...) either
before or after its name. User mistakes print one line, ``Error: ...``, and exit non-zero;
a traceback only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from ..errors import PpdataError
from .app import cli

__all__ = ["cli", "main"]


#: Every command, by the module that registers it: a command's module (and what it imports)
#: is loaded only when that command runs (:class:`~ppdata.cli.app.LazyGroup`).
COMMANDS = {
    "tour": "tour",
    "catalog": "catalog",
    "sessions": "catalog",
    "assets": "data",
    "ls": "data",
    "name": "data",
    "metadata": "meta",
    "portal": "meta",
    "qc": "meta",
    "dff": "nwb",
    "lfp": "nwb",
    "nwb": "nwb",
    "planes": "nwb",
    "plot": "nwb",
    "spikes": "nwb",
    "units": "nwb",
    "aligned-dff": "stimuli",
    "psth": "stimuli",
    "stimuli": "stimuli",
    "behavior": "behavior",
    "slap2": "slap2",
    "dandi": "dandi",
    "download": "download",
    "mirror": "mirror",
    "web": "web",
    "project": "project",
}

cli.add_lazy({name: f"{__package__}.{module}" for name, module in COMMANDS.items()})


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``ppdata`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PPDATA_DEBUG", "") not in ("", "0")
    from ..nwb import STRICT_WINDOWS  # not ..nwb.file: that would load numpy for every command

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
