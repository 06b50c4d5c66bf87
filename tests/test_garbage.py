"""The collector's pace during a run (loader/ingest/garbage.py): set for the run, given back after it."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, Iterator

import pytest

from dicom_graph.loader.ingest import garbage, run, worker
from dicom_graph.loader.ingest.sources import walk
from dicom_graph.model.store import open_store

CALLER = (1234, 5, 6)  # what a program around the run had chosen


@pytest.fixture
def caller_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*CALLER)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def test_the_batch_thresholds_hold_inside_and_the_callers_come_back_even_after_an_error(caller_thresholds: None) -> None:
    with pytest.raises(ZeroDivisionError):
        with garbage.fewer_collections():
            assert gc.get_threshold() == garbage.BATCH_THRESHOLDS
            1 / 0  # noqa: B018
    assert gc.get_threshold() == CALLER


def test_an_ingest_writes_with_the_batch_thresholds_and_leaves_the_callers(
        caller_thresholds: None, pydicom_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[tuple[int, int, int]] = set()

    class Recording(run.BatchCommitter):
        def add(self, outcome: Any) -> None:
            seen.add(gc.get_threshold())
            super().add(outcome)

    monkeypatch.setattr(run, "BatchCommitter", Recording)
    store = open_store(db=str(tmp_path / "g.db"), read_only=False, create=True)
    try:
        summary = run.run_ingest(store, [str(pydicom_corpus)], workers=1, progress=False)
    finally:
        store.close()
    assert summary.files_ingested > 100
    assert seen == {garbage.BATCH_THRESHOLDS}
    assert gc.get_threshold() == CALLER


def test_a_parser_task_runs_with_the_batch_thresholds_and_gives_them_back(
        caller_thresholds: None, pydicom_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[tuple[int, int, int]] = set()
    parse = worker.process_file

    def recording(*args: Any) -> Any:
        seen.add(gc.get_threshold())
        return parse(*args)

    monkeypatch.setattr(worker, "process_file", recording)
    files = sorted(walk([str(pydicom_corpus)]), key=lambda f: f.path)[:5]
    assert len(worker.process_chunk(files)) == 5
    assert seen == {garbage.BATCH_THRESHOLDS}
    assert gc.get_threshold() == CALLER

