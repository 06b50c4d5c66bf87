"""Where `ingest` puts its rejection report when the graph is on Neo4j: the user's data folder, never the
folder the command happened to be started from (next to the embedded graph stays as it was)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicom_graph.commands.ingest import neo4j_report_path


def test_a_neo4j_report_goes_to_the_user_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    first = neo4j_report_path("bolt://db.example:7687 (database archive)")
    assert first.parent == tmp_path / "data" / "dicom-graph" / "reports"
    assert first.name.startswith("bolt-db.example-7687-database-archive-") and first.name.endswith(".rejects.jsonl")
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert neo4j_report_path("bolt://h:1").parent == tmp_path / "home" / ".local" / "share" / "dicom-graph" / "reports"
