"""`dicom-graph export`, through the real console script: the files hold the nodes and relationships the
query returns (as many as Cypher counts), and the tools they are for can read them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pydicom

from dicom_graph.loader.ingest import run_ingest
from dicom_graph.model.store import GraphStore

SAMPLES = Path(pydicom.__file__).resolve().parent / "data" / "test_files"
POINTERS = "MATCH (s:Instance)-[r:REFERENCES]->(t:Instance) RETURN s, r, t"


def _export(store: GraphStore, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("dicom-graph")
    where = ["--db", store.describe()] if store.dialect == "embedded" else ["--neo4j", os.environ["NEO4J_URI"]]
    env = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")}
    done = subprocess.run([str(exe) if exe.exists() else "dicom-graph", "export", *args, *where], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def test_export_writes_what_the_query_returns(store: GraphStore, tmp_path: Path) -> None:
    run_ingest(store, [str(SAMPLES)], workers=1, progress=False, report_path=str(tmp_path / "rejects.jsonl"))
    counts = store.query("MATCH (s:Instance)-[r:REFERENCES]->(t:Instance) "
                         "RETURN count(DISTINCT s) AS s, count(DISTINCT t) AS t, count(r) AS r").records()[0]
    nodes = store.query("MATCH (s:Instance)-[:REFERENCES]->(t:Instance) UNWIND [s.SOPInstanceUID, t.SOPInstanceUID] "
                        "AS uid RETURN count(DISTINCT uid) AS n").scalar()
    assert counts["r"] > 5

    done = _export(store, POINTERS, "-o", str(tmp_path / "p.graphml"))
    assert f"exported {nodes:,} nodes and {counts['r']:,} relationships to {tmp_path / 'p.graphml'}" in done.stderr
    graph = nx.read_graphml(tmp_path / "p.graphml")
    assert graph.is_directed() and graph.is_multigraph()
    assert graph.number_of_nodes() == nodes and graph.number_of_edges() == counts["r"]
    assert {a["label"] for _n, a in graph.nodes(data=True)} == {"Instance"}
    uids = {a["SOPInstanceUID"] for _n, a in graph.nodes(data=True)}
    assert len(uids) == nodes
    vias = sorted(a["via"] for _u, _v, a in graph.edges(data=True))
    assert vias == sorted(store.query("MATCH (:Instance)-[r:REFERENCES]->(:Instance) RETURN r.via AS v").column("v"))

    linked = nx.node_link_graph(json.loads(_export(store, POINTERS, "-f", "json").stdout), edges="edges")
    assert linked.number_of_nodes() == nodes and linked.number_of_edges() == counts["r"]
    lists = [a["ImageType"] for _n, a in linked.nodes(data=True) if "ImageType" in a]
    assert lists and all(isinstance(v, list) for v in lists)  # JSON keeps lists as lists

    _export(store, POINTERS, "-f", "csv", "-o", str(tmp_path / "p.csv"))
    with open(tmp_path / "p.nodes.csv", newline="") as f:
        node_rows = list(csv.DictReader(f))
    with open(tmp_path / "p.edges.csv", newline="") as f:
        edge_rows = list(csv.DictReader(f))
    assert len(node_rows) == nodes and len(edge_rows) == counts["r"]
    ids = {r["Id"] for r in node_rows}
    assert all(r["Source"] in ids and r["Target"] in ids and r["label"] == "REFERENCES" for r in edge_rows)


def test_export_csv_needs_a_file_and_a_known_format(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("dicom-graph")
    for args, reason in ((["-f", "csv"], "give -o FILE"), (["-f", "dot"], "unknown --format 'dot'")):
        done = subprocess.run([str(exe), "export", POINTERS, *args, "--db", str(tmp_path / "g.db")],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and reason in done.stderr, done.stderr
