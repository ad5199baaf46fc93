"""Sorting portal links of a Neuropixels sorted asset (``visualization_output.json``).

The file maps each recording folder to its figurl links::

    {"experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP_recording1":
        {"timeseries": "https://figurl.org/f?...", "sorting_summary": "https://figurl.org/f?..."}}

Either key may be missing. :func:`read_portal_links` turns it into one :class:`PortalLinks`
per recording, with the short probe name (``ProbeA``), sorted by probe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import MetadataError
from .documents import KeyReader, get_asset_file, load_json_document

__all__ = [
    "VISUALIZATION_FILE",
    "PortalLinks",
    "get_portal_links",
    "probe_name",
    "read_portal_links",
]

VISUALIZATION_FILE = "visualization_output.json"

# "…Neuropix-PXI-100.ProbeA-AP_recording1", "…ProbeA_recording1", "…ProbeA-LFP…", "ProbeA"
_PROBE = re.compile(r"(?:^|[.#_\s-])(Probe[A-Za-z0-9]+?)(?=-AP|-LFP|_recording|[-_.\s]|$)")
_RECORDING = re.compile(r"_recording(\d+)$")


def probe_name(recording: str) -> str:
    """The short probe name of a recording folder, or the full name if none is found.

    Examples
    --------
    >>> probe_name("experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP_recording1")
    'ProbeA'
    >>> probe_name("experiment1_Record Node 101#Neuropix-PXI-100.ProbeB_recording1")
    'ProbeB'
    >>> probe_name("experiment1_Record Node 101#Neuropix-PXI-100.2")
    'experiment1_Record Node 101#Neuropix-PXI-100.2'
    """
    m = _PROBE.search(recording)
    return m.group(1) if m else recording


@dataclass(frozen=True)
class PortalLinks:
    """The sorting portal links of one recording (one probe).

    Attributes
    ----------
    recording : str
        The recording folder name as in the file.
    sorting_summary, timeseries : str or None
        The figurl links; ``None`` when the file leaves them out.
    """

    recording: str
    sorting_summary: str | None = None
    timeseries: str | None = None

    @property
    def probe(self) -> str:
        """Short probe name (``ProbeA``), or the full recording name if it names no probe
        (see :func:`probe_name`)."""
        return probe_name(self.recording)

    @property
    def recording_index(self) -> int | None:
        """The ``recordingN`` number, if the name has one."""
        m = _RECORDING.search(self.recording)
        return int(m.group(1)) if m else None


def _link(entry: Mapping[str, Any], key: str, file: str, recording: str) -> str | None:
    value = entry.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MetadataError(
            f"{file}: key {recording!r}.{key}: expected a URL string, found {type(value).__name__}"
        )
    return value


def read_portal_links(
    data: bytes | str | Mapping[str, Any], *, file: str = VISUALIZATION_FILE
) -> list[PortalLinks]:
    """Parse ``visualization_output.json`` into links per recording, sorted by probe.

    Parameters
    ----------
    data : bytes, str or mapping
        The file's content or the parsed document.
    file : str
        Name used in error messages.

    Returns
    -------
    list of PortalLinks
        Sorted by probe name, then recording index and name. A recording whose entry is
        ``null`` or lacks a key gets ``None`` for that link.

    Raises
    ------
    MetadataError
        Malformed JSON, or an entry that is not an object / a link that is not a string.
    """
    doc = load_json_document(data, file)
    out = []
    for recording, entry in doc.items():
        if entry is None:
            entry = {}
        if not isinstance(entry, Mapping):
            raise MetadataError(
                f"{file}: key {recording!r}: expected an object with 'sorting_summary' and "
                f"'timeseries' links, found {type(entry).__name__}"
            )
        out.append(
            PortalLinks(
                recording=recording,
                sorting_summary=_link(entry, "sorting_summary", file, recording),
                timeseries=_link(entry, "timeseries", file, recording),
            )
        )
    return sorted(out, key=lambda p: (p.probe, p.recording_index or 0, p.recording))


def get_portal_links(asset_name: str, *, client: KeyReader) -> list[PortalLinks]:
    """Fetch and parse a sorted asset's ``visualization_output.json``.

    Raises
    ------
    NotFound
        If the asset has no ``visualization_output.json`` (only sorted assets have one).
    MetadataError
        If it is malformed.
    """
    hint = (
        "; portal links exist only in sorted Neuropixels assets "
        "(`ppdata assets SESSION` lists them)"
    )
    key, data = get_asset_file(asset_name, VISUALIZATION_FILE, client=client, hint=hint)
    return read_portal_links(data, file=key)
