"""Readers beside a writer, as users run them: `query` and `stats` in a loop (and a hostile CHECKPOINT,
which once destroyed the embedded graph mid-ingest) while `ingest` writes. Every read must succeed, every
hostile statement must be refused, and the graph must end equal to a clean ingest of the same files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = 3000
LOOP_S = 240  # a bound: the loop ends when the ingest does, or after this


def dicom_graph(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["dicom-graph", *args], capture_output=True, text=True, timeout=timeout)


def stats(db: Path) -> dict:
    out = dicom_graph("stats", "--json", "--db", str(db))
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    counts.pop("bookkeeping")  # the runs differ in number (one clean run vs one run per command)
    return counts


def test_reads_never_fail_beside_an_ingest_and_hostile_statements_change_nothing(tmp_path: Path):
    archive = tmp_path / "archive"
    subprocess.run([sys.executable, str(ROOT / "bench" / "synth.py"), str(archive), "--instances",
                    str(INSTANCES), "--workers", "2"], check=True, capture_output=True)
    clean = tmp_path / "clean.db"
    assert dicom_graph("ingest", str(archive), "--db", str(clean), "--no-progress", timeout=600).returncode == 0

    target = tmp_path / "busy.db"
    writer = subprocess.Popen(["dicom-graph", "ingest", str(archive), "--db", str(target), "--workers", "1",
                               "--batch", "250", "--no-progress"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    reads, failures, seen, hostile_runs = 0, [], set(), []
    try:
        deadline = time.monotonic() + LOOP_S
        while not target.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for the file the writer creates; no timing is asserted
        while writer.poll() is None and time.monotonic() < deadline:
            for args in (("query", "MATCH (i:Instance) RETURN count(i) AS n", "-f", "json"),
                         ("stats", "--json")):
                out = dicom_graph(*args, "--db", str(target))
                reads += 1
                if out.returncode != 0:
                    failures.append(out.stderr.strip())
                elif args[0] == "query":
                    seen.add(json.loads(out.stdout)[0]["n"])
            hostile_runs.append(dicom_graph("query", "CHECKPOINT", "--db", str(target)))
        writer_out, writer_err = writer.communicate(timeout=600)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, writer_err
    assert reads >= 4, "the ingest ended before the readers could run: make the archive larger"
    assert not failures, f"{len(failures)} of {reads} reads failed beside the writer: {failures[:3]}"
    not_refused = [h.stderr.strip() or h.stdout.strip() for h in hostile_runs
                   if h.returncode == 0 or "refused on the read-only path" not in h.stderr]
    assert not not_refused, f"every CHECKPOINT on the read path must be refused: {not_refused[:3]}"
    assert len(seen) >= 2, f"the readers should see the graph grow while the ingest commits: {sorted(seen)}"
    assert stats(target) == stats(clean)
