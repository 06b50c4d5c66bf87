"""The graph's own reader/writer lock: readers and the one writer of an embedded graph take turns.

Why the engine's guard is not enough (ladybug 0.22): a read-only open replays the WAL over the data
file's last checkpoint, and it stays clear of a writer's checkpoint only through two lock files that
the checkpoint itself creates and deletes (`<db>.checkpoint.intent.lock`, `.apply.lock`, removed at
the end of every checkpoint since LadybugDB PR #687). A reader that looks while they are absent takes
no lock at all; a checkpoint that starts a moment later renames the WAL away, rewrites the header and
applies shadow pages while the reader is still reading the WAL, the header and the metadata. The
reader then answers from an older checkpoint without the WAL's commits (a count that goes down:
Instance 1,968 -> 0 -> 2,000 beside `listen`), or fails ("Reading past the end of the file ....wal",
"invalid local node offset", "Checksum verification failed"). LadybugDB's maintainers list the open
races this leaves (PR #615: a reader opening while the active WAL is appended to; a long-lived reader
whose pages a later checkpoint rewrites). So the store keeps a lock of its own beside the graph:

- the writer holds it exclusively whenever the engine may touch the graph's files: its open, every
  statement (a commit appends to the WAL and may checkpoint; a COPY always does) and its close;
- a reader holds it shared while it opens the graph and while each statement runs: no checkpoint can
  start under it, so what it replays is one committed state;
- a writer waiting for it goes first (a turnstile that readers pass through), so readers in a loop
  cannot starve an ingest; and a writer about to take it lets readers already waiting go first (up to
  WRITER_YIELD_S), or a writer running statements back to back would leave them no gap (measured: 6x
  fewer reads beside an ingest); a reader waits at most until its deadline, then says so in one line.

flock(2) locks belong to an open file, so each store holds its own and threads of one process exclude
each other as processes do; nested use by the same store is counted, not re-locked.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .base import StoreError

# a reader's first and longest pause between attempts while the writer holds the lock (seconds)
_FIRST_PAUSE_S = 0.002
_LONGEST_PAUSE_S = 0.02
# how long a writer lets waiting readers go first, per statement, before it takes its turn (seconds)
WRITER_YIELD_S = 0.1


class GraphLock:
    def __init__(self, graph: Path) -> None:
        self.graph = graph
        self._files = {name: Path(f"{graph}.dicom-graph.{name}") for name in ("turn", "lock", "wait")}
        self._fds: dict[str, int] = {}
        self._depth = 0
        self._mutex = threading.RLock()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """The writer's: blocks until every reader's open or statement in progress has ended."""
        with self._mutex:
            if self._enter():
                try:
                    self._yield_to_readers()
                    self._flock("turn", fcntl.LOCK_EX, None)
                    self._flock("lock", fcntl.LOCK_EX, None)
                except BaseException:
                    self._exit()
                    raise
            try:
                yield
            finally:
                self._exit()

    @contextmanager
    def shared(self, deadline: float) -> Iterator[None]:
        """A reader's: waits for the writer's statement to end, until `deadline` (time.monotonic())."""
        with self._mutex:
            if self._enter():
                try:
                    self._flock("wait", fcntl.LOCK_SH, deadline)  # "a reader is waiting", for the writer
                    self._flock("turn", fcntl.LOCK_EX, deadline)  # behind a waiting writer, not past it
                    self._unlock("turn")
                    self._flock("lock", fcntl.LOCK_SH, deadline)
                    self._unlock("wait")
                except BaseException:
                    self._exit()
                    raise
            try:
                yield
            finally:
                self._exit()

    def _yield_to_readers(self) -> None:
        """Wait (briefly) while readers wait: they hold "wait" shared until they hold the lock."""
        give_up = time.monotonic() + WRITER_YIELD_S
        while time.monotonic() < give_up:
            try:
                self._flock("wait", fcntl.LOCK_EX | fcntl.LOCK_NB, None)
            except BlockingIOError:
                time.sleep(_FIRST_PAUSE_S)
                continue
            self._unlock("wait")
            return

    def _unlock(self, name: str) -> None:
        if name in self._fds:
            fcntl.flock(self._fds[name], fcntl.LOCK_UN)

    def _enter(self) -> bool:
        """Count one more holder; True if this is the first, which must take the lock."""
        self._depth += 1
        return self._depth == 1

    def _exit(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            for fd in self._fds.values():
                os.close(fd)  # closing the file releases its flock
            self._fds.clear()

    def _flock(self, name: str, operation: int, deadline: float | None) -> None:
        fd = self._fds.get(name)
        if fd is None:
            try:
                fd = os.open(self._files[name], os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:  # a graph on read-only storage: no writer can change it
                fd = os.open(self._files[name], os.O_RDONLY) if self._files[name].exists() else -1
            if fd < 0:
                return
            self._fds[name] = fd
        if deadline is None:
            fcntl.flock(fd, operation)
            return
        pause = _FIRST_PAUSE_S
        while True:
            try:
                fcntl.flock(fd, operation | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() + pause > deadline:
                    raise StoreError(f"cannot read {self.graph}: its writer kept it busy (ingest, listen or "
                                     f"load in one long statement); retry when it is idle") from None
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE_S)
