"""The files batch job, in stages with named hand-offs:

    sources.walk -> SourceFile -> worker.process_file -> FileOutcome -> batcher.Batcher -> [FileOutcome]
    -> resolve.Resolver -> ResolvedBatch -> writer.write_batch -> (graph, SourceFile rows)

run.run_ingest drives them (worker processes, progress, checkpoints); summary.py counts and reports.
Importing this package stays light (no pydicom, no pyarrow): run_ingest is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dicom_graph.loader.ingest.sizes import DEFAULT_BATCH_INSTANCES

if TYPE_CHECKING:
    from dicom_graph.loader.ingest.run import run_ingest

__all__ = ["DEFAULT_BATCH_INSTANCES", "run_ingest"]


def __getattr__(name: str) -> Any:
    if name == "run_ingest":
        from dicom_graph.loader.ingest.run import run_ingest

        return run_ingest
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
