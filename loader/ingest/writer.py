"""Stage 4, in the writer process: a ResolvedBatch -> the graph, then its files' SourceFile rows.

The order is the checkpoint: a file is recorded done only once its instances are committed, so a
kill -9 at any moment loses at most the batch in flight, whose files --resume parses again. Writes
are MERGEs, so re-writing that batch is harmless; the batch may therefore go in several statements
(atomic=False), which bounds the embedded engine's memory per statement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dicom_graph.loader.ingest.resolve import ResolvedBatch
from dicom_graph.loader.ingest.sources import stored_path
from dicom_graph.loader.ingest.worker import FileOutcome
from dicom_graph.model.batch import GraphBatch

if TYPE_CHECKING:
    from dicom_graph.model.store import GraphStore


def write_batch(store: GraphStore, resolved: ResolvedBatch, run_key: str) -> None:
    store.write(resolved.graph, atomic=False)
    if resolved.conflicted:  # their edges now come from more than one version of their content
        store.run("recount_pointers", uids=sorted(resolved.conflicted))
    store.write(source_files(resolved.files, run_key), atomic=False)


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
