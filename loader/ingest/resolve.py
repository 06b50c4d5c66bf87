"""Stage 3, in the writer process: a batch of FileOutcomes -> a ResolvedBatch, what it needs from the graph.

Extraction (loader/dataset) is pure and runs in worker processes; whatever depends on what is already
in the graph is decided here, in the one writer process, for both the file ingest and the listener
(which uses add_study_patient_keys):

- instances: a new one is written whole; one already in the graph with the same content adds nothing;
  one with other content keeps the first version and records the other's hash (a content conflict),
  and its pointer count is recounted once written (its edges now come from several versions);
- Study.patient_keys: every patient key a study has been seen under, accumulated across batches;
- entity conflicts: every entity attribute whose value differs between instances (entities.py);
- SOP classes that neither pydicom nor the graph knows become nodes marked unknown, named by their UID.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from pydicom.uid import UID_dictionary

from dicom_graph.loader.dataset.extract import Extracted
from dicom_graph.loader.ingest.entities import record_entity_values
from dicom_graph.loader.ingest.sizes import LOOKUP_CHUNK
from dicom_graph.loader.ingest.worker import FileOutcome
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
    sop_classes: set[str] = field(default_factory=set)  # settled by this batch, once it is written


class Resolver:
    """One per run; remembers the SOP classes already settled, so each is looked up once per run."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.known_sop_classes: set[str] = set()

    def resolve(self, files: list[FileOutcome]) -> ResolvedBatch:
        extracted = [ex for o in files for ex in o.extracted]
        resolved = ResolvedBatch(GraphBatch(), files)
        for ex in extracted:  # everything but the instance rows, which depend on the graph
            resolved.graph.merge(_without_instance_row(ex))
            resolved.graph.add_stub("Instance", ex.sop_instance_uid)
        self._instances(resolved, extracted)
        add_study_patient_keys(self.store, resolved.graph, extracted)
        self._sop_classes(resolved, extracted)
        return resolved

    def written(self, resolved: ResolvedBatch) -> None:
        """Only a written batch settles its SOP classes: a batch cut short by Ctrl-C is resolved again."""
        self.known_sop_classes |= resolved.sop_classes

    def _instances(self, resolved: ResolvedBatch, extracted: list[Extracted]) -> None:
        """Instance rows for the batch: new ones whole, known ones only their conflicts."""
        known = self._instance_hashes(sorted({ex.sop_instance_uid for ex in extracted}))
        rows = resolved.graph.nodes.setdefault("Instance", {})
        for ex in extracted:
            uid, h = ex.sop_instance_uid, ex.content_hash
            existing = known.get(uid)
            if existing is None:
                rows[uid] = dict(_instance_row(ex))
                known[uid] = {"hash": h, "conflicts": []}  # a second copy in this batch is compared to it
                resolved.instances_new += 1
            elif existing["hash"] == h or h in existing["conflicts"]:
                resolved.instances_unchanged += 1
            else:
                # same SOP Instance UID, other content: keep the first, record the other
                existing["conflicts"] = sorted(set(existing["conflicts"]) | {h})
                row = rows.setdefault(uid, {"SOPInstanceUID": uid})
                row["conflicting_hashes"] = existing["conflicts"]
                resolved.conflicted.add(uid)
                resolved.instances_updated += 1

    def _instance_hashes(self, uids: list[str]) -> dict[str, dict[str, Any]]:
        """Content hash and recorded conflicts of the complete (non-stub) instances among `uids`."""
        known: dict[str, dict[str, Any]] = {}
        for start in range(0, len(uids), LOOKUP_CHUNK):
            for row in self.store.run("instance_hashes", uids=uids[start:start + LOOKUP_CHUNK]).records():
                if not row.get("stub"):
                    known[row["uid"]] = {"hash": row["content_hash"],
                                         "conflicts": list(row.get("conflicting_hashes") or [])}
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
