"""A parser worker killed mid-run (kill -9, what the OOM killer does) must not hang the ingest (issue 15).

With a multiprocessing.Pool the dead worker's chunk never completed and the ingest sat idle until
stopped; with a ProcessPoolExecutor the ingest finished and then never exited (a CI run). Each worker
now owns its pipe (loader/ingest/pool.py): the dead worker's chunk is parsed again, the ingest
finishes and exits with every file accounted for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from .test_ingest_robustness import _fresh, _ingest_cmd, _open, _target, _wait_for_commits


def _workers(ingest_pid: int) -> list[psutil.Process]:
    """The parser processes: forked by the forkserver, so grandchildren of the ingest (its direct children
    are the forkserver and the resource tracker)."""
    me = psutil.Process(ingest_pid)
    direct = {p.pid for p in me.children()}
    return [p for p in me.children(recursive=True) if p.pid not in direct]


def kill_one_worker(group_leader: int) -> None:
    """kill -9 of one worker of a running command, its process group frozen meanwhile (so that it cannot
    finish between the choice and the kill)."""
    os.killpg(group_leader, signal.SIGSTOP)
    try:
        workers = _workers(group_leader)
        assert workers, "no worker process found under the running command"
        workers[0].send_signal(signal.SIGKILL)
    finally:
        os.killpg(group_leader, signal.SIGCONT)


def test_killed_worker_is_replaced_and_every_file_is_accounted_for(engine, tmp_path):
    archive = tmp_path / "archive"
    subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "bench" / "synth.py"),
                    str(archive), "--instances", "800", "--workers", "2"], check=True, capture_output=True)
    files = sum(len(names) for _, _, names in os.walk(archive))
    target = _target(engine, tmp_path)
    _fresh(target)
    report = tmp_path / "r.jsonl"
    proc = subprocess.Popen(_ingest_cmd(target, [str(archive)], "--workers", "2", "--batch", "100",
                                        "--report", str(report)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for_commits(target, proc, 1)
    kill_one_worker(proc.pid)
    try:
        out, err = proc.communicate(timeout=300)  # it finishes: no wait without end
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # a hung ingest must not go on loading the machine
        raise
    assert proc.returncode == 0, err
    assert out.startswith("ingest finished: "), out
    with _open(target) as s:
        assert s.count_nodes("SourceFile") == files
        rejected = s.query("MATCH (f:SourceFile) WHERE f.status <> 'ingested' RETURN f.key AS key").column("key")
        assert s.run("ingest_runs").records()[0]["status"] == "finished"
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    # the killed worker's chunk was innocent: retried alone it parses, so nothing is lost to the kill;
    # the one file rejected is the generator's own manifest, which is no DICOM
    assert rejected == [str(archive / "SYNTH.json")]
    assert [(line["path"], line["error_class"]) for line in lines] == [(str(archive / "SYNTH.json"), "NotDicom")]
