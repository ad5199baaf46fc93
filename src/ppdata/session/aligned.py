"""A session's stimuli and stimulus-aligned responses (PSTHs, trial-aligned ΔF/F).

Mixed into :class:`ppdata.session.Session`: the stimulus tables live in the complete NWB (or,
for Mesoscope, the behavior/timing asset's NWB); the responses combine them with the spikes
or ΔF/F of the session's other NWBs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import NWBError
from ..find.assets import AssetKind
from ..nwb import ALIGNED_DFF_WINDOW, PSTH_WINDOW

if TYPE_CHECKING:
    import pandas as pd

    from ..naming import SessionName
    from ..nwb.file import NWB

__all__ = ["AlignedResponses"]


class AlignedResponses:
    """Stimuli and aligned responses of a :class:`~ppdata.session.Session`."""

    if TYPE_CHECKING:  # provided by Session
        name: str
        parsed: SessionName
        source: str

        @property
        def kinds(self) -> set[AssetKind]: ...
        def nwb(self, kind: AssetKind | str | None = None) -> NWB: ...
        def stimulus_tables(self) -> dict[str, pd.DataFrame]: ...
        def _dandi_nwb(self) -> NWB: ...
        def _ephys(self) -> NWB: ...
        def _ophys(self) -> NWB: ...

    # -- stimuli and aligned responses ------------------------------------------------------
    def _stimulus_nwb(self) -> NWB:
        """The NWB with the ``*_presentations`` tables; a one-line error saying where they
        would be when the session has none."""
        from ..nwb.stimuli import has_stimulus_tables

        if self.source == "dandi" and has_stimulus_tables(self._dandi_nwb()):
            return self._dandi_nwb()
        for kind in (AssetKind.NWB, AssetKind.BEHAVIOR_TIMING):
            if kind in self.kinds:
                nwb = self.nwb(kind)
                if has_stimulus_tables(nwb):
                    return nwb
        have = ", ".join(sorted(str(k) for k in self.kinds)) or "none"
        if self.parsed.platform == "ecephys":
            where = (
                f"a Neuropixels session's stimulus tables are in its complete NWB "
                f"({self.name}_nwb_<date>/{self.name}_experiment1_recording1.nwb, "
                f"intervals/*_presentations), which is not published for it yet; until then "
                f"the stimulus log is in the raw asset's behavior/ folder"
            )
        else:
            where = (
                f"stimulus tables are in the complete NWB or, for Mesoscope, in the "
                f"behavior/timing asset's {self.name}.nwb (intervals/*_presentations)"
            )
        raise NWBError(f"session {self.name} has no stimulus tables: {where} (its assets: {have})")

    def _stimuli_cache(self) -> dict[str, pd.DataFrame]:
        if "_tables" not in self.__dict__:
            self.__dict__["_tables"] = self.stimulus_tables()
        return self.__dict__["_tables"]

    def stimuli(self) -> pd.DataFrame:
        """The stimulus blocks: name, BlockType, time span, presentations per TrialType.

        See :func:`ppdata.nwb.stimuli.blocks`.
        """
        from ..nwb.stimuli import blocks

        return blocks(self._stimulus_nwb(), self._stimuli_cache())

    def presentations(self, block: str | None = None) -> pd.DataFrame:
        """Presentations of one block (default: every block) with ``trial_type`` and
        ``deviant``; see :func:`ppdata.nwb.stimuli.presentations`."""
        from ..nwb.stimuli import presentations

        return presentations(self._stimulus_nwb(), block, self._stimuli_cache())

    def _trial_presentations(self, block: str | None) -> pd.DataFrame:
        """Presentations for an aligned analysis, reading only the tables it needs: the
        block asked for, else the context (``… mismatch block``) tables, else all; of each,
        only the columns that set onsets and trial types."""
        from ..nwb.stimuli import (
            TRIAL_COLUMNS,
            context_tables,
            find_block,
            presentations,
            stimulus_tables,
            table_names,
        )

        nwb = self._stimulus_nwb()
        if "_tables" in self.__dict__:
            return presentations(nwb, None, self.__dict__["_tables"])
        names = table_names(nwb)
        wanted = [find_block(dict.fromkeys(names), block)] if block else context_tables(names)
        # only the columns that set onsets and trial types: not kept as the session's tables
        return presentations(nwb, None, stimulus_tables(nwb, wanted or names, TRIAL_COLUMNS))

    def aligned_spikes(
        self,
        units: pd.DataFrame | Iterable[int] | None = None,
        to: str = "deviant",
        vs: str = "standard",
        block: str | None = None,
        window: tuple[float, float] = PSTH_WINDOW,
        bin_size: float = 0.01,
    ) -> Any:
        """PSTHs, unit × condition × time in spikes/s (an ``xarray.DataArray``).

        ``to`` / ``vs`` take a ``TrialType`` or ``"deviant"``; ``units`` a units table
        (its ``probe``/``brain_area`` become coordinates), unit ids, or ``None`` for every
        unit. Spike times are fetched in bulk. See :func:`ppdata.nwb.aligned.aligned_spikes`.
        """
        from ..nwb.aligned import aligned_spikes, psth_units

        nwb = self._ephys()
        if units is None:
            units = psth_units(nwb)  # ids, probe and area only: not the whole table
        return aligned_spikes(
            nwb,
            lambda: self._trial_presentations(block),  # read while spike times download
            units,
            to,
            vs,
            block,
            window,
            bin_size,
        )

    def aligned_dff(
        self,
        plane: str,
        rois: Iterable[int] | None = None,
        to: str = "deviant",
        vs: str = "standard",
        block: str | None = None,
        window: tuple[float, float] = ALIGNED_DFF_WINDOW,
    ) -> Any:
        """Trial-aligned ΔF/F, roi × trial × time, with ``condition`` and ``trial_type``
        coordinates on ``trial``. See :func:`ppdata.nwb.aligned.aligned_dff`."""
        from ..nwb.aligned import aligned_dff

        return aligned_dff(
            self._ophys(), plane, self._trial_presentations(block), rois, to, vs, block, window
        )
