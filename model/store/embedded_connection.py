"""One open LadybugDB database: opening (and waiting out a writer's checkpoint), executing, reopening,
the table columns it has seen. The store's schema, writes and reads are built on these.

Every open, statement and close holds the gate (embedded_gate.py), so a dicom-graph writer's
checkpoint never runs under a dicom-graph reader's open or statement; a reader reopens when the graph
file has changed since its open. The retries below remain for what the gate does not cover (another
program's writer, a writer that stopped waiting for a reader that never ends).

Why readers wait instead of failing: while a writer process checkpoints (every COPY ends with one),
ladybug 0.22 refuses read-only opens with "checkpoint recovery is pending", and a reader that reads
pages mid-checkpoint is told the database "may be checkpointing"; now and then an open meets the WAL
just as the writer empties it ("Reading past the end of the file ....wal with size 0") or while it
appends a record ("Checksum verification failed, the WAL file is corrupted"). Measured: a
reader opening in a loop beside a writer COPYing 20k-50k-row batches failed 94-96 % of its opens, yet
found a free moment within a second every time. So a reader retries these conditions, with backoff,
for up to READER_WAIT_S.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

import ladybug
import psutil

from .. import schema
from .base import GraphStore, QueryError, ReadOnlyError, StoreError, first_line, quote
from .embedded_gate import Gate, GateTimeout, signature
from .embedded_types import DDL_TYPES

T = TypeVar("T")

# how long a reader waits for a writer's checkpoint to end before it gives up (seconds), and the
# first and longest pause between attempts: a checkpoint of one COPY takes tens of milliseconds
READER_WAIT_S = 10.0
FIRST_PAUSE_S = 0.02
LONGEST_PAUSE_S = 0.5
_CHECKPOINTING = ("checkpoint recovery is pending", "may be checkpointing")
_WAL_IN_FLUX = ("Reading past the end of the file", ".wal")
# a read-only open that replays a WAL the writer is appending to at that moment: measured 1 in 32 opens
# beside an ingest (tests/test_concurrent_readers.py); the next open finds the record whole
_WAL_BEING_WRITTEN = "Checksum verification failed, the WAL file is corrupted"


class CheckpointBusy(StoreError):
    """A writer's checkpoint is in the way of a read: transient, so the read is retried."""


class GraphChanged(CheckpointBusy):
    """A writer rewrote the graph file during a reader's statement: the answer may be torn, so it is
    asked again after a reopen."""


class OpenRace(CheckpointBusy):
    """A read-only open that failed otherwise while a writer may be mid-commit. Beside an ingest, ladybug
    0.22 also fails opens with "Cannot read PIP page N ... out of bounds", "Primary-key index contains an
    invalid local node offset" (tests/test_concurrent_readers.py, about 1 open in 40 each), and the next
    open succeeds: so every read-only open failure is retried, and only one that lasts is reported."""


# ladybug 0.22 compresses DOUBLE columns with ALP at each checkpoint, and rows appended to such a list
# column after a checkpoint can lose elements: 6-10 of 2,400 three-element DOUBLE[] values read back with
# one element 0.0 (an Image Position (Patient) of [-203.6, -384.517, 3.69479] as [-203.6, -384.517, 0.0]),
# whether written by COPY, CREATE or MERGE; never without compression (tests/test_store_double_lists.py).
# Rows written without it stay uncompressed; a writer refuses a graph written with it (embedded.py).
COMPRESSION = False


def buffer_pool_bytes() -> int:
    # a ceiling, not an allocation: readers too (a reader of a 1M graph needed more than 512 MB)
    return int(os.environ.get("DICOM_GRAPH_BUFFER_POOL_MB", 2048)) * 1024 * 1024


def rss() -> int:
    return psutil.Process().memory_info().rss


class EmbeddedConnection(GraphStore):
    """The engine handle every embedded store method goes through (the store is one process's view)."""

    path: Path
    read_only: bool
    reopens: int
    _lock: threading.RLock
    _gate: Gate
    _opened_as: tuple[int, int, int] | None  # the graph file's signature at this open
    _columns: dict[str, set[str]]

    def _open(self) -> None:
        self._used = False  # has this open run a statement (pinning what it touched)?
        self._db = self._wait_for_checkpoint(self._database, f"open graph {self.path}")
        self._conn: Any = ladybug.Connection(self._db)
        self._rss_at_open = rss()

    def _database(self) -> ladybug.Database:
        try:
            with self._gate.held():
                db = ladybug.Database(str(self.path), read_only=self.read_only, compression=COMPRESSION,
                                      buffer_pool_size=buffer_pool_bytes(),
                                      max_num_threads=0 if self.read_only else 1)
                self._opened_as = signature(self.path)
                return db
        except GateTimeout as exc:
            raise StoreError(f"cannot open graph {self.path}: {exc}") from None
        except RuntimeError as exc:
            message = first_line(exc)
            if self.read_only and _checkpointing(message):
                raise CheckpointBusy(message) from None
            if self.read_only:
                raise OpenRace(message) from None
            raise StoreError(f"cannot open graph {self.path}: {message}") from None

    def _wait_for_checkpoint(self, attempt: Callable[[], T], what: str) -> T:
        """Run a read, retrying while a writer's checkpoint is in its way; then one clear line."""
        deadline = time.monotonic() + READER_WAIT_S
        pause = FIRST_PAUSE_S
        while True:
            try:
                return attempt()
            except CheckpointBusy as exc:
                if time.monotonic() + pause > deadline and isinstance(exc, OpenRace):
                    raise StoreError(f"cannot {what}: {exc} (the same after retrying for {READER_WAIT_S:g} s)"
                                     ) from None
                if time.monotonic() + pause > deadline:
                    raise StoreError(
                        f"cannot {what}: a checkpoint was still pending after {READER_WAIT_S:g} s ({exc}); if "
                        f"a writer (ingest, listen, load) is running, retry when it is idle; if none is, a "
                        f"writer's open recovers the graph: dicom-graph query --write 'RETURN 1' "
                        f"--db {self.path}") from None
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE_S)

    def describe(self) -> str:
        return str(self.path)

    def close(self) -> None:
        with self._lock:
            if getattr(self, "_conn", None) is not None:
                self._close_engine()

    def _close_engine(self) -> None:
        with self._gate.held():  # a writer's close checkpoints
            self._conn.close()
            self._db.close()
            self._conn = None

    def _reopen(self) -> None:
        """Close and reopen the database: releases what statements pinned (never inside a transaction)."""
        self._close_engine()
        self._open()
        self.reopens += 1

    def _renew(self) -> None:
        """A reader's new snapshot: close, forget the columns seen (a writer may have added some), open."""
        if getattr(self, "_conn", None) is not None:
            self._close_engine()
        self._columns.clear()
        self._open()

    def _rollback(self) -> None:
        """Roll back after a failure; the engine may already have done so itself."""
        if self._conn is None:
            return
        try:
            with self._gate.held():
                self._conn.execute("ROLLBACK")
        except RuntimeError:
            pass

    @contextmanager
    def _statement(self) -> Iterator[None]:
        """Hold the gate (embedded_gate.py) for one statement, or a reader's read-only transaction. A reader
        whose graph file a writer rewrote since the open reopens first; one whose file changed during the
        statement (a writer that stopped waiting for it) has its answer discarded, and asks again."""
        try:
            with self._gate.held() as outermost:
                if outermost and self.read_only and signature(self.path) != self._opened_as:
                    self._renew()
                yield
                if outermost and self.read_only and signature(self.path) != self._opened_as:
                    raise GraphChanged("the graph file changed while it was read")
        except GateTimeout as exc:
            raise StoreError(f"cannot read {self.path}: {exc}; retry when the writer is idle") from None

    def _execute(self, cypher: str, params: dict[str, Any] | None = None) -> Any:
        if self._conn is None:
            raise StoreError("the graph is closed")
        self._used = True
        try:
            with self._statement():
                return self._conn.execute(cypher, params or {})
        except RuntimeError as exc:
            message = first_line(exc)
            if self.read_only and _checkpointing(message):  # before "read-only": the message says both
                raise CheckpointBusy(message) from None
            if "read-only" in message or "READ ONLY" in message or "read only" in message:
                raise ReadOnlyError(f"refused: the graph is read-only here ({message})") from None
            if "interrupted" in message.lower() or "timeout" in message.lower():
                raise QueryError(f"query stopped by the time limit: {message}") from None
            raise QueryError(message) from None

    # --- columns: the typed schema grows as batches bring new keywords --------------------------
    def _table_columns(self, label: str) -> set[str]:
        if label not in self._columns:
            result = self._execute(f"CALL table_info('{label}') RETURN name")
            self._columns[label] = {row[0] for row in result.get_all()}
        return self._columns[label]

    def _add_column(self, label: str, prop: str, type_: schema.ValueType) -> None:
        self._execute(f"ALTER TABLE {quote(label)} ADD IF NOT EXISTS {quote(prop)} {DDL_TYPES[type_]}")
        self._columns.setdefault(label, set()).add(prop)

    def _ensure_columns(self, label: str, props: Iterable[str]) -> None:
        known = self._table_columns(label)
        for prop in sorted(set(props) - known):
            self._add_column(label, prop, schema.property_type(label, prop))


def _checkpointing(message: str) -> bool:
    return (any(marker in message for marker in _CHECKPOINTING) or _WAL_BEING_WRITTEN in message
            or all(part in message for part in _WAL_IN_FLUX))
