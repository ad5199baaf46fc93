"""What an NWB holds, from its metadata only: :func:`summarize`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._html import NWBSummary
    from .file import NWB

__all__ = ["summarize"]


def summarize(nwb: NWB) -> NWBSummary:
    """What an NWB holds, from its metadata (cheap: no array data is read).

    Returns
    -------
    NWBSummary
        ``format``, ``source``, ``session_id``, ``identifier``, ``session_start_time``,
        ``acquisition``, ``processing`` (module names), ``intervals``, ``n_units``,
        ``probes`` (electrode groups), ``lfp`` (series paths), ``planes`` (modules with an
        ROI table or ΔF/F), and the client's ``stats``; a card in Jupyter, ``to_dict()``
        for JSON.
    """
    from .._html import NWBSummary

    return NWBSummary(**_summary_fields(nwb), stats=nwb.stats)


def _summary_fields(nwb: NWB) -> dict[str, Any]:
    scalars = ["session_id", "identifier", "session_start_time", "general/session_id"]
    present = [p for p in scalars if nwb.exists(p) and not nwb.is_group(p)]
    nwb.prefetch(present)

    def scalar(path: str) -> Any:
        return nwb.read_scalar(path) if path in present else None

    def names(path: str) -> tuple[str, ...]:
        return tuple(nwb.children(path)) if nwb.exists(path) and nwb.is_group(path) else ()

    modules = names("processing")
    planes = sorted(
        (
            m
            for m in modules
            if nwb.exists(f"processing/{m}/image_segmentation")
            or nwb.exists(f"processing/{m}/dff_timeseries")
        ),
        key=lambda m: (int(m.rsplit("_", 1)[1]) if m.rsplit("_", 1)[-1].isdigit() else 10**6, m),
    )
    lfp = tuple(
        f"processing/{m}/{c}/{s}"
        for m in modules
        for c in names(f"processing/{m}")
        if "lfp" in c.lower()
        for s in names(f"processing/{m}/{c}")
        if s.endswith("-LFP") or s.startswith("ElectricalSeries")
    )
    groups = tuple(
        g
        for g in names("general/extracellular_ephys")
        if g != "electrodes" and nwb.is_group(f"general/extracellular_ephys/{g}")
    )
    return {
        "format": nwb.format.value,
        "source": nwb.source,
        "session_id": scalar("general/session_id") or scalar("session_id"),
        "identifier": scalar("identifier"),
        "session_start_time": scalar("session_start_time"),
        "acquisition": names("acquisition"),
        "processing": modules,
        "intervals": names("intervals"),
        "n_units": nwb.shape("units/id")[0] if nwb.exists("units/id") else 0,
        "probes": groups,
        "lfp": lfp,
        "planes": tuple(planes),
    }
