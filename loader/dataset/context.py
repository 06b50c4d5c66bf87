"""A composite instance's context, normalized into entity nodes: one node per real-world entity.

Patient -HAS_STUDY-> Study -HAS_SERIES-> Series -HAS_INSTANCE-> Instance, Series -ACQUIRED_ON-> Equipment,
Series -IN_FRAME-> FrameOfReference (DESIGN.md). Every instance of a series repeats the same context;
the rows are MERGEd on their keys, so the graph holds it once. Each entity takes its properties from the
instance's already typed (and, when asked, pseudonymized) properties: it never reads the dataset itself.

Study.patient_keys is not set here: the writer accumulates it across batches and runs (loader/ingest).
"""

from __future__ import annotations

import hashlib
from typing import Any

from dicom_graph.model.batch import GraphBatch

PATIENT_PROPS = ("PatientID", "IssuerOfPatientID", "PatientName", "PatientBirthDate", "PatientSex")
STUDY_PROPS = ("StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
               "StudyDescription", "ReferringPhysicianName")
SERIES_PROPS = ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDate", "SeriesDescription",
                "BodyPartExamined")
EQUIPMENT_KEY_PROPS = ("Manufacturer", "ManufacturerModelName", "DeviceSerialNumber", "StationName")
EQUIPMENT_PROPS = EQUIPMENT_KEY_PROPS + ("InstitutionName", "SoftwareVersions")
FRAME_PROPS = ("FrameOfReferenceUID", "PositionReferenceIndicator")


def _pick(props: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: props[k] for k in keys if k in props}


def _patient(props: dict[str, Any], key: str) -> dict[str, Any]:
    if not props.get("PatientID"):
        return {"key": key, "unidentified": True}  # nothing to describe: the key says why
    patient = _pick(props, PATIENT_PROPS)
    patient.update(key=key, unidentified=False)
    return patient


def add_context(batch: GraphBatch, props: dict[str, Any], instance_uid: str, patient_key: str | None) -> None:
    study_uid = props.get("StudyInstanceUID")
    series_uid = props.get("SeriesInstanceUID")
    if patient_key:
        batch.add_node("Patient", _patient(props, patient_key))
    if study_uid:
        batch.add_node("Study", _pick(props, STUDY_PROPS))
        if patient_key:
            batch.add_rel("HAS_STUDY", "Patient", patient_key, "Study", study_uid)
    if series_uid:
        batch.add_node("Series", _pick(props, SERIES_PROPS))
        if study_uid:
            batch.add_rel("HAS_SERIES", "Study", study_uid, "Series", series_uid)
        batch.add_rel("HAS_INSTANCE", "Series", series_uid, "Instance", instance_uid)
        _add_equipment(batch, props, series_uid)
        _add_frame_of_reference(batch, props, series_uid)


def _add_equipment(batch: GraphBatch, props: dict[str, Any], series_uid: str) -> None:
    """Equipment has no UID: its key is a hash of what identifies a device, absent parts included."""
    equipment = _pick(props, EQUIPMENT_PROPS)
    if not any(k in equipment for k in EQUIPMENT_KEY_PROPS):
        return
    ident = "|".join(str(props.get(k, "")) for k in EQUIPMENT_KEY_PROPS)
    equipment["key"] = hashlib.sha1(ident.encode("utf-8")).hexdigest()[:16]
    batch.add_node("Equipment", equipment)
    batch.add_rel("ACQUIRED_ON", "Series", series_uid, "Equipment", equipment["key"])


def _add_frame_of_reference(batch: GraphBatch, props: dict[str, Any], series_uid: str) -> None:
    frame_uid = props.get("FrameOfReferenceUID")
    if frame_uid:
        batch.add_node("FrameOfReference", _pick(props, FRAME_PROPS))
        batch.add_rel("IN_FRAME", "Series", series_uid, "FrameOfReference", frame_uid)
