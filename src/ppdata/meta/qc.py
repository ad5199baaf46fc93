"""Quality control: ``quality_control.json`` (v1 and v2) as one table, statuses, QC figures.

Shapes (REAL_SHAPES.md §8):

- v1 ("1.2.2", the ephys pipeline until Feb 2026): ``evaluations[{modality, stage, name,
  metrics[{name, value, status_history[...]}], latest_status}]``, grouped per metric type,
  each metric named with the full recording name
  (``Raw data experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP_recording1 ``);
- v2 2.4.x: flat ``metrics[{name, modality, stage, value, status_history, reference, tags}]``
  with ``tags {"probe": "experiment1_ProbeA-AP_recording1"}`` and ``status`` keyed by
  ``probe:<tag>``, modality and stage;
- v2 2.0.x: the same with ``tags`` a list of strings (read as ``{"tag_1": ..., ...}``).

All become one :class:`pandas.DataFrame` with the columns of :data:`QC_COLUMNS`, one row per
metric: ``probe`` is always the plain probe name (``ProbeA``) and ``recording`` the
recording it came from in the v2 tag form (``experiment1_ProbeA-AP_recording1``: the full
name minus ``Record Node NNN#Neuropix-PXI-NNN.``), whatever the version. ``value`` is kept
as stored (the portal's dropdown objects ``{"value": "", "options": [...], ...}``
included). A metric's status is the last entry of its ``status_history``.

Overall status
--------------
``Fail`` if any metric (or v2 group status, or v1 ``latest_status``) is Fail, else
``Pending`` if any is Pending (or an unrecognized word: someone has to look), else ``Pass``.
No metrics at all gives ``None`` (unknown). A session combines its assets the same way,
ignoring assets without QC.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import MetadataError
from .documents import KeyReader, get_asset_file, load_json_document

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "QC_COLUMNS",
    "QC_FILE",
    "QCStatus",
    "QualityControl",
    "get_quality_control",
    "get_session_quality_control",
    "overall_status",
    "qc_figures",
    "qc_table",
    "read_quality_control",
    "session_status",
]

logger = logging.getLogger(__name__)

QC_FILE = "quality_control.json"

#: Columns of the QC table, in order.
QC_COLUMNS = (
    "stage",
    "modality",
    "evaluation",
    "metric",
    "value",
    "status",
    "probe",
    "recording",
    "tags",
    "figure",
    "evaluator",
    "timestamp",
)

_PROBE = re.compile(r"(Probe[A-Z][A-Za-z0-9]*?)(?=-AP|-LFP|_recording|[-_.\s/]|$)")
#: A recording name, full (``experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP_recording1``)
#: or as a v2 tag (``experiment1_ProbeA-AP_recording1``).
_RECORDING = re.compile(r"(experiment\d+_.+?_recording\d+)")
_DEVICE = re.compile(r"Record Node \d+#[^.]*\.")


class QCStatus(StrEnum):
    """A QC status."""

    PASS = "Pass"
    FAIL = "Fail"
    PENDING = "Pending"


def _to_status(value: Any) -> QCStatus | None:
    if value is None:
        return None
    if isinstance(value, Mapping):  # {"status": "Pass", ...}
        value = value.get("status")
    text = str(value).strip().lower()
    for status in QCStatus:
        if text == status.value.lower():
            return status
    return QCStatus.PENDING  # an unknown word needs a human to look


def _combine(statuses: Iterable[QCStatus | str | None]) -> QCStatus | None:
    found = {s for s in (_to_status(v) for v in statuses) if s is not None}
    if not found:
        return None
    if QCStatus.FAIL in found:
        return QCStatus.FAIL
    if QCStatus.PENDING in found:
        return QCStatus.PENDING
    return QCStatus.PASS


@dataclass(frozen=True)
class QualityControl:
    """One parsed ``quality_control.json``.

    Returned by :func:`get_quality_control` (fetches an asset's file) and
    :func:`read_quality_control` (parses a document you already have).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per metric, columns :data:`QC_COLUMNS`.
    groups : mapping
        v2 ``status`` (group -> status); v1 evaluation name -> ``latest_status``.
    schema_version : str or None
        The document's ``schema_version``, e.g. ``1.2.2`` (v1, ``evaluations``) or ``2.0.6``
        (v2, ``metrics``).
    asset_name : str or None
        The asset the file belongs to, when the caller said (``get_quality_control`` does).
    """

    table: pd.DataFrame = field(repr=False)
    groups: Mapping[str, QCStatus] = field(default_factory=dict)
    schema_version: str | None = None
    asset_name: str | None = None

    @property
    def status(self) -> QCStatus | None:
        """The overall status of the asset (see the module docstring)."""
        return overall_status(self)

    def failing(self) -> pd.DataFrame:
        """The rows whose status is not Pass."""
        return self.table[self.table["status"] != QCStatus.PASS.value]

    def by_probe(self) -> pd.DataFrame:
        """One row per probe and recording: ``probe`` (``ProbeA``), ``recording``, ``status``
        (combined), ``metrics``, ``pass``, ``pending``, ``fail``; sorted by probe.

        Metrics that name no probe are left out.
        """
        import pandas as pd

        rows = []
        tagged = self.table[self.table["probe"].notna()]
        keys = tagged[["probe", "recording"]].astype(object).fillna("").drop_duplicates()
        for probe, recording in sorted(keys.itertuples(index=False, name=None)):
            part = tagged[
                (tagged["probe"] == probe) & (tagged["recording"].fillna("") == recording)
            ]
            statuses = part["status"].tolist()
            combined = _combine(statuses)
            rows.append(
                {
                    "probe": probe,
                    "recording": recording or None,
                    "status": combined.value if combined else None,
                    "metrics": len(part),
                    "pass": statuses.count("Pass"),
                    "pending": statuses.count("Pending"),
                    "fail": statuses.count("Fail"),
                }
            )
        columns = ["probe", "recording", "status", "metrics", "pass", "pending", "fail"]
        return pd.DataFrame(rows, columns=columns)


def _recording_of(*texts: Any) -> str | None:
    for text in texts:
        if isinstance(text, str):
            m = _RECORDING.search(text)
            if m:
                return _DEVICE.sub("", m.group(1))
    return None


def _probe_of(*texts: Any) -> str | None:
    for text in texts:
        if isinstance(text, str):
            m = _PROBE.search(text)
            if m:
                return m.group(1)
    return None


def _modality(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("abbreviation") or value.get("name")
    return value if isinstance(value, str) else None


def _latest(metric: Mapping[str, Any], file: str, key: str) -> tuple[Any, Any, Any]:
    history = metric.get("status_history")
    if history is None:
        return None, None, None
    if not isinstance(history, list):
        raise MetadataError(
            f"{file}: key {key}.status_history: expected a list, found {type(history).__name__}"
        )
    entries = [h for h in history if isinstance(h, Mapping)]
    if not entries:
        return None, None, None
    last = entries[-1]
    return last.get("status"), last.get("evaluator"), last.get("timestamp")


def _tags(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):  # 2.0.x: a list of words; 2.4 reads them as tag_1, tag_2 ...
        return {f"tag_{i}": v for i, v in enumerate(value, start=1)}
    return {}


def _rows(doc: Mapping[str, Any], file: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    groups: dict[str, Any] = {}

    def row(metric: Any, key: str, evaluation: Mapping[str, Any] | None) -> None:
        if not isinstance(metric, Mapping):
            raise MetadataError(
                f"{file}: key {key}: expected a metric object, found {type(metric).__name__}"
            )
        parent = evaluation or {}
        status, evaluator, stamp = _latest(metric, file, key)
        if status is None and evaluation is not None:
            status = parent.get("latest_status")
        tags = _tags(metric.get("tags"))
        name = metric.get("name")
        if isinstance(name, str):
            name = name.strip()  # v1 names can end in a space
        reference = metric.get("reference")
        texts = (tags.get("probe"), name, reference, parent.get("name"), *tags.values())
        probe = _probe_of(*texts) or (tags.get("probe") if tags.get("probe") else None)
        recording = _recording_of(*texts)
        status_value = _to_status(status)
        rows.append(
            {
                "stage": metric.get("stage") or parent.get("stage"),
                "modality": _modality(metric.get("modality") or parent.get("modality")),
                "evaluation": parent.get("name"),
                "metric": name,
                "value": metric.get("value"),
                "status": status_value.value if status_value else None,
                "probe": probe,
                "recording": recording,
                "tags": tags,
                "figure": reference if isinstance(reference, str) else None,
                "evaluator": evaluator,
                "timestamp": stamp,
            }
        )

    evaluations = doc.get("evaluations")
    metrics = doc.get("metrics")
    if evaluations is None and metrics is None:
        raise MetadataError(
            f"{file}: neither key 'evaluations' (schema v1) nor key 'metrics' (schema v2) "
            f"found; keys are {sorted(doc)}"
        )
    if evaluations is not None:
        if not isinstance(evaluations, list):
            raise MetadataError(
                f"{file}: key 'evaluations': expected a list, found {type(evaluations).__name__}"
            )
        for i, ev in enumerate(evaluations):
            if not isinstance(ev, Mapping):
                raise MetadataError(f"{file}: key evaluations[{i}]: expected an object")
            ev_metrics = ev.get("metrics") or []
            if not isinstance(ev_metrics, list):
                raise MetadataError(f"{file}: key evaluations[{i}].metrics: expected a list")
            for j, metric in enumerate(ev_metrics):
                row(metric, f"evaluations[{i}].metrics[{j}]", ev)
            if ev.get("latest_status") is not None:
                groups[str(ev.get("name") or f"evaluation {i}")] = ev.get("latest_status")
    if metrics is not None:
        if not isinstance(metrics, list):
            raise MetadataError(
                f"{file}: key 'metrics': expected a list, found {type(metrics).__name__}"
            )
        for i, metric in enumerate(metrics):
            row(metric, f"metrics[{i}]", None)
    status = doc.get("status")
    if isinstance(status, Mapping):
        groups.update({str(k): v for k, v in status.items()})
    elif status is not None:
        raise MetadataError(f"{file}: key 'status': expected an object of group -> status")
    return rows, groups


def qc_table(document: Mapping[str, Any], *, file: str = QC_FILE) -> pd.DataFrame:
    """A QC document (v1 or v2) as a table, one row per metric (columns :data:`QC_COLUMNS`).

    Raises
    ------
    MetadataError
        If the document has neither ``evaluations`` nor ``metrics``, or an entry of the wrong
        type; the message names the file and the key.
    """
    return read_quality_control(document, file=file).table


def read_quality_control(
    data: bytes | str | Mapping[str, Any], *, file: str = QC_FILE, asset_name: str | None = None
) -> QualityControl:
    """Parse a ``quality_control.json`` of either shape.

    Parameters
    ----------
    data : bytes, str or mapping
        The file's content, or the parsed document (e.g. ``metadata.nd.json``'s
        ``quality_control`` section).
    file : str
        Name used in error messages.
    asset_name : str, optional
        Recorded on the result.

    Returns
    -------
    QualityControl

    Raises
    ------
    MetadataError
        Malformed JSON or an unexpected shape, naming the file and key.

    Examples
    --------
    >>> qc = read_quality_control({"metrics": [{"name": "Drift map", "stage": "Processing",
    ...     "status_history": [{"status": "Fail"}], "tags": {"probe": "ProbeA"}}]})
    >>> qc.status, qc.table.loc[0, "probe"]
    (<QCStatus.FAIL: 'Fail'>, 'ProbeA')
    """
    import pandas as pd

    doc = load_json_document(data, file)
    rows, groups = _rows(doc, file)
    # object columns keep None as None (pandas 3 would infer str columns and turn None to NaN)
    table = pd.DataFrame(rows, columns=list(QC_COLUMNS), dtype=object)
    table["timestamp"] = pd.to_datetime(
        table["timestamp"], utc=True, errors="coerce", format="ISO8601"
    )
    statuses = {k: s for k, s in ((k, _to_status(v)) for k, v in groups.items()) if s is not None}
    version = doc.get("schema_version")
    return QualityControl(
        table=table,
        groups=statuses,
        schema_version=str(version) if version is not None else None,
        asset_name=asset_name,
    )


def overall_status(
    qc: QualityControl | pd.DataFrame | Mapping[str, Any] | Iterable[QCStatus | str | None],
) -> QCStatus | None:
    """The overall status: Fail if any Fail, else Pending if any Pending, else Pass.

    Parameters
    ----------
    qc : QualityControl, DataFrame, mapping or iterable
        A parsed QC, its table, a raw QC document, or plain statuses.

    Returns
    -------
    QCStatus or None
        ``None`` when there is nothing to judge (no metrics).
    """
    import pandas as pd

    if isinstance(qc, QualityControl):
        return _combine([*qc.table["status"].tolist(), *qc.groups.values()])
    if isinstance(qc, pd.DataFrame):
        return _combine(qc["status"].tolist()) if "status" in qc else None
    if isinstance(qc, Mapping):
        return overall_status(read_quality_control(qc))
    return _combine(qc)


def session_status(
    assets: Mapping[str, QualityControl | QCStatus | str | None]
    | Iterable[QualityControl | QCStatus | str | None],
) -> QCStatus | None:
    """Combine the statuses of a session's assets (assets without QC are ignored).

    Parameters
    ----------
    assets : mapping or iterable
        Asset name -> :class:`QualityControl` or status (or just the values).

    Returns
    -------
    QCStatus or None
        ``None`` if no asset has QC.
    """
    values = assets.values() if isinstance(assets, Mapping) else assets
    statuses = [
        overall_status(v) if isinstance(v, QualityControl) else v
        for v in values
        if not isinstance(v, Exception)
    ]
    return _combine(statuses)


def qc_figures(keys: Iterable[str]) -> dict[str, list[str]]:
    """The QC figures of a sorted asset, per probe.

    Parameters
    ----------
    keys : iterable of str
        Keys of the asset (full S3 keys or paths relative to the asset).

    Returns
    -------
    dict
        Plain probe name (``ProbeA``, found in the folder under ``quality_control/``, which
        the pipeline names after the full recording) -> sorted keys of its ``*.png``
        figures; probes in sorted order. A folder that names no probe keeps its own name;
        keys outside ``quality_control/<folder>/`` are ignored.
    """
    out: dict[str, list[str]] = {}
    for key in keys:
        parts = PurePosixPath(key).parts
        if len(parts) < 3 or not key.lower().endswith(".png"):
            continue
        for i in range(len(parts) - 2):
            if parts[i] == "quality_control":
                folder = parts[i + 1]
                out.setdefault(_probe_of(folder) or folder, []).append(key)
                break
    return {probe: sorted(out[probe]) for probe in sorted(out)}


def get_quality_control(asset_name: str, *, client: KeyReader) -> QualityControl:
    """Fetch and parse an asset's ``quality_control.json``.

    Raises
    ------
    NotFound
        If the asset has no ``quality_control.json``.
    MetadataError
        If it is malformed.
    """
    key, data = get_asset_file(asset_name, QC_FILE, client=client)
    return read_quality_control(data, file=key, asset_name=asset_name.strip("/"))


def get_session_quality_control(
    asset_names: Iterable[str], *, client: KeyReader
) -> dict[str, QualityControl | MetadataError | None]:
    """The QC of several assets (one concurrent fetch): asset -> QC, error, or None if absent.

    A malformed file is returned as its :class:`~ppdata.errors.MetadataError` so the other
    assets are still shown; combine with :func:`session_status`.
    """
    assets = [a.strip("/") for a in asset_names]
    found = client.get_many([f"{a}/{QC_FILE}" for a in assets])
    out: dict[str, QualityControl | MetadataError | None] = {}
    for asset in assets:
        key = f"{asset}/{QC_FILE}"
        if key not in found:
            out[asset] = None
            continue
        try:
            out[asset] = read_quality_control(found[key], file=key, asset_name=asset)
        except MetadataError as exc:
            logger.debug("QC of %s unreadable: %s", asset, exc)
            out[asset] = exc
    return out
