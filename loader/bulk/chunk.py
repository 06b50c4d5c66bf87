"""One extraction task: a chunk of files -> its shards, in a worker process or on a Dask worker.

Each file goes through the ingest's own worker (parse, extract) and the chunk through the ingest's own
Resolver, against an empty graph: within the chunk, copies of one instance, entity values and conflicts,
Study.patient_keys and unknown SOP classes are decided exactly as `ingest` decides them for a batch.
What spans chunks is folded at load time (fold.py). Only the small ChunkResult travels back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from dicom_graph.loader.bulk import shards
from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.ingest.garbage import fewer_collections
from dicom_graph.loader.ingest.resolve import Resolver
from dicom_graph.loader.ingest.sources import SourceFile
from dicom_graph.loader.ingest.summary import RejectionReport
from dicom_graph.loader.ingest.worker import FileOutcome, process_file, quiet
from dicom_graph.loader.ingest.writer import source_files
from dicom_graph.model.instance_width import cap_instance_rows
from dicom_graph.model.store.base import QueryResult

# recomputed at load time from the EntityValues of every chunk, folded (fold.py)
RECOMPUTED_AT_LOAD = ("EntityConflict",)


@dataclass(frozen=True)
class ChunkTask:
    chunk_id: int
    files: list[SourceFile]
    out: str
    run_key: str
    requirements: conformance.Requirements | None


class _EmptyGraph:
    """What a chunk is resolved against. The Resolver and the entity records ask the graph what is
    already written; for a chunk extracted on its own, nothing is (load folds the chunks together)."""

    def run(self, name: str, **params: Any) -> QueryResult:
        return QueryResult([], [])

    def existing_keys(self, label: str, keys: Any) -> set[Any]:
        return set()


@fewer_collections()
def extract_chunk(task: ChunkTask, outcomes: list[FileOutcome] | None = None) -> dict[str, Any]:
    """Parse (unless its files' `outcomes` are given), resolve and write one chunk; returns what the
    manifest records of it. Never raises for a bad file (it is a rejected outcome, reported); a failure
    to write the shards does raise."""
    quiet()
    if outcomes is None:
        outcomes = [process_file(f, task.requirements) for f in task.files]
    resolved = Resolver(cast(Any, _EmptyGraph())).resolve(outcomes)
    graph = resolved.graph
    for label in RECOMPUTED_AT_LOAD:
        graph.nodes.pop(label, None)
    graph.merge(source_files(outcomes, task.run_key))
    cap_instance_rows(graph)
    out = Path(task.out)
    rows = shards.write_chunk(graph, out, task.chunk_id)
    text = io.StringIO()
    report = RejectionReport(text)
    for o in outcomes:
        report.record(o)
    shards.write_atomically(out / "rejects" / (shards.chunk_name(task.chunk_id) + ".jsonl"),
                            lambda tmp: Path(tmp).write_text(text.getvalue(), encoding="utf-8"))
    statuses: dict[str, int] = {}
    for o in outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    return {"rows": rows, "conflicted": sorted(resolved.conflicted), "statuses": statuses,
            "problems": sum(o.problems for o in outcomes),
            "instances": {"new": resolved.instances_new, "updated": resolved.instances_updated,
                          "unchanged": resolved.instances_unchanged}}


def run_task(task: ChunkTask, outcomes: list[FileOutcome] | None = None) -> dict[str, Any]:
    """extract_chunk, then the chunk's done record (the last thing a task writes): what extract.py and
    a Dask worker run."""
    from dicom_graph.loader.bulk.manifest import mark_done

    result = extract_chunk(task, outcomes)
    mark_done(Path(task.out), task.chunk_id, result)
    return result


_PROCESS: dict[str, Any] = {}  # what keep_requirements left in this worker process


def keep_requirements(requirements: conformance.Requirements | None) -> None:
    """Pool initializer: the run's requirements once per worker process rather than in every task. A
    task would carry 1.7 MB of pickle, and each copy would start the conformance memo (memo.py) afresh."""
    quiet()
    _PROCESS["requirements"] = requirements


def run_tasks(tasks: list[ChunkTask]) -> list[dict[str, Any]]:
    """run_task for each, with the requirements keep_requirements left here (the tasks come without):
    the work of extract.py's worker processes (pool.OrderedPool maps lists)."""
    return [run_task(replace(t, requirements=_PROCESS["requirements"])) for t in tasks]
