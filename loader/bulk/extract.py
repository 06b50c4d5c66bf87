"""`extract`'s driver: walk, cut into chunks, run the chunks that have no done record, finish the manifest.

Chunks are consecutive runs of the walk's sorted files, so the same paths always give the same chunks
(and, shards being deterministic, the same bytes) whether they run here in a process pool or as tasks
on a Dask cluster (`dask`: the scheduler's address; OUT must then be a folder every worker can write).
A chunk is one task: its files are parsed, resolved and written by the worker that took it, and only
its done record's counts come back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from dicom_graph.loader.bulk import manifest as manifests
from dicom_graph.loader.bulk.chunk import ChunkTask, keep_requirements, run_task, run_tasks
from dicom_graph.loader.bulk.shards import chunk_name, write_atomically
from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.ingest.parsers import Parsers
from dicom_graph.loader.ingest.pool import OrderedPool
from dicom_graph.loader.ingest.sources import walk
from dicom_graph.loader.ingest.summary import RejectionReport, run_key_for

DEFAULT_CHUNK_FILES = 1000  # files per task and per shard: a few MB of Parquet, seconds of work


@dataclass
class ExtractSummary:
    out: str
    files: int = 0
    chunks: int = 0
    chunks_run: int = 0  # this time; the others were done by an earlier run
    statuses: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    report_path: str = ""

    def lines(self) -> list[str]:
        files = ", ".join(f"{n:,} {status}" for status, n in sorted(self.statuses.items()))
        return [f"extract finished: {self.files:,} files in {self.chunks:,} chunks ({self.chunks_run:,} run now, "
                f"{self.chunks - self.chunks_run:,} done before): {files or 'none'}",
                f"shards: {self.out} ({sum(self.rows.values()):,} rows); load them with "
                f"`dicom-graph load {self.out}`",
                f"rejection report: {self.report_path}"]


def run_extract(paths: list[str], out: str, *, workers: int | None = None, dask: str | None = None,
                requirements: conformance.Requirements | None = None, chunk_files: int = DEFAULT_CHUNK_FILES,
                on_chunk: Callable[[int, int], None] | None = None) -> ExtractSummary:
    """Extract every file under `paths` into shards under `out`; `on_chunk(files, files to do)` after
    each chunk.
    Raises FileNotFoundError for a missing path and ManifestError when `out` holds another extraction."""
    abs_paths = [os.path.abspath(p) for p in paths]
    for p in abs_paths:
        if not os.path.exists(p):
            raise FileNotFoundError(f"no such file or directory: {p}")
    target = Path(out).absolute()
    skipped: list[list[str]] = []
    files = list(walk(abs_paths, skip={str(target)}, on_skip=lambda p, why: skipped.append([p, why])))
    inside = str(target) + os.sep
    files = [f for f in files if not f.path.startswith(inside)]  # never our own shards (paths are absolute)
    chunks = [files[i:i + chunk_files] for i in range(0, len(files), chunk_files)]
    run_key = run_key_for(abs_paths, False)
    wanted = manifests.new(run_key, abs_paths, chunks, chunk_files, requirements is not None)
    previous = manifests.read(target)
    if previous is not None:
        manifests.check_same_files(previous, wanted, target)
    target.mkdir(parents=True, exist_ok=True)
    manifests.save(target, wanted)
    done = manifests.done_records(target)
    tasks = [ChunkTask(i, chunk, str(target), run_key, requirements)
             for i, chunk in enumerate(chunks) if str(i) not in done]
    to_do = sum(len(t.files) for t in tasks)
    for result in _run(tasks, workers, dask):
        if on_chunk:
            on_chunk(sum(result["statuses"].values()), to_do)
    wanted["done"] = manifests.done_records(target)
    wanted["skipped"] = skipped
    wanted["finished"] = len(wanted["done"]) == len(chunks)
    manifests.save(target, wanted)
    summary = ExtractSummary(str(target), len(files), len(chunks), len(tasks))
    for record in wanted["done"].values():
        for status, n in record["statuses"].items():
            summary.statuses[status] = summary.statuses.get(status, 0) + n
        for folder, n in record["rows"].items():
            summary.rows[folder] = summary.rows.get(folder, 0) + n
    summary.report_path = str(_report(target, len(chunks), skipped))
    return summary


def _run(tasks: list[ChunkTask], workers: int | None, dask: str | None) -> Iterator[dict[str, Any]]:
    if not tasks:
        return iter(())
    if dask:
        return _on_dask(tasks, dask)
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1 or len(tasks) == 1:
        return (run_task(t) for t in tasks)
    return _in_pool(tasks, workers)


def _in_pool(tasks: list[ChunkTask], workers: int) -> Iterator[dict[str, Any]]:
    """The ingest's worker pool, a task per chunk: a chunk whose worker dies (kill -9, the OOM killer, a
    crash in a native decoder) runs again, and if it dies again its files are parsed as the ingest
    parses them, each file's death its own (_file_by_file; the other chunks wait for it)."""
    requirements = tasks[0].requirements  # the run's: the same in every task, sent once per worker
    pool = OrderedPool(workers, run_tasks, partial(_file_by_file, workers, requirements), keep_requirements,
                       (requirements,), ahead=len(tasks))
    try:
        for [result] in pool.map([[replace(t, requirements=None)] for t in tasks]):
            yield result
    finally:
        pool.close()


def _file_by_file(workers: int, requirements: conformance.Requirements | None, task: ChunkTask) -> dict[str, Any]:
    """A chunk that killed its worker twice: its files parsed in worker processes of their own (so a
    file that kills its parser alone is reported WorkerDied and nothing else is lost), then resolved and
    written here, as its worker would have."""
    task = replace(task, requirements=requirements)
    parsers = Parsers(workers, task.requirements, None, len(task.files), isolated=True)
    try:
        outcomes = [o for chunk in parsers.outcomes(task.files) for o in chunk]
    finally:
        parsers.close()
    return run_task(task, outcomes)


def _on_dask(tasks: list[ChunkTask], address: str) -> Iterator[dict[str, Any]]:
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise RuntimeError("--dask needs the dask extra: pip install 'dicom-graph[dask]'") from None
    with Client(address) as client:
        futures = [client.submit(run_task, t, key=f"dicom-graph-{chunk_name(t.chunk_id)}-{t.run_key}", pure=False)
                   for t in tasks]
        for future in dask_completed(futures):
            yield future.result()


def _report(out: Path, chunks: int, skipped: Iterable[list[str]]) -> Path:
    """The rejection report of the whole extraction, in `ingest`'s format: the walk's skipped entries,
    then every chunk's lines in chunk order."""
    path = out / "rejects.jsonl"

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            report = RejectionReport(fh)
            for p, why in skipped:
                report.skipped(p, why)
            for i in range(chunks):
                part = out / "rejects" / (chunk_name(i) + ".jsonl")
                if part.exists():
                    fh.write(part.read_text(encoding="utf-8"))

    write_atomically(path, write)
    return path
