"""The listener's one graph writer: spooled instances -> the graph, in micro-batches, through the ingest's path.

A C-STORE is answered as soon as its dataset is checked and spooled (storage.py, spool.py); the graph
write is this thread's: every `batch` instances or `window_s` seconds (ListenerConfig: 300, 1 s) after
the oldest pending one, whichever comes first, the pending instances go through `resolve.Resolver` and
`writer.write_graph`, the file ingest's own resolve and write, so a received instance has the graph the
same file ingested would have (conflict policy, Study.patient_keys, entity records, unknown SOP classes).
Only then, with --store-dir, are its files written there (fsynced), and then its spool records marked
written. The bound on visibility is therefore `window_s` plus one batch write, as long as the writer
keeps up.

Order: `flush()` returns once everything received before the call is committed. MPPS and Storage
Commitment call it before they read the graph, so they see every C-STORE that came before them.

A batch that fails is halved down to the instance that causes it (as the ingest's committer does);
that instance's dataset is kept in the spool's `rejected/` folder with the engine's reason, logged.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dicom_graph.loader.dataset.extract import Extracted
from dicom_graph.loader.ingest.resolve import Resolver
from dicom_graph.loader.ingest.worker import FileOutcome, one_line
from dicom_graph.loader.ingest.writer import write_graph

from .context import LOG, ServiceContext
from .spool import Entry, Spool

HELD_BATCHES = 20  # instances waiting for the graph, in batches, before the senders wait too


@dataclass
class Received:
    """One spooled instance waiting for the graph: its extraction, its record, and its --store-dir name."""

    extracted: Extracted
    entry: Entry
    data: bytes
    final: Path | None


class MicroBatches:
    def __init__(self, context: ServiceContext, spool: Spool) -> None:
        self.context, self.spool = context, spool
        self.batch, self.window_s = context.config.batch, context.config.window_s
        self.resolver = Resolver(context.store)
        self._pending: list[Received] = []
        self._oldest = 0.0  # monotonic time the oldest pending instance arrived
        self._queued = self._committed = 0  # instances put / taken and settled (written or rejected)
        self._flushing = 0  # callers waiting in flush(): write now, do not wait for the window
        self._stopping = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="listener-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, item: Received) -> None:
        """Queue one instance; while `HELD_BATCHES` batches already wait, the sender waits too (its C-STORE
        is answered later), so a writer that cannot keep up bounds the memory, not the senders' pace."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._pending) < HELD_BATCHES * self.batch or self._stopping)
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append(item)
            self._queued += 1
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every instance put before this call is settled; False if `timeout` ran out."""
        with self._cond:
            target = self._queued
            self._flushing += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._committed >= target, timeout)
            finally:
                self._flushing -= 1

    def stop(self) -> None:
        """Write what is pending, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    self._cond.wait(self._left() if self._pending else None)
                if not self._pending and self._stopping:
                    return
                items, self._pending = self._pending[:self.batch], self._pending[self.batch:]
                self._oldest = time.monotonic() if self._pending else 0.0
            try:
                self._write(items)
            except Exception as exc:  # noqa: BLE001 - the writer must outlive anything; entries stay spooled
                LOG.exception("graph write of %d spooled instances failed: %s", len(items), exc)
            with self._cond:
                self._committed += len(items)
                self._cond.notify_all()

    def _due(self) -> bool:
        if not self._pending:
            return self._stopping
        return (len(self._pending) >= self.batch or self._flushing > 0 or self._stopping
                or self._left() <= 0)

    def _left(self) -> float:
        return max(0.0, self._oldest + self.window_s - time.monotonic())

    def _write(self, items: list[Received]) -> None:
        """Resolve and write `items` as the ingest writes a batch; halve on failure (module doc)."""
        started = time.perf_counter()
        try:
            with self.context.lock:
                resolved = self.resolver.resolve([_outcome(item) for item in items])
                write_graph(self.context.store, resolved, atomic=True)
                self.resolver.written(resolved)
        except Exception as exc:
            if len(items) == 1:
                self._reject(items[0], exc)
                return
            half = len(items) // 2
            self._write(items[:half])
            self._write(items[half:])
            return
        keep([(item.final, item.data) for item in items if item.final is not None])
        self.spool.done([item.entry for item in items])
        self.context.counts["stored"] += len(items)
        LOG.info("wrote %d received instances to the graph in %.0f ms", len(items),
                 (time.perf_counter() - started) * 1000)

    def _reject(self, item: Received, exc: Exception) -> None:
        reason = f"not written to the graph: {one_line(exc)}"
        kept = self.spool.reject(item.entry, item.data, item.extracted.sop_instance_uid, reason)
        self.context.counts["failed"] += 1
        LOG.error("C-STORE %s: %s (the dataset is kept in %s)", item.extracted.sop_instance_uid, reason, kept)


def _outcome(item: Received) -> FileOutcome:
    """The ingest's hand-off for one received instance (only `extracted` is read by the resolver)."""
    name = str(item.final or f"{item.entry.segment}@{item.entry.offset}")
    return FileOutcome(name, len(item.data), 0, "ingested", extracted=[item.extracted])


def keep(files: list[tuple[Path, bytes]]) -> None:
    """--store-dir: each file whole under its name (temporary name, fdatasync, rename), the folder synced
    once; before the spool forgets the records, so that a crash leaves one or the other."""
    for final, data in files:
        tmp = final.with_name(f".{final.name}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fdatasync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    for folder in {final.parent for final, _ in files}:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
