"""Options of the stimulus-aligned commands (``psth``, ``aligned-dff``, ``plot psth``).

Kept apart from :mod:`ppdata.cli.stimuli` so that ``ppdata plot`` (in :mod:`ppdata.cli.nwb`)
can take them without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

ALIGNED_PLOTS = ("psth", "aligned-dff")


def condition_options(f: F) -> F:
    """``--to``, ``--vs``, ``--block`` and ``--window``, shared by psth, aligned-dff, plot."""
    for option in reversed(
        [
            click.option(
                "--to",
                default="deviant",
                show_default=True,
                help="Condition: a TrialType (orientation_90, omission, halt ...) or 'deviant'.",
            ),
            click.option(
                "--vs",
                default="standard",
                show_default=True,
                help="The condition to compare with (a TrialType or 'deviant').",
            ),
            click.option(
                "--block",
                help="Only this stimulus block (`ppdata stimuli`); default: the oddball block.",
            ),
            click.option(
                "--window",
                nargs=2,
                type=float,
                metavar="START STOP",
                default=None,
                help="Seconds around each onset [psth: -0.5 1.0; aligned-dff: -1 2].",
            ),
        ]
    ):
        f = option(f)
    return f


def aligned_plot_options(f: F) -> F:
    """The options ``ppdata plot psth|aligned-dff`` adds to ``ppdata plot``, named as the
    keywords of :func:`~ppdata.plots.make.aligned_figure` (``make_plot`` passes them on)."""
    f = condition_options(f)
    f = click.option(
        "--area", "area", multiple=True, help="psth: only units of this brain area (repeatable)."
    )(f)
    f = click.option(
        "--roi", "rois", multiple=True, type=int, help="aligned-dff: only this ROI (repeatable)."
    )(f)
    return f
