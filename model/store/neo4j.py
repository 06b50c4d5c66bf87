"""The Neo4j store: the official driver over Bolt, for teams and scale.

Writes are `UNWIND $rows ... MERGE` on keys backed by uniqueness constraints, one managed transaction
per batch (the driver retries it on transient errors, and a failed batch leaves nothing behind).
Reads run in READ access mode, so the server itself refuses a write on the read path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import neo4j
from neo4j import GraphDatabase
from neo4j import exceptions as nx
from neo4j import graph as ng
from neo4j import time as nt

from .. import queries, schema
from ..batch import GraphBatch, RelGroup
from ..instance_width import cap_instance_rows
from .base import (VERSION_QUERY, GraphStore, QueryError, QueryResult, ReadOnlyError, StoreError, WriteSummary,
                   plain, quote)

CHUNK = 10_000


class Neo4jStore(GraphStore):
    dialect = "neo4j"

    def __init__(self, uri: str, *, user: str = "neo4j", password: str = "", database: str | None = None,
                 read_only: bool = True) -> None:
        self.uri = uri
        self.database = database
        self._quiet = False  # an INTERNAL named query is running (run)
        self.read_only = read_only
        try:
            self._driver = GraphDatabase.driver(uri, auth=(user, password) if password else None)
            self._driver.verify_connectivity()
        except (nx.ServiceUnavailable, nx.ConfigurationError, ValueError, OSError) as exc:
            raise StoreError(f"cannot reach Neo4j at {uri}: {_message(exc)}") from None
        except (nx.AuthError, nx.ClientError) as exc:
            hint = "set NEO4J_PASSWORD" if not password else f"check NEO4J_USERNAME ({user}) and NEO4J_PASSWORD"
            raise StoreError(f"Neo4j at {uri} refused the login ({hint}): {_message(exc)}") from None
        try:
            self.check_schema_version()
        except StoreError:
            self._driver.close()
            raise

    def describe(self) -> str:
        return self.uri + (f" (database {self.database})" if self.database else "")

    def close(self) -> None:
        self._driver.close()

    def recorded_version(self) -> tuple[int, str | None] | None:
        # notifications off: a database without the label yet would log a warning on every open
        try:
            with self._driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS,
                                      notifications_min_severity="OFF") as session:
                rows = session.run(VERSION_QUERY).values()
        except nx.Neo4jError as exc:
            raise StoreError(f"Neo4j at {self.uri}: cannot read the schema version: {_message(exc)}") from None
        return (int(rows[0][0]), rows[0][1]) if rows and rows[0][0] is not None else None

    # --- schema ---------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        if self.read_only:
            raise ReadOnlyError("the store is open read-only; the schema can only be created by a writer")
        statements = []
        for node_type in schema.STORED_NODE_TYPES:
            label, key = node_type.label, node_type.key
            statements.append(f"CREATE CONSTRAINT {label.lower()}_key IF NOT EXISTS "
                              f"FOR (n:{quote(label)}) REQUIRE n.{quote(key)} IS UNIQUE")
            statements += [f"CREATE INDEX {label.lower()}_{prop.lower()} IF NOT EXISTS "
                           f"FOR (n:{quote(label)}) ON (n.{quote(prop)})" for prop in node_type.indexed]
        with self._session(write=True) as session:
            for statement in statements:
                session.run(statement).consume()
            session.run("CALL db.awaitIndexes(300)").consume()
        self.record_version()

    # --- writing --------------------------------------------------------------------------------
    def clear(self) -> None:
        if self.read_only:
            raise ReadOnlyError("the store is open read-only")
        with self._session(write=True) as session:  # batched: one transaction would not fit in memory
            # the version node is schema, not data: it stays, as the constraints do
            session.run(f"MATCH (n) WHERE NOT n:{quote(schema.GRAPH_VERSION.label)} "
                        "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()

    def existing_keys(self, label: str, keys: Iterable[Any]) -> set[Any]:
        key = quote(schema.node(label).key)
        wanted = list(keys)
        found: set[Any] = set()
        with self._session(write=False) as session:
            for start in range(0, len(wanted), CHUNK):
                result = session.run(f"UNWIND $keys AS k MATCH (n:{quote(label)} {{{key}: k}}) RETURN n.{key}",
                                     keys=wanted[start:start + CHUNK])
                found.update(record[0] for record in result)
        return found

    def write(self, batch: GraphBatch, *, atomic: bool = True) -> WriteSummary:  # always one transaction
        if self.read_only:
            raise ReadOnlyError("the store is open read-only; writing needs a writer (ingest, load, listen)")
        cap_instance_rows(batch)  # one file must not widen the Instance table for good
        summary = WriteSummary()
        for label in batch.nodes:
            summary.nodes[label] = len(batch.nodes[label])
        for group in batch.rels:
            summary.relationships[group[0]] = summary.relationships.get(group[0], 0) + len(batch.rels[group])
        with self._session(write=True) as session:
            try:
                session.execute_write(self._write_batch, batch)
            except nx.Neo4jError as exc:
                raise StoreError(f"Neo4j refused the batch: {_message(exc)}") from None
        return summary

    @staticmethod
    def _write_batch(tx: neo4j.ManagedTransaction, batch: GraphBatch) -> None:
        for label in batch.nodes:
            key = quote(schema.node(label).key)
            rows = batch.node_rows(label)
            for chunk in _chunks(rows):
                tx.run(f"UNWIND $rows AS r MERGE (n:{quote(label)} {{{key}: r.{key}}}) "
                       f"SET n += r, n.stub = false", rows=chunk).consume()
        for label in batch.stubs:
            key = quote(schema.node(label).key)
            for chunk in _chunks(batch.stub_keys(label)):
                tx.run(f"UNWIND $keys AS k MERGE (n:{quote(label)} {{{key}: k}}) "
                       f"ON CREATE SET n.stub = true", keys=chunk).consume()
        for group in batch.rels:
            tx_rel(tx, group, batch.rel_rows(group))

    # --- reading --------------------------------------------------------------------------------
    def query(self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False,
              timeout_s: float | None = None) -> QueryResult:
        from ..read_only import check_read  # what a read is, decided before the engine sees it
        check_read(cypher, self.dialect, write=write)
        if write and self.read_only:
            raise ReadOnlyError("the store is open read-only; pass --write to change it")

        @neo4j.unit_of_work(timeout=timeout_s)
        def work(tx: neo4j.ManagedTransaction) -> QueryResult:
            result = tx.run(cypher, params or {})
            columns = list(result.keys())
            return QueryResult(columns, [[_value(v) for v in record.values()] for record in result])

        try:
            with self._session(write=write) as session:
                return session.execute_write(work) if write else session.execute_read(work)
        except nx.ClientError as exc:
            if exc.code and ("AccessMode" in exc.code or "ForbiddenOnReadOnlyDatabase" in exc.code):
                raise ReadOnlyError(f"refused: read-only access ({_message(exc)})") from None
            raise QueryError(_message(exc)) from None
        except nx.Neo4jError as exc:
            raise QueryError(_message(exc)) from None
        except nx.DriverError as exc:
            raise StoreError(f"Neo4j at {self.uri}: {_message(exc)}") from None

    def run(self, name: str, timeout_s: float | None = None, **params: Any) -> QueryResult:
        """The product's own plumbing (its INTERNAL named queries) runs with the server's notifications
        off, as the counts do: a warning that a property of the fixed schema has no value anywhere yet (a
        fresh store; one neo4j-admin just imported, whose run has no finished_at) is not the user's, and
        broke a failing `load`'s one-line stderr. A user's own query keeps them (test_cli_neo4j_stats.py)."""
        self._quiet = not queries.get(name).listed
        try:
            return super().run(name, timeout_s, **params)
        finally:
            self._quiet = False

    def count_nodes(self, label: str) -> int:
        return self._count(f"MATCH (n:{quote(label)}) RETURN count(n)")

    def count_rels(self, rel_type: str) -> int:
        return self._count(f"MATCH ()-[r:{quote(rel_type)}]->() RETURN count(r)")

    def _count(self, cypher: str) -> int:
        """A count over the fixed schema, with the server's notifications off: on a database that has not
        seen a label or type yet, the driver logs a warning per name ("... does not exist"), and `stats`
        counts every name of the schema, so it flooded stderr with warnings about zeros it reports anyway."""
        try:
            with self._driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS,
                                      notifications_min_severity="OFF") as session:
                return int(session.execute_read(lambda tx: tx.run(cypher).single(strict=True)[0]) or 0)
        except nx.Neo4jError as exc:
            raise QueryError(_message(exc)) from None
        except nx.DriverError as exc:
            raise StoreError(f"Neo4j at {self.uri}: {_message(exc)}") from None

    def _session(self, *, write: bool) -> neo4j.Session:
        mode = neo4j.WRITE_ACCESS if write else neo4j.READ_ACCESS
        return self._driver.session(database=self.database, default_access_mode=mode,
                                    notifications_min_severity="OFF" if self._quiet else None)


def tx_rel(tx: neo4j.ManagedTransaction, group: RelGroup, rows: list[dict[str, Any]]) -> None:
    rel_type, from_label, to_label = group
    definition = schema.rel(rel_type)
    a_key, b_key = quote(schema.node(from_label).key), quote(schema.node(to_label).key)
    identity = ", ".join(f"{quote(p)}: r.props.{quote(p)}" for p in definition.identity)
    merge = f"MERGE (a)-[e:{quote(rel_type)}{' {' + identity + '}' if identity else ''}]->(b)"
    payload = [{"from": r["from"], "to": r["to"],
                "props": {k: v for k, v in r.items() if k not in ("from", "to")}} for r in rows]
    for chunk in _chunks(payload):
        tx.run(f"UNWIND $rows AS r MATCH (a:{quote(from_label)} {{{a_key}: r.from}}) "
               f"MATCH (b:{quote(to_label)} {{{b_key}: r.to}}) {merge} SET e += r.props", rows=chunk).consume()


def _chunks(rows: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start:start + CHUNK]


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


def _value(value: Any) -> Any:
    """Driver values to the shape both stores return."""
    if isinstance(value, ng.Node):
        out = {k: _value(v) for k, v in value.items()}
        out.update(_label=next(iter(value.labels), ""), _id=value.element_id)
        return out
    if isinstance(value, ng.Relationship):
        out = {k: _value(v) for k, v in value.items()}
        start, end = value.start_node, value.end_node  # typed optional; a result's edge has both
        out.update(_type=value.type, _id=value.element_id, _start=start.element_id if start else None,
                   _end=end.element_id if end else None)
        return out
    if isinstance(value, ng.Path):
        return {"nodes": [_value(n) for n in value.nodes], "relationships": [_value(r) for r in value.relationships]}
    if isinstance(value, (nt.Date, nt.DateTime, nt.Time)):
        native = value.to_native()
        if isinstance(native, dt.datetime) and native.tzinfo is not None:
            native = native.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return native
    if isinstance(value, nt.Duration):
        return dt.timedelta(days=value.days, seconds=value.seconds, microseconds=value.nanoseconds // 1000)
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    return plain(value)
