"""Opening a store: the embedded graph by default, Neo4j when a URI is given.

Connection settings follow Neo4j's conventions (NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD,
NEO4J_DATABASE); the embedded graph lives at DICOM_GRAPH_DB (default ./dicom-graph.db).
"""

from __future__ import annotations

import os

from .base import (GraphNotFound, GraphStore, QueryError, QueryResult, ReadOnlyError, SchemaVersionError,
                   StoreError, WriteSummary)

DEFAULT_DB = "dicom-graph.db"

__all__ = ["GraphNotFound", "GraphStore", "QueryError", "QueryResult", "ReadOnlyError", "SchemaVersionError",
           "StoreError", "WriteSummary", "open_store", "default_db_path"]


def default_db_path() -> str:
    return os.environ.get("DICOM_GRAPH_DB") or DEFAULT_DB


def open_store(db: str | None = None, neo4j: str | None = None, *, read_only: bool = True,
               create: bool = False) -> GraphStore:
    """Open the graph named by the arguments, else by the environment.

    `--neo4j URI` (or NEO4J_URI when no --db is given) selects Neo4j; otherwise the embedded graph.
    A read-only open of an embedded graph that does not exist raises GraphNotFound rather than
    creating an empty one; `create=True` (writers) makes it and its schema.
    """
    uri = neo4j or (None if db else os.environ.get("NEO4J_URI"))
    if uri:
        from .neo4j import Neo4jStore

        store: GraphStore = Neo4jStore(
            uri,
            user=os.environ.get("NEO4J_USERNAME", "neo4j"),
            password=os.environ.get("NEO4J_PASSWORD", ""),
            database=os.environ.get("NEO4J_DATABASE") or None,
            read_only=read_only,
        )
    else:
        from .embedded import EmbeddedStore

        store = EmbeddedStore(db or default_db_path(), read_only=read_only, create=create)
    if create and not read_only:
        store.ensure_schema()
    return store
