"""The corpus oracle, on both engines: the graph an ingest builds reproduces ORACLE.json (outside_bad).

Every figure is read from ORACLE.json at test time, never copied into this file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dicom_graph.loader.ingest import run_ingest


def outside_bad(corpus: Path) -> list[str]:
    return [str(p) for p in sorted(corpus.iterdir()) if p.is_dir() and p.name != "bad"]


@pytest.fixture
def ingested(store, corpus, tmp_path):
    summary = run_ingest(store, outside_bad(corpus), workers=2, progress=False,
                         report_path=str(tmp_path / "rejects.jsonl"))
    return store, summary


def test_corpus_reproduces_oracle(ingested, corpus):
    store, summary = ingested
    oracle = json.loads((corpus / "ORACLE.json").read_text())["outside_bad"]
    assert summary.status == "finished"
    assert summary.files_rejected == len(oracle["unreadable_files"])
    assert summary.files_ingested == oracle["readable_files"]

    counts = store.run("data_counts").records()[0]
    assert counts["patients"] == oracle["patients"]
    assert counts["studies"] == oracle["studies"]
    assert counts["series"] == oracle["series"]
    assert counts["instances"] == oracle["instances"]

    per_class = {r["sop_class_uid"]: r["instances"] for r in store.run("instances_per_sop_class")}
    assert per_class == {uid: v["instances"] for uid, v in oracle["per_sop_class"].items()}

    pairs = {(r["referencing"], r["referenced"]) for r in store.run("reference_pairs")}
    assert pairs == {tuple(p) for p in oracle["reference_pairs"]}
    assert len(pairs) == oracle["reference_pair_count"]

    # the resolved pairs point at full (non-stub) instances; the others at stubs
    dangling = {(r["referencing"], r["referenced"]) for r in store.run("dangling_references")}
    resolved = {tuple(p) for p in oracle["resolved_reference_pairs"]}
    assert resolved.isdisjoint(dangling)
    assert dangling == pairs - resolved


def test_patient_ids_and_contradictions_visible(ingested, corpus):
    store, _ = ingested
    oracle = json.loads((corpus / "ORACLE.json").read_text())["outside_bad"]
    ids = store.query("MATCH (p:Patient) WHERE coalesce(p.unidentified, false) = false "
                      "AND coalesce(p.stub, false) = false RETURN DISTINCT p.PatientID AS id").column("id")
    assert sorted(ids) == sorted(oracle["patient_ids"])
    # instances sharing a SOP Instance UID with other content are recorded, not overwritten
    conflicts = store.run("instance_content_conflicts").records()
    assert conflicts and all(r["conflicting_hashes"] for r in conflicts)
    # unknown SOP classes are nodes marked unknown, named by their UID
    unknown = [r for r in store.run("sop_classes_in_use") if r["unknown"]]
    assert unknown and all(r["name"] == r["uid"] for r in unknown)  # the corpus has one


def test_pointer_counts_match_edges(ingested):
    """pointer_count (kept at ingest so that "studies with pointers" is one column scan) is exactly the
    number of REFERENCES edges of every ingested instance, including those ingested twice with
    different content, and the dashboard's query agrees with a walk over the edges."""
    store, _ = ingested
    wrong = store.query("MATCH (i:Instance) WHERE i.stub = false OPTIONAL MATCH (i)-[r:REFERENCES]->() "
                        "WITH i, count(r) AS n WHERE coalesce(i.pointer_count, -1) <> n "
                        "RETURN i.SOPInstanceUID AS uid, i.pointer_count AS kept, n").records()
    assert wrong == []
    walked = store.query("MATCH (st:Study)-[:HAS_SERIES]->(:Series)-[:HAS_INSTANCE]->(i:Instance)"
                         "-[r:REFERENCES]->() RETURN st.StudyInstanceUID AS study_uid, "
                         "count(DISTINCT i) AS instances, count(r) AS pointers").records()
    shown = store.run("studies_with_pointers", limit=10_000).records()
    assert walked and {(r["study_uid"], r["instances"], r["pointers"]) for r in shown} == {
        (r["study_uid"], r["instances"], r["pointers"]) for r in walked}


@pytest.mark.parametrize("filters", [{}, {"modality": "CT"}, {"modality": "SEG"},
                                     {"dates": True, "date_from": "2000-01-01", "date_to": "2010-12-31"}])
def test_browse_patients_matches_the_hierarchy(ingested, filters):
    """browse_patients filters on the instances' own attributes (one scan, not a walk down the
    hierarchy): it must count what the walk counts. An instance counts under the study it names: the
    corpus has a series whose instances name three different studies (rt-utils), which the walk alone
    would count under each of them; and its own Modality (an SR filed in a CT series)."""
    store, _ = ingested
    walked = store.query(
        "MATCH (p:Patient)-[:HAS_STUDY]->(st:Study)-[:HAS_SERIES]->(se:Series)-[:HAS_INSTANCE]->(i:Instance) "
        "WHERE i.StudyInstanceUID = st.StudyInstanceUID AND ($modality = '' OR i.Modality = $modality) "
        "AND (NOT $dates OR (st.StudyDate >= date($date_from) AND st.StudyDate <= date($date_to))) "
        "RETURN p.key AS patient_key, count(DISTINCT st) AS studies, count(DISTINCT se) AS series, "
        "count(i) AS instances",
        {"modality": "", "dates": False, "date_from": "1900-01-01", "date_to": "2999-12-31", **filters}).records()
    shown = store.run("browse_patients", limit=10_000, **filters).records()
    assert walked
    assert sorted((r["patient_key"], r["studies"], r["series"], r["instances"]) for r in shown) == sorted(
        (r["patient_key"], r["studies"], r["series"], r["instances"]) for r in walked)
