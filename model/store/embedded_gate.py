"""The gate between dicom-graph's processes on one embedded graph: a writer's statement holds it alone,
a reader's statement shares it, and a reader whose graph file changed since its open reopens first.

Why: ladybug 0.22 protects a read-only open from a writer process's checkpoint, but not what follows the
open (LadybugDB issue #666: the reader's metadata still points at pages a later checkpoint reuses).
Measured beside `ingest --batch 250` with two busy CPUs beside (tests/test_concurrent_readers.py): one
`stats` in about 250 spun for ever in a relationship scan (CSRNodeGroupScanState::tryScanCachedTuples)
over pages rewritten under it; a torn read could as well return a wrong count without an error. Every
change a writer makes to the files happens inside a statement, its open or its close, so those hold the
gate; a reader holds it for each statement and its open.

Two advisory `flock`s on files beside the graph, released by the kernel when a process dies (kill -9
included): the gate itself, and a turnstile a writer holds while it waits for the gate and while it
writes, which a reader passes before taking the gate. Without the turnstile a reader in a loop kept
the gate most of the time: measured, a 3,000-file `ingest --batch 250` took 59-63 s beside one instead
of 26 s alone (1,540 statements waited 35 s in all).

A writer waits for readers' statements at most WRITER_WAIT_S, then goes on beside them and says so: a
reader that never ends must not stop an ingest, and a reader whose graph file changed during its
statement discards the answer and asks again (embedded_connection.py). Processes that are not
dicom-graph (another ladybug program) do not know the gate; they meet the retries in
embedded_connection.py, as before.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .base import StoreError

try:
    import fcntl
except ImportError:  # not POSIX: no gate; the engine's own checks and the retries remain
    fcntl = None  # type: ignore[assignment]

GATE_SUFFIXES = (".dicom-graph.gate", ".dicom-graph.turnstile")
WRITER_WAIT_S = 60.0  # a reader's statement that holds a writer longer is left behind (see above)
READER_WAIT_S = 300.0  # a writer's statement can be long: one COPY of a million instances
_PAUSE_S = 0.001, 0.002  # first and longest pause between attempts: the gaps between statements are short
log = logging.getLogger(__name__)


class GateTimeout(Exception):
    """A reader waited READER_WAIT_S for a writer's statement to end."""


def gate_files(graph: Path) -> tuple[Path, Path]:
    gate, turnstile = (graph.with_name(graph.name + suffix) for suffix in GATE_SUFFIXES)
    return gate, turnstile


class Gate:
    """One process's hold on the gate of one graph; nested holds (a statement inside a transaction, an
    open inside a reopen) take the locks once."""

    def __init__(self, graph: Path, *, writer: bool) -> None:
        self.graph = graph
        self.writer = writer
        gate, turnstile = gate_files(graph)
        self._gate = _open_lock_file(gate, writer=writer)
        self._turnstile = _open_lock_file(turnstile, writer=writer) if self._gate else None
        self._depth = 0
        self._mutex = threading.RLock()
        self._left_behind = False  # a reader held this writer WRITER_WAIT_S; it writes beside readers

    @contextmanager
    def held(self) -> Iterator[bool]:
        """Hold the gate for one statement (or open, or close); yields True on the outermost hold."""
        with self._mutex:
            outermost = self._depth == 0
            if outermost:
                self._acquire()
            self._depth += 1
            try:
                yield outermost
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self) -> None:
        if self._gate is None or self._turnstile is None or fcntl is None:
            return
        if not self.writer:
            deadline = time.monotonic() + READER_WAIT_S
            if not _lock(self._turnstile, fcntl.LOCK_SH, deadline):
                raise GateTimeout(f"a writer's statement held {self.graph} for {READER_WAIT_S:g} s")
            try:  # a writer holds the gate only while it holds the turnstile: no wait here
                if not _lock(self._gate, fcntl.LOCK_SH, deadline):
                    raise GateTimeout(f"a writer held {self.graph} for {READER_WAIT_S:g} s")
            finally:
                fcntl.flock(self._turnstile.fileno(), fcntl.LOCK_UN)
            return
        deadline = time.monotonic() + (0.0 if self._left_behind else WRITER_WAIT_S)
        if _lock(self._turnstile, fcntl.LOCK_EX, deadline):
            if _lock(self._gate, fcntl.LOCK_EX, deadline):
                self._left_behind = False
                return
            fcntl.flock(self._turnstile.fileno(), fcntl.LOCK_UN)
        if not self._left_behind:
            log.warning("a reader's statement has held %s for %g s; writing beside it until it ends (its "
                        "answer is discarded and asked again)", self.graph, WRITER_WAIT_S)
            self._left_behind = True

    def _release(self) -> None:
        if self._gate is None or self._turnstile is None or fcntl is None:
            return
        fcntl.flock(self._gate.fileno(), fcntl.LOCK_UN)  # a no-op when not held
        if self.writer:
            fcntl.flock(self._turnstile.fileno(), fcntl.LOCK_UN)


def _lock(file: io.FileIO, mode: int, deadline: float) -> bool:
    pause, longest = _PAUSE_S
    while True:
        try:
            fcntl.flock(file.fileno(), mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        if time.monotonic() + pause > deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, longest)


def _open_lock_file(path: Path, *, writer: bool) -> io.FileIO | None:
    """A lock file, closed with the Gate. A writer creates it; a reader opens it, or creates it when it
    can, or goes without (a graph on a read-only mount: no writer beside it either)."""
    for mode in ("a",) if writer else ("r", "a"):
        try:
            return io.FileIO(path, mode)
        except OSError as exc:
            if writer:
                raise StoreError(f"cannot create {path} beside the graph: {exc.strerror}") from None
    return None


def signature(graph: Path) -> tuple[int, int, int] | None:
    """What changes when a writer's checkpoint rewrites the graph file."""
    try:
        st = os.stat(graph)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
