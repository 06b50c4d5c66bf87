"""The analysts' Python API (`import dicom_graph as dg`): DataFrames and networkx graphs that say what the
CLI and the Cypher say, on both engines where it is the store that answers."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pydicom
import pytest

import dicom_graph as dg
from dicom_graph.api import Graph
from dicom_graph.loader.ingest import run_ingest
from dicom_graph.model import queries
from dicom_graph.model.queries import reference_targets
from dicom_graph.model.store import GraphStore, ReadOnlyError
from dicom_graph.model.store.base import json_value

SAMPLES = Path(pydicom.__file__).resolve().parent / "data" / "test_files"
ENV = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")}


def ingest_samples(store: GraphStore, tmp: Path) -> None:
    run_ingest(store, [str(SAMPLES)], workers=1, progress=False, report_path=str(tmp / "rejects.jsonl"))


def test_a_study_s_pointer_graph_is_what_the_cypher_answers(store: GraphStore, tmp_path: Path) -> None:
    ingest_samples(store, tmp_path)
    g = Graph(store)
    study = g.query("studies_with_pointers")["study_uid"].iloc[0]
    graph = g.subgraph("pointers_graph_of_study", study=study)
    members = set(g.query("MATCH (:Study {StudyInstanceUID: $study})-[:HAS_SERIES]->(:Series)-[:HAS_INSTANCE]->"
                          "(i:Instance) RETURN i.SOPInstanceUID AS uid", study=study)["uid"])
    # pointers_around_study also lists pointers *into* the study: keep the ones out of its instances (a
    # pointer within the study is listed both ways: once each here)
    expected = sorted({(r["source"], r["via"], r["target_label"], r["target"])
                       for r in store.run("pointers_around_study", study=study) if r["source"] in members})
    key = dict(reference_targets())
    got = sorted((graph.nodes[a]["SOPInstanceUID"], data["via"], graph.nodes[b]["label"],
                  graph.nodes[b][key[graph.nodes[b]["label"]]]) for a, b, data in graph.edges(data=True))
    assert got and got == expected
    assert all(data["label"] == "REFERENCES" for _a, _b, data in graph.edges(data=True))
    assert {graph.nodes[n]["label"] for n in graph} <= set(key)
    sources = [n for n in graph if graph.out_degree(n)]
    assert all(graph.nodes[n]["StudyInstanceUID"] == study for n in sources)  # properties came along
    # the same graph from rows already fetched as a DataFrame
    frame = g.query("pointers_graph_of_study", study=study)
    again = g.to_networkx(frame)
    assert sorted(again.edges(keys=True)) == sorted(graph.edges(keys=True))


def test_query_types_its_columns(store: GraphStore, tmp_path: Path) -> None:
    ingest_samples(store, tmp_path)
    g = Graph(store)
    df = g.query("MATCH (st:Study) RETURN st.StudyDate AS day, st.StudyInstanceUID AS uid ORDER BY uid")
    days = [d for d in df["day"] if d is not pd.NA]
    assert days and all(type(d) is dt.date for d in days)
    assert str(df["uid"].dtype) == "string"
    tree = g.query("example_patient_tree")
    assert str(tree["studies"].dtype) == "Int64"
    assert all(isinstance(m, list) for m in tree["modalities"])
    assert g.stats() == store.stats()
    with pytest.raises(ReadOnlyError):  # a Graph on a reader refuses writes before the engine sees them
        g.query("MATCH (p:Patient) SET p.PatientName = 'x'")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The graph a newcomer has after `dicom-graph demo` (built by the real console script)."""
    db = tmp_path_factory.mktemp("demo") / "dicom-graph.db"
    built = subprocess.run([_exe(), "demo", "--no-dashboard", "--db", str(db)], env=ENV,
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    yield db


def _exe() -> str:
    exe = Path(sys.executable).with_name("dicom-graph")
    return str(exe) if exe.exists() else "dicom-graph"


def test_connect_resolves_the_graph_as_the_cli_does(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.setenv("DICOM_GRAPH_DB", str(demo_db))
    with dg.connect() as g:
        assert Path(g.store.describe()) == demo_db and not g.write
        assert g.stats()["nodes"]["Instance"] >= 50
    monkeypatch.setenv("DICOM_GRAPH_DB", str(demo_db.parent / "nothing-here.db"))
    with pytest.raises(Exception, match="nothing-here"):  # a reader never creates an empty graph
        dg.connect()
    assert not (demo_db.parent / "nothing-here.db").exists()


def _arguments(g: Graph) -> dict[str, Any]:
    """A value from the demo data for every required parameter of a listed query."""
    first = lambda name, column, **p: g.query(name, **p)[column].dropna().iloc[0]  # noqa: E731
    conformance = g.query("conformance_by_sop_class")
    failing = conformance[conformance["complete"] < conformance["instances"]]["sop_class_uid"].iloc[0]
    study = first("studies_with_pointers", "study_uid")
    iod = first("sop_class_iod", "iod_key", sop_class=failing)
    iods = g.query("MATCH (i:IOD) RETURN i.key AS k ORDER BY k LIMIT 2")["k"]
    return {"patient": first("browse_patients_unfiltered", "patient_key"), "study": study,
            "series": first("browse_series", "series_uid", study=study),
            "uid": first("reference_pairs", "referencing"), "sop_class": failing, "iod": iod,
            "module": first("iod_modules", "module_key", iod=iod), "keyword": "PatientID", "attribute": "PatientID",
            "text": "CT", "a": iods.iloc[0], "b": iods.iloc[1],
            "service_class": first("iod_neighbourhood", "service_class_key", iod=iod),
            "day": first("MATCH (s:Study) WHERE s.StudyDate IS NOT NULL RETURN s.StudyDate AS d ORDER BY d",
                         "d").isoformat()}


def _plain(value: Any) -> Any:
    """A DataFrame cell as `query --format json` prints it: missing as null, numpy scalars as numbers."""
    if value is None or value is pd.NA or isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return json_value(value)


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


def test_query_returns_the_rows_the_cli_prints_for_every_listed_query(demo_db: Path) -> None:
    with dg.connect(db=str(demo_db)) as g:
        given = _arguments(g)
        plan = {name: {p.name: given[p.name] for p in q.parameters if p.required}
                for name, q in queries.listed().items()}
        frames = {name: g.query(name, **params) for name, params in plan.items()}

    def cli(name: str) -> list[dict[str, Any]]:
        args = [a for k, v in plan[name].items() for a in ("-p", f"{k}={json.dumps(v) if not isinstance(v, str) else v}")]
        done = subprocess.run([_exe(), "query", name, "-f", "json", "--db", str(demo_db), *args], env=ENV,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name}: {done.stderr}"
        return json.loads(done.stdout)

    with ThreadPoolExecutor(2) as pool:
        printed = dict(zip(plan, pool.map(cli, plan), strict=True))
    answered = 0
    for name, frame in frames.items():
        rows = [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]
        assert list(frame.columns) == (list(printed[name][0]) if printed[name] else list(frame.columns)), name
        # as multisets: a UNION's order (standard_search) is the engine's, from one run to the next
        assert sorted(map(_key, rows)) == sorted(map(_key, printed[name])), name
        answered += bool(rows)
    assert answered >= 0.8 * len(plan)  # most listed queries have something to say on the demo data
