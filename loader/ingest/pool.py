"""Worker processes that each own a pipe: chunks of items mapped in order, whatever kills a worker.

Why not concurrent.futures or multiprocessing.Pool: their workers share one task queue, with a lock and
a feeder thread in this process, and a manager thread that the interpreter joins at exit. A worker
killed while it held the queue's lock or read its pipe (kill -9, the OOM killer, a crash in a native
decoder) left them in a state no shutdown undoes: three times in CI the ingest finished its work and
then never exited, or waited for a task that had died with its worker.

Here each worker has its own duplex pipe and holds one task at a time, so a death costs that worker's
task only, and which task it was is known without asking (its sentinel fires or its pipe ends). Nothing
is shared between workers. The dispatcher is a daemon thread (never joined at exit) that keeps every
worker busy and drains the results as they come, so that no worker waits on a full pipe while the
consumer is busy; the workers are daemon processes, ended at exit if still alive.

A dead worker's task is retried once; if it dies again and holds several items, each is retried alone;
an item that kills its worker alone gets `died(item)` as its result. Results come out in chunk order,
with at most `ahead` chunks taken and not yet consumed.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

POLL_S = 0.1  # the dispatcher's longest sleep: how soon it sees a consumed chunk or a stop
JOIN_S = 5.0  # how long a worker asked to stop may take before it is killed


def serve(conn: Connection, work: Callable[[list[Any]], list[Any]], initializer: Callable[..., None],
          initargs: tuple[Any, ...]) -> None:
    """A worker's life: the run's settings once, then one task per message until told to stop."""
    initializer(*initargs)
    while True:
        try:
            items = conn.recv()
        except EOFError:  # the dispatcher is gone
            return
        if items is None:
            return
        conn.send(work(items))


@dataclass
class _Task(Generic[T]):
    chunk: int
    start: int  # the first item's place in its chunk: how a split chunk is put back in order
    items: list[T]
    attempt: int = 0  # 0: first; 1: again after its worker died; 2: one item, after a second death


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    task: _Task[Any] | None = None


@dataclass
class _Chunk(Generic[R]):
    pieces: dict[int, list[R]] = field(default_factory=dict)
    missing: int = 1  # tasks of this chunk not finished yet


class OrderedPool(Generic[T, R]):
    """`map(chunks)` yields `work(chunk)` for each chunk, in order, computed by `workers` processes."""

    def __init__(self, workers: int, work: Callable[[list[T]], list[R]], died: Callable[[T], R],
                 initializer: Callable[..., None], initargs: tuple[Any, ...], ahead: int) -> None:
        self.size = workers
        self.work, self.died = work, died
        self.initializer, self.initargs = initializer, initargs
        self.ahead = max(ahead, workers)
        self.ctx = mp.get_context("forkserver")
        self.ctx.set_forkserver_preload([work.__module__])  # its imports done once, not per worker
        self.deaths = 0  # workers that died and were replaced
        self._workers: list[_Worker] = []
        self._stop = threading.Event()
        self._consumed = 0  # chunks the consumer has taken (written by the consumer only)
        self._results: queue.Queue[tuple[int, list[R]] | BaseException] = queue.Queue()
        self._thread: threading.Thread | None = None

    def map(self, chunks: list[list[T]]) -> Iterator[list[R]]:
        self._thread = threading.Thread(target=self._dispatch, args=(chunks,), name="dicom-graph-dispatcher",
                                        daemon=True)
        self._thread.start()
        done: dict[int, list[R]] = {}
        for i in range(len(chunks)):
            while i not in done:
                got = self._next_result()
                if isinstance(got, BaseException):
                    raise got
                done[got[0]] = got[1]
            self._consumed = i + 1
            yield done.pop(i)

    def _next_result(self) -> tuple[int, list[R]] | BaseException:
        while True:  # short waits, so that Ctrl-C reaches the consumer at once
            try:
                return self._results.get(timeout=POLL_S)
            except queue.Empty:
                if self._thread is not None and not self._thread.is_alive() and self._results.empty():
                    return RuntimeError("the parser dispatcher stopped without a result")

    def close(self, kill: bool = False) -> None:
        """Stop the dispatcher and the workers: idle ones are asked to end (or killed, with `kill`),
        busy ones are killed; none is waited for longer than JOIN_S."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_S)
        for w in self._workers:
            if w.task is None and not kill:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        for w in self._workers:
            w.process.join(0 if kill or w.task is not None else JOIN_S)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(JOIN_S)
            w.conn.close()
        self._workers = []

    # -- the dispatcher thread ---------------------------------------------------------------------------

    def _dispatch(self, chunks: list[list[T]]) -> None:
        try:
            self._run(chunks)
        except BaseException as exc:  # noqa: BLE001  (handed to the consumer, which raises it)
            self._results.put(exc)

    def _run(self, chunks: list[list[T]]) -> None:
        todo: deque[_Task[T]] = deque()
        state: dict[int, _Chunk[R]] = {}
        taken = 0
        self._workers = [self._start() for _ in range(min(self.size, len(chunks)))]
        while not self._stop.is_set() and (taken < len(chunks) or state):
            while taken < len(chunks) and taken - self._consumed < self.ahead:
                todo.append(_Task(taken, 0, chunks[taken]))
                state[taken] = _Chunk()
                taken += 1
            for w in self._workers:
                if w.task is None and todo:
                    self._assign(w, todo.popleft(), todo)
            busy = [w for w in self._workers if w.task is not None]
            if not busy:
                self._stop.wait(POLL_S)
                continue
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], POLL_S))
            for w in busy:
                if w.conn in ready or w.process.sentinel in ready:
                    self._collect(w, todo, state)

    def _start(self) -> _Worker:
        mine, theirs = self.ctx.Pipe(duplex=True)
        process = self.ctx.Process(target=serve, args=(theirs, self.work, self.initializer, self.initargs),
                                   name="dicom-graph-parser", daemon=True)
        process.start()
        theirs.close()  # its only holder is the worker now: its death ends the pipe
        return _Worker(process, mine)

    def _assign(self, w: _Worker, task: _Task[T], todo: deque[_Task[T]]) -> None:
        w.task = task
        try:
            w.conn.send(task.items)
        except OSError:  # it died idle: the task goes back first, the worker is replaced
            w.task = None
            todo.appendleft(task)
            self._replace(w)

    def _collect(self, w: _Worker, todo: deque[_Task[T]], state: dict[int, _Chunk[R]]) -> None:
        task = w.task
        assert task is not None
        try:
            result: list[R] | None = w.conn.recv() if w.conn.poll() else None
        except (EOFError, OSError):  # it died while sending
            result = None
        if result is None and w.process.is_alive():
            return  # woken by its sentinel's neighbour: nothing yet
        w.task = None
        if result is None:
            self._replace(w)
            for again in _after_death(task):
                state[task.chunk].missing += 1
                todo.appendleft(again)
            if task.attempt >= 1 and len(task.items) == 1:
                result = [self.died(task.items[0])]
            else:
                state[task.chunk].missing -= 1
                return
        chunk = state[task.chunk]
        chunk.pieces[task.start] = result
        chunk.missing -= 1
        if chunk.missing == 0:
            del state[task.chunk]
            self._results.put((task.chunk, [r for start in sorted(chunk.pieces) for r in chunk.pieces[start]]))

    def _replace(self, w: _Worker) -> None:
        self.deaths += 1
        w.process.join(0)
        w.conn.close()
        fresh = self._start()
        w.process, w.conn = fresh.process, fresh.conn


def _after_death(task: _Task[T]) -> list[_Task[T]]:
    """What is tried next for a task whose worker died (module doc): nothing for a lone item's second death."""
    if task.attempt == 0:
        return [_Task(task.chunk, task.start, task.items, 1)]
    if len(task.items) > 1:
        return [_Task(task.chunk, task.start + k, [item], 2) for k, item in enumerate(task.items)]
    return []
