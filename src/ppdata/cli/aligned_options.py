"""Options of the stimulus-aligned commands (``psth``, ``aligned-dff``, ``plot psth``).

Kept apart from :mod:`ppdata.cli.stimuli` so that ``ppdata plot`` (in :mod:`ppdata.cli.nwb`)
can take them without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from .app import bundle

ALIGNED_PLOTS = ("psth", "aligned-dff")


@dataclass(frozen=True)
class Conditions:
    """What ``--to``, ``--vs``, ``--block`` and ``--window`` asked for (the window ``None``
    unless given: each command has its own default)."""

    to: str
    vs: str
    block: str | None
    window: tuple[float, float] | None

    def window_or(self, default: tuple[float, float]) -> tuple[float, float]:
        """The window asked for, else ``default``."""
        return (float(self.window[0]), float(self.window[1])) if self.window else default


def condition_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--to``, ``--vs``, ``--block`` and ``--window``, shared by psth, aligned-dff, plot;
    the command takes them as one :class:`Conditions`, ``conditions``."""
    f = bundle(f, Conditions, "conditions")
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


def aligned_plot_options(f: Callable[..., Any]) -> Callable[..., Any]:
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
