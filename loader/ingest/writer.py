"""Stage 4, in the writer process: a ResolvedBatch -> the graph, then its files' SourceFile rows.

The order is the checkpoint: a file is recorded done only once its instances are committed, so a
kill -9 at any moment loses at most the batch in flight, whose files --resume parses again. Writes
are MERGEs, so re-writing that batch is harmless; the batch may therefore go in several statements
(atomic=False), which bounds the embedded engine's memory per statement.

Within the graph write an instance's own checkpoint is its content hash, written last: the resolver
treats an instance whose hash matches as written whole and leaves its context and pointers out. The
stores write nodes before relationships, so with the hash among the node's columns a kill -9 between
the two left instances that looked complete without their edges, and --resume never wrote them (a
kill test lost 36 of 262 HAS_INSTANCE edges this way). Written last, a cut write leaves instances
without their hash, which the next run writes whole again.

The entity records (ingest/entities.py) count only the instance versions whose hash the graph lacks,
so they go in the same last write, just before the hashes: one transaction on Neo4j, and on the
embedded engine one for a small batch and two consecutive statements for a large one. Records without
their hashes would count the batch again on --resume; hashes without their records would leave values
unrecorded for good. Only a kill -9 between those two statements can do the first; nothing the second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dicom_graph.loader.ingest.resolve import ResolvedBatch
from dicom_graph.loader.ingest.sources import stored_path
from dicom_graph.loader.ingest.worker import FileOutcome
from dicom_graph.model import schema
from dicom_graph.model.batch import GraphBatch

if TYPE_CHECKING:
    from dicom_graph.model.store import GraphStore


ENTITY_RECORDS = ("EntityValues", "EntityConflict")
# what marks an Instance written whole (resolve.Resolver._instance_hashes): written after the rest
CHECKPOINT_COLUMNS = ("content_hash", "conflicting_hashes")


def write_batch(store: GraphStore, resolved: ResolvedBatch, run_key: str) -> None:
    """The graph, then the SourceFile rows: --resume's checkpoint (module doc)."""
    write_graph(store, resolved)
    store.write(source_files(resolved.files, run_key), atomic=False)


def write_graph(store: GraphStore, resolved: ResolvedBatch, atomic: bool = False) -> None:
    """write_batch without the SourceFile rows: the listener's instances come from no file of a walk,
    and its checkpoint is its spool (loader/network/writer.py). `atomic`: each part in one transaction,
    which for the listener's micro-batches (hundreds of rows, below the embedded engine's COPY size)
    saves the reopens a bulk write makes between its statements (bench/README.md, listener)."""
    last = _take(resolved.graph, ENTITY_RECORDS)
    last.nodes.update(_take_checkpoints(resolved.graph).nodes)  # after the records: see the module doc
    store.write(resolved.graph, atomic=atomic)
    if resolved.conflicted:  # their edges now come from more than one version of their content
        store.run("recount_pointers", uids=sorted(resolved.conflicted))
    if last.nodes:
        store.write(last, atomic=atomic)


def source_files(files: list[FileOutcome], run_key: str) -> GraphBatch:
    """One SourceFile row per file: what --resume compares (path, size, mtime) and why a file failed;
    keyed by the path's stored text form (sources.stored_path), with its bytes when they are not UTF-8."""
    batch = GraphBatch()
    for o in files:
        key, path_hex = stored_path(o.path)
        batch.add_node("SourceFile", {
            "key": key, "path_hex": path_hex, "size": o.size, "mtime_ns": o.mtime_ns, "status": o.status,
            "reason": o.reason, "error_class": o.error_class, "run": run_key,
            "sop_instance_uids": sorted({ex.sop_instance_uid for ex in o.extracted})})
    return batch


def _take(batch: GraphBatch, labels: tuple[str, ...]) -> GraphBatch:
    """Move the rows of `labels` out of `batch` into a batch of their own (they have no relationships)."""
    taken = GraphBatch()
    for label in labels:
        rows = batch.nodes.pop(label, None)
        if rows:
            taken.nodes[label] = rows
    return taken


def _take_checkpoints(batch: GraphBatch) -> GraphBatch:
    """Move the Instance rows' CHECKPOINT_COLUMNS out of `batch` into rows of their own (module doc); a
    row left with its key only (a conflicting copy's) is dropped: the instance exists already."""
    rows = batch.nodes.get("Instance", {})
    key = schema.node("Instance").key
    marks: dict[str, dict] = {}
    for uid in list(rows):
        row = rows[uid]
        taken = {c: row.pop(c) for c in CHECKPOINT_COLUMNS if c in row}
        if taken:
            marks[uid] = {key: uid, **taken}
            if row.keys() == {key}:
                del rows[uid]
    return GraphBatch(nodes={"Instance": marks} if marks else {})
