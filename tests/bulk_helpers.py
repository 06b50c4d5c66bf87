"""What the bulk tests share: pydicom's test files, the CLI as a subprocess, shards and a graph's content as data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydicom

from dicom_graph.model import schema
from dicom_graph.model.store import GraphStore, open_store

PYDICOM_FILES = Path(pydicom.__file__).resolve().parent / "data" / "test_files"
# set when the graph is written, not by the files: differs between any two runs
VOLATILE = {"ingested_at", "_id"}


def shard_bytes(out: Path) -> dict[str, bytes]:
    """Every Parquet shard under `out`, by its path there: what "byte-identical shards" compares."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def cli(*args: str, check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")}
    return subprocess.run([sys.executable, "-m", "dicom_graph", *args, "--no-progress"], check=check,
                          capture_output=True, text=True, env=env, **kw)


def content(store: GraphStore) -> dict[str, Any]:
    """Every data node with its properties and every edge by its endpoints' keys: two graphs with equal
    content answer every query alike (IngestRun, which records when and how long, is left out)."""
    nodes: dict[str, Any] = {}
    for node_type in schema.NODE_TYPES:
        if node_type.label in ("IngestRun",) or node_type.label in schema.DEFINITION_LABELS and \
                node_type.label != "SOPClass":
            continue
        rows = store.query(f"MATCH (n:{node_type.label}) RETURN n").column("n")
        nodes[node_type.label] = sorted(
            (sorted((k, repr(v)) for k, v in row.items() if k not in VOLATILE and v is not None) for row in rows))
    rels: dict[str, Any] = {}
    for rel_type in schema.REL_TYPES:
        if rel_type.type in schema.DEFINITION_RELS:
            continue
        found = []
        for a, b in rel_type.pairs:
            ka, kb = schema.node(a).key, schema.node(b).key
            props = "".join(f", r.{p} AS {p}" for p in rel_type.props)
            found += [repr(sorted(r.items())) for r in store.query(
                f"MATCH (x:{a})-[r:{rel_type.type}]->(y:{b}) RETURN x.{ka} AS a, y.{kb} AS b{props}").records()]
        rels[rel_type.type] = sorted(found)
    return {"nodes": nodes, "relationships": rels}


def graph(path: Path) -> GraphStore:
    return open_store(db=str(path), read_only=True)
