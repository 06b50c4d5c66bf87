"""The GraphStore interface every engine implements, and what its methods return.

A store is opened read-only unless asked otherwise: readers (dashboard, `query`, `stats`) can never
change the graph: a statement on the read path is checked by model/read_only before the engine sees it
(only read clauses and side-effect-free procedures pass), and the engine's read-only mode refuses writes too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

from .. import graph_version, queries, schema
from ..batch import GraphBatch

if TYPE_CHECKING:
    from ..bulk import BulkPlan, Progress

T = TypeVar("T")


class StoreError(Exception):
    """A store failure with a message fit for one line on stderr."""


class ReadOnlyError(StoreError):
    """A write was attempted through the read-only path."""


class GraphNotFound(StoreError):
    """The embedded graph does not exist (read-only opens never create one)."""


class QueryError(StoreError):
    """The engine rejected a query (syntax, unknown property, timeout)."""


class SchemaVersionError(StoreError):
    """The graph was written with a schema version this dicom-graph cannot use."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records())

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class WriteSummary:
    """Rows sent per label / relationship type."""

    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)


class GraphStore(ABC):
    dialect: str  # "embedded" or "neo4j": selects a named query's variant
    read_only: bool

    # --- lifecycle ------------------------------------------------------------------------------
    @abstractmethod
    def ensure_schema(self) -> None:
        """Create what the schema needs (tables / constraints / indexes) and record its version; idempotent."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def recorded_version(self) -> tuple[int, str | None] | None:
        """(schema version, dicom-graph version) of the graph's version node; None if it has none."""

    def check_schema_version(self) -> None:
        """Refuse a graph this dicom-graph would misread; stores call it as soon as they are open, before
        any reader or writer touches the graph (a graph without the node is of the unversioned schema)."""
        found, written_by = self.recorded_version() or (graph_version.UNVERSIONED_SCHEMA, None)
        problem = graph_version.version_problem(found, written_by)
        if problem:
            raise SchemaVersionError(f"{self.describe()}: {problem}")

    def record_version(self) -> None:
        """Write the version node (ensure_schema's last step, once every table exists)."""
        batch = GraphBatch()
        batch.add_node(schema.GRAPH_VERSION.label, graph_version.version_row())
        self.write(batch)

    def refresh(self) -> None:  # noqa: B027  (a hook: engines that see new commits by themselves keep it)
        """See commits made by other processes since this store was opened (no-op where automatic)."""

    def prewarm(self) -> threading.Thread | None:
        """Start filling the cache this engine's first reads would miss, in the background (a long-lived
        reader such as the dashboard calls it once); None where there is nothing to do from here (a
        server keeps its own page cache)."""
        return None

    def describe(self) -> str:
        """Where this store is, for messages: a path or a URI."""
        return self.dialect

    def __enter__(self) -> "GraphStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing --------------------------------------------------------------------------------
    @abstractmethod
    def write(self, batch: GraphBatch, *, atomic: bool = True) -> WriteSummary:
        """Upsert a batch: nodes, then stubs, then relationships; idempotent (MERGE on keys).
        atomic=False: the batch may be written in several statements (a bulk load that is safe to redo,
        e.g. an ingest that --resume repeats); the embedded engine then bounds its memory per statement."""

    def bulk_load(self, plan: BulkPlan, progress: Progress | None = None) -> None:
        """Create the rows of a BulkPlan (all new to the graph: model/bulk.py). This default writes them
        through `write` in batches (Neo4j: UNWIND ... MERGE); an engine with a bulk loader overrides it."""
        from ..bulk import write_in_batches

        write_in_batches(self, plan, progress)

    def clear_data(self) -> None:
        """Delete the data layer (everything but the standard's definitions; SOP classes known only from
        instances go too): what an unfinished `load` left, before it starts again."""
        for rel_type in schema.REL_TYPES:
            if rel_type.type not in schema.DEFINITION_RELS:
                self.query(f"MATCH ()-[r:{quote(rel_type.type)}]->() DELETE r", write=True)
        for node_type in schema.NODE_TYPES:
            if node_type.label not in schema.DEFINITION_LABELS:
                self.query(f"MATCH (n:{quote(node_type.label)}) DELETE n", write=True)
        self.query("MATCH (n:SOPClass) WHERE n.stub = true OR n.unknown = true DELETE n", write=True)

    @abstractmethod
    def clear(self) -> None:
        """Delete every node and relationship (the schema stays); for benchmarks and tests."""

    @abstractmethod
    def existing_keys(self, label: str, keys: Iterable[Any]) -> set[Any]:
        """Which of these keys already have a node of this label (stub or not)."""

    # --- reading --------------------------------------------------------------------------------
    @abstractmethod
    def query(self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False,
              timeout_s: float | None = None) -> QueryResult:
        """Run Cypher. Read-only unless write=True (which a read-only store refuses)."""

    def run(self, name: str, timeout_s: float | None = None, **params: Any) -> QueryResult:
        """Run a named query of model.queries, in this engine's variant. Its declared defaults fill the
        optional parameters; an unknown name, an unknown parameter or a missing required one is refused
        (UnknownQuery / ParameterError, both StoreErrors) before the engine sees anything."""
        named = queries.get(name)
        return self.query(named.text(self.dialect), named.bind(params), write=named.write, timeout_s=timeout_s)

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts per node label and relationship type, every schema name present (zeros too), read as
        one read: on the embedded engine no writer's statement runs between two of the counts."""
        def counts() -> dict[str, dict[str, int]]:
            nodes = {n.label: self.count_nodes(n.label) for n in schema.NODE_TYPES if not n.bookkeeping}
            rels = {r.type: self.count_rels(r.type) for r in schema.REL_TYPES}
            runs = {n.label: self.count_nodes(n.label) for n in schema.NODE_TYPES if n.bookkeeping}
            return {"nodes": nodes, "relationships": rels, "bookkeeping": runs}

        return self.in_one_read(counts)

    def in_one_read(self, read: Callable[[], T]) -> T:
        """Run several reads as one. A server's sessions need nothing more; the embedded store makes them
        wait for a writer once, not once per statement (a `stats` is ~40 counts)."""
        return read()

    @abstractmethod
    def count_nodes(self, label: str) -> int: ...

    @abstractmethod
    def count_rels(self, rel_type: str) -> int: ...


def plain(value: Any) -> Any:
    """Engine values to plain Python: Decimal sums to numbers, nested containers walked."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def json_value(value: Any) -> Any:
    """A value as JSON can carry it: dates and times as ISO strings."""
    value = plain(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return value


def first_line(exc: BaseException) -> str:
    """An engine's exception as one line for stderr (ladybug's carry a multi-line context)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def quote(identifier: str) -> str:
    """Backtick-quote a label or property name (keywords like `Rows` clash with Cypher words)."""
    return "`" + identifier.replace("`", "``") + "`"


# the version node, read the same way on both engines
VERSION_QUERY = (f"MATCH (v:{quote(schema.GRAPH_VERSION.label)}) "
                 f"RETURN v.schema_version AS schema_version, v.dicom_graph_version AS dicom_graph_version")
