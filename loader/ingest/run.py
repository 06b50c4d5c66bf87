"""Stage 5, the run: walk -> parse in worker processes -> batch -> resolve -> write, with checkpoints.

    summary = run_ingest(store, ["/archive"], workers=8, resume=True)

- walk: every file under the paths (sources.walk), stat'ed once, each entry it skips a report line;
  with --resume, files whose (path, size, mtime_ns) match a SourceFile marked done are skipped.
- parse: a process pool (parsers.py) reads chunks of files (headers only) and extracts records
  (worker.py); only small picklable FileOutcomes come back, at most a bounded number in flight; a
  worker that dies is replaced and its chunk retried alone.
- write (BatchCommitter, in this process): outcomes are counted and reported, grouped into batches of
  ~`batch_instances` instances (batcher.py), resolved against the graph (resolve.py) and written, then,
  and only then, their files are marked done (writer.py). A kill -9 at any moment therefore loses at
  most uncommitted batches, whose files --resume parses again; the run's IngestRun (keyed by the
  paths) is continued, not duplicated.
- Ctrl-C (or SIGTERM, see the ingest command): the pending batch is committed, workers stop, the run
  is marked interrupted. Any other error that stops the run marks it failed before it is raised:
  no IngestRun is left "running". A failure of one file never stops the run (worker.py, committer.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from typing import TYPE_CHECKING, Any, Callable

from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.dataset.pseudonymize import Pseudonymizer
from dicom_graph.loader.ingest.committer import BatchCommitter
from dicom_graph.loader.ingest.garbage import fewer_collections
from dicom_graph.loader.ingest.parsers import Parsers
from dicom_graph.loader.ingest.progress import Progress
from dicom_graph.loader.ingest.sizes import DEFAULT_BATCH_INSTANCES, LOOKUP_CHUNK
from dicom_graph.loader.ingest.sources import SourceFile, stored_path, walk
from dicom_graph.loader.ingest.summary import IngestSummary, RejectionReport, default_report_path, run_key_for
from dicom_graph.model.batch import GraphBatch

DONE_STATUSES = ("ingested", "recovered", "damaged")

if TYPE_CHECKING:
    from dicom_graph.model.store import GraphStore


@fewer_collections()
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
        shown_paths = [pseudonymizer.path(_stored_key(p)) for p in abs_paths]
    report_path = os.path.abspath(report_path or default_report_path(store, run_key))
    summary = IngestSummary(run_key=run_key, paths=shown_paths, report_path=report_path, workers=workers)

    # DICOM_GRAPH_BENCH_NO_CONFORMANCE=1: for bench/conformance.py only, which times the ingest with the
    # evaluation on and off in one run (the standard loaded both times); users never set it
    skip = os.environ.get("DICOM_GRAPH_BENCH_NO_CONFORMANCE") == "1"
    requirements = None if skip else conformance.load_requirements(store) or None
    summary.conformance_checked = requirements is not None

    previous = store.run("ingest_run", key=run_key).records()
    started_at = (previous[0]["started_at"] if previous and previous[0].get("started_at") and resume
                  else dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    write_run(store, summary, started_at, pseudonymize, finished=False)

    try:
        os.makedirs(os.path.dirname(report_path) or ".", exist_ok=True)
        with open(report_path, "w", encoding="utf-8") as out:
            report = RejectionReport(out)
            files = list(walk(abs_paths, skip={report_path}, on_skip=lambda p, why: _skipped(summary, report, p, why, pseudonymizer)))
            summary.files_seen = len(files)
            if resume:
                done = _already_done(store, files, _hashed_key(pseudonymizer) if pseudonymizer else _stored_key)
                summary.files_skipped = len(done)
                files = [f for f in files if f.path not in done]
            committer = BatchCommitter(store, summary, report, batch_instances)
            parsers = Parsers(workers, requirements, pseudonymizer, batch_instances)
            summary.status = _parse_and_commit(files, parsers, committer, Progress(len(files), progress, summary))
    except BaseException:
        # whatever stops the run, its IngestRun must not stay "running" (then the error goes on up)
        summary.status = "failed"
        summary.elapsed_s = time.monotonic() - t0
        with contextlib.suppress(Exception):
            write_run(store, summary, started_at, pseudonymize, finished=False)
        raise
    summary.elapsed_s = time.monotonic() - t0
    write_run(store, summary, started_at, pseudonymize, finished=summary.status == "finished")
    return summary


def _skipped(summary: IngestSummary, report: RejectionReport, path: str, reason: str,
             pseudonymizer: Pseudonymizer | None) -> None:
    summary.entries_skipped += 1
    if pseudonymizer:  # the report names a skipped entry as it names any file: by its keyed hash
        path, reason = pseudonymizer.path(_stored_key(path)), pseudonymizer.scrub(reason, path)
    report.skipped(path, reason)


def _parse_and_commit(files: list[SourceFile], parsers: Parsers, committer: BatchCommitter,
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


def _stored_key(path: str) -> str:
    return stored_path(path)[0]


def _hashed_key(pseudonymizer: Pseudonymizer) -> Callable[[str], str]:
    """Pseudonymized, a file is known by the keyed hash of its stored path (worker.process_file)."""
    return lambda path: pseudonymizer.path(_stored_key(path))


def _already_done(store: GraphStore, files: list[SourceFile], key_of: Callable[[str], str]) -> set[str]:
    """--resume's checkpoint: files whose SourceFile row says ingested (also recovered or damaged: the same
    bytes would give the same outcome) with the same size and mtime; looked up by their stored key
    (`key_of(path)`: the path's stored text form, or its keyed hash when pseudonymized)."""
    done: set[str] = set()
    for start in range(0, len(files), LOOKUP_CHUNK):
        by_key = {key_of(f.path): f for f in files[start:start + LOOKUP_CHUNK]}
        for row in store.run("source_files", keys=list(by_key)).records():
            f = by_key.get(row["key"])
            if f and row.get("status") in DONE_STATUSES and row.get("size") == f.size \
                    and row.get("mtime_ns") == f.mtime_ns:
                done.add(f.path)
    return done


def write_run(store: GraphStore, summary: IngestSummary, started_at: dt.datetime, pseudonymize: bool,
               finished: bool) -> None:
    """The IngestRun node, written when the run starts and when it ends (finished or interrupted)."""
    batch = GraphBatch()
    batch.add_node("IngestRun", run_row(summary, started_at, pseudonymize, finished))
    store.write(batch)


def run_row(summary: IngestSummary, started_at: dt.datetime, pseudonymize: bool, finished: bool) -> dict[str, Any]:
    """The IngestRun's properties (also what a neo4j-admin import writes for its load: bulk/admin.py)."""
    return {
        "key": summary.run_key, "started_at": started_at, "status": summary.status,
        "finished_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) if finished else None,
        "paths": summary.paths, "files_seen": summary.files_seen, "files_ingested": summary.files_ingested,
        "files_skipped": summary.files_skipped, "files_rejected": summary.files_rejected,
        "instances_new": summary.instances_new, "instances_updated": summary.instances_updated,
        "elapsed_s": round(summary.elapsed_s, 3), "files_per_s": round(summary.files_per_s, 2),
        "report_path": summary.report_path, "workers": summary.workers, "pseudonymized": pseudonymize}
