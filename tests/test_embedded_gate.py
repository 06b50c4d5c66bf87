"""The gate between dicom-graph's processes on one embedded graph (model/store/embedded_gate.py): a
writer's statement waits for readers' statements and they for it, a reader whose graph a writer
rewrote reopens instead of reading pages reused under it, and nobody waits for ever. Real engine, real
processes, real flocks; the end-to-end proof is tests/test_concurrent_readers.py."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import pytest

from dicom_graph.model.store import StoreError, open_store
from dicom_graph.model.store import embedded_gate
from dicom_graph.model.store.embedded_connection import GraphChanged
from dicom_graph.model.store.embedded_gate import Gate

HELD_S = 3.0  # how long a test holds the gate: a command that did not wait would end well within it


def _graph(tmp_path: Path) -> Path:
    path = tmp_path / "graph.db"
    open_store(db=str(path), read_only=False, create=True).close()
    return path


def _patients(path: Path) -> int:
    store = open_store(db=str(path))
    try:
        return store.count_nodes("Patient")
    finally:
        store.close()


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(["dicom-graph", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_writer_waits_for_a_readers_statement_and_writes_after_it(tmp_path: Path):
    path = _graph(tmp_path)
    reader = Gate(path, writer=False)
    with reader.held():
        writer = _cli("query", "--write", "CREATE (:Patient {key: 'p1'})", "--db", str(path))
        time.sleep(HELD_S)
        assert writer.poll() is None, f"the writer did not wait for the reader: {writer.communicate()}"
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert _patients(path) == 1


def test_a_reader_waits_for_a_writers_statement_and_reads_after_it(tmp_path: Path):
    path = _graph(tmp_path)
    writer = Gate(path, writer=True)
    with writer.held():
        reader = _cli("stats", "--json", "--db", str(path))
        time.sleep(HELD_S)
        assert reader.poll() is None, f"the reader did not wait for the writer: {reader.communicate()}"
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    assert '"Patient": 0' in out


def test_a_reader_reopens_when_a_writer_has_rewritten_the_graph_since_its_open(tmp_path: Path):
    """ladybug's read-only open is a snapshot whose pages a later checkpoint may reuse (LadybugDB #666):
    a reader that read on from it could spin or count wrong, so it reopens and sees the new commit."""
    path = _graph(tmp_path)
    reader = open_store(db=str(path))
    try:
        assert reader.count_nodes("Patient") == 0
        writer = subprocess.run(["dicom-graph", "query", "--write", "CREATE (:Patient {key: 'p1'})", "--db",
                                 str(path)], capture_output=True, text=True, timeout=120)
        assert writer.returncode == 0, writer.stderr
        assert reader.count_nodes("Patient") == 1
    finally:
        reader.close()


def test_an_answer_read_while_the_graph_file_changed_is_not_returned(tmp_path: Path):
    path = _graph(tmp_path)
    reader = open_store(db=str(path))
    try:
        with pytest.raises(GraphChanged):
            with reader._statement():  # a writer that stopped waiting rewrote the file meanwhile
                st = os.stat(path)
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        assert reader.count_nodes("Patient") == 0  # asked again after a reopen, and answered
    finally:
        reader.close()


def test_a_writer_held_up_by_a_reader_too_long_writes_beside_it_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    path = _graph(tmp_path)
    monkeypatch.setattr(embedded_gate, "WRITER_WAIT_S", 0.3)
    stuck, writer, probe = Gate(path, writer=False), Gate(path, writer=True), Gate(path, writer=False)
    with caplog.at_level(logging.WARNING, logger=embedded_gate.__name__):
        with stuck.held():
            started = time.monotonic()
            with writer.held():
                pass
            assert time.monotonic() - started >= 0.25  # it waited first (up to the bound, less a pause)
            started = time.monotonic()
            with writer.held():
                pass
            assert time.monotonic() - started < 0.3  # then no longer, while that reader stays
    assert len(caplog.records) == 1 and "writing beside it" in caplog.records[0].getMessage()
    monkeypatch.setattr(embedded_gate, "READER_WAIT_S", 0.2)
    with writer.held():  # the reader has gone: the writer holds the gate again, and readers wait
        with pytest.raises(embedded_gate.GateTimeout):
            with probe.held():
                pass


def test_a_reader_that_waited_too_long_gets_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = _graph(tmp_path)
    monkeypatch.setattr(embedded_gate, "READER_WAIT_S", 0.3)
    with Gate(path, writer=True).held():
        with pytest.raises(StoreError, match=r"cannot open graph .*a writer's statement held .* for 0\.3 s"):
            open_store(db=str(path))


def test_stats_waits_for_a_writer_once_not_once_per_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Beside a busy writer each wait is one of its statements: ~40 of them per `stats` took minutes."""
    path = _graph(tmp_path)
    reader = open_store(db=str(path))
    takes: list[bool] = []
    original = Gate._acquire

    def counted(gate: Gate) -> None:
        takes.append(gate.writer)
        original(gate)

    monkeypatch.setattr(Gate, "_acquire", counted)
    try:
        counts = reader.stats()
    finally:
        reader.close()
    assert counts["nodes"]["Patient"] == 0 and len(counts["relationships"]) > 10
    assert takes == [False, False]  # the counts, and the close
