"""The dashboard driven by Streamlit's own AppTest, on both engines, against a graph of ../shared/corpus,
or in a clone without it of the sample `dicom-graph demo` ingests (pydicom's test files: the same kinds of
objects, fewer of them; FLOOR holds the figures each must at least reach).

The graph is built once per engine (module scope) with the real loaders: the standard, then the files.
Every page must render without an exception and show the numbers the graph holds; the widgets must work:
search finds Modality, selecting CT Image shows its module table, a Cypher write is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from dicom_graph.dashboard import graph as dashboard_graph
from dicom_graph.model.queries.overview import left_out
from dicom_graph.model.store import open_store

from .conftest import SHARED, make_store, neo4j_uri

APP = str(Path(dashboard_graph.__file__).resolve().parent / "app.py")
PAGES = ["overview", "standard", "data", "conformance", "pointers", "network", "cypher"]
TIMEOUT = 120


# the least each source gives: the corpus (303 instances, 78 studies) and pydicom's files (128, 32)
FLOOR = {"corpus": {"instances": 250, "studies": 50, "sop_classes": 20, "files": 250, "conformance": 100},
         "sample": {"instances": 100, "studies": 20, "sop_classes": 12, "files": 100, "conformance": 100}}


def sources() -> tuple[str, list[str]]:
    """../shared/corpus when present, else the demo's sample folders."""
    from dicom_graph.commands.demo import sample_dirs

    corpus = SHARED / "corpus"
    return ("corpus", [str(corpus)]) if corpus.is_dir() else ("sample", [str(d) for d in sample_dirs()])


def build_corpus_graph(engine: str, tmp: Path) -> str:
    """Load the standard and ingest the files of sources(); return the graph's location."""
    from dicom_graph.loader.ingest import run_ingest
    from dicom_graph.loader.standard.load import load_standard

    store = make_store(engine, tmp)
    try:
        load_standard(store)
        run_ingest(store, sources()[1], workers=2, progress=False, report_path=str(tmp / "rejects.jsonl"))
        return store.describe() if engine == "embedded" else neo4j_uri()
    finally:
        store.close()


@pytest.fixture(scope="module", params=["embedded", "neo4j"])
def corpus_graph(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    engine = request.param
    if engine == "neo4j":
        neo4j_uri()  # skip (or fail in CI) before building anything
    location = build_corpus_graph(engine, tmp_path_factory.mktemp(f"dash-{engine}"))
    saved = {k: os.environ.get(k) for k in ("DICOM_GRAPH_DB", "NEO4J_URI")}
    if engine == "embedded":
        os.environ["DICOM_GRAPH_DB"] = location
        os.environ.pop("NEO4J_URI", None)
    else:
        os.environ["NEO4J_URI"] = location
        os.environ.pop("DICOM_GRAPH_DB", None)
    reader = open_store(location if engine == "embedded" else None, None if engine == "embedded" else location)
    try:
        counts = reader.run("data_counts").records()[0]
        yield {"engine": engine, "location": location, "counts": counts, "reader": reader,
               "floor": FLOOR[sources()[0]]}
    finally:
        reader.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def app_at(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if page and page != "overview":
        at.switch_page(f"views/{page}.py").run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(corpus_graph, page):
    at = app_at(page)
    assert_clean(at)
    assert at.title and at.title[0].value.lower() == page


def test_overview_shows_the_counts(corpus_graph):
    at = app_at()
    assert_clean(at)
    shown = {m.label: m.value for m in at.metric}
    counts, floor = corpus_graph["counts"], corpus_graph["floor"]
    assert counts["instances"] > floor["instances"] and counts["studies"] > floor["studies"]
    for label, key in [("Patients", "patients"), ("Studies", "studies"), ("Series", "series"),
                       ("Instances", "instances")]:
        assert shown[label] == f"{counts[key]:,}"
    in_use = corpus_graph["reader"].run("sop_classes_in_use").records()
    assert shown["SOP classes in use"] == f"{len(in_use):,}"
    assert int(shown["SOP classes in use"]) >= floor["sop_classes"]
    runs = [df.value for df in at.dataframe if "files_ingested" in df.value.columns]
    assert runs and int(runs[0]["files_ingested"].iloc[0]) > floor["files"]
    # what the figures leave out is said on screen, in the words `dicom-graph demo` prints
    status = {r["what"]: r["n"] for r in corpus_graph["reader"].run("dashboard_status")}
    note = left_out(status)
    assert status["stub_instances"] > 0 and "known only from pointers" in note
    assert any(note in c.value for c in at.caption), [c.value for c in at.caption]


def test_standard_search_finds_modality(corpus_graph):
    at = app_at("standard")
    at.text_input(key="std_search").input("Modality").run()
    assert_clean(at)
    df = at.dataframe[0].value
    assert "Modality" in set(df["detail"]) | set(df["name"])
    assert "00080060" in set(df["key"])


def test_selecting_ct_image_shows_its_module_table(corpus_graph):
    at = app_at("standard")
    at.segmented_control(key="std_view").set_value("IOD").run()
    at.selectbox(key="std_iod").select("MR Image").run()
    at.selectbox(key="std_iod").select("CT Image").run()
    assert_clean(at)
    table = at.dataframe[0].value
    modules = set(table["module"])
    assert {"CT Image", "General Series", "Patient", "Image Plane"} <= modules
    assert set(table.loc[table["module"] == "CT Image", "usage"]) == {"M"}
    assert "Series" in set(table["ie"])
    # the attribute tree of a chosen module, with types
    at.selectbox(key="std_iod_module").select("General Series").run()
    tree = at.dataframe[1].value
    assert "Modality" in " ".join(tree["attribute"]) and set(tree["type"]) >= {"1", "2", "3"}


def test_standard_browse_attribute_dimse_compare(corpus_graph):
    at = app_at("standard")
    at.segmented_control(key="std_view").set_value("Browse").run()
    assert_clean(at)
    assert at.selectbox(key="std_sc").value == "Storage Service Class"
    assert at.selectbox(key="std_sop").value == "CT Image Storage"
    at.segmented_control(key="std_view").set_value("Attribute").run()
    at.text_input(key="std_attr").input("SliceThickness").run()
    assert_clean(at)
    assert "Image Plane" in set(at.dataframe[0].value["module"])
    assert [m.label for m in at.metric] == ["Modules", "IODs", "SOP classes", "Service classes"]
    at.segmented_control(key="std_view").set_value("DIMSE").run()
    assert_clean(at)
    assert {"N-CREATE", "N-SET"} <= set(at.dataframe[0].value["dimse"])
    at.segmented_control(key="std_view").set_value("Compare").run()
    assert_clean(at)
    sides = set(at.dataframe[0].value["side"])
    assert {"shared", "only_a", "only_b"} <= sides


def test_data_browser_drills_down_to_an_instance(corpus_graph):
    at = app_at("data")
    assert_clean(at)
    patients = at.dataframe[0].value
    assert len(patients) > 10
    without_id = int(patients["patient_id"].isna().sum())
    explained = [c.value for c in at.caption if "have no Patient ID" in c.value]
    assert explained == ([f"{without_id:,} of them have no Patient ID: each is one study's patient, never merged "
                          "with another on a guess, and the Overview's patient count (by Patient ID) leaves them "
                          "out."] if without_id else [])
    at.selectbox(key="f_modality").select("CT").run()
    assert_clean(at)
    assert at.dataframe[0].value["instances"].sum() > 0
    uid = at.selectbox(key="d_instance").value
    assert uid and any(uid in h.value for h in at.header)
    at.text_input(key="f_attr").input("Modality=CT").run()
    assert_clean(at)


def test_conformance_and_pointers(corpus_graph):
    at = app_at("conformance")
    assert_clean(at)
    by_class = at.dataframe[0].value
    assert by_class["instances"].sum() > corpus_graph["floor"]["conformance"]
    assert at.dataframe[-1].value is not None
    at = app_at("pointers")
    assert_clean(at)
    studies = at.selectbox(key="ptr_study")
    assert studies.options  # both sources have SEG / SR / RT objects pointing at images
    assert not [o for o in studies.options if o.startswith("nan ")], studies.options  # a missing description
    at.segmented_control(key="ptr_view").set_value("Dangling").run()
    assert_clean(at)


def test_cypher_runs_examples_and_refuses_writes(corpus_graph):
    at = app_at("cypher")
    at.selectbox(key="cy_example").select("example_studies_per_modality").run()
    at.button(key="cy_run").click().run()
    assert_clean(at)
    assert "CT" in set(at.dataframe[0].value["modality"])
    before = corpus_graph["reader"].count_nodes("Patient")
    at.text_area(key="cy_text").input("CREATE (p:Patient {key: 'evil', PatientID: 'evil'}) RETURN p").run()
    at.text_input(key="cy_params").input("{}").run()
    at.button(key="cy_run").click().run()
    assert at.error and "read-only" in at.error[0].value.lower()
    assert corpus_graph["reader"].count_nodes("Patient") == before


def test_missing_graph_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("DICOM_GRAPH_DB", str(tmp_path / "nothing-here.db"))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    for page in PAGES:
        at = app_at(page)
        assert not at.exception
        text = " ".join(w.value for w in at.warning)
        assert "dicom-graph standard load" in text and "dicom-graph ingest" in text


def test_empty_graph_says_what_to_run(tmp_path, monkeypatch):
    store = open_store(str(tmp_path / "empty.db"), read_only=False, create=True)
    store.close()
    monkeypatch.setenv("DICOM_GRAPH_DB", str(tmp_path / "empty.db"))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    for page in PAGES:
        at = app_at(page)
        assert not at.exception and not at.error, page
        text = " ".join(i.value for i in at.info) + " ".join(w.value for w in at.warning)
        if page != "cypher":
            assert "dicom-graph" in text, page
