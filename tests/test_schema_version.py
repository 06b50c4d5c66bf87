"""The graph records its schema version: a writer writes it, every open checks it, and a graph this
dicom-graph would misread is refused in one line that says which versions and what to do. On both
engines (the contract), with the embedded engine's older graphs (no version table at all) besides."""

from __future__ import annotations

import pytest

from dicom_graph import __version__
from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.standard import load_standard
from dicom_graph.model import graph_version, schema
from dicom_graph.model.store import SchemaVersionError, open_store

from .conftest import reader_for

LABEL = schema.GRAPH_VERSION.label


def version_rows(store):
    return store.query(f"MATCH (v:{LABEL}) RETURN v.schema_version AS schema_version, "
                       f"v.dicom_graph_version AS dicom_graph_version").records()


def set_version(store, version):
    store.query(f"MATCH (v:{LABEL}) SET v.schema_version = $v", {"v": version}, write=True)


def test_a_new_graph_records_its_versions_once(store):
    expected = [{"schema_version": graph_version.SCHEMA_VERSION, "dicom_graph_version": __version__}]
    assert version_rows(store) == expected
    store.ensure_schema()
    store.clear()  # the version node is schema, not data
    assert version_rows(store) == expected
    assert store.recorded_version() == (graph_version.SCHEMA_VERSION, __version__)


def test_the_version_node_is_not_counted_in_stats(store):
    counts = store.stats()
    assert LABEL not in counts["nodes"] and LABEL not in counts["bookkeeping"]
    assert LABEL not in schema.NODES


@pytest.mark.parametrize("found, advice", [(graph_version.SCHEMA_VERSION + 1, "upgrade dicom-graph"),
                                           (graph_version.SCHEMA_VERSION - 1, "build a new graph")])
def test_an_incompatible_graph_is_refused_in_one_line(store, found, advice):
    set_version(store, found)
    try:
        with pytest.raises(SchemaVersionError) as refused:
            reader_for(store)
        message = str(refused.value)
        assert "\n" not in message and advice in message
        assert f"schema version {found} (written by dicom-graph {__version__})" in message
        assert f"version {graph_version.SCHEMA_VERSION} that dicom-graph {__version__} reads" in message
    finally:
        set_version(store, graph_version.SCHEMA_VERSION)  # Neo4j's database is shared by the next tests


def test_a_graph_without_the_version_node_is_the_unversioned_schema(store):
    store.query(f"MATCH (v:{LABEL}) DELETE v", write=True)
    reader = reader_for(store)
    try:
        assert reader.recorded_version() is None
        assert reader.stats() == store.stats()
    finally:
        reader.close()
    store.ensure_schema()  # the next writer records it
    assert store.recorded_version() == (graph_version.SCHEMA_VERSION, __version__)


def test_embedded_writer_refused_keeps_no_lock_and_older_graph_opens(tmp_path):
    path = str(tmp_path / "g.db")
    with open_store(db=path, read_only=False, create=True) as store:
        set_version(store, graph_version.SCHEMA_VERSION + 1)
    with pytest.raises(SchemaVersionError, match="upgrade dicom-graph"):
        open_store(db=path, read_only=False, create=True)
    _drop_table(path, LABEL)  # what a dicom-graph older than the version node left
    with open_store(db=path) as reader:  # the refused writer released its lock; no table: version 1
        assert reader.recorded_version() is None
    with open_store(db=path, read_only=False, create=True) as store:
        assert store.recorded_version() == (graph_version.SCHEMA_VERSION, __version__)


def test_embedded_graph_of_an_older_release_gains_the_properties_added_since(tmp_path, caplog):
    """Adding a property keeps the version (schema.py), so an open must add it, on relationship tables
    as on node tables: a graph made before CONTAINS.condition_source failed every standard load. A reader
    (`extract` only reads) of a graph whose standard an older release loaded, before the version node had
    standard_revision, reads its requirements and says to load the standard again."""
    path = str(tmp_path / "g.db")
    with open_store(db=path, read_only=False, create=True) as store:
        load_standard(store)
    _engine(path, "ALTER TABLE CONTAINS DROP condition_source", "ALTER TABLE IngestRun DROP workers",
            f"ALTER TABLE {LABEL} DROP standard_revision")
    with open_store(db=path, read_only=True) as reader, caplog.at_level("WARNING", logger=conformance.__name__):
        assert conformance.load_requirements(reader)
    assert "revision none recorded" in caplog.records[-1].getMessage()
    with open_store(db=path, read_only=False, create=True) as store:
        load_standard(store)
        assert store.query("MATCH ()-[r:CONTAINS]->() WHERE r.condition_source IS NOT NULL "
                           "RETURN count(*) AS n").records()[0]["n"] > 1000
        assert store.recorded_version() == (graph_version.SCHEMA_VERSION, __version__)
        assert store.run("standard_revision").scalar() == graph_version.STANDARD_REVISION


def test_a_standard_load_records_its_revision_and_readers_name_an_older_one(store, caplog):
    """`standard load` records graph_version.STANDARD_REVISION on the version node; a writer's open keeps it; the
    requirements of a graph whose revision is older (or none: loaded before 4 Dec 2026, when Types and
    conditions were corrected) are read with one line that says to load the standard again."""
    load_standard(store)
    store.ensure_schema()  # rewrites the version node's other properties
    assert store.run("standard_revision").scalar() == graph_version.STANDARD_REVISION
    with caplog.at_level("WARNING", logger=conformance.__name__):
        assert conformance.load_requirements(store)
        assert not caplog.records
        for older in (graph_version.STANDARD_REVISION - 1, None):
            store.query(f"MATCH (v:{LABEL}) SET v.standard_revision = $r", {"r": older}, write=True)
            assert conformance.load_requirements(store)  # still read: the warning is all
    [lower, none] = [r.getMessage() for r in caplog.records]
    assert f"revision {graph_version.STANDARD_REVISION - 1}," in lower and "revision none recorded" in none
    assert all("older dicom-graph" in m and "`dicom-graph standard load`" in m for m in (lower, none))


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
