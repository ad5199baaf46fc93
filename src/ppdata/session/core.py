"""One session, from name to data: ``ppdata.open_session(name).units()``.

A :class:`Session` finds its assets once, then opens the NWB that holds what is asked for
(the complete NWB when there is one, else the partial NWB of the right asset), lazily and
once, and hands back DataFrames and arrays.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..errors import NWBError, SessionClosed
from ..find.assets import Asset, AssetKind, find_assets, pick_asset
from ..find.nwbs import (
    NWB_KINDS,
    NWBLocation,
    is_first_recording,
    nwbs_in_asset,
    pick_recording,
    probe_complete_hdf5,
)
from ..naming import SessionName, parse_name
from ..remote.s3 import S3Client
from ..settings import Settings
from .aligned import AlignedResponses
from .binding import LazyModule, NWBMethod

if TYPE_CHECKING:
    import pandas as pd

    from ..dandi import DandiAsset
    from ..nwb import ephys, ophys
    from ..nwb import lfp as lfp_
    from ..nwb.file import NWB
    from ..nwb.storage import S3File
    from ..remote.stats import RequestCounts
    from ..slap2.reader import Slap2

__all__ = ["Session", "open_session"]

if not TYPE_CHECKING:  # imported at the first call (numpy and all), not with the session
    ephys, lfp_, ophys = (LazyModule(f"ppdata.nwb.{m}") for m in ("ephys", "lfp", "ophys"))


class Session(AlignedResponses):
    """A session in the bucket.

    Parameters
    ----------
    name : str
        Raw session name, or any of its asset names.
    client : S3Client, optional
        Where to read (default: an anonymous client from :meth:`Settings.resolve`).
    versions : dict, optional
        Asset kind -> version (asset name or timestamp) to use instead of the current one,
        e.g. ``{"sorted": "2025-02-02"}`` for an older spike sorting.
    recording : str, optional
        Which NWB to read where an asset holds several (one per experiment x recording):
        ``"experiment1_recording2"``, ``"recording2"`` or ``"2"``; default the first.
        :meth:`nwb_locations` lists them, :attr:`nwb_used` says which were opened.
    source : {"s3", "dandi"}
        Where NWB data comes from: the bucket's assets, or the complete NWB on DANDI
        (found through ``settings.dandi_api_url``, streamed from the archive's S3 bucket).

    Examples
    --------
    >>> s = ppdata.open_session("ecephys_820459_2025-11-12_14-34-33")
    >>> sorted(str(kind) for kind in s.kinds)
    ['nwb', 'raw', 'sorted']
    >>> per_probe = s.units(label="sua").groupby("probe").size()
    >>> per_probe.index[0], bool(per_probe.sum() > 0)
    ('ProbeA', True)
    >>> s.stats.requests > 0  # every request and byte is counted
    True
    >>> s.close()
    """

    def __init__(
        self,
        name: str,
        *,
        client: S3Client | None = None,
        versions: dict[str, str] | None = None,
        recording: str | None = None,
        source: str = "s3",
    ) -> None:
        if source not in ("s3", "dandi"):
            raise ValueError(f"source must be 's3' or 'dandi', got {source!r}")
        parsed = parse_name(name)
        if parsed.raw_name is None:
            raise NWBError(f"{name!r} names a subject's CCF asset, not a session")
        self.name: str = parsed.raw_name
        self.parsed: SessionName = parse_name(self.name)
        self._client = client or S3Client(Settings.resolve())
        self.versions = dict(versions or {})
        self.recording = recording
        self._open: dict[str, NWB] = {}
        self._owns_client = client is None
        self._closed = False
        #: True once an asset read from held more than one NWB (see ``recording``).
        self.several_nwbs = False
        self.source = source

    def __repr__(self) -> str:
        return f"Session({self.name!r}{', closed' if self._closed else ''})"

    @property
    def client(self) -> S3Client:
        """The client this session reads through.

        Raises
        ------
        SessionClosed
            After :meth:`close`.
        """
        self._check_open()
        return self._client

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosed(
                f"session {self.name} is closed: open it again (ppdata.open_session) to read more"
            )

    def _repr_html_(self) -> str:
        from .._html import session_html

        return session_html(self)

    # -- assets -----------------------------------------------------------------------------
    @cached_property
    def assets(self) -> list[Asset]:
        """All assets, grouped by kind, newest first (see :func:`ppdata.find_assets`)."""
        return find_assets(self.name, client=self.client)

    @cached_property
    def _own_assets(self) -> list[Asset]:
        """The session's own assets, without the subject's CCF: all that reading its NWBs
        needs, and one listing fewer than :attr:`assets` for Neuropixels."""
        if "assets" in self.__dict__:
            return [a for a in self.assets if a.kind is not AssetKind.CCF]
        return find_assets(self.name, client=self.client, ccf=False)

    def asset(self, kind: AssetKind | str, version: str | None = None) -> Asset:
        """The asset of a kind (current, or the version asked for here or at creation)."""
        kind = AssetKind(kind)
        pool = self.assets if kind is AssetKind.CCF else self._own_assets
        return pick_asset(pool, kind, version or self.versions.get(str(kind)))

    @property
    def kinds(self) -> set[AssetKind]:
        """Kinds of the session's own assets (the subject's CCF is in :attr:`assets`)."""
        return {a.kind for a in self._own_assets}

    # -- NWB --------------------------------------------------------------------------------
    def nwb_locations(self) -> list[NWBLocation]:
        """Every NWB of the session's chosen assets: complete first, then partial ones."""
        out: list[NWBLocation] = []
        for kind in NWB_KINDS:
            if kind in self.kinds:
                try:
                    out.extend(nwbs_in_asset(self.asset(kind), client=self.client))
                except NWBError:
                    continue
        return out

    def nwb(self, kind: AssetKind | str | None = None) -> NWB:
        """Open (once) the NWB of an asset kind; by default the complete NWB, else the first
        partial one.

        Raises
        ------
        NWBError
            If the session has no NWB of that kind; the message lists what it has.
        SessionClosed
            After :meth:`close`.
        """
        return self._opened(kind)

    def _opened(
        self, kind: AssetKind | str | None, prepare: Callable[[S3File], object] | None = None
    ) -> NWB:
        """:meth:`nwb`; ``prepare`` is given a remote HDF5 file before h5py opens it, if this
        call opens it, to fetch what the caller reads next (``_open_remote``'s ``prepare``)."""
        self._check_open()
        kinds = [AssetKind(kind)] if kind else list(NWB_KINDS)
        if self.source == "dandi" and (kind is None or AssetKind(kind) is AssetKind.NWB):
            return self._dandi_nwb()
        for k in kinds:
            if k not in self.kinds:
                continue
            asset = self.asset(k)
            if asset.name not in self._open:
                self._open[asset.name] = self._open_nwb_of(asset, prepare)
            return self._open[asset.name]
        have = ", ".join(sorted(str(k) for k in self.kinds))
        wanted = ", ".join(str(k) for k in kinds)
        raise NWBError(f"session {self.name} has no NWB in a {wanted} asset (it has: {have})")

    def _open_nwb_of(self, asset: Asset, prepare: Callable[[S3File], object] | None = None) -> NWB:
        """Open the (first) NWB of an asset: a complete HDF5 NWB at its usual name straight
        away, anything else after listing the asset."""
        from ..nwb.open import NWBFormat, _open_remote
        from ..nwb.storage import BLOCK_SIZE

        probed = (
            probe_complete_hdf5(asset, BLOCK_SIZE, client=self.client)
            if is_first_recording(self.recording)
            else None
        )
        if probed is not None:
            return _open_remote(
                self.client,
                probed.key,
                NWBFormat.HDF5,
                probed.size,
                probed.first,
                block_size=BLOCK_SIZE,
                last=probed.last,
                prepare=prepare,
            )
        locations = nwbs_in_asset(asset, client=self.client)
        if len(locations) > 1:
            self.several_nwbs = True
        location = pick_recording(locations, self.recording)
        return _open_remote(
            self.client, location.key.rstrip("/"), None, location.size, prepare=prepare
        )

    @property
    def nwb_used(self) -> list[str]:
        """URIs of the NWB files opened so far (what the answers were read from)."""
        return [nwb.source for nwb in self._open.values()]

    def _nwb_with(
        self,
        test: Any,
        kinds: Iterable[AssetKind],
        what: str,
        prepare: Callable[[S3File], object] | None = None,
    ) -> NWB:
        """The first NWB among ``kinds`` (complete NWB first) that ``test`` accepts
        (``prepare``: as :meth:`_opened`)."""
        if self.source == "dandi":
            nwb = self._dandi_nwb()
            if test(nwb):
                return nwb
            raise NWBError(
                f"session {self.name} has no {what} in its DANDI NWB {self.dandi_asset.path}"
            )
        tried = []
        for kind in (AssetKind.NWB, *kinds):
            if kind not in self.kinds:
                continue
            nwb = self._opened(kind, prepare)
            if test(nwb):
                return nwb
            tried.append(str(kind))
        have = ", ".join(sorted(str(k) for k in self.kinds))
        looked = f"looked in its {', '.join(tried)} NWB" if tried else "no NWB of it holds one"
        raise NWBError(f"session {self.name} has no {what} ({looked}; its assets: {have})")

    def _ephys(self, prepare: Callable[[S3File], object] | None = None) -> NWB:
        return self._nwb_with(
            lambda n: n.exists("units"), [AssetKind.SORTED], "units table", prepare
        )

    def _units_nwb(self) -> NWB:
        """:meth:`_ephys`, a remote HDF5 NWB opened with what :meth:`units` reads fetched
        ahead of h5py (:func:`ppdata.nwb.ephys.prepare_units`)."""
        return self._ephys(prepare=ephys.prepare_units)

    def _ophys(self) -> NWB:
        from ..nwb.ophys import list_planes

        return self._nwb_with(
            lambda n: bool(list_planes(n)), [AssetKind.PLANAR_OPHYS], "imaging planes"
        )

    def _behavior(self, what: str = "running data", has: Any = None) -> NWB:
        """The NWB that holds behavior: the complete NWB (``_nwb_`` asset), else the
        Mesoscope behavior/timing NWB. Never the sorted NWB, which holds none."""
        from ..nwb.behavior import running_speed

        def has_running(nwb: NWB) -> bool:
            try:
                running_speed(nwb)
            except (LookupError, NWBError):
                return False
            return True

        kinds = self.kinds
        if AssetKind.NWB not in kinds and AssetKind.BEHAVIOR_TIMING not in kinds:
            raw = self.name
            if AssetKind.SORTED in kinds or self.parsed.platform == "ecephys":
                where = f"s3://{self.client.bucket}/{raw}"
                held = (
                    f"only the eye camera video is in the raw asset, {where}/behavior-videos/"
                    if what == "eye tracking"
                    else f"its {what} is in the raw asset, {where}/behavior/"
                )
                raise NWBError(
                    f"session {raw} has no complete NWB (_nwb_ asset) yet: {held}, until the "
                    "complete NWB is published (the sorted NWB holds no behavior)"
                )
            have = ", ".join(sorted(str(k) for k in kinds))
            raise NWBError(
                f"session {raw} has no NWB with {what} (no _nwb_ or behavior/timing asset; "
                f"its assets: {have})"
            )
        return self._nwb_with(has or has_running, [AssetKind.BEHAVIOR_TIMING], what)

    # -- DANDI ------------------------------------------------------------------------------
    @cached_property
    def dandi_asset(self) -> DandiAsset:
        """The session's complete NWB on DANDI (see :func:`ppdata.dandi.find_dandi_asset`)."""
        from ..dandi import find_dandi_asset

        return find_dandi_asset(self.name, settings=self.client.settings)

    def _dandi_nwb(self) -> NWB:
        self._check_open()
        if "dandi" not in self._open:
            from ..dandi import open_dandi_nwb

            self._open["dandi"] = open_dandi_nwb(self.dandi_asset, settings=self.client.settings)
        return self._open["dandi"]

    # -- SLAP2 ------------------------------------------------------------------------------
    def slap2(self) -> Slap2:
        """The session's SLAP2 files: raw trials, ``.meta``, annotations, reference stacks,
        registered movies (see :class:`ppdata.slap2.reader.Slap2`).

        Raises
        ------
        NWBError
            If the session is not a SLAP2 session.
        """
        from ..slap2.reader import Slap2

        if self.parsed.platform not in (None, "SLAP2"):
            raise NWBError(
                f"session {self.name} is {self.parsed.platform}, not SLAP2; "
                "SLAP2 sessions have unprefixed names like 828408_2025-11-13_10-30-53"
            )
        derived = [
            self.asset(k)
            for k in (AssetKind.MOTION_CORRECTED, AssetKind.SLAP2_PROCESSED)
            if k in self.kinds
        ]
        return Slap2(self.client, self.asset(AssetKind.RAW), derived)

    # -- ephys and ophys: the nwb.* functions, run on the NWB that holds what they read --------
    units = NWBMethod(lambda: ephys.units, _units_nwb)
    spike_times = NWBMethod(lambda: ephys.spike_times, _ephys)
    probes = NWBMethod(lambda: ephys.list_probes, _ephys)
    waveforms = NWBMethod(lambda: ephys.waveforms, _ephys)
    electrodes = NWBMethod(lambda: ephys.electrodes, _ephys)
    lfp = NWBMethod(lambda: lfp_.lfp, _ephys)
    planes = NWBMethod(lambda: ophys.planes, _ophys)
    traces = NWBMethod(lambda: ophys.traces, _ophys)
    rois = NWBMethod(lambda: ophys.rois, _ophys)

    def dff(
        self,
        plane: str,
        start: float | None = None,
        stop: float | None = None,
        rois: Iterable[int] | None = None,
    ) -> pd.DataFrame:
        """ΔF/F of a plane, time x ROI, read lazily (see :func:`ppdata.nwb.ophys.traces`)."""
        return self.traces(plane, "dff", start, stop, rois)

    def slap2_dff(
        self, dmd: int, start: float | None = None, stop: float | None = None
    ) -> pd.DataFrame:
        """A SLAP2 DMD's ΔF/F from the session's complete NWB (``source="dandi"``: DANDI
        001424), time x source (see :func:`ppdata.slap2.summary.nwb_dff`; from S3, the
        processed asset's traces are :meth:`slap2` ``.traces``).

        Examples
        --------
        >>> s = ppdata.open_session("828408_2025-11-13_10-30-53", source="dandi")
        >>> s.slap2_dff(1).columns.name
        'source'
        >>> s.close()
        """
        from ..slap2.summary import nwb_dff

        return nwb_dff(self.nwb(), dmd, start, stop)

    # -- behavior ---------------------------------------------------------------------------
    def running_speed(self) -> pd.DataFrame:
        """Running speed (``speed``, cm/s, negative = backwards) indexed by time (s).

        From the complete NWB, or the Mesoscope behavior/timing NWB.

        Raises
        ------
        NWBError
            If no NWB of the session holds behavior; for a Neuropixels session without a
            complete NWB the message names the raw asset's ``behavior/`` folder.
        """
        from ..nwb.behavior import running_speed

        return running_speed(self._behavior())

    def wheel_rotation(self) -> pd.DataFrame:
        """Running-wheel rotation per sample (``rotation``, radians) indexed by time (s)."""
        from ..nwb.behavior import wheel_rotation

        return wheel_rotation(self._behavior("running wheel data"))

    def eye_tracking(self) -> pd.DataFrame:
        """Eye tracking (pupil, corneal reflection, eye ellipse, blinks) as one DataFrame
        indexed by time; see :func:`ppdata.nwb.behavior.eye_tracking`.

        Raises
        ------
        NWBError
            If no NWB of the session holds eye tracking (Mesoscope behavior/timing NWBs
            have none; Neuropixels sessions before their complete NWB have it only in the
            raw asset's videos).
        """
        from ..nwb.behavior import eye_tracking

        def has_eye(nwb: NWB) -> bool:
            return nwb.exists("processing/eye_tracking")

        return eye_tracking(self._behavior("eye tracking", has_eye))

    def stimulus_tables(self) -> dict[str, pd.DataFrame]:
        """Every ``*_presentations`` table by name (see :func:`ppdata.nwb.stimuli.stimulus_tables`),
        from the NWB that holds them: the complete NWB, or the Mesoscope behavior NWB."""
        from ..nwb.stimuli import stimulus_tables

        return stimulus_tables(self._stimulus_nwb())

    # -- housekeeping -----------------------------------------------------------------------
    @property
    def stats(self) -> RequestCounts:
        """HTTP requests and bytes this session's client has caused so far (with ``dandi``
        for the DANDI blob's client and API look-ups, when used)."""
        out = self._client.stats.snapshot()  # still readable after close()
        if "dandi" in self._open and self._open["dandi"].client is not None:
            blob = self._open["dandi"].client.stats.snapshot()
            dandi = replace(blob, api_requests=self.dandi_asset.api_requests)
            out = replace(out, dandi=dandi)
        return out

    def close(self) -> None:
        """Close every NWB this session opened (their files, pynwb readers and DANDI blob
        clients), and its client if it made it. Calling it again does nothing; reading
        through a closed session raises :class:`~ppdata.errors.SessionClosed` (its
        :attr:`stats` stay readable)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.ExitStack() as stack:
            if self._owns_client:
                stack.callback(self._client.close)
            for nwb in self._open.values():  # kept: nwb_used and stats still answer
                stack.callback(nwb.close)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_session(
    name: str,
    *,
    settings: Settings | None = None,
    client: S3Client | None = None,
    versions: dict[str, str] | None = None,
    recording: str | None = None,
    source: str = "s3",
) -> Session:
    """Open a session by name (nothing is read until asked for).

    Parameters
    ----------
    name : str
        Raw session name or any of its asset names.
    settings : Settings, optional
        Where to read (default: :meth:`Settings.resolve`, i.e. the real bucket unless
        ``PPDATA_ENDPOINT_URL`` says otherwise).
    client : S3Client, optional
        A client to share (overrides ``settings``).
    versions : dict, optional
        Asset kind -> version to use instead of the current one.
    recording : str, optional
        Which NWB of an asset holding several (``"experiment1_recording2"``).
    source : {"s3", "dandi"}
        ``dandi``: read NWB data (units, LFP, planes, behavior, stimuli) from the session's
        complete NWB on DANDI instead of the bucket's assets.
    """
    session = Session(
        name,
        client=client or S3Client(settings or Settings.resolve()),
        versions=versions,
        recording=recording,
        source=source,
    )
    session._owns_client = client is None
    return session
