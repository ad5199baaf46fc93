"""One session, from name to data: ``ppdata.open_session(name).units()``.

:class:`Session` (``core``) finds a session's assets once and opens the NWB that holds what
is asked for; its stimuli and stimulus-aligned responses are in ``aligned``.
"""

from __future__ import annotations

from .core import Session, open_session

__all__ = ["Session", "open_session"]
