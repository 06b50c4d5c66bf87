"""kill -9 during extract, then the same command: only missing chunks are redone. kill -9 during load
into a fresh embedded graph, then load again: the graph equals a clean load."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from dicom_graph.loader.bulk.chunk import ChunkTask, run_task
from dicom_graph.loader.bulk.extract import _file_by_file, run_extract
from dicom_graph.loader.ingest.sources import walk
from dicom_graph.loader.bulk.load import run_load
from dicom_graph.model.store import open_store

from .bulk_helpers import PYDICOM_FILES, cli, content, graph, shard_bytes
from .test_hostile_files_worker import kill_one_worker


def _start(*args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")}
    return subprocess.Popen([sys.executable, "-m", "dicom_graph", *args, "--no-progress"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGSTOP)  # frozen first: nothing more is written while we look
    assert proc.poll() is None, "the command finished by itself before the kill"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _wait(condition, proc: subprocess.Popen[bytes], within_s: float = 120) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert proc.poll() is None, "the command ended before the moment to kill it"
        assert time.monotonic() < deadline, "the moment to kill never came"
        time.sleep(0.05)


def test_kill_9_during_extract_then_again_redoes_only_missing_chunks(tmp_path):
    out = tmp_path / "shards"
    proc = _start("extract", str(PYDICOM_FILES), "--out", str(out), "--workers", "1", "--chunk-files", "8")
    _wait(lambda: len(list((out / "done").glob("*.json"))) >= 3 if (out / "done").is_dir() else False, proc)
    _kill(proc)
    done_before = sorted(p.stem for p in (out / "done").glob("*.json"))
    names = {f"chunk-{int(c):06d}" for c in done_before}
    kept = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet") if p.stem in names}
    assert kept, "chunks done before the kill have shards"
    again = cli("extract", str(PYDICOM_FILES), "--out", str(out), "--workers", "1", "--chunk-files", "8")
    run_now, done = map(int, re.search(r"\(([\d,]+) run now, ([\d,]+) done before\)", again.stdout).groups())
    assert done == len(done_before) and run_now > 0
    assert {p: p.stat().st_mtime_ns for p in kept} == kept, "a chunk done before the kill was redone"
    clean = tmp_path / "clean"
    run_extract([str(PYDICOM_FILES)], str(clean), workers=1, chunk_files=8)
    assert shard_bytes(out) == shard_bytes(clean)


def test_kill_9_during_load_then_again_equals_a_clean_load(tmp_path):
    shards = tmp_path / "shards"
    run_extract([str(PYDICOM_FILES)], str(shards), workers=2, chunk_files=4)  # many shards: a long load
    clean = open_store(db=str(tmp_path / "clean.db"), read_only=False, create=True)
    run_load(clean, str(shards))
    expected = (clean.stats(), content(clean))
    clean.close()

    target = tmp_path / "g.db"

    def some_loaded() -> bool:
        if not target.exists():
            return False
        try:
            with graph(target) as g:
                return g.count_nodes("Instance") > 0
        except Exception:  # noqa: BLE001  (not yet created, or mid-checkpoint: look again)
            return False

    proc = _start("load", str(shards), "--db", str(target))
    _wait(some_loaded, proc)
    _kill(proc)
    with open_store(db=str(target), read_only=False) as g:  # a writer recovers what the kill left
        partial = g.stats()
        status = g.query("MATCH (r:IngestRun) RETURN r.status AS s").column("s")
    assert status == ["loading"] and partial != expected[0], "the kill must leave a partly loaded graph"
    cli("load", str(shards), "--db", str(target))
    with graph(target) as g:
        assert (g.stats(), content(g)) == expected
        assert g.query("MATCH (r:IngestRun) RETURN r.status AS s").column("s") == ["finished"]


def test_a_killed_extract_worker_costs_nothing(tmp_path):
    out = tmp_path / "shards"
    proc = _start("extract", str(PYDICOM_FILES), "--out", str(out), "--workers", "2", "--chunk-files", "8")
    _wait(lambda: len(list((out / "done").glob("*.json"))) >= 1 if (out / "done").is_dir() else False, proc)
    kill_one_worker(proc.pid)
    try:
        assert proc.wait(timeout=300) == 0  # it finishes and exits: the dead worker's chunk ran again
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    clean = tmp_path / "clean"
    summary = run_extract([str(PYDICOM_FILES)], str(clean), workers=1, chunk_files=8)
    assert len(list((out / "done").glob("*.json"))) == summary.chunks
    assert shard_bytes(out) == shard_bytes(clean)


def test_a_chunk_parsed_file_by_file_writes_what_its_task_writes(tmp_path):
    """What a chunk that killed its worker twice goes through (extract._file_by_file)."""
    files = list(walk([str(PYDICOM_FILES)]))[:40]
    for name, run in (("task", lambda t: run_task(t)), ("file-by-file", lambda t: _file_by_file(2, None, t))):
        task = ChunkTask(0, files, str(tmp_path / name), "run", None)
        result = run(task)
        assert sum(result["statuses"].values()) == len(files)
    assert shard_bytes(tmp_path / "task") == shard_bytes(tmp_path / "file-by-file")
    reports = [(tmp_path / name / "rejects" / "chunk-000000.jsonl").read_text() for name in ("task", "file-by-file")]
    assert reports[0] == reports[1] and reports[0]  # pydicom's test files include some it rejects
