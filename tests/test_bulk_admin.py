"""load through `neo4j-admin database import full` gives the graph ingest gives, on a real Neo4j.

The tool is the CI's own (.ci/neo4j-admin: Neo4j 5.26's AdminTool from the jars .ci/neo4j-start built),
importing into a fresh state dir of this test's; a server of its own then serves the imported store
(NEO4J_KEEP_DATA=1) on a free port, and is stopped whatever happens. No NEO4J_URI needed: the shared
server is not touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from dicom_graph.loader.bulk.extract import run_extract
from dicom_graph.loader.bulk.load import run_load
from dicom_graph.loader.ingest import run_ingest
from dicom_graph.model.store import GraphStore, open_store

from . import test_ingest_corpus as oracle_checks
from .bulk_helpers import content
from .conftest import REPO

CI = REPO / ".ci"
PASSWORD = "dicom-graph-test"


def _tools() -> None:
    """Java and the built jars, else a skip (a failure in CI, where .ci/run builds them); the Neo4j
    opt-out (DICOM_GRAPH_TEST_NEO4J=skip) holds here too: these tests start Neo4j servers of their own."""
    in_ci = os.environ.get("CI") == "true"
    if os.environ.get("DICOM_GRAPH_TEST_NEO4J") == "skip" and not in_ci:
        pytest.skip("DICOM_GRAPH_TEST_NEO4J=skip: no Neo4j of the tests' own")
    if shutil.which("java") and (CI / "neo4j" / "target" / "neo4j-test-server.jar").exists():
        return
    reason = "needs Java 17+ and .ci/neo4j built (bash .ci/neo4j-start builds it)"
    if in_ci:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def _env(state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB", "NEO4J_DATABASE")}
    return {**env, "NEO4J_STATE_DIR": str(state), "NEO4J_PASSWORD": PASSWORD, "NEO4J_USERNAME": "neo4j", **extra}


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dicom_graph", *args], capture_output=True, text=True,
                          env=_env(state), check=False, timeout=900)


@pytest.fixture
def imported(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(state dir, shards): a state dir whose server is stopped after the test, whatever happens."""
    _tools()
    state = tmp_path / "n4j"
    try:
        yield state, tmp_path / "shards"
    finally:
        subprocess.run(["bash", str(CI / "neo4j-stop")], env=_env(state), capture_output=True, timeout=120)


def _import_and_serve(state: Path, shards: Path, paths: list[str], chunk_files: int) -> str:
    run_extract(paths, str(shards), workers=2, chunk_files=chunk_files)
    admin = ("load", str(shards), "--neo4j-admin", str(CI / "neo4j-admin"), "--no-progress")
    done = _cli(state, *admin)
    assert done.returncode == 0, done.stderr
    assert "neo4j-admin imported them into database neo4j" in done.stdout
    # the tool's own refusal (the database exists now) is one line, and leaves the import as it was
    twice = _cli(state, *admin)
    assert twice.returncode == 1 and len(twice.stderr.splitlines()) == 1, twice.stderr
    assert "(database import full) failed (exit 70): Database already exist" in twice.stderr
    start = subprocess.run(["bash", str(CI / "neo4j-start")], capture_output=True, text=True, timeout=300,
                           env=_env(state, NEO4J_KEEP_DATA="1", NEO4J_HEAP="1g", NEO4J_PAGECACHE="256m"))
    assert start.returncode == 0, start.stderr
    return start.stdout.strip().splitlines()[-1]


def _ingested(paths: list[str], tmp_path: Path) -> GraphStore:
    store = open_store(db=str(tmp_path / "ingest.db"), read_only=False, create=True)
    run_ingest(store, paths, workers=2, progress=False, report_path=str(tmp_path / "ingest.jsonl"))
    return store


def test_admin_import_then_load_equals_ingest(imported, pydicom_corpus, tmp_path, monkeypatch):
    state, shards = imported
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    uri = _import_and_serve(state, shards, [str(pydicom_corpus)], chunk_files=25)
    with open_store(neo4j=uri) as before:  # the import itself leaves the run `imported`, not finished
        run = before.run("ingest_run", key=json.loads((shards / "manifest.json").read_text())["run_key"])
        assert run.records()[0]["status"] == "imported"
    finish = _cli(state, "load", str(shards), "--neo4j", uri, "--no-progress")
    assert finish.returncode == 0 and "load finished" in finish.stdout, finish.stderr
    stats = _cli(state, "stats", "--json", "--neo4j", uri)
    assert stats.returncode == 0, stats.stderr
    with _ingested([str(pydicom_corpus)], tmp_path) as ingested, open_store(neo4j=uri, read_only=False) as graph:
        assert json.loads(stats.stdout) == ingested.stats()
        assert graph.stats()["nodes"]["Instance"] > 100
        assert content(graph) == content(ingested)
        # the schema as the Neo4j store makes it at open: a uniqueness constraint per label
        names = set(graph.query("SHOW CONSTRAINTS YIELD name RETURN name", write=True).column("name"))
        assert {"instance_key", "study_key", "ingestrun_key"} <= names
    again = _cli(state, "load", str(shards), "--neo4j", uri, "--no-progress")
    assert again.returncode == 1 and "already holds data" in again.stderr


def test_a_partial_import_is_not_taken_for_a_whole_one(imported, pydicom_corpus):
    """The tool warns that a failed import may leave store files a server opens: here its nodes without
    its relationships (the tool run on the node files only). The finishing load refuses it in one line."""
    state, shards = imported
    run_extract([str(pydicom_corpus / "pydicom" / "test_files" / "CT_small.dcm")], str(shards), workers=1)
    written = _cli(state, "load", str(shards), "--neo4j-import-dir", str(shards.parent / "imp"))
    assert written.returncode == 0, written.stderr
    argfile = shards.parent / "imp" / "import.args"
    argfile.write_text("".join(a + "\n" for a in argfile.read_text().split() if not a.startswith("--relationships")))
    tool = subprocess.run(["bash", str(CI / "neo4j-admin"), f"@{argfile}"], env=_env(state), capture_output=True,
                          text=True, timeout=300)
    assert tool.returncode == 0, tool.stderr
    start = subprocess.run(["bash", str(CI / "neo4j-start")], capture_output=True, text=True, timeout=300,
                           env=_env(state, NEO4J_KEEP_DATA="1", NEO4J_HEAP="1g", NEO4J_PAGECACHE="256m"))
    assert start.returncode == 0, start.stderr
    finish = _cli(state, "load", str(shards), "--neo4j", start.stdout.split()[-1], "--no-progress")
    assert finish.returncode == 1 and len(finish.stderr.splitlines()) == 1, finish.stderr
    assert "incomplete neo4j-admin import (" in finish.stderr and "HAS_INSTANCE 0 of 1" in finish.stderr


@pytest.mark.shared
def test_corpus_admin_import_reproduces_the_oracle(imported, corpus, tmp_path, monkeypatch):
    state, shards = imported
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    paths = oracle_checks.outside_bad(corpus)
    uri = _import_and_serve(state, shards, paths, chunk_files=40)
    with open_store(neo4j=uri, read_only=False, create=True) as graph:
        summary = run_load(graph, str(shards))
        with _ingested(paths, tmp_path) as ingested:
            assert graph.stats() == ingested.stats()
        oracle_checks.test_corpus_reproduces_oracle((graph, summary), corpus)


TYPES = ("MATCH (n) UNWIND keys(n) AS k RETURN labels(n)[0] AS label, k, valueType(n[k]) AS type, count(*) AS n "
         "ORDER BY label, k, type")
REL_TYPES = ("MATCH ()-[r]->() UNWIND keys(r) AS k RETURN type(r) AS t, k, valueType(r[k]) AS type, count(*) AS n "
             "ORDER BY t, k, type")


@pytest.mark.neo4j
def test_admin_import_writes_the_property_types_the_unwind_load_writes(imported, pydicom_corpus, tmp_path,
                                                                       monkeypatch):
    """Every property of every label and type, with its Neo4j value type and how many hold it, as the
    store's own UNWIND ... MERGE load (on the shared server) writes them: so every query reads alike."""
    from .conftest import make_store

    unwind = make_store("neo4j", tmp_path)  # the shared server, emptied
    state, shards = imported
    try:
        uri = _import_and_serve(state, shards, [str(pydicom_corpus)], chunk_files=25)
        run_load(unwind, str(shards))
        monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
        with open_store(neo4j=uri, read_only=False, create=True) as graph:
            run_load(graph, str(shards))
            ours, theirs = ([[r for r in g.query(q).rows if r[0] != "GraphVersion"] for q in (TYPES, REL_TYPES)]
                            for g in (graph, unwind))
            assert ours == theirs
            assert len(ours[0]) > 100 and {"DATE NOT NULL", "LIST<STRING NOT NULL> NOT NULL", "FLOAT NOT NULL",
                                            "LOCAL DATETIME NOT NULL"} <= {r[2] for r in ours[0]}
    finally:
        unwind.clear()
        unwind.close()
