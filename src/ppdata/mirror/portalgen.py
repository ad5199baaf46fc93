"""The sorting portal's ``visualization_output.json`` of a synthetic sorted asset.

Examples
--------
>>> doc = visualization_output(["rec1"], asset_name="a")
>>> sorted(doc["rec1"])
['sorting_summary', 'timeseries']
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from urllib.parse import quote

__all__ = ["visualization_output"]


_FIGURL = "https://figurl.org/f"


_SORTINGVIEW = "npm://@fi-sci/figurl-sortingview@12/dist"


def _sha1(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


def visualization_output(
    recordings: Sequence[str],
    *,
    missing: Mapping[str, str] | None = None,
    asset_name: str = "",
) -> dict[str, dict[str, str]]:
    """A ``visualization_output.json`` document: figurl links per recording.

    Parameters
    ----------
    recordings : sequence of str
        Recording folder names, e.g.
        ``experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP_recording1``.
    missing : mapping, optional
        Recording name to the key to leave out (``"timeseries"`` or ``"sorting_summary"``;
        ``"all"`` leaves an empty entry).
    asset_name : str
        Used in the links' labels.

    Returns
    -------
    dict
        ``{"<rec>": {"timeseries": "<url>", "sorting_summary": "<url>"}}``.
    """
    missing = dict(missing or {})
    out: dict[str, dict[str, str]] = {}
    for rec in recordings:
        links: dict[str, str] = {}
        base = f"{asset_name} - {rec}" if asset_name else rec
        label = quote(f"{base} - Timeseries", safe="")
        links["timeseries"] = (
            f"{_FIGURL}?v={_SORTINGVIEW}&d=sha1://{_sha1('ts', asset_name, rec)}&label={label}"
        )
        curation = quote(
            '{"sortingCuration":"gh://AllenNeuralDynamics/ephys-sorting-manual-curation/main/'
            f'{asset_name or "session"}/{rec}/curation.json"}}',
            safe="",
        )
        label = quote(f"{base} - Sorting Summary", safe="")
        links["sorting_summary"] = (
            f"{_FIGURL}?v={_SORTINGVIEW}&d=sha1://{_sha1('ss', asset_name, rec)}"
            f"&s={curation}&label={label}"
        )
        drop = missing.get(rec)
        if drop in ("all", "both"):
            links.clear()
        elif drop:
            links.pop(drop, None)
        out[rec] = links
    return out
