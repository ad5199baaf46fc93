"""The check of a ``**keywords`` parameter against the names it takes.

A function that takes its options as ``**options: Unpack[SomeTypedDict]`` is typed for mypy,
but Python itself accepts any keyword there. :func:`check_keywords` refuses the others, as
Python refuses a keyword that is not in a plain signature.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["check_keywords"]


def check_keywords(given: Iterable[str], takes: Sequence[str], function: str) -> None:
    """Raise ``TypeError`` for a keyword in ``given`` that is not one of ``takes``.

    Parameters
    ----------
    given : iterable of str
        The keywords passed (a ``**kwargs`` dict).
    takes : sequence of str
        The keywords the function takes, in the order the message lists them (a TypedDict's
        ``__annotations__`` gives them in the order they are declared).
    function : str
        How the message names the function: ``"sessions()"``, ``"make_plot('dff')"``.

    Raises
    ------
    TypeError
        Naming the first unexpected keyword (alphabetically) and the ones taken.

    Examples
    --------
    >>> check_keywords({"plane": "VISp_0"}, ("plane", "stop"), "make_plot('dff')")
    >>> check_keywords({"probe": "A"}, ("plane", "stop"), "make_plot('dff')")
    Traceback (most recent call last):
    ...
    TypeError: make_plot('dff') got an unexpected keyword argument 'probe'; it takes plane, stop
    """
    unknown = sorted(set(given).difference(takes))
    if unknown:
        listed = ", ".join(takes) if takes else "no keyword arguments"
        raise TypeError(
            f"{function} got an unexpected keyword argument {unknown[0]!r}; it takes {listed}"
        )
