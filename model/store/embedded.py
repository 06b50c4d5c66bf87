"""The embedded store: LadybugDB, in-process, one file per graph.

Why it is shaped this way (measurements in ENGINE-NOTES.md):
- LadybugDB has a typed schema, so tables come from model.schema (types mapped in embedded_types.py)
  and a property column is added with `ALTER TABLE ... ADD` the first time a batch carries it.
- Writes (embedded_write.py) copy new rows in bulk and merge the rest, bounding the buffer pool;
  `load` copies Parquet shards as they are (embedded_bulk.py).
- One writer process at a time (the engine holds a file lock); readers open read-only and see the graph
  as of their open, or of the writer's latest checkpoint: a statement of a reader whose graph file a
  writer has rewritten since reopens first (embedded_gate.py), and `refresh()` reopens on demand. A
  reader waits out a writer's statement rather than fail (embedded_connection.py).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

from .. import schema
from .base import (VERSION_QUERY, GraphNotFound, QueryError, QueryResult, ReadOnlyError, StoreError, plain,
                   quote)
from .embedded_types import DDL_TYPES
from .embedded_bulk import EmbeddedBulk
from .embedded_gate import Gate
from .page_cache import PageCacheWarmer, warm


T = TypeVar("T")


class EmbeddedStore(EmbeddedBulk):
    dialect = "embedded"

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = True,
                 create: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a directory; --db names the graph file, e.g. {self.path}/graph.db")
        if not self.path.exists():
            if read_only or not create:
                raise GraphNotFound(
                    f"no graph at {self.path}; create one with `dicom-graph standard load` or "
                    f"`dicom-graph ingest PATH` (or pass --db)")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._gate = Gate(self.path, writer=not read_only)
        self._columns = {}
        self.reopens = 0
        self._open()
        try:
            self.check_schema_version()
            if not read_only:
                self._refuse_compressed_decimals()
        except StoreError:
            self.close()  # a writer's file lock must not outlive the refusal
            raise

    def refresh(self) -> None:
        """A read-only open is a snapshot: reopen to see what writers committed since."""
        if self.read_only:
            with self._lock:
                self._renew()

    def prewarm(self) -> PageCacheWarmer | None:
        """The graph file read once into the OS page cache (page_cache.py), unless it is too large."""
        return warm(self.path)

    # --- schema ---------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        if self.read_only:
            raise ReadOnlyError("the graph is open read-only; the schema can only be created by a writer")
        with self._lock:
            for node_type in schema.STORED_NODE_TYPES:
                columns = ", ".join(f"{quote(p)} {DDL_TYPES[t]}" for p, t in node_type.props.items())
                self._execute(f"CREATE NODE TABLE IF NOT EXISTS {quote(node_type.label)}"
                              f"({columns}, PRIMARY KEY({quote(node_type.key)}))")
                missing = set(node_type.props) - self._table_columns(node_type.label)
                for prop in sorted(missing):  # a graph made by an older release
                    self._add_column(node_type.label, prop, node_type.props[prop])
            for rel_type in schema.REL_TYPES:
                pairs = ", ".join(f"FROM {quote(a)} TO {quote(b)}" for a, b in rel_type.pairs)
                props = "".join(f", {quote(p)} {DDL_TYPES[t]}" for p, t in rel_type.props.items())
                self._execute(f"CREATE REL TABLE IF NOT EXISTS {quote(rel_type.type)}({pairs}{props})")
                missing = set(rel_type.props) - self._table_columns(rel_type.type)
                for prop in sorted(missing):  # a relationship property added since the graph was made
                    self._add_column(rel_type.type, prop, rel_type.props[prop])
            self.record_version()

    def _refuse_compressed_decimals(self) -> None:
        """A graph that a dicom-graph before COMPRESSION (embedded_connection.py) wrote has its decimals
        compressed, and rows appended to it can lose list elements, so a writer refuses it in words that
        say what to do. Reading it is left alone: what it holds was stored before this open."""
        with self._lock, self._statement():
            tables = [row[0] for row in self._execute("CALL show_tables() RETURN name, type").get_all()
                      if row[1] == "NODE"]
            compressed = [table for table in tables if self._execute(
                f"CALL storage_info('{table}') WHERE compression STARTS WITH 'FLOAT_COMPRESSION' "
                f"RETURN count(*)").get_all()[0][0]]
        if compressed:
            raise StoreError(
                f"{self.path}: its decimal columns ({', '.join(compressed)}) were stored compressed by an "
                f"earlier dicom-graph, and LadybugDB 0.22 can lose elements of multi-valued decimals (Image "
                f"Position, Pixel Spacing) added to such columns: build a new graph (standard load, then "
                f"ingest the same files into a new --db); reading this one still works")

    def recorded_version(self) -> tuple[int, str | None] | None:
        def read() -> tuple[int, str | None] | None:
            with self._lock, self._statement():
                tables = {row[0] for row in self._execute("CALL show_tables() RETURN name").get_all()}
                if schema.GRAPH_VERSION.label not in tables:  # written before the version node existed
                    return None
                rows = self._execute(VERSION_QUERY).get_all()
            return (int(rows[0][0]), rows[0][1]) if rows and rows[0][0] is not None else None

        return self._wait_for_checkpoint(read, f"read the schema version of {self.path}")

    # --- reading --------------------------------------------------------------------------------
    def query(self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False,
              timeout_s: float | None = None) -> QueryResult:
        from ..read_only import check_read  # what a read is, decided before the engine sees it
        check_read(cypher, self.dialect, write=write)
        if write and self.read_only:
            raise ReadOnlyError("the graph is open read-only; pass --write to change it")
        try:
            return self._query(cypher, params, write, timeout_s)
        except QueryError as exc:
            # what earlier reads pinned stays until close (see UPDATE_SLICE): a long-lived reader such
            # as the dashboard reopens and asks again, once; a write is never retried
            if write or "buffer pool is full" not in str(exc):
                raise
            with self._lock:
                self._reopen()
            return self._query(cypher, params, write, timeout_s)

    def _query(self, cypher: str, params: dict[str, Any] | None, write: bool,
               timeout_s: float | None) -> QueryResult:
        return self._wait_for_checkpoint(lambda: self._query_once(cypher, params, write, timeout_s),
                                         f"read {self.path}")

    def _query_once(self, cypher: str, params: dict[str, Any] | None, write: bool,
                    timeout_s: float | None) -> QueryResult:
        with self._lock, self._statement():
            if timeout_s:
                self._conn.set_query_timeout(int(timeout_s * 1000))
            guarded = not write and not self.read_only
            try:
                if guarded:  # a writable store still refuses writes on the read path
                    self._execute("BEGIN TRANSACTION READ ONLY")
                result = self._execute(cypher, params or {})
                if isinstance(result, list):
                    result = result[-1]
                columns = result.get_column_names()
                rows = [[_value(v) for v in row] for row in result.get_all()]
                if guarded:
                    self._execute("COMMIT")
            except BaseException:
                if guarded:
                    self._rollback()
                raise
            finally:
                if timeout_s:
                    self._conn.set_query_timeout(0)
        return QueryResult(columns, rows)

    def in_one_read(self, read: Callable[[], T]) -> T:
        def held() -> T:
            with self._lock, self._statement():  # the reads inside hold it again: counted, not re-taken
                return read()

        return self._wait_for_checkpoint(held, f"read {self.path}")

    def count_nodes(self, label: str) -> int:
        return int(self.query(f"MATCH (n:{quote(label)}) RETURN count(*)").scalar() or 0)

    def count_rels(self, rel_type: str) -> int:
        return int(self.query(f"MATCH ()-[r:{quote(rel_type)}]->() RETURN count(*)").scalar() or 0)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _value(value: Any) -> Any:
    """Engine values to the shape both stores return: nodes and relationships as dicts. Scalars first:
    they are nearly every value (the conformance requirements alone are 1.6 million)."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, dict):
        if "_LABEL" in value and "_ID" in value:
            ident = value["_ID"]
            out = {k: plain(v) for k, v in value.items() if not k.startswith("_") and v is not None}
            if "_SRC" in value:
                out.update(_type=value["_LABEL"], _id=_ident(ident), _start=_ident(value["_SRC"]),
                           _end=_ident(value["_DST"]))
            else:
                out.update(_label=value["_LABEL"], _id=_ident(ident))
            return out
        if "_nodes" in value and "_rels" in value:
            return {"nodes": [_value(n) for n in value["_nodes"]], "relationships": [_value(r) for r in value["_rels"]]}
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return plain(value)


def _ident(ident: Any) -> str:
    return f"{ident['table']}:{ident['offset']}" if isinstance(ident, dict) else str(ident)
