"""Fixtures shared by the whole suite.

`store` is parametrized over both engines: every store test runs on the embedded engine and on Neo4j.
Neo4j comes from NEO4J_URI (.ci/run starts one). Without it, on a machine with Java and Maven, the
session starts a throwaway Neo4j of its own with `.ci/neo4j-start` (a state dir per clone, stopped at
the end; DICOM_GRAPH_TEST_NEO4J=skip opts out), so a user's clone runs the Neo4j half too; with no Java
the Neo4j half skips with one line, except in CI (CI=true), where a missing Neo4j is a failure. Tests that need ../shared (the
corpus, the DocBook files) skip with a reason when it is absent, as it is in a user's clone.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from dicom_graph.model.store import GraphStore, open_store

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DICOM_GRAPH_SHARED", REPO.parent / "shared"))
ENGINES = ["embedded", "neo4j"]


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a skip when the clone has none (a user's clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (../shared is only in the project's CI and workspaces)")
    return path


@pytest.fixture(scope="session")
def corpus() -> Path:
    return shared_path("corpus")


@pytest.fixture(scope="session")
def pydicom_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pydicom's own test files (installed with it, 3 MB), copied to where ../shared/corpus keeps its
    byte-identical copies (pydicom/test_files/...): tests that need a few real files and no oracle use
    this, and run in any clone."""
    import shutil

    import pydicom

    root = tmp_path_factory.mktemp("pydicom-corpus")
    shutil.copytree(Path(pydicom.__file__).parent / "data" / "test_files", root / "pydicom" / "test_files")
    return root


def console_script() -> str:
    """The `dicom-graph` installed next to this interpreter: the one under test (another on PATH may
    belong to another environment)."""
    import sys

    exe = Path(sys.executable).with_name("dicom-graph")
    if not exe.exists():
        pytest.skip("the dicom-graph console script is not installed next to this interpreter")
    return str(exe)


def neo4j_uri() -> str | None:
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but NEO4J_URI is not set: .ci/run must start Neo4j (.ci/neo4j-start)")
        pytest.skip("Neo4j tests need NEO4J_URI (start one with .ci/neo4j-start)")
    return uri


def clear_neo4j(store: GraphStore) -> None:
    """Empty the shared Neo4j database between tests (constraints stay: they are the schema)."""
    store.clear()


def make_store(engine: str, tmp_path: Path) -> GraphStore:
    if engine == "embedded":
        return open_store(db=str(tmp_path / f"graph-{uuid.uuid4().hex[:8]}.db"), read_only=False, create=True)
    store = open_store(neo4j=neo4j_uri(), read_only=False, create=True)
    clear_neo4j(store)
    return store


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(engine: str, tmp_path: Path) -> Iterator[GraphStore]:
    """A fresh, empty, writable store with the schema, on each engine."""
    s = make_store(engine, tmp_path)
    try:
        yield s
    finally:
        s.close()


def reader_for(store: GraphStore) -> GraphStore:
    """A second, read-only handle on the same graph (what `query` and the dashboard use)."""
    if store.dialect == "embedded":
        return open_store(db=store.describe(), read_only=True)
    return open_store(neo4j=neo4j_uri(), read_only=True)


# --- a Neo4j of the session's own when none is given ----------------------------------------------

_OWN_NEO4J: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    import hashlib
    import shutil
    import subprocess

    if os.environ.get("NEO4J_URI") or os.environ.get("CI") == "true" \
            or os.environ.get("DICOM_GRAPH_TEST_NEO4J") == "skip" or config.option.collectonly:
        return
    start = REPO / ".ci" / "neo4j-start"
    if not (start.exists() and shutil.which("java") and shutil.which("mvn")):
        return
    state = f"/tmp/dicom-graph-test-neo4j-{hashlib.sha1(str(REPO).encode()).hexdigest()[:8]}"
    env = {**os.environ, "NEO4J_STATE_DIR": state}
    print(f"starting a throwaway Neo4j for the Neo4j tests ({state}; DICOM_GRAPH_TEST_NEO4J=skip to skip "
          "them; the first start builds it from Maven Central)", flush=True)
    run = subprocess.run(["bash", str(start)], env=env, capture_output=True, text=True, timeout=900)
    lines = run.stdout.strip().splitlines()
    if run.returncode != 0 or not lines or not lines[-1].startswith("bolt://"):
        reason = (run.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"no Neo4j for this session, its tests skip: {reason}", flush=True)
        return
    _OWN_NEO4J["state"] = state
    os.environ.update(NEO4J_URI=lines[-1], NEO4J_USERNAME="neo4j",
                      NEO4J_PASSWORD=os.environ.get("NEO4J_PASSWORD", "dicom-graph-test"))


def pytest_unconfigure(config: pytest.Config) -> None:
    import subprocess

    if "state" in _OWN_NEO4J:
        subprocess.run(["bash", str(REPO / ".ci" / "neo4j-stop")], env={**os.environ, "NEO4J_STATE_DIR": _OWN_NEO4J["state"]},
                       capture_output=True, timeout=120)


# --- reporting: which engines ran, and how many tests each -----------------------------------------

def pytest_report_header(config: pytest.Config) -> list[str]:
    import ladybug

    lines = [f"embedded engine: ladybug {ladybug.__version__}"]
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        return lines + ["neo4j: NEO4J_URI not set (Neo4j tests skip)"]
    try:
        with open_store(neo4j=uri) as s:
            row = s.query("CALL dbms.components() YIELD name, versions, edition "
                          "RETURN name, versions[0] AS version, edition").records()[0]
        lines.append(f"neo4j: {row['name']} {row['version']} ({row['edition']}) at {uri}")
    except Exception as exc:  # reported, and the tests themselves will fail or skip
        lines.append(f"neo4j: {uri} unreachable: {exc}")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    counts: dict[str, dict[str, int]] = {e: {} for e in ENGINES}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "call") not in ("call", "setup") or (
                    outcome == "passed" and report.when != "call"):
                continue
            for engine in ENGINES:
                if f"[{engine}" in nodeid or f"-{engine}]" in nodeid or f"-{engine}-" in nodeid:
                    counts[engine][outcome] = counts[engine].get(outcome, 0) + 1
    terminalreporter.section("tests per engine")
    for engine, by_outcome in counts.items():
        parts = ", ".join(f"{n} {k}" for k, n in sorted(by_outcome.items())) or "none"
        terminalreporter.write_line(f"{engine}: {parts}")
