"""The read path of both stores (the `store` fixture: embedded here, Neo4j too where NEO4J_URI is set): what
the engines' read-only modes would still run is refused before they see it, on a writer's read path and on
a read-only handle alike, and nothing changes; the allowed procedures really run on their engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicom_graph.model.store import GraphStore, ReadOnlyError

from .conftest import reader_for
from .test_read_only_cli import snapshot
from .test_store_contract import patient_batch


def hostile(folder: Path) -> list[str]:
    target = folder / "target.csv"
    return [
        "CREATE (p:Patient {key: 'evil', PatientID: 'evil'})",
        "MATCH (p:Patient) SET p.PatientName = 'evil'",
        "MATCH (p:Patient) DETACH DELETE p",
        "MERGE (p:Patient {key: 'evil'})",
        "CHECKPOINT",
        f"COPY (MATCH (p:Patient) RETURN p.key) TO '{target}'",
        f"LOAD FROM '{target}' RETURN *",
        f"LOAD CSV FROM 'file://{target}' AS row RETURN row",
        "LOAD CSV FROM 'http://127.0.0.1:9/x.csv' AS row RETURN row",
        f"LOAD EXTENSION '{folder / 'lib.so'}'",
        "INSTALL json FROM 'http://127.0.0.1:9/'",
        "TERMINATE TRANSACTIONS 'neo4j-transaction-1'",
        "SHOW TRANSACTIONS",
        "CALL dbms.killQueries(['x'])",
        "CALL { MATCH (p:Patient) RETURN p } IN TRANSACTIONS RETURN p",
        "MATCH (p:Patient) RETURN apoc.cypher.runFirstColumnSingle('MATCH (n) DETACH DELETE n', {})",
        "MATCH (p:Patient) RETURN p; MATCH (p:Patient) DETACH DELETE p",
        "MATCH (p:Patient) RETURN p // harmless\nDETACH DELETE p",
        "match (p:Patient) /* harmless */ detach /* really */ delete p",
    ]


@pytest.mark.parametrize("handle", ["writer", "reader"])
def test_hostile_statements_refused_on_both_engines(store: GraphStore, handle: str, tmp_path: Path):
    store.write(patient_batch())
    target = tmp_path / "target.csv"
    target.write_text("key\nkept\n")
    before = snapshot(tmp_path)
    reader = store if handle == "writer" else reader_for(store)
    try:
        for statement in hostile(tmp_path):
            with pytest.raises(ReadOnlyError, match="^refused on the read-only path: "):
                reader.query(statement)
        assert reader.count_nodes("Patient") == 1
    finally:
        if reader is not store:
            reader.close()
    assert store.query("MATCH (p:Patient) RETURN p.PatientName").scalar() == "Doe^Jane"
    assert snapshot(tmp_path) == before


def test_named_queries_and_allowed_procedures_run(store: GraphStore):
    store.write(patient_batch())
    assert store.run("data_counts").records()
    procedure = ("CALL db.labels() YIELD label RETURN label" if store.dialect == "neo4j"
                 else "CALL show_tables() RETURN name AS label")
    assert "Patient" in store.query(procedure).column("label")
    assert store.query("EXPLAIN MATCH (p:Patient) RETURN p") is not None
