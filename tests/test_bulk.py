"""extract + load gives the graph ingest gives: pydicom's test files (anywhere) and the shared corpus.

The files are cut into small chunks so that patients, studies and series span chunks, copies of one
instance land in different chunks (pydicom's test files hold several) and pointers cross chunks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dicom_graph.loader.bulk.extract import run_extract
from dicom_graph.loader.bulk.fold import fold
from dicom_graph.loader.bulk.load import run_load
from dicom_graph.loader.bulk.manifest import read
from dicom_graph.loader.ingest import run_ingest
from dicom_graph.model.store import open_store

from .bulk_helpers import PYDICOM_FILES, cli, content
from . import test_ingest_corpus as oracle_checks


def _both(paths: list[str], tmp_path: Path, chunk_files: int):
    shards = tmp_path / "shards"
    run_extract(paths, str(shards), workers=2, chunk_files=chunk_files)
    bulk = open_store(db=str(tmp_path / "bulk.db"), read_only=False, create=True)
    summary = run_load(bulk, str(shards))
    ingested = open_store(db=str(tmp_path / "ingest.db"), read_only=False, create=True)
    run_ingest(ingested, paths, workers=2, progress=False, report_path=str(tmp_path / "ingest.jsonl"))
    return shards, bulk, summary, ingested


def test_pydicom_files_extract_load_equals_ingest(tmp_path):
    shards, bulk, summary, ingested = _both([str(PYDICOM_FILES)], tmp_path, chunk_files=25)
    with bulk, ingested:
        assert bulk.stats() == ingested.stats()
        assert bulk.stats()["nodes"]["Instance"] > 100
        assert content(bulk) == content(ingested)
        manifest = read(shards)
        folded = fold(shards, [c["id"] for c in manifest["chunks"]], manifest["done"], bulk, tmp_path / "work")
        assert folded.set_aside, "the test must exercise copies of one instance in two chunks"
        assert len(folded.set_aside) < len(manifest["chunks"]), "and chunks loaded in bulk"
    assert summary.status == "finished"
    assert not list(shards.glob(".fold-*")), "the load's work folder is deleted when the load ends"
    # the rejection report says what ingest's says, file by file
    def lines(path: Path) -> set[tuple[str, str, str]]:
        return {(r["path"], r["status"], r["error_class"]) for r in map(json.loads, path.read_text().splitlines())}
    assert lines(shards / "rejects.jsonl") == lines(tmp_path / "ingest.jsonl")
    assert summary.files_rejected == sum(1 for _ in (shards / "rejects.jsonl").read_text().splitlines()
                                         if '"rejected"' in _)


def _plan_rows(folded) -> dict[str, list[str]]:
    """Every row a plan loads, per label / relationship type, whatever the files it is cut into (a file
    has the columns its rows have: a null is a missing property, as in the graph)."""
    import pyarrow.parquet as pq

    files = {**folded.plan.node_files, **{".".join(g): fs for g, fs in folded.plan.rel_files.items()}}
    rows = {name: sorted(repr(sorted((k, v) for k, v in r.items() if v is not None))
                         for f in fs for r in pq.read_table(f).to_pylist())
            for name, fs in files.items()}
    return {**rows, **{f"stubs/{label}": sorted(map(repr, keys)) for label, keys in folded.plan.stubs.items()}}


def test_fold_in_many_small_parts_plans_the_same_rows(tmp_path):
    """What bounds the load's memory (partition.py: entities folded part by part of their key's hash)
    changes no row: parts of 7 shard rows give the plan one part gives. Small chunks: many entities
    span chunks, so a key whose rows went to two parts would show as two rows."""
    shards = tmp_path / "shards"
    run_extract([str(PYDICOM_FILES)], str(shards), workers=2, chunk_files=5)
    manifest = read(shards)
    ids = [c["id"] for c in manifest["chunks"]]
    with open_store(db=str(tmp_path / "g.db"), read_only=False, create=True) as store:
        whole = fold(shards, ids, manifest["done"], store, tmp_path / "whole", fold_rows=10**9)
        parts = fold(shards, ids, manifest["done"], store, tmp_path / "parts", fold_rows=7)
    assert len(parts.plan.node_files["Series"]) > 3 > len(whole.plan.node_files["Series"])
    assert len(parts.plan.rel_files[("HAS_SERIES", "Study", "Series")]) > 1
    rows = _plan_rows(parts)
    assert rows == _plan_rows(whole) and rows["Series"]
    spanning = {label: len(rows[label]) for label in ("Patient", "Study", "Series")}
    shard_rows = {label: sum(d["rows"].get(f"nodes/{label}", 0) for c, d in manifest["done"].items()
                             if int(c) not in whole.set_aside) for label in spanning}
    assert all(shard_rows[label] > n for label, n in spanning.items()), "entities must span chunks"
    assert parts.set_aside == whole.set_aside and parts.conflicted == whole.conflicted


def test_a_killed_loads_work_folder_is_deleted_by_the_next_load(tmp_path):
    from dicom_graph.loader.bulk.partition import work_folder

    shards = tmp_path / "s"
    run_extract([str(PYDICOM_FILES / "CT_small.dcm")], str(shards), workers=1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = shards / f".fold-{int(dead.stdout)}"
    (stale / "nodes").mkdir(parents=True)
    alive = shards / f".fold-{os.getppid()}"  # a load running beside, from the same shards
    alive.mkdir()
    mine = work_folder(shards)
    assert mine.is_dir() and not stale.exists() and alive.is_dir()


def test_manifest_counts_match_the_shards(tmp_path):
    import pyarrow.parquet as pq

    shards = tmp_path / "shards"
    run_extract([str(PYDICOM_FILES)], str(shards), workers=1, chunk_files=60)
    manifest = read(shards)
    assert manifest["finished"] and manifest["schema_version"] >= 1
    assert sum(len(c["files"]) for c in manifest["chunks"]) == sum(1 for p in PYDICOM_FILES.rglob("*") if p.is_file())
    for chunk_id, done in manifest["done"].items():
        for folder, rows in done["rows"].items():
            assert pq.read_metadata(shards / folder / f"chunk-{int(chunk_id):06d}.parquet").num_rows == rows


def test_cli_load_refuses_a_graph_with_data_and_unfinished_extractions(tmp_path):
    shards = tmp_path / "s"
    cli("extract", str(PYDICOM_FILES / "CT_small.dcm"), "--out", str(shards))
    cli("load", str(shards), "--db", str(tmp_path / "g.db"))
    again = cli("load", str(shards), "--db", str(tmp_path / "g.db"), check=False)
    assert again.returncode == 1 and "already holds data" in again.stderr and len(again.stderr.splitlines()) == 1
    manifest = json.loads((shards / "manifest.json").read_text())
    manifest["finished"] = False
    (shards / "manifest.json").write_text(json.dumps(manifest))
    cut = cli("load", str(shards), "--db", str(tmp_path / "h.db"), check=False)
    assert cut.returncode == 1 and "did not finish" in cut.stderr
    none = cli("load", str(tmp_path), "--db", str(tmp_path / "h.db"), check=False)
    assert none.returncode == 1 and "no manifest.json" in none.stderr


@pytest.mark.shared
def test_corpus_extract_load_equals_ingest_and_the_oracle(corpus, tmp_path):
    _, bulk, summary, ingested = _both(oracle_checks.outside_bad(corpus), tmp_path, chunk_files=40)
    with bulk, ingested:
        assert bulk.stats() == ingested.stats()
        assert content(bulk) == content(ingested)
        oracle_checks.test_corpus_reproduces_oracle((bulk, summary), corpus)


def test_worker_processes_check_conformance_as_the_driver_does(tmp_path):
    """The pool's workers get the run's requirements once, at their start, not in every task: their
    shards must be the driver's own (workers=1 parses in this process, the requirements in the task),
    with the conformance properties only requirements give."""
    import pyarrow.parquet as pq

    from dicom_graph.loader.dataset import conformance
    from dicom_graph.loader.standard import load_standard

    from .bulk_helpers import shard_bytes

    with open_store(db=str(tmp_path / "standard.db"), read_only=False, create=True) as store:
        load_standard(store)
        requirements = conformance.load_requirements(store)
    pooled, alone = tmp_path / "pooled", tmp_path / "alone"
    run_extract([str(PYDICOM_FILES)], str(pooled), workers=2, chunk_files=40, requirements=requirements)
    run_extract([str(PYDICOM_FILES)], str(alone), workers=1, chunk_files=40, requirements=requirements)
    assert len(read(pooled)["chunks"]) > 2
    assert shard_bytes(pooled) == shard_bytes(alone)
    tables = [pq.read_table(p) for p in sorted((pooled / "nodes" / "Instance").glob("*.parquet"))]
    checked = [v for t in tables if "conformant" in t.column_names for v in t.column("conformant").to_pylist()]
    assert checked.count(True) and checked.count(False)  # evaluated, not left out
