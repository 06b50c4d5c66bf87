"""The read path through the real CLI on the embedded engine: `dicom-graph query` without --write refuses
what LadybugDB's read-only mode would still run (CHECKPOINT, COPY TO, LOAD FROM, LOAD EXTENSION, INSTALL,
ATTACH, EXPORT) with one line and a non-zero exit, and leaves the graph file, a file beside it and a file
elsewhere byte-identical; a native library given to LOAD EXTENSION never runs its constructor."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_read_only import readme_queries

MARKER_SOURCE = r"""
#include <stdio.h>
__attribute__((constructor)) static void dicom_graph_marker(void) {
    FILE *f = fopen(MARKER_PATH, "w");
    if (f) { fputs("the extension ran\n", f); fclose(f); }
}
"""


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dicom-graph", *args], capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")})


def snapshot(*folders_or_files: Path) -> dict[str, str]:
    """sha256 of every file under the given folders (and of the given files): what must not change."""
    digests = {}
    for root in folders_or_files:
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file():
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def marker_library(folder: Path) -> tuple[Path, Path]:
    """A shared library whose constructor writes a marker file: (library, marker). Skips without a compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler to build the test extension")
    marker = folder / "extension-ran.txt"
    source = folder / "marker.c"
    source.write_text(MARKER_SOURCE.replace("MARKER_PATH", json.dumps(str(marker))))
    library = folder / "libmarker.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True, timeout=120)
    # the library works: loading it runs the constructor (so its absence below means it never loaded)
    subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(library)!r})"], check=True, timeout=60)
    assert marker.exists()
    marker.unlink()
    return library, marker


@pytest.fixture
def graph(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small embedded graph, a file beside it and a file elsewhere; all three must stay as they are."""
    home = tmp_path / "graph"
    home.mkdir()
    db = home / "g.db"
    made = cli("query", "CREATE (:Patient {key: 'p1', PatientID: 'p1'})", "--db", str(db), "--write")
    assert made.returncode == 0, made.stderr
    beside = home / "beside.csv"
    beside.write_text("key\nbeside\n")
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "elsewhere.csv"
    elsewhere.write_text("key\nelsewhere\n")
    return {"db": db, "home": home, "beside": beside, "elsewhere": elsewhere}


def hostile(g: dict[str, Path], library: Path | None = None) -> list[str]:
    q = {k: str(v) for k, v in g.items()}
    statements = [
        "CHECKPOINT",
        "checkpoint;",
        "/* maintenance */ CheckPoint // now",
        f"COPY (MATCH (p:Patient) RETURN p.key) TO '{q['beside']}'",
        f"copy (match (p:Patient) return p.key) to '{q['elsewhere']}'",
        f"COPY (MATCH (p:Patient) RETURN p.key) TO '{q['home']}/new.parquet'",
        f"COPY Patient FROM '{q['elsewhere']}'",
        f"LOAD FROM '{q['elsewhere']}' RETURN *",
        f"LOAD WITH HEADERS (key STRING) FROM '{q['beside']}' RETURN *",
        "INSTALL json FROM 'http://127.0.0.1:9/'",
        f"ATTACH '{q['home']}/other.db' AS other (dbtype lbug)",
        f"EXPORT DATABASE '{q['home']}/export'",
        "CREATE (:Patient {key: 'evil', PatientID: 'evil'})",
        "MATCH (p:Patient) SET p.PatientID = 'evil'",
        "MATCH (p:Patient) DETACH DELETE p",
        "MATCH (p:Patient) RETURN p.key; CHECKPOINT",
        "MATCH (p:Patient) RETURN p.key // harmless\nCHECKPOINT",
        "BEGIN TRANSACTION",
    ]
    if library is not None:
        statements += [f"LOAD EXTENSION '{library}'", f"load /* x */ extension \"{library}\"",
                       f"MATCH (n) RETURN n; LOAD EXTENSION '{library}'"]
    return statements


def assert_refused(out: subprocess.CompletedProcess) -> None:
    assert out.returncode != 0, out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dicom-graph: refused on the read-only path: "), out.stderr


def test_cli_refuses_what_the_engine_would_still_run(graph: dict[str, Path]):
    before = snapshot(graph["home"], graph["elsewhere"])
    assert str(graph["db"]) in before
    for statement in hostile(graph):
        assert_refused(cli("query", statement, "--db", str(graph["db"])))
    assert snapshot(graph["home"], graph["elsewhere"]) == before
    rows = json.loads(cli("query", "MATCH (p:Patient) RETURN p.PatientID AS id", "--db", str(graph["db"]),
                          "-f", "json").stdout)
    assert rows == [{"id": "p1"}]


def test_load_extension_never_runs_native_code(graph: dict[str, Path], tmp_path: Path):
    library, marker = marker_library(tmp_path)
    before = snapshot(graph["home"], graph["elsewhere"])
    for statement in hostile(graph, library)[-3:]:
        assert_refused(cli("query", statement, "--db", str(graph["db"])))
    assert not marker.exists(), "LOAD EXTENSION ran the library's constructor"
    assert snapshot(graph["home"], graph["elsewhere"]) == before


def test_reads_and_readme_examples_run(graph: dict[str, Path]):
    before = snapshot(graph["home"], graph["elsewhere"])
    for statement in [*readme_queries(), "MATCH (p:Patient) RETURN p.key AS `set`, {set: 1} AS m",
                      "CALL show_tables() RETURN name", "EXPLAIN MATCH (p:Patient) RETURN p"]:
        out = cli("query", statement, "--db", str(graph["db"]), "-f", "json")
        assert out.returncode == 0, (statement, out.stderr)
        json.loads(out.stdout)
    named = cli("query", "example_studies_per_modality", "--db", str(graph["db"]))
    assert named.returncode == 0, named.stderr
    assert snapshot(graph["home"], graph["elsewhere"]) == before
