"""Session and asset names of the AIND data, stated once as data.

The rules follow aind-data-schema-models ``data_name_patterns.py`` (see DOMAIN.md):

- datetime part: ``YYYY-MM-DD_HH-MM-SS``
- raw, legacy (schema v1): ``<platform>_<subject_id>_<datetime>``
- raw, schema v2: ``<subject_id>_<datetime>`` (no platform prefix; newer SLAP2 sessions)
- derived: ``<raw name>_<process_name>_<datetime>`` (re-based on the raw name, not chained)
- the CCF asset: ``ecephys_<subject_id>_ccf``

Examples
--------
>>> n = parse_name("ecephys_012345_2025-01-01_01-01-01_sorted_2025-02-02_02-02-02")
>>> n.kind.value, n.platform, n.subject_id, n.process, n.raw_name
('derived', 'ecephys', '012345', 'sorted', 'ecephys_012345_2025-01-01_01-01-01')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .errors import InvalidName

__all__ = [
    "DATETIME_FORMAT",
    "KNOWN_PLATFORMS",
    "NameKind",
    "SessionName",
    "as_s3_uri",
    "ccf_name",
    "derived_name",
    "format_datetime",
    "is_valid_name",
    "parse_datetime",
    "parse_name",
    "raw_name",
]

DATETIME_FORMAT = "%Y-%m-%d_%H-%M-%S"

#: Platform prefixes seen in legacy (schema v1) raw names. Others matching the platform part
#: are accepted too (the list grows with the schema); these are the ones we know.
KNOWN_PLATFORMS = (
    "ecephys",
    "multiplane-ophys",
    "single-plane-ophys",
    "SLAP2",
    "behavior",
    "SmartSPIM",
    "FIP",
    "HSFP",
    "exaSPIM",
    "MRI",
)

#: Process names seen in derived names.
KNOWN_PROCESSES = ("sorted", "processed", "nwb")

# Small parts, combined into whole-name patterns below (after IBL's one/alf/spec.py).
_PARTS = {
    "datetime": r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}",
    "platform": r"[A-Za-z][A-Za-z0-9-]*",
    "subject": r"[A-Za-z0-9-]*\d[A-Za-z0-9-]*",
    "process": r"[A-Za-z][A-Za-z0-9-]*",
}


def _raw_pattern(prefixed: bool) -> str:
    platform = rf"(?P<platform>{_PARTS['platform']})_" if prefixed else ""
    return rf"{platform}(?P<subject_id>{_PARTS['subject']})_(?P<acquired>{_PARTS['datetime']})"


_RAW_PREFIXED = _raw_pattern(prefixed=True)
_RAW_BARE = _raw_pattern(prefixed=False)
_DERIVED_TAIL = rf"_(?P<process>{_PARTS['process']})_(?P<processed>{_PARTS['datetime']})"

PATTERNS: dict[str, re.Pattern[str]] = {
    "ccf": re.compile(rf"(?P<platform>ecephys)_(?P<subject_id>{_PARTS['subject']})_ccf"),
    "derived_bare": re.compile(rf"(?P<raw>{_RAW_BARE}){_DERIVED_TAIL}"),
    "derived": re.compile(rf"(?P<raw>{_RAW_PREFIXED}){_DERIVED_TAIL}"),
    "raw_bare": re.compile(rf"(?P<raw>{_RAW_BARE})"),
    "raw": re.compile(rf"(?P<raw>{_RAW_PREFIXED})"),
}


class NameKind(StrEnum):
    """What a name denotes."""

    RAW = "raw"
    DERIVED = "derived"
    CCF = "ccf"


@dataclass(frozen=True)
class SessionName:
    """A parsed session or asset name.

    Returned by :func:`parse_name`, which raises :class:`~ppdata.errors.InvalidName` for a
    name that fits no pattern; :attr:`ppdata.Asset.parsed` holds one for each asset.

    Attributes
    ----------
    name : str
        The name as given.
    kind : NameKind
        ``raw``, ``derived`` or ``ccf``.
    platform : str or None
        The platform prefix (``ecephys``, ``multiplane-ophys``, ``SLAP2`` ...); ``None`` for
        schema-v2 names without a prefix.
    subject_id : str
        The mouse id.
    acquired : datetime or None
        When the session was acquired (``None`` for the CCF asset).
    process : str or None
        The process name of a derived asset (``sorted``, ``processed``, ``nwb``).
    processed : datetime or None
        When a derived asset was made.
    raw_name : str or None
        The raw session name this asset belongs to (``None`` for the CCF asset, which belongs
        to a subject, not a session).
    """

    name: str
    kind: NameKind
    platform: str | None
    subject_id: str
    acquired: datetime | None
    process: str | None = None
    processed: datetime | None = None
    raw_name: str | None = None

    def __str__(self) -> str:
        return self.name

    @property
    def session(self) -> str | None:
        """The raw session name (alias of :attr:`raw_name`)."""
        return self.raw_name

    @property
    def ccf_name(self) -> str:
        """The name of this subject's CCF asset."""
        return ccf_name(self.subject_id)


def format_datetime(value: datetime) -> str:
    """Format a datetime the way names carry it (``2025-01-01_01-01-01``)."""
    return value.strftime(DATETIME_FORMAT)


def parse_datetime(text: str, *, part: str = "datetime", name: str | None = None) -> datetime:
    """Parse the datetime part of a name.

    Raises
    ------
    InvalidName
        If the text is not ``YYYY-MM-DD_HH-MM-SS`` or not a real date and time.
    """
    where = f" in {name!r}" if name else ""
    if not re.fullmatch(_PARTS["datetime"], text):
        raise InvalidName(
            f"the {part} {text!r}{where} is not of the form YYYY-MM-DD_HH-MM-SS "
            "(e.g. 2025-01-01_01-01-01)"
        )
    try:
        return datetime.strptime(text, DATETIME_FORMAT)
    except ValueError as exc:
        raise InvalidName(f"the {part} {text!r}{where} is not a real date and time: {exc}") from exc


def parse_name(name: str) -> SessionName:
    """Parse a raw, derived or CCF asset name.

    Parameters
    ----------
    name : str
        A name such as ``ecephys_012345_2025-01-01_01-01-01``, ``828408_2025-11-13_10-30-53``,
        ``multiplane-ophys_832700_2026-01-24_12-06-12_processed_2026-01-25_13-22-08`` or
        ``ecephys_012345_ccf``. A trailing ``/`` and an ``s3://bucket/`` prefix are ignored.

    Returns
    -------
    SessionName

    Raises
    ------
    InvalidName
        If the name follows none of the forms; the message names the part that is wrong.
    """
    if not isinstance(name, str):
        raise InvalidName(f"a session name must be a string, got {type(name).__name__}")
    text = _strip(name)
    for form, pattern in PATTERNS.items():
        m = pattern.fullmatch(text)
        if m is None:
            continue
        groups = m.groupdict()
        if form == "ccf":
            return SessionName(text, NameKind.CCF, "ecephys", groups["subject_id"], None)
        acquired = parse_datetime(groups["acquired"], part="acquisition datetime", name=text)
        platform, subject_id, raw_name = groups.get("platform"), groups["subject_id"], groups["raw"]
        if form.startswith("derived"):
            processed = parse_datetime(groups["processed"], part="processing datetime", name=text)
            return SessionName(
                text,
                NameKind.DERIVED,
                platform,
                subject_id,
                acquired,
                process=groups["process"],
                processed=processed,
                raw_name=raw_name,
            )
        return SessionName(text, NameKind.RAW, platform, subject_id, acquired, raw_name=raw_name)
    raise InvalidName(_explain(text))


def is_valid_name(name: str) -> bool:
    """True if :func:`parse_name` accepts the name."""
    try:
        parse_name(name)
    except InvalidName:
        return False
    return True


def raw_name(platform: str | None, subject_id: str, acquired: datetime) -> str:
    """Build a raw session name (without a prefix when ``platform`` is ``None``)."""
    _check_part("subject id", subject_id, _PARTS["subject"])
    if platform is not None:
        _check_part("platform", platform, _PARTS["platform"])
    stem = f"{subject_id}_{format_datetime(acquired)}"
    return f"{platform}_{stem}" if platform else stem


def derived_name(raw: str, process: str, processed: datetime) -> str:
    """Build a derived asset name from its raw session name."""
    parsed = parse_name(raw)
    if parsed.kind is not NameKind.RAW:
        raise InvalidName(f"{raw!r} is not a raw session name; derived names build on raw ones")
    _check_part("process name", process, _PARTS["process"])
    return f"{raw}_{process}_{format_datetime(processed)}"


def ccf_name(subject_id: str) -> str:
    """The name of a subject's CCF asset, ``ecephys_<subject_id>_ccf``."""
    _check_part("subject id", subject_id, _PARTS["subject"])
    return f"ecephys_{subject_id}_ccf"


def _check_part(part: str, value: str, pattern: str) -> None:
    if not re.fullmatch(pattern, value or ""):
        raise InvalidName(f"the {part} {value!r} is not valid (no underscores; e.g. 820454)")


_HTTPS_BUCKET = re.compile(
    r"https?://(?:"
    r"(?P<vhost>[a-z0-9][a-z0-9.-]*)\.s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com"
    r"|s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com/(?P<path>[^/?#]+)"
    r")(?:/(?P<key>[^?#]*))?(?:[?#].*)?$"
)


def as_s3_uri(text: str) -> str:
    """An AWS ``https://`` URL of a bucket object as ``s3://bucket/key``; other text as is.

    Both styles are understood: ``https://aind-open-data.s3.amazonaws.com/KEY`` (with or
    without a region, e.g. ``.s3.us-west-2.amazonaws.com``) and
    ``https://s3.us-west-2.amazonaws.com/aind-open-data/KEY``. The key is URL-decoded.

    Examples
    --------
    >>> as_s3_uri("https://aind-open-data.s3.amazonaws.com/ecephys_1_2025-01-01_01-01-01/x")
    's3://aind-open-data/ecephys_1_2025-01-01_01-01-01/x'
    >>> as_s3_uri("https://s3.us-west-2.amazonaws.com/aind-open-data/a%20b")
    's3://aind-open-data/a b'
    >>> as_s3_uri("ecephys_1_2025-01-01_01-01-01")
    'ecephys_1_2025-01-01_01-01-01'
    """
    stripped = text.strip()
    if not stripped.lower().startswith(("https://", "http://")):
        return text
    m = _HTTPS_BUCKET.match(stripped)
    if m is None:
        return text
    from urllib.parse import unquote

    bucket = m["vhost"] or m["path"]
    return f"s3://{bucket}/{unquote(m['key'] or '')}"


def _strip(name: str) -> str:
    text = as_s3_uri(name).strip()
    if text.startswith("s3://"):
        text = text[len("s3://") :].split("/", 1)[1] if "/" in text[5:] else ""
    return text.strip("/").split("/", 1)[0]


_DT_LOOSE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}[_T ]\d{1,2}[-:]\d{1,2}[-:]\d{1,2}")


def _explain(text: str) -> str:
    """Say which part of a name is wrong."""
    if not text:
        return "empty session name: expected e.g. ecephys_012345_2025-01-01_01-01-01"
    example = (
        "expected <platform>_<subject>_<YYYY-MM-DD_HH-MM-SS> (e.g. "
        "ecephys_012345_2025-01-01_01-01-01), <subject>_<YYYY-MM-DD_HH-MM-SS>, "
        "<raw name>_<process>_<YYYY-MM-DD_HH-MM-SS>, or ecephys_<subject>_ccf"
    )
    if " " in text:
        return f"the name {text!r} contains a space; {example}"
    if re.fullmatch(_PARTS["subject"], text) and text.isdigit():
        return (
            f"{text!r} looks like a subject (mouse) id, not a session name; list its "
            f"sessions with `ppdata sessions --subject {text}` (Python: "
            f"ppdata.Catalog().sessions(subject=[{text!r}]))"
        )
    loose = _DT_LOOSE.search(text)
    if loose and not re.fullmatch(_PARTS["datetime"], loose.group()):
        return (
            f"the datetime {loose.group()!r} in {text!r} is not of the form "
            f"YYYY-MM-DD_HH-MM-SS; {example}"
        )
    dates = list(re.finditer(_PARTS["datetime"], text))
    if not dates:
        tokens = text.split("_")
        if len(tokens) >= 2 and tokens[-1] not in ("ccf",):
            return f"no acquisition datetime found in {text!r}; {example}"
        return f"{text!r} is not a session name; {example}"
    head = text[: dates[0].start()].rstrip("_")
    parts = head.split("_") if head else []
    if not parts:
        return f"the subject id is missing before the datetime in {text!r}; {example}"
    if len(parts) > 2:
        return (
            f"too many parts before the datetime in {text!r}: {parts!r} (the platform and the "
            f"subject id have no underscores); {example}"
        )
    subject = parts[-1]
    if not re.fullmatch(_PARTS["subject"], subject):
        return f"the subject id {subject!r} in {text!r} is not valid (digits expected); {example}"
    if len(parts) == 2 and not re.fullmatch(_PARTS["platform"], parts[0]):
        return f"the platform {parts[0]!r} in {text!r} is not valid; {example}"
    tail = text[dates[0].end() :]
    if len(dates) == 1:
        return f"unexpected text {tail!r} after the acquisition datetime in {text!r}; {example}"
    middle = text[dates[0].end() : dates[1].start()].strip("_")
    if not re.fullmatch(_PARTS["process"], middle):
        return f"the process name {middle!r} in {text!r} is not valid; {example}"
    rest = text[dates[1].end() :]
    if rest:
        return (
            f"unexpected text {rest!r} after the processing datetime in {text!r} "
            f"(derived names are not chained); {example}"
        )
    return f"{text!r} is not a session name; {example}"
