"""The graph records its schema version: a writer writes it, every open checks it, and a graph this
dicom-graph would misread is refused in one line that says which versions and what to do. On both
engines (the contract), with the embedded engine's older graphs (no version table at all) besides."""

from __future__ import annotations

import pytest

from dicom_graph import __version__
from dicom_graph.loader.standard import load_standard
from dicom_graph.model import schema
from dicom_graph.model.store import SchemaVersionError, open_store

from .conftest import reader_for

LABEL = schema.GRAPH_VERSION.label


def version_rows(store):
    return store.query(f"MATCH (v:{LABEL}) RETURN v.schema_version AS schema_version, "
                       f"v.dicom_graph_version AS dicom_graph_version").records()


def set_version(store, version):
    store.query(f"MATCH (v:{LABEL}) SET v.schema_version = $v", {"v": version}, write=True)


def test_a_new_graph_records_its_versions_once(store):
    expected = [{"schema_version": schema.SCHEMA_VERSION, "dicom_graph_version": __version__}]
    assert version_rows(store) == expected
    store.ensure_schema()
    store.clear()  # the version node is schema, not data
    assert version_rows(store) == expected
    assert store.recorded_version() == (schema.SCHEMA_VERSION, __version__)


def test_the_version_node_is_not_counted_in_stats(store):
    counts = store.stats()
    assert LABEL not in counts["nodes"] and LABEL not in counts["bookkeeping"]
    assert LABEL not in schema.NODES


@pytest.mark.parametrize("found, advice", [(schema.SCHEMA_VERSION + 1, "upgrade dicom-graph"),
                                           (schema.SCHEMA_VERSION - 1, "build a new graph")])
def test_an_incompatible_graph_is_refused_in_one_line(store, found, advice):
    set_version(store, found)
    try:
        with pytest.raises(SchemaVersionError) as refused:
            reader_for(store)
        message = str(refused.value)
        assert "\n" not in message and advice in message
        assert f"schema version {found} (written by dicom-graph {__version__})" in message
        assert f"version {schema.SCHEMA_VERSION} that dicom-graph {__version__} reads" in message
    finally:
        set_version(store, schema.SCHEMA_VERSION)  # Neo4j's database is shared by the next tests


def test_a_graph_without_the_version_node_is_the_unversioned_schema(store):
    store.query(f"MATCH (v:{LABEL}) DELETE v", write=True)
    reader = reader_for(store)
    try:
        assert reader.recorded_version() is None
        assert reader.stats() == store.stats()
    finally:
        reader.close()
    store.ensure_schema()  # the next writer records it
    assert store.recorded_version() == (schema.SCHEMA_VERSION, __version__)


def test_embedded_writer_refused_keeps_no_lock_and_older_graph_opens(tmp_path):
    path = str(tmp_path / "g.db")
    with open_store(db=path, read_only=False, create=True) as store:
        set_version(store, schema.SCHEMA_VERSION + 1)
    with pytest.raises(SchemaVersionError, match="upgrade dicom-graph"):
        open_store(db=path, read_only=False, create=True)
    _drop_table(path, LABEL)  # what a dicom-graph older than the version node left
    with open_store(db=path) as reader:  # the refused writer released its lock; no table: version 1
        assert reader.recorded_version() is None
    with open_store(db=path, read_only=False, create=True) as store:
        assert store.recorded_version() == (schema.SCHEMA_VERSION, __version__)


def test_embedded_graph_of_an_older_release_gains_the_properties_added_since(tmp_path):
    """Adding a property keeps the version (schema.py), so an open must add it, on relationship tables
    as on node tables: a graph made before CONTAINS.condition_source failed every standard load."""
    path = str(tmp_path / "g.db")
    open_store(db=path, read_only=False, create=True).close()
    _engine(path, "ALTER TABLE CONTAINS DROP condition_source", "ALTER TABLE IngestRun DROP workers")
    with open_store(db=path, read_only=False, create=True) as store:
        load_standard(store)
        assert store.query("MATCH ()-[r:CONTAINS]->() WHERE r.condition_source IS NOT NULL "
                           "RETURN count(*) AS n").records()[0]["n"] > 1000
        assert store.recorded_version() == (schema.SCHEMA_VERSION, __version__)


def _drop_table(path: str, table: str) -> None:
    _engine(path, f"DROP TABLE {table}")


def _engine(path: str, *statements: str) -> None:
    """Through the engine itself: the product never drops a table or a column."""
    import ladybug

    db = ladybug.Database(path, buffer_pool_size=256 << 20)
    conn = ladybug.Connection(db)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()
        db.close()
