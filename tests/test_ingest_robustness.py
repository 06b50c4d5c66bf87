"""Robustness of `ingest`: broken files, re-ingest, kill -9 then --resume, on both engines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pydicom
import pytest

from dicom_graph.loader.ingest import run_ingest
from dicom_graph.model.store import StoreError, open_store

from .conftest import clear_neo4j, neo4j_uri


def _target(engine: str, tmp_path: Path) -> list[str]:
    if engine == "embedded":
        return ["--db", str(tmp_path / f"g-{uuid.uuid4().hex[:6]}.db")]
    uri = neo4j_uri()
    assert uri  # neo4j_uri() skips the test when there is none
    return ["--neo4j", uri]


def _open(target: list[str]):
    if target[0] == "--db":
        return open_store(db=target[1], read_only=False, create=True)
    return open_store(neo4j=target[1], read_only=False, create=True)


def _fresh(target: list[str]) -> None:
    if target[0] == "--neo4j":
        with _open(target) as s:
            clear_neo4j(s)


def _stats(target: list[str]) -> str:
    with _open(target) as s:
        return json.dumps(s.stats())


def _ingest_cmd(target: list[str], paths: list[str], *extra: str) -> list[str]:
    return ["dicom-graph", "ingest", *target, "--no-progress", *extra, *paths]


def _committed_files(target: list[str]) -> int:
    """SourceFile rows committed so far, read as the dashboard reads during an ingest (read-only)."""
    open_args = {"db": target[1]} if target[0] == "--db" else {"neo4j": target[1]}
    try:
        with open_store(**open_args, read_only=True) as s:
            return s.count_nodes("SourceFile")
    except StoreError:  # not created yet by the ingest (GraphNotFound), or its schema still being made
        return 0


def _wait_for_commits(target: list[str], proc: subprocess.Popen, files: int, within_s: float = 300) -> int:
    """Wait until at least `files` files are recorded done: the ingest is under way, past a commit.
    Fails if the ingest exits first: the caller's signal must reach a running process."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        committed = _committed_files(target)
        if committed >= files:
            return committed
        try:
            proc.wait(timeout=0.1)  # the pause between polls, and the check that it is still running
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"the ingest exited ({proc.returncode}) with {committed} files committed, before {files}")
    pytest.fail(f"fewer than {files} files committed after {within_s} s")


# small batches, so the kill lands between commits (ladybug 0.22 runs out of buffer pool with
# batches of 25 on this corpus: reported to the store owner)
BATCH = "100"


def outside_bad(corpus: Path) -> list[str]:
    return [str(p) for p in sorted(corpus.iterdir()) if p.is_dir() and p.name != "bad"]


def test_bad_files_rejected_with_reason_and_nothing_else_changes(store, corpus, tmp_path):
    oracle = json.loads((corpus / "ORACLE.json").read_text())
    report = tmp_path / "rejects.jsonl"
    summary = run_ingest(store, [str(corpus / d) for d in sorted(os.listdir(corpus))
                                 if (corpus / d).is_dir()], workers=2, progress=False, report_path=str(report))
    assert summary.status == "finished"
    entries = {json.loads(line)["path"]: json.loads(line) for line in report.read_text().splitlines()}
    assert all(e["reason"] and e["error_class"] for e in entries.values())
    # every file pydicom cannot read is in the report, with its reason
    for bad in oracle["all"]["unreadable_files"]:
        assert str(corpus / bad["path"]) in entries, bad
    # what the graph gained beyond the readable files: exactly the instances of files we recovered
    # (no preamble / file meta), as pydicom itself reads them when forced
    recovered = [p for p, e in entries.items() if e["status"] == "recovered"]
    readable_uids = set()
    for path in corpus.rglob("*"):
        if path.is_file() and str(path) not in entries:
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:
                continue
            uid = ds.get("SOPInstanceUID") or ds.file_meta.get("MediaStorageSOPInstanceUID")
            if uid:
                readable_uids.add(str(uid))
    extra = {str(pydicom.dcmread(p, stop_before_pixels=True, force=True).SOPInstanceUID)
             for p in recovered} - readable_uids
    counts = store.run("data_counts").records()[0]
    assert counts["instances"] == oracle["all"]["instances"] + len(extra)
    refs = {(r["referencing"], r["referenced"]) for r in store.run("reference_pairs")}
    assert {tuple(p) for p in oracle["all"]["reference_pairs"]} <= refs
    assert summary.files_rejected == sum(e["status"] == "rejected" for e in entries.values())


def test_reingest_leaves_stats_identical(engine, corpus, tmp_path):
    target = _target(engine, tmp_path)
    _fresh(target)
    paths = outside_bad(corpus)
    subprocess.run(_ingest_cmd(target, paths, "--report", str(tmp_path / "r.jsonl")), check=True)
    first = _stats(target)
    subprocess.run(_ingest_cmd(target, paths, "--report", str(tmp_path / "r.jsonl")), check=True)
    assert _stats(target) == first
    # --resume over an unchanged tree parses nothing
    out = subprocess.run(_ingest_cmd(target, paths, "--resume", "--report", str(tmp_path / "r.jsonl")),
                         check=True, capture_output=True, text=True).stdout
    assert " 0 ingested" in out and _stats(target) == first


def test_kill_9_then_resume_equals_clean_run(engine, corpus, tmp_path):
    paths = outside_bad(corpus)
    clean = _target(engine, tmp_path)
    _fresh(clean)
    subprocess.run(_ingest_cmd(clean, paths, "--batch", BATCH, "--report", str(tmp_path / "c.jsonl")),
                   check=True)
    expected = _stats(clean)
    with _open(clean) as s:
        total = s.count_nodes("SourceFile")

    target = _target(engine, tmp_path) if engine == "embedded" else clean
    _fresh(target)
    proc = subprocess.Popen(_ingest_cmd(target, paths, "--batch", BATCH, "--report",
                                        str(tmp_path / "k.jsonl")), start_new_session=True)
    _wait_for_commits(target, proc, 1)  # the first batch is committed: the kill lands mid-run
    os.killpg(proc.pid, signal.SIGSTOP)  # frozen, the writer and its workers cannot finish meanwhile
    assert proc.poll() is None, "the ingest finished by itself before the kill"
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    with _open(target) as s:  # opened as --resume opens it: a writer recovers what the kill left
        assert 0 < s.count_nodes("SourceFile") < total, "the kill must leave a partly ingested graph"
    resumed = subprocess.run(_ingest_cmd(target, paths, "--resume", "--batch", BATCH, "--report",
                                         str(tmp_path / "k.jsonl")), check=True, capture_output=True, text=True)
    rejected = [line for line in (tmp_path / "k.jsonl").read_text().splitlines() if '"rejected"' in line]
    assert _stats(target) == expected, f"{resumed.stdout}\n{resumed.stderr}\nrejected on resume: {rejected[:5]}"


def test_sigterm_commits_what_was_parsed_and_resume_finishes(tmp_path):
    """A scheduler stops a batch job with SIGTERM: the ingest must stop as on Ctrl-C (commit, mark the
    run interrupted, exit 130), and --resume must finish it to the same graph as one clean run."""
    archive = tmp_path / "archive"
    subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "bench" / "synth.py"),
                    str(archive), "--instances", "5000", "--workers", "2"], check=True, capture_output=True)
    clean = _target("embedded", tmp_path)
    subprocess.run(_ingest_cmd(clean, [str(archive)], "--workers", "2", "--report", str(tmp_path / "c.jsonl")),
                   check=True, capture_output=True)

    target = _target("embedded", tmp_path)
    cmd = ["dicom-graph", "ingest", *target, "--workers", "1", "--batch", "500", "--report",
           str(tmp_path / "t.jsonl"), str(archive)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_commits(target, proc, 1)  # the run is under way: its first batch is committed
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, f"{out}\n{err}"
    first = out.splitlines()[0]
    assert first.startswith("ingest interrupted: "), out
    seen, ingested = (int(n.replace(",", "")) for n in
                      (first.split()[2], first.split(" files seen, ")[1].split()[0]))
    assert 0 < ingested < seen
    with _open(target) as s:
        run = s.run("ingest_runs").records()[0]
        assert run["status"] == "interrupted"

    out = subprocess.run(_ingest_cmd(target, [str(archive)], "--resume", "--report", str(tmp_path / "t.jsonl")),
                         check=True, capture_output=True, text=True).stdout
    assert f"{ingested:,} skipped" in out
    assert _stats(target) == _stats(clean)
