"""Dataset -> GraphBatch: one DICOM instance as graph rows (pure, picklable, runs in worker processes).

`dataset_to_batch(ds, source=...)` is the one entry point, used by the file ingest (Part 10, DICOMDIR,
DICOM JSON) and by the network listener (C-STORE, N-CREATE, N-SET datasets). It returns an `Extracted`:
the batch plus a small record the writer needs (keys, content hash, problems).

What one instance becomes (DESIGN.md):
- Instance {SOPInstanceUID} with every top-level keyword element with a short value as a property typed by
  its VR (`schema.keyword_type`); a value that does not parse as its type is kept as text in
  `invalid_values` ("Keyword=raw text") and counted as a problem. Private tags, tags without a keyword,
  sequences and bulk data are not properties.
- composite instances: Patient -HAS_STUDY-> Study -HAS_SERIES-> Series -HAS_INSTANCE-> Instance,
  Series -ACQUIRED_ON-> Equipment, Series -IN_FRAME-> FrameOfReference. Without Patient ID the
  patient is `unidentified:<StudyInstanceUID>` (unidentified=true), one per study, never merged.
- normalized instances (MPPS, Storage Commitment, UPS, print, ...): no context at all, only pointers.
- Instance -INSTANCE_OF-> SOPClass (a stub: the standard layer owns SOPClass properties).
- Instance -REFERENCES{via}-> Instance / Series / Study for every pointer in any sequence item.

Study.patient_keys is NOT set here: the writer accumulates it across batches and runs (`study_patients`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.multival import MultiValue

from dicom_graph.model import schema
from dicom_graph.model.batch import GraphBatch

from . import conformance
from .references import Pointers, walk_sequence
from .tags import REFERENCED_SOP_INSTANCE_UID, TEXT_VRS, by_tag, element_vr, seq_name, unpack_binary

MAX_VALUE_CHARS = 1024
MEDIA_STORAGE_DIRECTORY_STORAGE = "1.2.840.10008.1.3.10"

# Normalized SOP classes: no patient/study/series context of their own, only pointers.
NORMALIZED_SOP_CLASSES = frozenset({
    "1.2.840.10008.3.1.2.3.3",  # Modality Performed Procedure Step
    "1.2.840.10008.3.1.2.3.4",  # MPPS Retrieve
    "1.2.840.10008.3.1.2.3.5",  # MPPS Notification
    "1.2.840.10008.1.20.1",  # Storage Commitment Push Model
    "1.2.840.10008.1.20.2",  # Storage Commitment Pull Model (retired)
    "1.2.840.10008.5.1.4.33",  # Instance Availability Notification
    "1.2.840.10008.1.40",  # Procedural Event Logging
    "1.2.840.10008.1.42",  # Substance Administration Logging
})
NORMALIZED_PREFIXES = (
    "1.2.840.10008.5.1.1.",  # print management (film session, film box, image boxes, printer, ...)
    "1.2.840.10008.5.1.4.34.",  # UPS push / pull / watch / event / query
    "1.2.840.10008.3.1.2.",  # detached management (retired) and MPPS family
)

PATIENT_PROPS = ("PatientID", "IssuerOfPatientID", "PatientName", "PatientBirthDate", "PatientSex")
STUDY_PROPS = ("StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
               "StudyDescription", "ReferringPhysicianName")
SERIES_PROPS = ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDate", "SeriesDescription",
                "BodyPartExamined")
EQUIPMENT_KEY_PROPS = ("Manufacturer", "ManufacturerModelName", "DeviceSerialNumber", "StationName")
EQUIPMENT_PROPS = EQUIPMENT_KEY_PROPS + ("InstitutionName", "SoftwareVersions")
FRAME_PROPS = ("FrameOfReferenceUID", "PositionReferenceIndicator")

_LIST_TYPES = schema.LIST_ELEMENT_TYPE
_SINGLE_VALUE_TEXT_VRS = frozenset({"LT", "ST", "UT", "UR"})


_SCALAR_TYPES = frozenset({schema.STRING, schema.INT64, schema.DOUBLE, schema.DATE})


class ExtractError(ValueError):
    """The dataset cannot become an instance (e.g. it has no SOP Instance UID)."""


@dataclass
class Extracted:
    batch: GraphBatch
    sop_instance_uid: str
    sop_class_uid: str | None
    study_uid: str | None
    patient_key: str | None
    content_hash: str
    normalized: bool
    problems: list[str] = field(default_factory=list)


def is_normalized(sop_class_uid: str | None) -> bool:
    if not sop_class_uid:
        return False
    return sop_class_uid in NORMALIZED_SOP_CLASSES or sop_class_uid.startswith(NORMALIZED_PREFIXES)


# --- per-tag facts, computed once per process --------------------------------------------------

_TAG_INFO: dict[int, tuple[str | None, str | None]] = {}


def tag_info(tag: int) -> tuple[str | None, str | None]:
    """(keyword, property type) of a public tag; (None, None) for private / unknown tags."""
    try:
        return _TAG_INFO[tag]
    except KeyError:
        if tag >> 16 & 1:
            info: tuple[str | None, str | None] = (None, None)
        else:
            kw = keyword_for_tag(tag) or None
            info = (kw, schema.keyword_type(kw) if kw else None)
        _TAG_INFO[tag] = info
        return info


# --- value conversion ----------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple, MultiValue)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value)  # PersonName and friends


def _fast_value(raw: RawDataElement, vr: str | None) -> Any:
    """Decode a raw value without pydicom's element machinery when that is safe; else raise LookupError."""
    value = raw.value
    if vr in TEXT_VRS:
        if not value.isascii():
            raise LookupError  # a character set is involved: let pydicom decode it
        text = value.decode("ascii")
        if vr in _SINGLE_VALUE_TEXT_VRS:
            return text.rstrip(" \x00")
        parts = [p.strip(" \x00") for p in text.split("\\")]
        return parts[0] if len(parts) == 1 else parts
    number = unpack_binary(raw, vr)
    if number is None:
        raise LookupError
    return number


def _binary_digest(value: Any) -> bytes:
    return repr(value).encode("utf-8", "replace")


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, bytes, list, tuple)):
        if isinstance(value, (list, tuple)):
            return all(_empty(v) for v in value)
        return len(value) == 0
    return False


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\\".join("" if v is None else str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def _typed(value: Any, type_: str) -> Any:
    """Coerce a plain value to a property type; ValueError when it does not parse."""
    if isinstance(value, bytes):
        if not value.isascii():
            raise ValueError("binary value")
        value = value.decode("ascii").strip(" \x00")
        if "\\" in value:
            value = value.split("\\")
    if type_ in _LIST_TYPES:
        items = value if isinstance(value, list) else [value]
        items = [v for v in items if v not in (None, "")]
        return schema.coerce(items, type_) if items else None
    if isinstance(value, list):
        items = [v for v in value if v not in (None, "")]
        if len(items) > 1:
            raise ValueError("more than one value for a single-valued attribute")
        if not items:
            return None
        value = items[0]
    if value == "":
        return None
    return schema.coerce(value, type_)


# --- the extraction ----------------------------------------------------------------------------

def dataset_to_batch(ds: Any, *, source: str, path: str | None = None, file_size: int | None = None,
                     mtime_ns: int | None = None, pseudonymizer: Any = None,
                     requirements: conformance.Requirements | None = None,
                     ingested_at: dt.datetime | None = None,
                     sop_instance_uid: str | None = None, sop_class_uid: str | None = None) -> Extracted:
    """Turn one dataset into graph rows.

    ds: a pydicom Dataset (headers; pixel data absent or ignored). source: 'file', 'json' or 'network'.
    path / file_size / mtime_ns: where it came from (files); `ingested_at` defaults to the file's
    mtime (stable across re-ingests) or now. pseudonymizer: a loader.pseudonymize.Pseudonymizer or None.
    requirements: conformance requirements per SOP class (None: not checked).
    sop_instance_uid / sop_class_uid: for network datasets whose UIDs travel in the command set
    (N-CREATE's Affected SOP Instance UID), used when the dataset itself has none.
    Raises ExtractError when the dataset has no SOP Instance UID at all.
    """
    props: dict[str, Any] = {}
    present: dict[str, bool] = {}
    invalid: list[str] = []
    problems: list[str] = []
    pointers = Pointers()
    digest = (hmac.new(pseudonymizer.digest_key(), digestmod=hashlib.sha1) if pseudonymizer
              else hashlib.sha1())
    removes = pseudonymizer.removes if pseudonymizer else (lambda kw: False)

    raw_dict = ds._dict
    # plain ints, not pydicom's BaseTag: its comparisons are Python-level and cost ~15 % of an extraction
    for tag, raw in sorted(zip(map(int, raw_dict), raw_dict.values()), key=by_tag):
        if tag < 0x00030000:
            continue  # command (0000) and file meta (0002) groups: not content; 0004 is DICOMDIR content
        is_raw = isinstance(raw, RawDataElement)
        vr = element_vr(raw) if is_raw else raw.VR
        kw, type_ = tag_info(tag)
        tag_bytes = tag.to_bytes(4, "little")
        if vr == "SQ":
            try:
                elem = ds[tag]
            except Exception as exc:
                problems.append(f"unreadable sequence {seq_name(tag)}: {type(exc).__name__}: {exc}")
                continue
            if elem.VR == "SQ":
                digest.update(tag_bytes)
                if kw:
                    present[kw] = bool(elem.value)
                walk_sequence(elem, seq_name(tag), digest, pointers)
                continue
            raw, is_raw, vr = elem, False, elem.VR
        digest.update(tag_bytes)
        if is_raw and raw.value is None and raw.length:
            digest.update(b"#%d" % raw.length)  # deferred bulk data: never read
            if kw:
                present[kw] = True
            continue
        if kw is None:  # private or unknown: hashed, not a property
            value = raw.value
            if isinstance(value, (bytes, bytearray)):
                digest.update(value if vr in TEXT_VRS or vr is None else b"#%d" % len(value))
            else:
                digest.update(str(value).encode("utf-8", "replace"))
            continue
        # decode
        value: Any
        try:
            if is_raw:
                try:
                    value = _fast_value(raw, vr) if raw.value else None
                except LookupError:
                    value = _plain(ds[tag].value)
            else:
                value = _plain(raw.value)
        except Exception as exc:  # pydicom could not convert: keep the raw text
            value = raw.value if is_raw else None
            if type_ is not None and value and not removes(kw):
                invalid.append(f"{kw}={_text(value)[:MAX_VALUE_CHARS]}")
                problems.append(f"{kw}: {type(exc).__name__}")
            type_ = None
        # hash: text VRs as raw bytes (same in every transfer syntax), others decoded
        if is_raw and raw.value is not None and (vr in TEXT_VRS or vr is None):
            digest.update(raw.value)
        elif isinstance(value, (bytes, bytearray)):
            digest.update(b"#%d" % len(value))
        else:
            digest.update(_binary_digest(value))
        if type(value) is str and type_ in _SCALAR_TYPES:  # the common case, without the general path
            present[kw] = bool(value)
            if tag == REFERENCED_SOP_INSTANCE_UID and value:
                pointers.instances.append(("", value))
            if not value or removes(kw) or len(value) > MAX_VALUE_CHARS:
                continue
            try:
                props[kw] = value if type_ == schema.STRING else schema.coerce(value, type_)
            except (ValueError, TypeError, OverflowError):
                invalid.append(f"{kw}={value[:MAX_VALUE_CHARS]}")
                problems.append(f"{kw}: not a valid {type_}")
            continue
        empty = _empty(value)
        present[kw] = not empty
        if tag == REFERENCED_SOP_INSTANCE_UID and not empty:  # a pointer at top level too
            pointers.instances.extend(("", u) for u in (value if isinstance(value, list) else [value]) if u)
        if type_ is None or empty or removes(kw):
            continue
        if isinstance(value, (str, list)) and len(_text(value)) > MAX_VALUE_CHARS:
            continue
        try:
            typed = _typed(value, type_)
        except (ValueError, TypeError, OverflowError):
            invalid.append(f"{kw}={_text(value)[:MAX_VALUE_CHARS]}")
            problems.append(f"{kw}: not a valid {type_}")
            continue
        if typed is not None and typed != []:
            props[kw] = typed

    # identity
    meta = getattr(ds, "file_meta", None)
    uid = props.get("SOPInstanceUID") or sop_instance_uid
    if not uid and meta is not None:
        uid = str(meta.get("MediaStorageSOPInstanceUID", "") or "").strip() or None
    if not uid:
        raise ExtractError("no SOP Instance UID (0008,0018) nor Media Storage SOP Instance UID")
    uid = str(uid)
    props["SOPInstanceUID"] = uid
    cls_uid = props.get("SOPClassUID") or sop_class_uid
    if not cls_uid and meta is not None:
        cls_uid = str(meta.get("MediaStorageSOPClassUID", "") or "").strip() or None
    if cls_uid:
        props["SOPClassUID"] = str(cls_uid)
    if meta is not None and "TransferSyntaxUID" not in props:
        ts = meta.get("TransferSyntaxUID")
        if ts:
            props["TransferSyntaxUID"] = str(ts)
    normalized = is_normalized(cls_uid)

    content_hash = digest.hexdigest()
    patient_id = props.get("PatientID")
    if pseudonymizer and patient_id:
        props["PatientID"] = patient_id = pseudonymizer.patient_id(patient_id,
                                                                   props.get("IssuerOfPatientID"))
    if pseudonymizer and props.get("PatientName"):
        props["PatientName"] = pseudonymizer.patient_name(props["PatientName"])

    # bookkeeping
    if ingested_at is None:
        ingested_at = (dt.datetime.fromtimestamp(mtime_ns / 1e9, dt.timezone.utc).replace(tzinfo=None)
                       if mtime_ns is not None else dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    props.update({"source": source, "content_hash": content_hash, "ingested_at": ingested_at,
                  "stub": False})
    if path is not None:
        props["path"] = path
    if file_size is not None:
        props["file_size"] = int(file_size)
    if invalid:
        props["invalid_values"] = invalid
    if requirements is not None and cls_uid in requirements:
        props.update(conformance.check(requirements[cls_uid], present))

    batch = GraphBatch()
    batch.nodes["Instance"] = {uid: props}  # already typed: skip a second coercion
    if cls_uid:
        batch.add_rel("INSTANCE_OF", "Instance", uid, "SOPClass", str(cls_uid))

    study_uid = props.get("StudyInstanceUID")
    patient_key = None
    if not normalized:
        series_uid = props.get("SeriesInstanceUID")
        if patient_id:
            issuer = props.get("IssuerOfPatientID")
            patient_key = f"{patient_id}^{issuer}" if issuer else patient_id
            patient = {k: props[k] for k in PATIENT_PROPS if k in props}
            patient.update(key=patient_key, unidentified=False)
            batch.add_node("Patient", patient)
        elif study_uid:
            patient_key = f"unidentified:{study_uid}"
            batch.add_node("Patient", {"key": patient_key, "unidentified": True})
        if study_uid:
            batch.add_node("Study", {k: props[k] for k in STUDY_PROPS if k in props})
            if patient_key:
                batch.add_rel("HAS_STUDY", "Patient", patient_key, "Study", study_uid)
        if series_uid:
            batch.add_node("Series", {k: props[k] for k in SERIES_PROPS if k in props})
            if study_uid:
                batch.add_rel("HAS_SERIES", "Study", study_uid, "Series", series_uid)
            batch.add_rel("HAS_INSTANCE", "Series", series_uid, "Instance", uid)
            equipment = {k: props[k] for k in EQUIPMENT_PROPS if k in props}
            if any(k in equipment for k in EQUIPMENT_KEY_PROPS):
                ident = "|".join(str(props.get(k, "")) for k in EQUIPMENT_KEY_PROPS)
                equipment["key"] = hashlib.sha1(ident.encode("utf-8")).hexdigest()[:16]
                batch.add_node("Equipment", equipment)
                batch.add_rel("ACQUIRED_ON", "Series", series_uid, "Equipment", equipment["key"])
            frame_uid = props.get("FrameOfReferenceUID")
            if frame_uid:
                batch.add_node("FrameOfReference", {k: props[k] for k in FRAME_PROPS if k in props})
                batch.add_rel("IN_FRAME", "Series", series_uid, "FrameOfReference", frame_uid)

    for via, target in pointers.instances:
        batch.add_rel("REFERENCES", "Instance", uid, "Instance", target, {"via": via})
    for via, target in pointers.series:
        batch.add_rel("REFERENCES", "Instance", uid, "Series", target, {"via": via})
    for via, target in pointers.studies:
        batch.add_rel("REFERENCES", "Instance", uid, "Study", target, {"via": via})
    props["pointer_count"] = sum(len(rows) for group, rows in batch.rels.items() if group[0] == "REFERENCES")

    return Extracted(batch=batch, sop_instance_uid=uid, sop_class_uid=str(cls_uid) if cls_uid else None,
                     study_uid=study_uid if not normalized else None, patient_key=patient_key,
                     content_hash=content_hash, normalized=normalized,
                     problems=problems + pointers.problems)
