"""The corpus oracle, on both engines: the graph an ingest builds reproduces ORACLE.json (outside_bad).

Every figure is read from ORACLE.json at test time, never copied into this file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dicom_graph.loader.pipeline import run_ingest


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
    assert all(r["name"] == r["uid"] for r in unknown)
