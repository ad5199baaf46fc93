"""The acquisition side of a synthetic asset's metadata: ``session.json`` and ``rig.json``
(schema v1), ``acquisition.json`` and ``instrument.json`` (schema v2), with their stimulus
epochs and data streams (:func:`acquisition_documents`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from .jsongen_common import (
    Schema,
    iso_time,
    modality_doc,
)


def epoch_docs(
    epochs: Sequence[tuple[str, float, float]], acquired: datetime, schema: int
) -> list[dict[str, Any]]:
    out = []
    for name, start, end in epochs:
        epoch: dict[str, Any] = {
            "stimulus_start_time": iso_time(acquired + timedelta(seconds=float(start))),
            "stimulus_end_time": iso_time(acquired + timedelta(seconds=float(end))),
            "stimulus_name": name,
            "code": None,
            "stimulus_modalities": ["Visual"],
            "notes": None,
        }
        if schema >= 2:
            epoch = {"object_type": "Stimulus epoch", **epoch}
        else:
            epoch.update({"session_number": None, "software": [], "script": None})
        out.append(epoch)
    return out


def stream_docs(
    modalities: Sequence[str], start: datetime, end: datetime, schema: int
) -> list[dict[str, Any]]:
    stream: dict[str, Any] = {
        "stream_start_time": iso_time(start),
        "stream_end_time": iso_time(end),
        "stream_modalities" if schema == 1 else "modalities": [modality_doc(m) for m in modalities],
        "notes": None,
    }
    if schema == 1:
        stream.update({"daq_names": [], "camera_names": [], "ephys_modules": []})
        return [stream]
    return [{"object_type": "Data stream", **stream, "active_devices": [], "configurations": []}]


def acquisition_documents(
    schema: Schema,
    subject_id: str,
    start: datetime,
    end: datetime,
    rig_id: str,
    epochs: Sequence[tuple[str, float, float]],
    modalities: Sequence[str],
    rng: random.Random,
) -> dict[str, dict[str, Any]]:
    """The acquisition side of a raw asset, as ``{filename: document}``: ``session.json`` and
    ``rig.json`` in schema v1, ``acquisition.json`` and ``instrument.json`` in v2 (the
    literal fields are the schemas' own, in their order)."""
    weight = round(rng.uniform(20, 28), 1)
    streams = stream_docs(modalities, start, end, schema.major)
    stimuli = epoch_docs(epochs, start, schema.major)
    modified = (start - timedelta(days=60)).date().isoformat()
    modality_list = [modality_doc(m) for m in modalities]
    if schema.major == 1:
        session = schema.header("session")
        session.update(
            {
                "protocol_id": [],
                "experimenter_full_name": ["Rig Operator"],
                "session_start_time": iso_time(start),
                "session_end_time": iso_time(end),
                "session_type": "OpenScope predictive processing",
                "iacuc_protocol": "2117",
                "rig_id": rig_id,
                "calibrations": [],
                "maintenance": [],
                "subject_id": None,
                "animal_weight_prior": weight,
                "animal_weight_post": None,
                "data_streams": streams,
                "stimulus_epochs": stimuli,
                "mouse_platform_name": "Running wheel",
                "active_mouse_platform": False,
                "reward_consumed_total": None,
                "notes": None,
            }
        )
        rig = schema.header("rig")
        rig.update(
            {
                "rig_id": rig_id,
                "modification_date": modified,
                "mouse_platform": {"device_type": "Disc", "name": "Running wheel"},
                "stimulus_devices": [{"device_type": "Monitor", "name": "Stimulus screen"}],
                "cameras": [],
                "daqs": [],
                "ephys_assemblies": [],
                "modalities": modality_list,
                "notes": None,
            }
        )
        return {"session.json": session, "rig.json": rig}
    acquisition = schema.header("acquisition")
    acquisition.update(
        {
            "subject_id": subject_id,
            "specimen_id": None,
            "acquisition_start_time": iso_time(start),
            "acquisition_end_time": iso_time(end),
            "experimenters": ["Rig Operator"],
            "protocol_id": [],
            "ethics_review_id": ["2117"],
            "instrument_id": rig_id,
            "acquisition_type": "OpenScope predictive processing",
            "notes": None,
            "coordinate_system": None,
            "calibrations": [],
            "maintenance": [],
            "data_streams": streams,
            "stimulus_epochs": stimuli,
            "subject_details": {
                "object_type": "Acquisition subject details",
                "animal_weight_prior": weight,
                "mouse_platform_name": "Running wheel",
            },
        }
    )
    instrument = schema.header("instrument")
    instrument.update(
        {
            "location": "Allen Institute",
            "instrument_id": rig_id,
            "modification_date": modified,
            "modalities": modality_list,
            "calibrations": [],
            "coordinate_system": None,
            "components": [{"object_type": "Monitor", "name": "Stimulus screen"}],
            "connections": [],
            "notes": None,
        }
    )
    return {"acquisition.json": acquisition, "instrument.json": instrument}
