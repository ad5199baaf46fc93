"""Session methods that are ``nwb.*`` functions run on the session's NWB.

``units = NWBMethod(lambda: ephys.units, _ephys)`` in the body of
:class:`~ppdata.session.Session` makes ``session.units(label="sua")`` call
``ephys.units(session._ephys(), label="sua")``: the parameters, defaults, docstring and
types are written once, on the function. The function's module is imported at the first
call (through a :class:`LazyModule`), not with the session: opening a session imports no
numpy.
"""

from __future__ import annotations

import importlib
import inspect
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

if TYPE_CHECKING:
    from typing import Self

    from ..nwb.file import NWB

__all__ = ["LazyModule", "NWBMethod"]

P = ParamSpec("P")
R = TypeVar("R")


class LazyModule:
    """A module imported when one of its names is first read: ``LazyModule("ppdata.nwb.ophys")``
    (for the type checker, import the module itself under ``TYPE_CHECKING``)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self._name), name)


class NWBMethod(Generic[P, R]):
    # What it is: the module's docstring (``__doc__`` here is the function's, for help()).

    def __init__(
        self,
        function: Callable[[], Callable[Concatenate[NWB, P], R]],
        nwb: Callable[[Any], NWB],
    ) -> None:
        """``function`` returns the ``nwb.*`` function (looked up at each call); ``nwb``
        gives the session's NWB to run it on (``Session._ephys``)."""
        self._function = function
        self._nwb = nwb
        self.__name__ = self.__qualname__ = "method"

    def __set_name__(self, owner: type, name: str) -> None:
        self.__name__ = name
        self.__qualname__ = f"{owner.__qualname__}.{name}"

    def __call__(self, session: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._function()(self._nwb(session), *args, **kwargs)

    @overload
    def __get__(self, session: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, session: object, owner: type | None = None) -> Callable[P, R]: ...
    def __get__(self, session: object, owner: type | None = None) -> Any:
        return self if session is None else types.MethodType(self, session)

    @property
    def __doc__(self) -> str:  # type: ignore[override]
        """The function's docstring (what help() shows), and how the session calls it."""
        doc = inspect.getdoc(self._function()) or ""
        return f"{doc}\n\nAs a session's method: the session passes the NWB that holds it."

    @property
    def __signature__(self) -> inspect.Signature:
        """The function's signature, its first parameter (the NWB) as ``self``."""
        signature = inspect.signature(self._function())
        rest = list(signature.parameters.values())[1:]
        first = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return signature.replace(parameters=[first, *rest])
