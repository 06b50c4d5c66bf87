"""Who an instance is: its SOP Instance and Class UIDs, whether it is normalized, and its patient's key.

The UIDs come from the dataset, else from what the caller knows (a network command set: N-CREATE's
Affected SOP Instance UID), else from the file meta (a DICOMDIR has no SOP Instance UID of its own).
Normalized instances (MPPS, Storage Commitment, print, UPS, ...) carry no patient / study / series
context of their own, only pointers, so no context is made up for them (context.py).

The patient key is Patient ID + Issuer of Patient ID (DESIGN.md); without a Patient ID the patient is
`unidentified:<StudyInstanceUID>`: one per study, never merged with another on a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom.uid import UID_dictionary
# pynetdicom generates its SOP class constants at import: mypy cannot see them
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    BasicFilmSession, InstanceAvailabilityNotification, ModalityPerformedProcedureStep,
    ModalityPerformedProcedureStepNotification, ModalityPerformedProcedureStepRetrieve, ProceduralEventLogging,
    StorageCommitmentPushModel, SubstanceAdministrationLogging, UnifiedProcedureStepPush)


class ExtractError(ValueError):
    """The dataset cannot become an instance (e.g. it has no SOP Instance UID)."""


def _retired(keyword: str) -> str:
    """A retired SOP class pynetdicom has no constant for, from pydicom's UID dictionary."""
    return next(uid for uid, entry in UID_dictionary.items() if entry[4] == keyword)


def _arc(uid: str, levels: int) -> str:
    """The UID prefix `levels` components above a UID: the arc a family of SOP classes shares."""
    return uid.rsplit(".", levels)[0] + "."


NORMALIZED_SOP_CLASSES = frozenset({
    ModalityPerformedProcedureStep, ModalityPerformedProcedureStepRetrieve,
    ModalityPerformedProcedureStepNotification, StorageCommitmentPushModel,
    _retired("StorageCommitmentPullModel"), InstanceAvailabilityNotification, ProceduralEventLogging,
    SubstanceAdministrationLogging,
})
NORMALIZED_PREFIXES = (
    _arc(BasicFilmSession, 1),  # print management (film session, film box, image boxes, printer, ...)
    _arc(UnifiedProcedureStepPush, 2),  # UPS push / pull / watch / event / query
    _arc(ModalityPerformedProcedureStep, 2),  # detached management (retired) and MPPS family
)


def is_normalized(sop_class_uid: str | None) -> bool:
    if not sop_class_uid:
        return False
    return sop_class_uid in NORMALIZED_SOP_CLASSES or sop_class_uid.startswith(NORMALIZED_PREFIXES)


@dataclass(frozen=True)
class Identity:
    sop_instance_uid: str
    sop_class_uid: str | None
    normalized: bool


def _from_meta(meta: Any, keyword: str) -> str | None:
    if meta is None:
        return None
    return str(meta.get(keyword, "") or "").strip() or None


def identify(props: dict[str, Any], ds: Any, sop_instance_uid: str | None,
             sop_class_uid: str | None) -> Identity:
    """The instance's identity; writes the UIDs found outside the dataset into `props`, so the Instance
    node says what it was identified by. Raises ExtractError without any SOP Instance UID."""
    meta = getattr(ds, "file_meta", None)
    uid = props.get("SOPInstanceUID") or sop_instance_uid or _from_meta(meta, "MediaStorageSOPInstanceUID")
    if not uid:
        raise ExtractError("no SOP Instance UID (0008,0018) nor Media Storage SOP Instance UID")
    props["SOPInstanceUID"] = uid = str(uid)
    cls_uid = props.get("SOPClassUID") or sop_class_uid or _from_meta(meta, "MediaStorageSOPClassUID")
    if cls_uid:
        props["SOPClassUID"] = cls_uid = str(cls_uid)
    if meta is not None and "TransferSyntaxUID" not in props:
        ts = meta.get("TransferSyntaxUID")
        if ts:
            props["TransferSyntaxUID"] = str(ts)
    return Identity(uid, cls_uid or None, is_normalized(cls_uid))


def patient_key(props: dict[str, Any]) -> str | None:
    """The key of a composite instance's patient (after pseudonymization); None without Patient ID and
    without Study Instance UID: such an instance has no patient to hang from."""
    patient_id = props.get("PatientID")
    if patient_id:
        issuer = props.get("IssuerOfPatientID")
        return f"{patient_id}^{issuer}" if issuer else patient_id
    study_uid = props.get("StudyInstanceUID")
    return f"unidentified:{study_uid}" if study_uid else None
