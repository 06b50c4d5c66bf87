"""A batch's write cut at each of its steps, then --resume: the graph equals one clean run, on both engines.

The kill -9 test (test_ingest_robustness.py) kills wherever the timing puts it, mostly while files are
parsed; a CI run once put it between the nodes and the relationships of a bulk write, and --resume then
left 36 edges out for good (the instances looked written whole). This test cuts the write of the first
batch at every step the writer takes, deterministically: the store is the real one, and the cut step
writes what a bulk write commits before its relationships (its nodes and stubs), then stops the run as
a kill would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_testdata_file

from dicom_graph.loader.ingest import run_ingest
from dicom_graph.model.batch import GraphBatch

from .conftest import clear_neo4j

# images, and RT objects and an SR pointing at each other and at images: edges of every kind
FILES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm", "rtstruct.dcm", "reportsi.dcm",
         "JPEG2000.dcm")
WRITES_PER_BATCH = 3  # graph; entity records + instance hashes; SourceFile rows (loader/ingest/writer.py)


class _Killed(BaseException):
    """Not an Exception: the committer's retry of a failed write must not catch it, as it cannot a kill."""


class _CutStore:
    """The real store, whose `cut_at`-th write commits its nodes and stubs only, then the run dies."""

    def __init__(self, store: Any, cut_at: int) -> None:
        self._store, self._cut_at, self.writes = store, cut_at, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def write(self, batch: GraphBatch, *, atomic: bool = True) -> Any:
        self.writes += 1
        if self.writes < self._cut_at:
            return self._store.write(batch, atomic=atomic)
        self._store.write(GraphBatch(nodes=batch.nodes, stubs=batch.stubs), atomic=atomic)
        raise _Killed


def _archive(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    for name in FILES:
        shutil.copy(get_testdata_file(name), folder / name)
    return folder


def _entity_values(store: Any) -> list[tuple[str, dict]]:
    """Every entity's recorded values with how many instance versions carried each: counted once each."""
    return [(r["key"], json.loads(r["observed"])) for r in store.query(
        "MATCH (v:EntityValues) RETURN v.key AS key, v.observed AS observed ORDER BY key").records()]


def _ingest(store: Any, folder: Path, tmp_path: Path, **options: Any) -> Any:
    return run_ingest(store, [str(folder)], workers=1, progress=False, batch_instances=2,
                      report_path=str(tmp_path / "r.jsonl"), **options)


@pytest.mark.parametrize("cut_at", range(1, WRITES_PER_BATCH + 1))
def test_a_write_cut_at_any_step_is_finished_by_resume(store, tmp_path: Path, cut_at: int) -> None:
    folder = _archive(tmp_path)
    _ingest(store, folder, tmp_path)
    clean, values = json.dumps(store.stats()), _entity_values(store)
    clean_edges = store.stats()["relationships"]
    clear_neo4j(store)

    cut = _CutStore(store, cut_at)
    with pytest.raises(_Killed):
        _ingest(cut, folder, tmp_path)
    assert store.count_nodes("SourceFile") < len(FILES), "the cut must leave files to redo"
    _ingest(store, folder, tmp_path, resume=True)
    assert json.dumps(store.stats()) == clean, f"clean run's edges: {clean_edges}"
    assert _entity_values(store) == values
