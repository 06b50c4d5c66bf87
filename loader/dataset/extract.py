"""Dataset -> GraphBatch: one DICOM instance as graph rows (pure, picklable, runs in worker processes).

`dataset_to_batch(ds, source=...)` is the one entry point, used by the file ingest (Part 10, DICOMDIR,
DICOM JSON) and by the network listener (C-STORE, N-CREATE, N-SET datasets). It returns an `Extracted`:
the batch plus a small record the writer needs (keys, content hash, problems).

It runs the steps of one extraction in order, each in its own module with a named hand-off:
1. elements.read_elements -> `Elements`: the typed Instance properties, which keywords are present,
   the invalid values and problems, and the pointers (references.py walks the sequences); the same pass
   feeds the content hash (content_hash.py);
2. identity.identify -> `Identity`: SOP Instance / Class UIDs, normalized or composite;
3. pseudonymization (pseudonymize.py: Patient ID and Name, invalid values, pointers), then
   identity.patient_key;
4. the Instance row (with bookkeeping and conformance) and Instance -INSTANCE_OF-> SOPClass (a stub: the
   standard layer owns SOPClass properties);
5. context.add_context: Patient, Study, Series, Equipment, FrameOfReference, for composite instances only;
6. references.add_references: Instance -REFERENCES{via}-> Instance / Series / Study.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dicom_graph.model.batch import GraphBatch

from . import conformance, memo
from .content_hash import new_digest
from .context import add_context
from .elements import read_elements
from .identity import ExtractError, identify, patient_key
from .references import add_references

__all__ = ["DAMAGED_PREFIX", "Extracted", "ExtractError", "dataset_to_batch", "mark_damaged"]


@dataclass
class Extracted:
    """The batch, and what the writer decides with before writing it (loader/ingest): the keys
    to look up, the hash that tells a second copy from a changed one, the problems to report."""

    batch: GraphBatch
    sop_instance_uid: str
    sop_class_uid: str | None
    study_uid: str | None
    patient_key: str | None
    content_hash: str
    normalized: bool
    problems: list[str] = field(default_factory=list)
    damaged: bool = False  # read from a cut or damaged file: see mark_damaged


DAMAGED_PREFIX = "damaged:"


def mark_damaged(ex: Extracted) -> None:
    """Mark a copy read from a cut or damaged file (loader/ingest/integrity.py). Its hash is of what could
    be read, not of the instance's content, so it gets a prefix that no complete copy's hash has: the
    writer can tell a damaged stored copy from its hash alone, and never takes the two for one."""
    ex.damaged = True
    ex.content_hash = DAMAGED_PREFIX + ex.content_hash.removeprefix(DAMAGED_PREFIX)
    row = ex.batch.nodes["Instance"][ex.sop_instance_uid]
    row.update(damaged=True, content_hash=ex.content_hash)


def _ingested_at(mtime_ns: int | None) -> dt.datetime:
    """The file's mtime when there is one, so that re-ingesting an unchanged file changes nothing."""
    when = (dt.datetime.fromtimestamp(mtime_ns / 1e9, dt.timezone.utc) if mtime_ns is not None
            else dt.datetime.now(dt.timezone.utc))
    return when.replace(tzinfo=None)


def _not_removed(keyword: str) -> bool:
    return False  # without a pseudonymizer every attribute is stored


def dataset_to_batch(ds: Any, *, source: str, path: str | None = None, file_size: int | None = None,
                     mtime_ns: int | None = None, pseudonymizer: Any = None,
                     requirements: conformance.Requirements | None = None,
                     ingested_at: dt.datetime | None = None,
                     sop_instance_uid: str | None = None, sop_class_uid: str | None = None,
                     bulk_present: tuple[str, ...] = ()) -> Extracted:
    """Turn one dataset into graph rows.

    ds: a pydicom Dataset (headers; pixel data absent or ignored). source: 'file', 'json' or 'network'.
    path / file_size / mtime_ns: where it came from (files); `ingested_at` defaults to the file's
    mtime (stable across re-ingests) or now. pseudonymizer: a pseudonymize.Pseudonymizer or None.
    requirements: conformance requirements per SOP class (None: not checked).
    sop_instance_uid / sop_class_uid: for network datasets whose UIDs travel in the command set
    (N-CREATE's Affected SOP Instance UID), used when the dataset itself has none.
    bulk_present: keywords of elements the file has but the header read stopped before (Pixel Data):
    present for conformance, never read.
    Raises ExtractError when the dataset has no SOP Instance UID at all.
    """
    digest = new_digest(pseudonymizer)
    elements = read_elements(ds, digest, pseudonymizer.removes if pseudonymizer else _not_removed)
    props = elements.props
    ident = identify(props, ds, sop_instance_uid, sop_class_uid)
    content_hash = digest.hexdigest()
    present = {**elements.present, **dict.fromkeys(bulk_present, True)}
    checked = (memo.check(requirements[ident.sop_class_uid], present, ds)
               if requirements and ident.sop_class_uid in requirements else None)  # findings hold no values
    if pseudonymizer:
        pseudonymizer.apply(elements, ds)

    props.update({"source": source, "content_hash": content_hash,
                  "ingested_at": ingested_at if ingested_at is not None else _ingested_at(mtime_ns),
                  "stub": False})
    if path is not None:
        props["path"] = pseudonymizer.path(path) if pseudonymizer else path
    if file_size is not None:
        props["file_size"] = int(file_size)
    if elements.invalid:
        props["invalid_values"] = elements.invalid
    if checked is not None:
        props.update(checked)

    uid = ident.sop_instance_uid
    batch = GraphBatch()
    batch.nodes["Instance"] = {uid: props}  # already typed: skip a second coercion
    if ident.sop_class_uid:
        batch.add_rel("INSTANCE_OF", "Instance", uid, "SOPClass", ident.sop_class_uid)
    key = None
    if not ident.normalized:
        key = patient_key(props)
        add_context(batch, props, uid, key)
    props["pointer_count"] = add_references(batch, uid, elements.pointers)

    return Extracted(batch=batch, sop_instance_uid=uid, sop_class_uid=ident.sop_class_uid,
                     study_uid=None if ident.normalized else props.get("StudyInstanceUID"), patient_key=key,
                     content_hash=content_hash, normalized=ident.normalized,
                     problems=elements.problems + elements.pointers.problems)
