"""Stage 2's driver, in the writer process: files -> FileOutcomes, parsed in worker processes, in order.

A concurrent.futures.ProcessPoolExecutor (forkserver), not a multiprocessing.Pool: when a worker dies
(kill -9, the OOM killer, a crash in a native decoder), a Pool replaces the process and the dead one's
task never completes, so the ingest waited forever; the executor fails every pending task with
BrokenProcessPool instead. Then:
- a new pool parses again every chunk that was only waiting;
- the chunks that were being parsed (their workers' marker files say which: worker.process_marked) are
  suspects: each is retried once, alone in a one-worker pool; if it dies again, its files are retried
  one by one the same way, and a file that still kills its worker is reported (`WorkerDied`), never
  retried in the shared pool.
So one poisonous file costs its own outcome, and every file is accounted for.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import tempfile
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Iterator

from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.dataset.pseudonymize import Pseudonymizer
from dicom_graph.loader.ingest.sizes import CHUNK_FILES, IN_FLIGHT_PER_WORKER
from dicom_graph.loader.ingest.sources import SourceFile
from dicom_graph.loader.ingest.worker import FileOutcome, init_worker, process_file, process_marked, quiet

WATCH_S = 1.0  # how often a wait for a chunk looks at the pool's processes
DEAD_GRACE_S = 5.0  # how long a dead worker's pool may take to say it is broken before it is taken as broken
WORKER_DIED = ("WorkerDied", "the parser process died twice while reading this file (killed, crashed or out "
                             "of memory), once in the shared pool and once alone: the file is not ingested")


class Parsers:
    """Where files are parsed: in this process for a small run or --workers 1, else in a pool."""

    def __init__(self, workers: int, requirements: conformance.Requirements | None,
                 pseudonymizer: Pseudonymizer | None, batch_instances: int) -> None:
        self.workers = workers
        self.initargs = (requirements, pseudonymizer)
        self.in_flight = batch_instances // CHUNK_FILES + IN_FLIGHT_PER_WORKER * workers
        self.pool: ProcessPoolExecutor | None = None
        self.markers = ""
        self.restarts = 0  # pools replaced after a worker died

    def outcomes(self, files: list[SourceFile]) -> Iterator[list[FileOutcome]]:
        chunks = [files[start:start + CHUNK_FILES] for start in range(0, len(files), CHUNK_FILES)]
        if self.workers == 1 or len(files) <= CHUNK_FILES:
            quiet()
            return ([process_file(f, *self.initargs) for f in chunk] for chunk in chunks)
        self.markers = tempfile.mkdtemp(prefix="dicom-graph-parsing-")
        return self._pooled(chunks)

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([process_marked.__module__])  # pydicom imported once, not per worker
        return ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker, initargs=self.initargs)

    def _pooled(self, chunks: list[list[SourceFile]]) -> Iterator[list[FileOutcome]]:
        """Results in chunk order, at most `in_flight` chunks submitted and not yet consumed."""
        self.pool = self._new_pool(self.workers)
        pending: deque[tuple[int, Future[list[FileOutcome]]]] = deque()
        upcoming = iter(range(len(chunks)))
        for i in upcoming:
            pending.append((i, self._submit(i, chunks[i])))
            if len(pending) >= self.in_flight:
                break
        while pending:
            i, future = pending[0]
            try:
                result = self._result(future)
            except BrokenProcessPool:
                pending = self._recover(pending, chunks)
                continue
            pending.popleft()
            for j in upcoming:  # refill one
                pending.append((j, self._submit(j, chunks[j])))
                break
            yield result

    def _result(self, future: Future[list[FileOutcome]]) -> list[FileOutcome]:
        """The chunk's outcomes; a pool one of whose workers is dead counts as broken even if it has not
        said so: its manager thread can stay blocked on a pipe the dead worker held (seen once in CI: the
        ingest waited 300 s for a future that never ended)."""
        dead_since: float | None = None
        while True:
            try:
                return future.result(timeout=WATCH_S)
            except TimeoutError:
                if not self._a_worker_died():
                    dead_since = None
                elif dead_since is None:
                    dead_since = time.monotonic()
                elif time.monotonic() - dead_since > DEAD_GRACE_S:
                    raise BrokenProcessPool("a parser process died and its pool did not report it") from None

    def _a_worker_died(self) -> bool:
        processes = (getattr(self.pool, "_processes", None) or {}).values()
        return any(p.exitcode is not None for p in list(processes))

    def _submit(self, i: int, chunk: list[SourceFile]) -> Future[list[FileOutcome]]:
        """A broken pool refuses new work at once: the refusal waits in the queue like a result, so the
        chunks are recovered in order when it is reached."""
        assert self.pool is not None
        try:
            return self.pool.submit(process_marked, i, chunk, self.markers)
        except BrokenProcessPool as exc:
            refused: Future[list[FileOutcome]] = Future()
            refused.set_exception(exc)
            return refused

    def _recover(self, pending: deque[tuple[int, Future[list[FileOutcome]]]],
                 chunks: list[list[SourceFile]]) -> deque[tuple[int, Future[list[FileOutcome]]]]:
        """A worker died: waiting chunks go to a new pool, the suspects are settled alone (module doc)."""
        suspects = self._suspects()
        self.restarts += 1
        if self.pool is not None:
            _abandon(self.pool)
        self.pool = self._new_pool(self.workers)
        again: deque[tuple[int, Future[list[FileOutcome]]]] = deque()
        for i, future in pending:
            if future.done() and future.exception() is None:
                again.append((i, future))  # finished before the death: its result stands
            elif i in suspects:
                settled: Future[list[FileOutcome]] = Future()
                settled.set_result(self._alone(chunks[i]))
                again.append((i, settled))
            else:
                again.append((i, self._submit(i, chunks[i])))
        return again

    def _suspects(self) -> set[int]:
        """The chunks whose markers a dead (or terminated) worker left behind; the markers are cleared."""
        found: set[int] = set()
        for name in os.listdir(self.markers):
            path = os.path.join(self.markers, name)
            try:
                with open(path, encoding="ascii") as fh:
                    found.add(int(fh.read()))
            except (OSError, ValueError):
                pass  # killed while writing its marker: its chunk had not started
            os.unlink(path)
        return found

    def _alone(self, chunk: list[SourceFile]) -> list[FileOutcome]:
        """Parse a suspect chunk in a pool of its own; if it dies there, file by file; a file that dies
        alone is reported."""
        solo = self._new_pool(1)
        try:
            outcomes = solo.submit(process_marked, -1, chunk, self.markers).result()
            solo.shutdown(wait=True)
            return outcomes
        except BrokenProcessPool:
            _abandon(solo)
            self._suspects()  # its marker, cleared
            if len(chunk) > 1:
                return [o for f in chunk for o in self._alone([f])]
            f = chunk[0]
            return [FileOutcome(f.path, f.size, f.mtime_ns, "rejected", error_class=WORKER_DIED[0],
                                reason=WORKER_DIED[1])]

    def terminate(self) -> None:
        """Ctrl-C: waiting chunks are dropped, running ones end with their chunk (--resume parses the
        files whose batch was not committed)."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
        if self.markers:
            shutil.rmtree(self.markers, ignore_errors=True)


def _abandon(pool: ProcessPoolExecutor) -> None:
    """Let go of a broken pool without waiting for it: a shutdown(wait=True) of a pool whose worker was
    killed can block on the pool's queue threads (a worker killed mid-read leaves the task queue's pipe
    and lock in any state); once, under load, the ingest never finished that way. Its surviving workers
    are ended, not joined."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.kill()
