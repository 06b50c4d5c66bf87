"""Ingest speed against the ceiling of bare parsing, measured in one run.

    python bench/ingest.py --instances 100000 [--engine embedded|neo4j] [--workers 2] [--archive DIR]

Makes (or reuses) a synthetic archive of N instances with bench/synth.py, then measures
(a) bare `pydicom.dcmread(stop_before_pixels=True)` over every file with W worker processes, and
(b) `dicom-graph ingest` of the same files into a fresh graph with W workers,
and prints as its last line one JSON object:
{"instances", "engine", "workers", "baseline_files_per_s", "ingest_files_per_s", "ratio", "peak_rss_mb",
 "graph_mb", ...}. The two runs alternate (baseline, ingest) in the same process tree on the same cache
state: the page cache is warmed by one untimed pass first, so neither pays for the disk alone.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pydicom

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import synth  # noqa: E402  (bench/ is not a package)


def archive_files(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file() and p.name != "SYNTH.json")


def _parse(path: str) -> int:
    if path.endswith(".json"):
        with open(path, "rb") as f:
            return len(f.read())
    return len(pydicom.dcmread(path, stop_before_pixels=True))


def baseline(files: list[str], workers: int) -> float:
    """Files per second of bare parsing, nothing else."""
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for _ in pool.imap_unordered(_parse, files, chunksize=64):
            pass
    return len(files) / (time.perf_counter() - started)


def warm(files: list[str]) -> None:
    for path in files:
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass


class PeakRSS:
    """Peak resident memory of a process tree, sampled every 100 ms."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._root = psutil.Process(pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self._root, *self._root.children(recursive=True)]
                total = sum(p.memory_info().rss for p in procs if p.is_running())
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(0.1)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def graph_size_mb(engine: str, db: Path) -> float | None:
    if engine == "embedded":
        size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
        return round(size / 1e6, 1)
    state = Path(os.environ.get("NEO4J_STATE_DIR", "/tmp/dicom-graph-neo4j"))
    data = state / "home" / "data" / "databases" / "neo4j"
    if not data.exists():
        return None
    return round(sum(p.stat().st_size for p in data.rglob("*") if p.is_file()) / 1e6, 1)


def ingest(files_root: Path, engine: str, workers: int, db: Path) -> tuple[float, int]:
    """Run `dicom-graph ingest` as users do; return (seconds, peak RSS bytes of its process tree)."""
    command = ["dicom-graph", "ingest", str(files_root), "--workers", str(workers)]
    if engine == "embedded":
        command += ["--db", str(db)]
    else:
        command += ["--neo4j", os.environ["NEO4J_URI"]]
        from dicom_graph.model.store import open_store

        with open_store(neo4j=os.environ["NEO4J_URI"], read_only=False, create=True) as store:
            store.clear()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    meter = PeakRSS(process.pid)
    output, _ = process.communicate()
    elapsed = time.perf_counter() - started
    peak = meter.stop()
    if process.returncode != 0:
        raise SystemExit(f"ingest failed ({process.returncode}):\n{output[-3000:]}")
    sys.stderr.write(output[-1500:])
    return elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--engine", choices=["embedded", "neo4j"], default="embedded")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--archive", type=Path, default=None,
                        help="where the synthetic archive lives (default bench/archives/N)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    root = args.archive or HERE / "archives" / str(args.instances)
    synth.generate(root, args.instances, seed=args.seed, workers=args.workers)
    files = archive_files(root)
    warm(files)

    base = baseline(files, args.workers)
    db = HERE / "out" / f"ingest-{args.instances}.db"
    for stale in db.parent.glob(db.name + "*"):
        stale.unlink() if stale.is_file() else shutil.rmtree(stale)
    db.parent.mkdir(parents=True, exist_ok=True)
    elapsed, peak = ingest(root, args.engine, args.workers, db)
    ingest_rate = len(files) / elapsed
    result = {
        "instances": args.instances, "engine": args.engine, "workers": args.workers, "files": len(files),
        "baseline_files_per_s": round(base, 1), "ingest_files_per_s": round(ingest_rate, 1),
        "ratio": round(ingest_rate / base, 3), "peak_rss_mb": round(peak / 1e6, 1),
        "graph_mb": graph_size_mb(args.engine, db), "ingest_s": round(elapsed, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
