"""Read an asset's aind-data-schema metadata (schema v1 and v2) into one normalized view.

The files of an asset (``data_description.json``, ``subject.json``, ``procedures.json``,
``session.json`` or ``acquisition.json``, ``rig.json`` or ``instrument.json``,
``processing.json``, ``metadata.nd.json``) are fetched elsewhere (``ppdata.remote.s3``) and handed
to :func:`read_metadata` as ``{key: bytes}``; everything here is a pure function of those
bytes, so it is testable without a server.

Rules
-----
- **Separate files win over metadata.nd.json.** The separate files are what the asset itself
  carries; ``metadata.nd.json`` is a consolidated copy (made by the indexing job) that may
  lag behind a re-upload. Sections missing from the separate files are taken from
  ``metadata.nd.json`` (also when a separate file is malformed: its error is still listed);
  :attr:`AssetMetadata.sources` says where each section came from.
- **Versions.** Every document has ``schema_version``; majors 1 and 2 are known. The field
  look-ups are tolerant of both layouts (e.g. ``subject_details.sex`` then ``sex``), so a
  document of an unknown major (3.x) is read for what is recognized; the documents are kept
  whole in :attr:`AssetMetadata.raw`, and one :class:`MetadataWarning` per call lists the
  unknown versions (also in :attr:`AssetMetadata.warnings`, for the CLI).
- **Errors.** Malformed JSON, a document that is not an object, or a key of the wrong type
  gives a :class:`~ppdata.errors.MetadataError` that names the file and the key. The other
  files and keys are still read and the errors are listed in :attr:`AssetMetadata.errors`;
  ``strict=True`` raises the first one instead.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..errors import MetadataError, NotFound
from .documents import DocumentReader, KeyReader, document_error, load_json_document

__all__ = [
    "KNOWN_MAJOR_VERSIONS",
    "METADATA_FILES",
    "AssetMetadata",
    "KeyReader",
    "MetadataWarning",
    "ProcessingStep",
    "StimulusEpoch",
    "get_metadata",
    "load_json_document",
    "metadata_keys",
    "read_metadata",
]

logger = logging.getLogger(__name__)

#: File name -> section name (the key of that section in metadata.nd.json).
_SECTIONS = {
    "data_description.json": "data_description",
    "subject.json": "subject",
    "procedures.json": "procedures",
    "session.json": "session",
    "acquisition.json": "acquisition",
    "rig.json": "rig",
    "instrument.json": "instrument",
    "processing.json": "processing",
    "quality_control.json": "quality_control",
}
_ND_FILE = "metadata.nd.json"

#: The metadata files an asset may carry, in reading order.
METADATA_FILES: tuple[str, ...] = (*_SECTIONS, _ND_FILE)

#: Major schema versions whose layout ppdata knows.
KNOWN_MAJOR_VERSIONS = (1, 2)


class MetadataWarning(UserWarning):
    """Metadata that was read only in part (an unknown schema version)."""


@dataclass(frozen=True)
class StimulusEpoch:
    """One stimulus epoch of a session (``stimulus_epochs[]``)."""

    name: str | None
    start: datetime | None
    end: datetime | None

    @property
    def duration_s(self) -> float | None:
        """Length in seconds, if both ends are known."""
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class ProcessingStep:
    """One data process of ``processing.json``.

    Attributes
    ----------
    name : str or None
        The process kind: v1 ``name`` (``"Spike sorting"``), v2 ``process_type``.
    label : str or None
        v2 ``name`` (often the capsule/repository name); ``None`` in v1.
    stage : str or None
        v2 ``stage`` (``Processing``, ``Analysis``); ``None`` in v1.
    code_url, code_version : str or None
        v1 ``code_url`` and ``code_version`` (else ``software_version``); v2 ``code.url``,
        ``code.version``.
    start, end : datetime or None
        ``start_date_time``, ``end_date_time``.
    pipeline : str or None
        v2 ``pipeline_name``.
    """

    name: str | None
    label: str | None
    stage: str | None
    code_url: str | None
    code_version: str | None
    start: datetime | None
    end: datetime | None
    pipeline: str | None


@dataclass(frozen=True)
class AssetMetadata:
    """The normalized metadata of one asset (schema v1 and v2 alike).

    Every field is ``None`` (or empty) when the files do not say it. ``raw`` holds each
    section's document as read, ``sources`` the file each section came from,
    ``schema_versions`` each section's ``schema_version``.

    Times are kept as written, with their offsets: acquisition times in local time
    (``-08:00`` in winter, ``-07:00`` in summer, like the time in a raw name), the creation
    time of a derived asset in UTC (like the suffix of its name). ``session_start_utc`` and
    ``creation_time_utc`` give both in UTC (``None`` when the file has no offset); they are
    computed from those two when the record is made, not passed in.
    """

    name: str | None = None
    subject_id: str | None = None
    sex: str | None = None
    genotype: str | None = None
    date_of_birth: date | None = None
    species: str | None = None
    session_start: datetime | None = None
    session_end: datetime | None = None
    session_start_utc: datetime | None = field(init=False)
    instrument_id: str | None = None
    session_type: str | None = None
    stimulus_epochs: tuple[StimulusEpoch, ...] = ()
    processing: tuple[ProcessingStep, ...] = ()
    pipeline_url: str | None = None
    pipeline_version: str | None = None
    project_name: str | None = None
    data_level: str | None = None
    modalities: tuple[str, ...] = ()
    platform: str | None = None
    input_data_name: str | None = None
    process_name: str | None = None
    creation_time: datetime | None = None
    creation_time_utc: datetime | None = field(init=False)
    investigators: tuple[str, ...] = ()
    schema_versions: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    warnings: tuple[str, ...] = ()
    errors: tuple[MetadataError, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "session_start_utc", _utc(self.session_start))
        object.__setattr__(self, "creation_time_utc", _utc(self.creation_time))

    @property
    def ok(self) -> bool:
        """True when every file was read without error."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict of the normalized fields (no ``raw``)."""

        def plain(value: Any) -> Any:
            if isinstance(value, datetime | date):
                return value.isoformat()
            if isinstance(value, StimulusEpoch | ProcessingStep):
                return {k: plain(v) for k, v in value.__dict__.items()}
            if isinstance(value, tuple | list):
                return [plain(v) for v in value]
            if isinstance(value, Mapping):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, MetadataError):
                return str(value)
            return value

        names = [f.name for f in dataclasses.fields(self) if f.name != "raw"]  # in field order
        return {name: plain(getattr(self, name)) for name in names}


def metadata_keys(asset_name: str) -> list[str]:
    """The keys of the metadata files an asset may carry (``<asset>/<file>``)."""
    asset = asset_name.strip("/")
    return [f"{asset}/{name}" for name in METADATA_FILES]


def _basename(key: str) -> str:
    return key.rstrip("/").rsplit("/", 1)[-1]


def _major(version: Any) -> int | None:
    try:
        return int(str(version).split(".", 1)[0])
    except ValueError:
        return None


def read_metadata(
    files: Mapping[str, bytes | str | Mapping[str, Any]],
    *,
    name: str | None = None,
    strict: bool = False,
) -> AssetMetadata:
    """Read an asset's metadata files into one :class:`AssetMetadata`.

    A section's own file wins over the copy in ``metadata.nd.json``, which fills in the
    sections that have no file. A malformed file or field does not stop the others: it is
    collected in ``errors`` (raised with ``strict``), and what it held stays ``None`` unless
    another file gives it.

    Parameters
    ----------
    files : mapping
        File name or S3 key (only the base name counts) to content (bytes, str or an already
        parsed dict). Files that are not metadata are ignored.
    name : str, optional
        The asset name, used when ``data_description.json`` does not give one.
    strict : bool
        Raise the first error instead of collecting it in ``errors``.

    Returns
    -------
    AssetMetadata

    Raises
    ------
    MetadataError
        Only with ``strict=True``: a file is malformed or has an unexpected shape.

    Warns
    -----
    MetadataWarning
        Once per call when a document has a schema version whose major is not 1 or 2.

    Examples
    --------
    >>> md = read_metadata({"subject.json": b'{"schema_version": "1.0.3", "subject_id": "1"}'})
    >>> md.subject_id, md.schema_versions
    ('1', {'subject': '1.0.3'})
    """
    errors: list[MetadataError] = []
    by_name = {_basename(k): v for k, v in files.items()}
    docs: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for file, section in _SECTIONS.items():
        if file in by_name:
            try:
                docs[section] = load_json_document(by_name[file], file)
                sources[section] = file
            except MetadataError as exc:
                errors.append(exc)
    if _ND_FILE in by_name:
        try:
            nd = load_json_document(by_name[_ND_FILE], _ND_FILE)
        except MetadataError as exc:
            errors.append(exc)
        else:
            docs["metadata"] = nd
            sources["metadata"] = _ND_FILE
            for section in _SECTIONS.values():
                sub = nd.get(section)
                if section in docs or sub is None:
                    continue
                if isinstance(sub, Mapping):
                    docs[section] = dict(sub)
                    sources[section] = _ND_FILE
                else:
                    errors.append(
                        document_error(
                            _ND_FILE, section, f"expected an object, found {type(sub).__name__}"
                        )
                    )

    versions: dict[str, str] = {}
    unknown: list[str] = []
    for section, doc in docs.items():
        version = doc.get("schema_version")
        if version is None:
            continue
        versions[section] = str(version)
        if _major(version) not in KNOWN_MAJOR_VERSIONS:
            where = sources[section]
            if where == _ND_FILE and section != "metadata":
                where = f"{_ND_FILE} ({section})"
            unknown.append(f"{where} has schema_version {version}")

    def reader(section: str) -> DocumentReader:
        return DocumentReader(sources.get(section, f"{section}.json"), docs.get(section), errors)

    fields: dict[str, Any] = {}
    _merge(fields, _read_data_description(reader("data_description")))
    _merge(fields, _read_subject(reader("subject")))
    session = "session" if "session" in docs else "acquisition"
    _merge(fields, _read_session(reader(session)))
    rig = "rig" if "rig" in docs else "instrument"
    _merge(fields, {"instrument_id": reader(rig).text("instrument_id", "rig_id")})
    _merge(fields, _read_processing(reader("processing")))
    if fields.get("subject_id") is None:
        for section in ("data_description", "procedures", "acquisition", "session"):
            if section in docs:
                fields["subject_id"] = reader(section).text("subject_id")
                if fields["subject_id"]:
                    break
    if fields.get("name") is None:
        fields["name"] = name or (reader("metadata").text("name") if "metadata" in docs else None)
    _fill_from_name(fields)

    notes: list[str] = []
    if unknown:
        notes.append(
            f"{fields.get('name') or 'asset'}: unknown schema version(s): {'; '.join(unknown)}; "
            "read the fields ppdata recognizes, the documents are kept whole in .raw"
        )
        warnings.warn(notes[-1], MetadataWarning, stacklevel=2)
    if strict and errors:
        first = errors[0]
        if len(errors) > 1:
            first.add_note(f"{len(errors) - 1} more metadata error(s) in the same asset")
        raise first
    for err in errors:
        logger.debug("metadata error: %s", err)
    return AssetMetadata(
        **fields,
        schema_versions=versions,
        sources=sources,
        raw=docs,
        warnings=tuple(notes),
        errors=tuple(errors),
    )


def _utc(value: datetime | None) -> datetime | None:
    """The same instant in UTC; ``None`` for a naive time (its zone is unknown)."""
    if value is None or value.tzinfo is None:
        return None
    from datetime import UTC

    return value.astimezone(UTC)


def _merge(fields: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Add values, never replacing a known value with an unknown (None or empty) one."""
    for key, value in new.items():
        if value is None or value == ():
            fields.setdefault(key, value)
        elif fields.get(key) in (None, ()):
            fields[key] = value


def _read_data_description(r: DocumentReader) -> dict[str, Any]:
    modalities = []
    key, _ = r.get("modalities", "modality")
    for item in r.items(key):
        value = (
            (item.get("abbreviation") or item.get("name")) if isinstance(item, Mapping) else item
        )
        if isinstance(value, str):
            modalities.append(value)
        else:
            r._bad(key, "a modality object or string", item)
    source = r.items("source_data")
    input_name = r.text("input_data_name")
    if input_name is None and source and isinstance(source[0], str):
        input_name = source[0]
    investigators = []
    for item in r.items("investigators"):
        person = item.get("name") if isinstance(item, Mapping) else item
        if isinstance(person, str):
            investigators.append(person)
    return {
        "name": r.text("name"),
        "subject_id": r.text("subject_id"),
        "project_name": r.text("project_name"),
        "data_level": r.text("data_level"),
        "modalities": tuple(modalities),
        "platform": r.text("platform"),
        "input_data_name": input_name,
        "process_name": r.text("process_name"),
        "creation_time": r.datetime("creation_time"),
        "investigators": tuple(investigators),
    }


def _read_subject(r: DocumentReader) -> dict[str, Any]:
    details = "subject_details"
    key, value = r.get(details)
    if value is not None and not isinstance(value, Mapping):
        r._bad(key, "an object", value)
    return {
        "subject_id": r.text("subject_id"),
        "sex": r.text(f"{details}.sex", "sex"),
        "genotype": r.text(f"{details}.genotype", "genotype"),
        "date_of_birth": r.date(f"{details}.date_of_birth", "date_of_birth"),
        "species": r.name_of(f"{details}.species", "species"),
    }


def _read_session(r: DocumentReader) -> dict[str, Any]:
    epochs = []
    for _key, item in r.objects("stimulus_epochs"):
        epochs.append(
            StimulusEpoch(
                name=r.text("stimulus_name", "name", source=item),
                start=r.datetime("stimulus_start_time", source=item),
                end=r.datetime("stimulus_end_time", source=item),
            )
        )
    return {
        "session_start": r.datetime("acquisition_start_time", "session_start_time"),
        "session_end": r.datetime("acquisition_end_time", "session_end_time"),
        "instrument_id": r.text("instrument_id", "rig_id"),
        "session_type": r.text("acquisition_type", "session_type"),
        "stimulus_epochs": tuple(epochs),
    }


def _read_processing(r: DocumentReader) -> dict[str, Any]:
    steps = []
    pipeline_url = pipeline_version = None
    key, value = r.get("processing_pipeline")
    if value is not None and not isinstance(value, Mapping):
        r._bad(key, "an object", value)
    elif value is not None:  # v1
        pipeline_url = r.text("processing_pipeline.pipeline_url")
        pipeline_version = r.text("processing_pipeline.pipeline_version")
    for _key, item in r.objects("processing_pipeline.data_processes", "data_processes"):
        code = item.get("code")
        if code is not None and not isinstance(code, Mapping):
            r._bad(f"{_key}.code", "an object", code)
            code = None
        v2 = "process_type" in item or code is not None
        steps.append(
            ProcessingStep(
                name=r.text("process_type", "name", source=item),
                label=r.text("name", source=item) if v2 else None,
                stage=r.text("stage", source=item),
                code_url=r.text("code.url", "code_url", source=item),
                code_version=r.text(
                    "code.version", "code_version", "software_version", source=item
                ),
                start=r.datetime("start_date_time", source=item),
                end=r.datetime("end_date_time", source=item),
                pipeline=r.text("pipeline_name", source=item),
            )
        )
    if pipeline_url is None:
        pipelines = [p for p in r.items("pipelines") if isinstance(p, Mapping)]
        if pipelines:
            pipeline_url = r.text("url", source=pipelines[0])
            pipeline_version = r.text("version", source=pipelines[0])
    return {
        "processing": tuple(steps),
        "pipeline_url": pipeline_url,
        "pipeline_version": pipeline_version,
    }


def _fill_from_name(fields: dict[str, Any]) -> None:
    """Fill platform/process/input name from the asset name when the documents do not say."""
    name = fields.get("name")
    if not name:
        return
    from ..errors import InvalidName
    from ..naming import NameKind, parse_name

    try:
        parsed = parse_name(name)
    except InvalidName:
        return
    if fields.get("platform") is None:
        fields["platform"] = parsed.platform
    if fields.get("subject_id") is None:
        fields["subject_id"] = parsed.subject_id
    if parsed.kind is NameKind.DERIVED:
        if fields.get("process_name") is None:
            fields["process_name"] = parsed.process
        if fields.get("input_data_name") is None:
            fields["input_data_name"] = parsed.raw_name


def get_metadata(asset_name: str, *, client: KeyReader, strict: bool = False) -> AssetMetadata:
    """Fetch and read an asset's metadata files (one concurrent request per file).

    Parameters
    ----------
    client : KeyReader
        An S3 client with ``get_many`` (``ppdata.remote.s3.S3Client``).
    asset_name : str
        The asset's name (its top-level folder).
    strict : bool
        See :func:`read_metadata`.

    Returns
    -------
    AssetMetadata

    Raises
    ------
    NotFound
        If the asset has none of the metadata files.
    MetadataError
        With ``strict=True``, if a file is malformed.
    """
    asset = asset_name.strip("/")
    found = client.get_many(metadata_keys(asset))
    if not found:
        raise NotFound(
            f"no metadata JSON under {asset}/ (looked for {', '.join(METADATA_FILES)}); "
            "check the asset name with `ppdata assets`"
        )
    return read_metadata(found, name=asset, strict=strict)
