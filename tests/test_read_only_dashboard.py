"""The dashboard's Cypher page (Streamlit AppTest) on an embedded graph: what the engine's read-only mode
would still run is refused with one line, the files stay byte-identical, a native library never loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dicom_graph.model.store import open_store

from .test_dashboard_apptest import APP, TIMEOUT
from .test_read_only_cli import marker_library, snapshot
from .test_store_contract import patient_batch


@pytest.fixture
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "graph"
    home.mkdir()
    with open_store(str(home / "g.db"), read_only=False, create=True) as store:
        store.write(patient_batch())
    (home / "beside.csv").write_text("key\nbeside\n")
    monkeypatch.setenv("DICOM_GRAPH_DB", str(home / "g.db"))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.delenv("DICOM_GRAPH_DASHBOARD_PASSWORD", raising=False)
    return home


def run_cypher(at: AppTest, text: str) -> AppTest:
    at.text_area(key="cy_text").input(text).run()
    at.text_input(key="cy_params").input("{}").run()
    return at.button(key="cy_run").click().run()


def test_cypher_page_refuses_what_the_engine_would_run(graph: Path, tmp_path: Path):
    library, marker = marker_library(tmp_path)
    before = snapshot(graph)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/cypher.py").run()
    for statement in ["CHECKPOINT", f"COPY (MATCH (p:Patient) RETURN p.key) TO '{graph / 'beside.csv'}'",
                      f"LOAD FROM '{graph / 'beside.csv'}' RETURN *", f"LOAD EXTENSION '{library}'",
                      "MATCH (p:Patient) RETURN p; CHECKPOINT", "/* x */ create (p:Patient {key: 'evil'})"]:
        run_cypher(at, statement)
        assert not at.exception, statement
        assert len(at.error) == 1, statement
        message = at.error[0].value
        assert "refused on the read-only path" in message.lower() and "\n" not in message, message
    assert not marker.exists(), "LOAD EXTENSION ran the library's constructor"
    assert snapshot(graph) == before
    run_cypher(at, "MATCH (p:Patient) RETURN p.PatientID AS id")
    assert not at.error and list(at.dataframe[0].value["id"]) == ["P1"]
