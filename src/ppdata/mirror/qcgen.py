"""``quality_control.json`` documents in the shapes the pipelines write (REAL_SHAPES.md §8).

Ecephys (aind-ephys-processing-qc + aind-ephys-qc-collector):

- schema v1 ("1.2.2", until Feb 2026): ``evaluations[]`` grouped **per metric type**
  (``Raw Data``, ``PSD``, ``Noise``, ``Drift``, ``Saturation`` at stage "Raw data";
  ``Unit Yield``, ``Firing Rate``, ``Sorting Curation`` at "Processing"), one metric per
  recording named with the full recording name (``Raw data experiment1_Record Node
  101#Neuropix-PXI-100.ProbeA-AP_recording1 `` — with its trailing space);
- schema v2 ("2.4.1"): flat ``metrics[]`` tagged ``{"probe": "experiment1_ProbeA-AP_recording1"}``,
  names like ``Probe Drift - <tag>``, ``status`` keyed ``probe:<tag>``, ``ecephys`` and the
  stages, ``default_grouping`` ``[["stage", "probe"]]``, and a curation metric.

Values are the QC portal's dropdown objects (``{"value": "", "options": [...], "status":
[...], "type": "dropdown"}``, empty = not yet looked at), so most metrics are Pending; the
figures live under ``quality_control/<full recording name>/``.

Other modalities (pophys, behavior, videos) get schema v1 or v2 "2.0.6" documents, the latter
with ``tags`` as a list of strings (the 2.0.x shape).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

__all__ = ["QC_VERSIONS", "qc_references", "quality_control", "short_recording"]

#: ``schema_version`` of the QC documents: v1, ecephys v2, other v2.
QC_VERSIONS = {1: "1.2.2", "ecephys": "2.4.1", 2: "2.0.6"}

_DESCRIBED_BY = (
    "https://raw.githubusercontent.com/AllenNeuralDynamics/aind-data-schema/main/"
    "src/aind_data_schema/core/quality_control.py"
)
_MODALITY_NAMES = {
    "ecephys": "Extracellular electrophysiology",
    "pophys": "Planar optical physiology",
    "behavior": "Behavior",
    "behavior-videos": "Behavior videos",
}


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random(zlib.crc32("|".join((str(seed), *parts)).encode()))


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _modality(abbreviation: str) -> dict[str, str]:
    return {"name": _MODALITY_NAMES.get(abbreviation, abbreviation), "abbreviation": abbreviation}


def short_recording(recording: str) -> str:
    """The v2 probe tag of a recording: the name minus ``Record Node NNN#Neuropix-PXI-NNN.``.

    >>> short_recording("experiment1_Record Node 101#Neuropix-PXI-100.ProbeA-AP_recording1")
    'experiment1_ProbeA-AP_recording1'
    """
    head, sep, rest = recording.partition("_")
    if "#" in rest and "." in rest:
        device, _, stream = rest.partition(".")
        if device.startswith("Record Node"):
            return f"{head}{sep}{stream}"
    return recording


def _dropdown(options: Sequence[str], statuses: Sequence[str], chosen: str = "") -> dict[str, Any]:
    return {"value": chosen, "options": list(options), "status": list(statuses), "type": "dropdown"}


# label (for fail/pending matching), v1 evaluation, v1 name ({r}: full recording name), v2
# name ({r}: tag), stage, figure, dropdown (options, statuses) or None, status as written.
# v1 names and dropdowns as aind-ephys-processing-qc's code/qc_utils.py writes them (note the
# trailing spaces); v2 names as listed in REAL_SHAPES.md §8.
_ECEPHYS: tuple[tuple[Any, ...], ...] = (
    (
        "Raw data",
        "Raw Data",
        "Raw data {r} ",
        "Raw data {r}",
        "Raw data",
        "traces_raw.png",
        (("Normal", "No spikes", "Noisy"), ("Pass", "Fail", "Fail")),
        "Pending",
    ),
    ("PSD", "PSD", "PSD (Wide Band) {r} ", "PSD {r}", "Raw data", "psd_wide.png", None, "Pass"),
    (
        "Noise",
        "Noise",
        "RMS {r}",
        "RMS {r}",
        "Raw data",
        "rms.png",
        (("Good", "No out channels detected"), ("Pass", "Fail")),
        "Pass",
    ),
    (
        "Drift map",
        "Drift",
        "Probe Drift - {r}",
        "Probe Drift - {r}",
        "Raw data",
        "drift_map.png",
        (("Good", "High Drift"), ("Pass", "Fail")),
        "Pending",
    ),
    (
        "Saturation",
        "Saturation",
        "Saturation - {r}",
        "Saturation - {r}",
        "Raw data",
        None,
        None,
        "Pass",
    ),
    (
        "Unit yield",
        "Unit Yield",
        "Unit Metrics Yield - {r}",
        "Unit Metrics Yield - {r}",
        "Processing",
        "unit_yield.png",
        (("Good", "Low yield"), ("Pass", "Fail")),
        "Pending",
    ),
    (
        "Firing rate",
        "Firing Rate",
        "Firing rate - {r}",
        "Firing rate - {r}",
        "Processing",
        "firing_rate.png",
        (("Normal", "Abnormal"), ("Pass", "Fail")),
        "Pending",
    ),
    (
        "Sorting curation",
        "Sorting Curation",
        "Sorting Curation - {r}",
        "Sorting Curation - {r}",
        "Processing",
        None,
        None,
        "Pending",
    ),
)

# modality -> (stage, label, figure) for the non-ephys documents
_OTHER: dict[str, list[tuple[str, str, str]]] = {
    "pophys": [
        ("Raw data", "Z-drift", "z_drift.png"),
        ("Processing", "Motion correction", "registration_summary.png"),
        ("Processing", "Segmentation", "segmentation.png"),
    ],
    "behavior-videos": [("Raw data", "Video frames", "frames.png")],
    "behavior": [
        ("Raw data", "Photodiode timing", "photodiode_timing_plot.png"),
        ("Processing", "Running wheel", "wheel_speed.png"),
    ],
}


def _status_of(name: str, label: str, fail: Sequence[str], pending: Sequence[str], default: str):
    if name in fail or label in fail:
        return "Fail"
    if name in pending or label in pending:
        return "Pending"
    return default


def _combine(values: Any) -> str:
    values = list(values)
    if "Fail" in values:
        return "Fail"
    if "Pending" in values:
        return "Pending"
    return "Pass"


def _history(status: str, when: datetime, schema: int) -> list[dict[str, Any]]:
    """The pipeline's entry (evaluator ""); a person's verdict after it for Fail."""
    first = "Pending" if status == "Pending" else "Pass"
    entries = [{"evaluator": "", "status": first, "timestamp": _iso(when)}]
    if status == "Fail":
        entries.append(
            {
                "evaluator": "Jerome Lecoq",
                "status": "Fail",
                "timestamp": _iso(when + timedelta(days=2)),
            }
        )
    if schema >= 2:
        entries = [{"object_type": "QC status", **e} for e in entries]
    return entries


def _curation(rng: random.Random, units: int) -> dict[str, Any]:
    noise = sorted(rng.sample(range(units), k=max(1, units // 10)))
    return {
        "format_version": "2",
        "unit_ids": list(range(units)),
        "label_definitions": {
            "noise": {"label_options": ["noise"], "exclusive": True},
            "quality": {"label_options": ["sua", "mua"], "exclusive": True},
        },
        "manual_labels": [{"unit_id": u, "noise": ["noise"]} for u in noise],
        "merge_unit_groups": [],
        "removed_units": noise,
    }


def _ecephys_value(spec: tuple[Any, ...], status: str, rng: random.Random, schema: int) -> Any:
    label, options = spec[0], spec[6]
    if label == "PSD":
        return None
    if label == "Saturation":
        return {"value": "Pass"}
    if label == "Sorting curation":
        curation = _curation(rng, 20)
        if schema == 1:  # aind-qcportal-schema object
            return {"type": "CurationMetric", "curations": [curation], "curation_history": []}
        return [curation]
    opts, statuses = options
    chosen = opts[statuses.index("Fail")] if status == "Fail" else ""
    return _dropdown(opts, statuses, chosen)


@dataclass(frozen=True)
class _Request:
    """What every metric of one document depends on."""

    schema: int
    asset_name: str
    fail: Sequence[str]
    pending: Sequence[str]
    rng: random.Random
    when: datetime


@dataclass(frozen=True)
class _Entry:
    """One metric and where it counts: its v1 evaluation (key, fields with an empty
    ``metrics`` list) and the v2 ``status`` keys it feeds."""

    metric: dict[str, Any]
    evaluation: tuple[Any, dict[str, Any]]
    status_keys: tuple[str, ...]


def _ecephys_entries(q: _Request, recordings: Sequence[str]) -> list[_Entry]:
    schema, when = q.schema, q.when
    out = []
    for rec in recordings:
        tag = short_recording(rec)
        probe = next((p for p in tag.split("_") if p.startswith("Probe")), tag).split("-")[0]
        for i, spec in enumerate(_ECEPHYS):
            label, evaluation, v1_name, v2_name, stage, figure, _options, default = spec
            status = _status_of(f"{probe} {label}", label, q.fail, q.pending, default)
            name = v1_name.format(r=rec) if schema == 1 else v2_name.format(r=tag)
            reference: str | None = f"quality_control/{rec}/{figure}" if figure else None
            if label == "Sorting curation":
                gui = "https://ephys.allenneuraldynamics.org/ephys_gui_app?analyzer_path=" + quote(
                    f"s3://aind-open-data/{q.asset_name}/postprocessed/{rec}.zarr", safe=""
                )
                reference = gui
            stamp = when + timedelta(minutes=i)
            metric: dict[str, Any] = {
                "name": name,
                "value": _ecephys_value(spec, status, q.rng, schema),
                "description": f"{label} check of {tag}",
                "reference": reference,
                "status_history": _history(status, stamp, schema),
            }
            if schema >= 2:
                metric = {
                    "object_type": "QC metric",
                    "name": name,
                    "modality": _modality("ecephys"),
                    "stage": stage,
                    **{k: v for k, v in metric.items() if k != "name"},
                    "tags": {"probe": tag},
                    "evaluated_assets": None,
                }
                if label == "Sorting curation":
                    metric["object_type"] = "Curation metric"
                    metric["type"] = "Spike sorting curation"
                    metric["curation_history"] = [
                        {
                            "object_type": "Curation history",
                            "curator": "Ephys pipeline",
                            "timestamp": _iso(stamp),
                        }
                    ]
            # v1 groups per metric type, across probes
            fields = {
                "modality": _modality("ecephys"),
                "stage": stage,
                "name": evaluation,
                "description": f"{evaluation} of every probe",
                "metrics": [],
                "tags": None,
                "notes": "",
                "allow_failed_metrics": False,
                "created": _iso(when),
            }
            out.append(_Entry(metric, (evaluation, fields), (f"probe:{tag}", "ecephys", stage)))
    return out


def quality_control(
    *,
    schema: Literal[1, 2],
    modality: str,
    probes: Sequence[str] = (),
    asset_name: str = "",
    fail: Sequence[str] = (),
    pending: Sequence[str] = (),
    seed: int = 0,
    created: datetime | None = None,
    versions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A quality_control.json document.

    Parameters
    ----------
    schema : {1, 2}
        Major schema version (see the module docstring for the shapes).
    modality : str
        ``ecephys``, ``pophys``, ``behavior-videos`` or ``behavior``.
    probes : sequence of str
        Ecephys: probe names (``ProbeA``; turned into full recording names) or recording
        names. Pophys: plane names (``VISp_0``). One set of metrics per entry.
    asset_name : str
        Used in links and ``evaluated_assets``.
    fail, pending : sequence of str
        Metrics that get the status Fail / Pending: ``"<probe or plane> <label>"``
        (``"ProbeB Drift map"``) or a label for every probe (``"Drift map"``). Labels: Raw
        data, PSD, Noise, Drift map, Saturation, Unit yield, Firing rate, Sorting curation
        (ecephys). Ecephys dropdown metrics are Pending unless failed: nobody has looked.
    seed : int
        Seed of the values.
    created : datetime, optional
        Base of the status timestamps (default 2025-01-01 12:00 UTC).
    versions : mapping, optional
        ``{"quality_control": "<schema_version>"}`` override.
    """
    if schema not in (1, 2):
        raise ValueError(f"schema must be 1 or 2, got {schema!r}")
    rng = _rng(seed, "qc", asset_name, modality)
    when = created or datetime(2025, 1, 1, 12, 0, 0)
    version = QC_VERSIONS[1] if schema == 1 else QC_VERSIONS.get(modality, QC_VERSIONS[2])
    version = (versions or {}).get("quality_control", version)
    doc: dict[str, Any] = {}
    if schema >= 2:
        doc["object_type"] = "Quality control"
    doc.update({"describedBy": _DESCRIBED_BY, "schema_version": version})
    q = _Request(schema, asset_name, fail, pending, rng, when)
    if modality == "ecephys" and probes:
        from .layout_model import recording_name

        recordings = [p if "_recording" in p else recording_name(p) for p in probes]
        return _assemble(doc, schema, _ecephys_entries(q, recordings), [["stage", "probe"]])
    return _assemble(doc, schema, _other_entries(q, modality, probes), ["stage"])


def _other_entries(q: _Request, modality: str, groups_in: Sequence[str]) -> list[_Entry]:
    groups: Sequence[str | None] = tuple(groups_in) or (None,)
    out = []
    for group in groups:
        for i, (stage, label, figure) in enumerate(_OTHER.get(modality, _OTHER["behavior"])):
            name = f"{group} {label}" if group else label
            status = _status_of(name, label, q.fail, q.pending, "Pass")
            history = _history(status, q.when + timedelta(minutes=i), q.schema)
            reference = f"{group}/movie_qc/{group}_{figure}" if group else figure
            metric: dict[str, Any] = {
                "name": name,
                "value": round(q.rng.uniform(0, 5), 3) if "drift" in label.lower() else True,
                "description": f"{label} check",
                "reference": reference,
                "status_history": history,
                "evaluated_assets": [q.asset_name] if q.asset_name else None,
            }
            if q.schema >= 2:
                metric = {
                    "object_type": "QC metric",
                    "name": name,
                    "modality": _modality(modality),
                    "stage": stage,
                    **{k: v for k, v in metric.items() if k != "name"},
                    "tags": [group] if group else [],  # 2.0.x: a list of strings
                }
            # v1 groups per stage and plane (or camera)
            fields = {
                "modality": _modality(modality),
                "stage": stage,
                "name": f"{stage} {group}" if group else stage,
                "description": None,
                "notes": "",
                "allow_failed_metrics": False,
                "metrics": [],
                "created": _iso(q.when),
            }
            out.append(_Entry(metric, ((stage, group), fields), (stage,)))
    return out


def _assemble(
    doc: dict[str, Any], schema: int, entries: list[_Entry], grouping: list[Any]
) -> dict[str, Any]:
    """Finish a document: v1 ``evaluations`` with their latest status, or v2 flat
    ``metrics`` with the combined ``status`` per key."""
    if schema == 1:
        evaluations: dict[Any, dict[str, Any]] = {}
        for entry in entries:
            key, fields = entry.evaluation
            evaluations.setdefault(key, fields)["metrics"].append(entry.metric)
        for ev in evaluations.values():
            ev["latest_status"] = _combine(m["status_history"][-1]["status"] for m in ev["metrics"])
        doc.update({"evaluations": list(evaluations.values()), "notes": None})
        return doc
    status: dict[str, str] = {}
    for entry in entries:
        latest = entry.metric["status_history"][-1]["status"]
        for key in entry.status_keys:
            status[key] = _combine((status.get(key, "Pass"), latest))
    doc.update(
        {
            "metrics": [entry.metric for entry in entries],
            "key_experimenters": None,
            "notes": None,
            "default_grouping": grouping,
            "allow_tag_failures": [],
            "status": status,
        }
    )
    return doc


def qc_references(document: Mapping[str, Any]) -> list[str]:
    """The figure paths (``reference``) a quality_control document points to, in order.

    Links (``http…``) are left out; the world builder writes a small PNG at each path.
    """
    metrics: list[Mapping[str, Any]] = list(document.get("metrics") or [])
    for ev in document.get("evaluations") or []:
        metrics.extend(ev.get("metrics") or [])
    seen: dict[str, None] = {}
    for m in metrics:
        ref = m.get("reference")
        if ref and not str(ref).startswith("http"):
            seen.setdefault(ref, None)
    return list(seen)
