"""Stage 5, the run: walk -> parse in worker processes -> batch -> resolve -> write, with checkpoints.

    summary = run_ingest(store, ["/archive"], workers=8, resume=True)

- walk: every file under the paths (sources.walk), stat'ed once; with --resume, files whose
  (path, size, mtime_ns) match a SourceFile marked ingested are skipped.
- parse: a process pool (forkserver) reads chunks of files (headers only) and extracts records
  (worker.py); only small picklable FileOutcomes come back, at most a bounded number in flight.
- write (BatchCommitter, in this process): outcomes are counted and reported, grouped into batches of
  ~`batch_instances` instances (batcher.py), resolved against the graph (resolve.py) and written, then,
  and only then, their files are marked done (writer.py). A kill -9 at any moment therefore loses at
  most uncommitted batches, whose files --resume parses again; the run's IngestRun (keyed by the
  paths) is continued, not duplicated.
- Ctrl-C (or SIGTERM, see the ingest command): the pending batch is committed, workers stop, the run
  is marked interrupted.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.dataset.pseudonymize import Pseudonymizer
from dicom_graph.loader.ingest.batcher import Batcher
from dicom_graph.loader.ingest.progress import Progress
from dicom_graph.loader.ingest.resolve import Resolver
from dicom_graph.loader.ingest.sizes import CHUNK_FILES, DEFAULT_BATCH_INSTANCES, IN_FLIGHT_PER_WORKER, LOOKUP_CHUNK
from dicom_graph.loader.ingest.sources import SourceFile, walk
from dicom_graph.loader.ingest.summary import IngestSummary, RejectionReport, default_report_path, run_key_for
from dicom_graph.loader.ingest.worker import FileOutcome, init_worker, process_chunk, process_file, quiet
from dicom_graph.loader.ingest.writer import write_batch
from dicom_graph.model.batch import GraphBatch

if TYPE_CHECKING:
    from dicom_graph.model.store import GraphStore


class BatchCommitter:
    """The writer process's side of a run, one parsed file at a time: the only path to the graph's data."""

    def __init__(self, store: GraphStore, summary: IngestSummary, report: RejectionReport,
                 batch_instances: int = DEFAULT_BATCH_INSTANCES) -> None:
        self.store = store
        self.summary = summary
        self.report = report
        self.batcher = Batcher(store, batch_instances)
        self.resolver = Resolver(store)

    def add(self, outcome: FileOutcome) -> None:
        self.summary.count_file(outcome)
        self.report.record(outcome)
        if self.batcher.add(outcome):
            self.commit(final=False)

    def commit(self, final: bool) -> None:
        """Write what the batcher releases (everything when `final`); report lines are flushed with it."""
        files = self.batcher.take(final)
        if not files:
            return
        resolved = self.resolver.resolve(files)
        write_batch(self.store, resolved, self.summary.run_key)
        self.resolver.written(resolved)
        self.summary.count_instances(resolved)
        self.report.flush()
        self.batcher.written(files)


def run_ingest(store: GraphStore, paths: list[str], *, workers: int | None = None, resume: bool = False,
               pseudonymize: bool = False, report_path: str | None = None, progress: bool = True,
               batch_instances: int = DEFAULT_BATCH_INSTANCES) -> IngestSummary:
    """Ingest every file under `paths` into a writable store; returns the summary (see module doc).

    Raises PseudonymKeyMissing when pseudonymize is asked without DICOM_GRAPH_PSEUDONYM_KEY, and
    FileNotFoundError for a path that does not exist. Rejected files never raise.
    """
    t0 = time.monotonic()
    abs_paths = [os.path.abspath(p) for p in paths]
    for p in abs_paths:
        if not os.path.exists(p):
            raise FileNotFoundError(f"no such file or directory: {p}")
    pseudonymizer = Pseudonymizer.from_env() if pseudonymize else None
    workers = max(1, workers or os.cpu_count() or 1)
    run_key = run_key_for(abs_paths, pseudonymize)
    shown_paths = abs_paths
    if pseudonymizer:  # the graph names the paths by their keyed hashes only (pseudonymize.py)
        run_key = "ingest-" + pseudonymizer.pseudonym("run", run_key)[:16]
        shown_paths = [pseudonymizer.path(p) for p in abs_paths]
    report_path = os.path.abspath(report_path or default_report_path(store, run_key))
    summary = IngestSummary(run_key=run_key, paths=shown_paths, report_path=report_path, workers=workers)

    requirements = conformance.load_requirements(store) or None
    summary.conformance_checked = requirements is not None

    previous = store.run("ingest_run", key=run_key).records()
    started_at = (previous[0]["started_at"] if previous and previous[0].get("started_at") and resume
                  else dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    _write_run(store, summary, started_at, pseudonymize, finished=False)

    files = list(walk(abs_paths, skip={report_path}))
    summary.files_seen = len(files)
    if resume:
        done = _already_done(store, files, pseudonymizer.path if pseudonymizer else str)
        summary.files_skipped = len(done)
        files = [f for f in files if f.path not in done]

    os.makedirs(os.path.dirname(report_path) or ".", exist_ok=True)
    with open(report_path, "w", encoding="utf-8") as out:
        committer = BatchCommitter(store, summary, RejectionReport(out), batch_instances)
        parsers = _Parsers(workers, requirements, pseudonymizer, batch_instances)
        summary.status = _parse_and_commit(files, parsers, committer, Progress(len(files), progress, summary))
    summary.elapsed_s = time.monotonic() - t0
    _write_run(store, summary, started_at, pseudonymize, finished=summary.status == "finished")
    return summary


def _parse_and_commit(files: list[SourceFile], parsers: _Parsers, committer: BatchCommitter,
                      bar: Progress) -> str:
    """Feed every parsed file to the committer; the run's status: finished, or interrupted by Ctrl-C."""
    try:
        for chunk in parsers.outcomes(files):
            for outcome in chunk:
                committer.add(outcome)
            bar.update(len(chunk))
        committer.commit(final=True)
        return "finished"
    except KeyboardInterrupt:
        parsers.terminate()
        committer.commit(final=True)  # commit what was parsed, then stop
        return "interrupted"
    finally:
        bar.close()
        parsers.close()


class _Parsers:
    """Where files are parsed: in this process for a small run or --workers 1, else in a pool."""

    def __init__(self, workers: int, requirements: conformance.Requirements | None,
                 pseudonymizer: Pseudonymizer | None, batch_instances: int) -> None:
        self.workers = workers
        self.requirements = requirements
        self.pseudonymizer = pseudonymizer
        self.in_flight = batch_instances // CHUNK_FILES + IN_FLIGHT_PER_WORKER * workers
        self.pool: Any = None

    def outcomes(self, files: list[SourceFile]) -> Iterator[list[FileOutcome]]:
        chunks = _chunks(files, CHUNK_FILES)
        if self.workers == 1 or len(files) <= CHUNK_FILES:
            quiet()
            return ([process_file(f, self.requirements, self.pseudonymizer) for f in chunk] for chunk in chunks)
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([process_chunk.__module__])  # pydicom imported once, not per worker
        self.pool = ctx.Pool(self.workers, initializer=init_worker,
                             initargs=(self.requirements, self.pseudonymizer))
        return _bounded_map(self.pool, process_chunk, chunks, self.in_flight)

    def terminate(self) -> None:
        """Ctrl-C: the workers' half-parsed chunks are dropped (--resume parses those files again)."""
        if self.pool is not None:
            self.pool.terminate()
            self.pool = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


def _bounded_map(pool: Any, fn: Callable[[Any], Any], items: Iterable[Any], limit: int) -> Iterator[Any]:
    """pool.imap with at most `limit` items submitted and not yet consumed (results in order)."""
    pending: deque[Any] = deque()
    source = iter(items)
    for item in source:
        pending.append(pool.apply_async(fn, (item,)))
        if len(pending) >= limit:
            break
    while pending:
        result = pending.popleft().get()
        for item in source:  # refill one
            pending.append(pool.apply_async(fn, (item,)))
            break
        yield result


def _chunks(items: list[SourceFile], size: int) -> Iterator[list[SourceFile]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _already_done(store: GraphStore, files: list[SourceFile], key_of: Callable[[str], str]) -> set[str]:
    """--resume's checkpoint: files whose SourceFile row says ingested with the same size and mtime
    (rows keyed by `key_of(path)`: the path, or its keyed hash when pseudonymized)."""
    done: set[str] = set()
    for start in range(0, len(files), LOOKUP_CHUNK):
        by_path = {key_of(f.path): f for f in files[start:start + LOOKUP_CHUNK]}
        for row in store.run("source_files", keys=list(by_path)).records():
            f = by_path.get(row["key"])
            if f and row.get("status") == "ingested" and row.get("size") == f.size \
                    and row.get("mtime_ns") == f.mtime_ns:
                done.add(f.path)
    return done


def _write_run(store: GraphStore, summary: IngestSummary, started_at: dt.datetime, pseudonymize: bool,
               finished: bool) -> None:
    """The IngestRun node, written when the run starts and when it ends (finished or interrupted)."""
    batch = GraphBatch()
    batch.add_node("IngestRun", {
        "key": summary.run_key, "started_at": started_at, "status": summary.status,
        "finished_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) if finished else None,
        "paths": summary.paths, "files_seen": summary.files_seen, "files_ingested": summary.files_ingested,
        "files_skipped": summary.files_skipped, "files_rejected": summary.files_rejected,
        "instances_new": summary.instances_new, "instances_updated": summary.instances_updated,
        "elapsed_s": round(summary.elapsed_s, 3), "files_per_s": round(summary.files_per_s, 2),
        "report_path": summary.report_path, "workers": summary.workers, "pseudonymized": pseudonymize})
    store.write(batch)
