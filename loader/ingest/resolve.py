"""Stage 3, in the writer process: a batch of FileOutcomes -> a ResolvedBatch, what it needs from the graph.

Extraction (loader/dataset) is pure and runs in worker processes; whatever depends on what is already
in the graph is decided here, in the one writer process, for both the file ingest and the listener
(which uses add_study_patient_keys):

- instances, when several copies share a SOP Instance UID (the conflict policy, below);
- Study.patient_keys: every patient key a study has been seen under, accumulated across batches;
- entity conflicts: every entity attribute whose value differs between instances (entities.py);
- SOP classes that neither pydicom nor the graph knows become nodes marked unknown, named by their UID.

The conflict policy. Copies of one instance (same SOP Instance UID) arrive in any order, in one batch
or across batches and runs; a copy is *complete* or *damaged* (read from a cut or damaged file, see
integrity.py; its content hash starts with `damaged:`). Which copy the Instance node shows:
- the first complete copy wins and stays; a later complete copy with other content adds its hash to
  `conflicting_hashes`, and its context and pointers are merged (its edges are recounted);
- a damaged copy never replaces a complete one, in either order: after a complete copy it only adds its
  hash to `conflicting_hashes`, with nothing of its context or pointers; before any complete copy it is
  written (marked `damaged: true`) and the first complete copy to arrive then replaces its properties
  (path, values, hash; `damaged: false`), keeping the damaged hash in `conflicting_hashes`. A damaged
  copy is a prefix of its file, so it has no property the complete copy lacks; its pointers, if any, are
  a subset of the complete copy's and stay counted;
- an identical copy (same hash) changes nothing, except its conformance findings when this run checked
  them and they differ from the graph's: the standard was loaded or corrected since (`standard load`),
  so the file read again is checked again (`instances_rechecked`).
Every copy's file keeps its own SourceFile row (path, status `damaged` with the reason), and the report
lists each damaged copy with its path: what was kept of the copies that lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from pydicom.uid import UID_dictionary

from dicom_graph.loader.dataset.extract import DAMAGED_PREFIX, Extracted
from dicom_graph.loader.ingest.entities import record_entity_values
from dicom_graph.loader.ingest.sizes import LOOKUP_CHUNK
from dicom_graph.loader.ingest.worker import FileOutcome
from dicom_graph.model import schema
from dicom_graph.model.batch import GraphBatch

if TYPE_CHECKING:
    from dicom_graph.model.store import GraphStore


@dataclass
class ResolvedBatch:
    """The hand-off to the writer: what to write, for which files, and what to recount afterwards."""

    graph: GraphBatch
    files: list[FileOutcome]  # recorded done (SourceFile rows) only once `graph` is written
    conflicted: set[str] = field(default_factory=set)  # SOP Instance UIDs whose pointers are recounted
    instances_new: int = 0
    instances_unchanged: int = 0
    instances_updated: int = 0
    instances_rechecked: int = 0  # unchanged, with conformance findings other than the graph's
    sop_classes: set[str] = field(default_factory=set)  # settled by this batch, once it is written


class Resolver:
    """One per run; remembers the SOP classes already settled, so each is looked up once per run."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.known_sop_classes: set[str] = set()

    def resolve(self, files: list[FileOutcome]) -> ResolvedBatch:
        extracted = [ex for o in files for ex in o.extracted]
        resolved = ResolvedBatch(GraphBatch(), files)
        ignored = self._instances(resolved, extracted)
        for ex in extracted:  # everything but the instance rows, which depend on the graph
            if id(ex) not in ignored:
                resolved.graph.merge(_without_instance_row(ex))
            resolved.graph.add_stub("Instance", ex.sop_instance_uid)
        add_study_patient_keys(self.store, resolved.graph, [ex for ex in extracted if id(ex) not in ignored])
        self._sop_classes(resolved, extracted)
        return resolved

    def written(self, resolved: ResolvedBatch) -> None:
        """Only a written batch settles its SOP classes: a batch cut short by Ctrl-C is resolved again."""
        self.known_sop_classes |= resolved.sop_classes

    def _instances(self, resolved: ResolvedBatch, extracted: list[Extracted]) -> set[int]:
        """Instance rows for the batch by the conflict policy (module doc); returns the ids of the copies
        whose context and pointers are left out (damaged copies that lost to a complete one)."""
        known = self._instance_hashes(sorted({ex.sop_instance_uid for ex in extracted}))
        rows = resolved.graph.nodes.setdefault("Instance", {})
        written: dict[str, Extracted] = {}  # the copy this batch writes whole, per UID
        ignored: set[int] = set()
        for ex in extracted:
            uid, h = ex.sop_instance_uid, ex.content_hash
            existing = known.get(uid)
            if existing is None:
                rows[uid] = dict(_instance_row(ex))
                written[uid] = ex
                known[uid] = {"hash": h, "conflicts": []}  # a second copy in this batch is compared to it
                resolved.instances_new += 1
                continue
            if existing["hash"] == h or h in existing["conflicts"]:
                resolved.instances_unchanged += 1
                ignored.add(id(ex))
                checked = _rechecked(_instance_row(ex), existing.get("conformance")) if existing["hash"] == h \
                    else None  # (a conflicting copy's findings are not those of the content shown)
                if checked:
                    rows[uid] = {"SOPInstanceUID": uid, **checked}
                    resolved.instances_rechecked += 1
                continue
            replaces = existing["hash"].startswith(DAMAGED_PREFIX) and not ex.damaged
            existing["conflicts"] = sorted(set(existing["conflicts"]) | {existing["hash"] if replaces else h})
            if replaces:  # the first complete copy takes the place of a damaged one
                loser = written.get(uid)
                if loser is not None:
                    ignored.add(id(loser))
                rows[uid] = {**_instance_row(ex), "damaged": False}
                rows[uid].setdefault("invalid_values", [])
                written[uid], existing["hash"] = ex, h
            elif ex.damaged:
                ignored.add(id(ex))
            rows.setdefault(uid, {"SOPInstanceUID": uid})["conflicting_hashes"] = existing["conflicts"]
            resolved.conflicted.add(uid)
            resolved.instances_updated += 1
        return ignored

    def _instance_hashes(self, uids: list[str]) -> dict[str, dict[str, Any]]:
        """Content hash and recorded conflicts of the complete (non-stub) instances among `uids`."""
        known: dict[str, dict[str, Any]] = {}
        for start in range(0, len(uids), LOOKUP_CHUNK):
            for row in self.store.run("instance_hashes", uids=uids[start:start + LOOKUP_CHUNK]).records():
                # a row without its hash is a write a kill -9 cut short (the hash goes last, after the
                # edges: writer.py): like a stub, the batch writes it whole again
                if not row.get("stub") and row.get("content_hash") is not None:
                    known[row["uid"]] = {"hash": row["content_hash"],
                                         "conflicts": list(row.get("conflicting_hashes") or []),
                                         "conformance": {c: row.get(c) for c in schema.CONFORMANCE_COLUMNS}}
        return known

    def _sop_classes(self, resolved: ResolvedBatch, extracted: list[Extracted]) -> None:
        uids = {ex.sop_class_uid for ex in extracted if ex.sop_class_uid} - self.known_sop_classes
        if not uids:
            return
        unknown = {u for u in uids if u not in UID_dictionary}
        if unknown:
            in_graph = self.store.existing_keys("SOPClass", unknown)
            for uid in sorted(unknown - in_graph):
                resolved.graph.add_node("SOPClass", {"uid": uid, "name": uid, "unknown": True})
        resolved.sop_classes = uids


def _rechecked(row: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """This run's conformance properties of an unchanged instance where they differ from the graph's; None
    when they agree, or when this run checked nothing (no standard in the graph: the graph's stay)."""
    if stored is None or "conformant" not in row:
        return None
    ours = {c: row.get(c) for c in schema.CONFORMANCE_COLUMNS}
    return None if all(_same(ours[c], stored.get(c)) for c in ours) else ours


def _same(ours: Any, stored: Any) -> bool:
    """An empty list and a missing one are the same findings (an engine may store either)."""
    if isinstance(ours, list) or isinstance(stored, list):
        return (ours or None) == (stored or None)
    return bool(ours == stored)


def _instance_row(ex: Extracted) -> dict[str, Any]:
    return ex.batch.nodes["Instance"][ex.sop_instance_uid]


def _without_instance_row(ex: Extracted) -> GraphBatch:
    return GraphBatch(nodes={k: v for k, v in ex.batch.nodes.items() if k != "Instance"},
                      stubs=ex.batch.stubs, rels=ex.batch.rels)


def add_study_patient_keys(store: Any, batch: GraphBatch, extracted: Iterable[Extracted],
                           known: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Set Study.patient_keys on `batch` to every patient key its study has been seen under.

    A study can arrive under several patients (a merge gone wrong, two issuers): the graph keeps them
    all, accumulated across batches and runs. `known` caches the keys as last written (the caller
    owns one writer, so after one read the cache is the graph's value); studies not in it are read
    from the graph. Returns the merged keys per study of this batch: the caller adds them to its
    cache only once the batch has been written. The one step the file ingest and the listener share,
    so it also records the entity conflicts (entities.py).
    """
    extracted = list(extracted)
    record_entity_values(store, batch, extracted)
    wanted: dict[str, set[str]] = {}
    for ex in extracted:
        if ex.study_uid and ex.patient_key:
            wanted.setdefault(ex.study_uid, set()).add(ex.patient_key)
    if not wanted:
        return {}
    current = {uid: known[uid] for uid in wanted if known is not None and uid in known}
    unread = sorted(set(wanted) - set(current))
    for start in range(0, len(unread), LOOKUP_CHUNK):
        for row in store.run("study_patients", uids=unread[start:start + LOOKUP_CHUNK]).records():
            current[row["uid"]] = set(row.get("patient_keys") or [])
    merged: dict[str, set[str]] = {}
    studies = batch.nodes.setdefault("Study", {})
    for uid, keys in wanted.items():
        merged[uid] = current.get(uid, set()) | keys
        if merged[uid] != current.get(uid):
            studies.setdefault(uid, {"StudyInstanceUID": uid})["patient_keys"] = sorted(merged[uid])
    return merged
