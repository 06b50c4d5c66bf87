"""The writer process's side of a run, one parsed file at a time: the only path to the graph's data.

Files are counted and reported as they are parsed, grouped into batches (batcher.py), resolved
(resolve.py) and written (writer.py). When a batch fails to resolve or write (a value the engine
refuses, a path it cannot encode, whatever the extraction did not foresee), the batch is not lost:
it is halved and each half tried again, down to the file(s) that cause the failure, which are then
recorded as rejected with the engine's reason and written as SourceFile rows only. Writes are MERGEs,
so whatever a failed statement had written before it failed is written again harmlessly.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import TYPE_CHECKING, Iterator

from dicom_graph.loader.ingest.batcher import Batcher
from dicom_graph.loader.ingest.resolve import ResolvedBatch, Resolver
from dicom_graph.loader.ingest.sizes import DEFAULT_BATCH_INSTANCES
from dicom_graph.loader.ingest.summary import IngestSummary, RejectionReport
from dicom_graph.loader.ingest.worker import FileOutcome, one_line
from dicom_graph.loader.ingest.writer import source_files, write_batch

if TYPE_CHECKING:
    from dicom_graph.model.store import GraphStore


class BatchCommitter:
    """Counts, reports and writes parsed files; see the module doc for what a failing batch becomes."""

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
        with _signals_held():
            self._write(files)
            self.report.flush()
            self.batcher.written(files)

    def _write(self, files: list[FileOutcome]) -> None:
        try:
            resolved = self.resolver.resolve(files)
            write_batch(self.store, resolved, self.summary.run_key)
        except Exception as exc:
            if len(files) > 1:
                half = len(files) // 2
                self._write(files[:half])
                self._write(files[half:])
            else:
                self._reject(files[0], exc)
            return
        self._written(resolved)

    def _written(self, resolved: ResolvedBatch) -> None:
        self.resolver.written(resolved)
        self.summary.count_instances(resolved)

    def _reject(self, outcome: FileOutcome, exc: Exception) -> None:
        """The one file a failed write was narrowed to: rejected, with the engine's reason."""
        self.summary.uncount_file(outcome)
        outcome.status, outcome.extracted = "rejected", []
        outcome.error_class, outcome.reason = type(exc).__name__, f"not written to the graph: {one_line(exc)}"
        self.summary.count_file(outcome)
        self.report.record(outcome)
        try:
            self.store.write(source_files([outcome], self.summary.run_key), atomic=False)
        except Exception:  # noqa: S110  (its report line says why; --resume will try the file again)
            pass


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the batch in hand is written, then stop the run as they would have.

    Raised in the middle of a write (the CLI turns SIGTERM into KeyboardInterrupt), the interrupt could
    land between two of the store's own steps, e.g. between closing and reopening the embedded database
    to release its buffer pool, and the commit of what was parsed, which the interrupted run still owes,
    then failed with exit 1 instead of 130. Only the main thread may handle signals; elsewhere (a
    listener's writer thread) there is nothing to hold."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if caught:
        raise KeyboardInterrupt
