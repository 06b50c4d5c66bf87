"""Where `ingest` puts its rejection report when the graph is on Neo4j: the user's data folder, never the
folder the command happened to be started from (next to the embedded graph stays as it was)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from dicom_graph.commands.ingest import neo4j_report_path

from .conftest import console_script


def test_a_neo4j_report_goes_to_the_user_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    first = neo4j_report_path("bolt://db.example:7687 (database archive)")
    assert first.parent == tmp_path / "data" / "dicom-graph" / "reports"
    assert first.name.startswith("bolt-db.example-7687-database-archive-") and first.name.endswith(".rejects.jsonl")
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert neo4j_report_path("bolt://h:1").parent == tmp_path / "home" / ".local" / "share" / "dicom-graph" / "reports"


def test_an_unwritable_report_fails_the_run_in_one_line(tmp_path: Path) -> None:
    """A report path that cannot be written (here: under a regular file, which stops root too) ends the
    ingest with exit 1 and one line, and the IngestRun says `failed`: it once stayed `running` for good."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    db = tmp_path / "g.db"
    env = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")}
    done = subprocess.run([console_script(), "ingest", str(get_testdata_file("CT_small.dcm")), "--db", str(db),
                           "--report", str(blocker / "rejects.jsonl")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dicom-graph: ") and str(blocker) in lines[0], done.stderr
    runs = subprocess.run([console_script(), "query", "MATCH (r:IngestRun) RETURN r.status AS status", "--db",
                           str(db), "-f", "json"], env=env, capture_output=True, text=True, timeout=120)
    assert runs.returncode == 0, runs.stderr
    assert [r["status"] for r in json.loads(runs.stdout)] == ["failed"]
