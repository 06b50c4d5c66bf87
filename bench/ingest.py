"""Ingest speed against the ceiling of bare parsing, measured in one run.

    python bench/ingest.py --instances 100000 [--engine embedded|neo4j] [--workers 2] [--archive DIR]
                           [--baseline-sample N] [--no-standard]

Makes (or reuses) a synthetic archive of N instances with bench/synth.py, then measures
(a) bare `pydicom.dcmread(stop_before_pixels=True)` over every file with W worker processes, and
(b) `dicom-graph ingest` of the same files into a fresh graph with W workers,
and prints as its last line one JSON object:
{"instances", "engine", "workers", "baseline_files_per_s", "ingest_files_per_s", "ratio", "peak_rss_mb",
 "graph_mb", ...}. The two runs alternate (baseline, ingest) in the same process tree on the same cache
state: the page cache is warmed by one untimed pass first, so neither pays for the disk alone.

The fresh graph gets the standard first (`dicom-graph standard load`, untimed), as users set it up:
the ingest then checks every instance's conformance, as it does in production (--no-standard skips it).
`--baseline-sample N` times the bare parsing on a seeded sample of N files (for 1M archives, where a
full extra pass costs as long as it measures); the ratio is still baseline and ingest of the same run.
Peak RSS is that of the `dicom-graph ingest` process tree (writer + workers); a Neo4j server's own
memory is not in it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import random

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
                root = self._root.memory_info().rss
                others = [p.memory_info().rss for p in self._root.children(recursive=True) if p.is_running()]
            except psutil.Error:
                root, others = 0, []
            self.sample(root, others)
            self._stop.wait(0.1)

    def sample(self, root: int, others: list[int]) -> None:
        """One sample: the root's RSS and each descendant's (0 and [] when the tree could not be read)."""
        self.peak = max(self.peak, root + sum(others))

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


def clear_neo4j(uri: str) -> None:
    """Empty the Neo4j database (constraints and indexes stay): a fresh graph for the run."""
    from dicom_graph.model.store import open_store

    with open_store(neo4j=uri, read_only=False) as store:
        store.clear()


def fresh_graph(engine: str, db: Path, standard: bool) -> list[str]:
    """Empty the target graph, load the standard into it (untimed); the --db / --neo4j arguments."""
    if engine == "embedded":
        for stale in db.parent.glob(db.name + "*"):
            stale.unlink() if stale.is_file() else shutil.rmtree(stale)
        db.parent.mkdir(parents=True, exist_ok=True)
        target = ["--db", str(db)]
    else:
        clear_neo4j(os.environ["NEO4J_URI"])
        target = ["--neo4j", os.environ["NEO4J_URI"]]
    if standard:
        subprocess.run(["dicom-graph", "standard", "load", *target], check=True, capture_output=True)
    return target


def ingested_so_far(log_path: Path) -> int:
    """Files done according to the ingest's last progress line."""
    done = 0
    for line in log_path.read_text().splitlines():
        if line.startswith("ingest: ") and "/" in line:
            done = int(line.split()[1].split("/")[0].replace(",", ""))
    return done


def ingest(files_root: Path, target: list[str], workers: int, stop_after_s: float = 0,
           batch: int = 0) -> tuple[float, int, int | None]:
    """Run `dicom-graph ingest` as users do; return (seconds, peak RSS bytes of its process tree, files
    done when stopped by --stop-after-s, else None). A stopped ingest gets SIGTERM, which it treats as
    Ctrl-C: it commits what it parsed and exits 130 (SIGINT would be ignored when the bench itself runs
    in the background, as `cmd &` starts it with SIGINT ignored)."""
    log_path = HERE / "out" / "last-ingest.log"  # progress lines, to follow a long run with tail -f
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = ["dicom-graph", "ingest", str(files_root), "--workers", str(workers), *target,
               "--report", str(log_path.with_name("last-ingest.rejects.jsonl")),
               *(["--batch", str(batch)] if batch else [])]
    started = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        meter = PeakRSS(process.pid)
        stopped = None
        try:
            process.wait(timeout=stop_after_s or None)
        except subprocess.TimeoutExpired:
            stopped = ingested_so_far(log_path)
            stop_time = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            process.wait()
    elapsed = (stop_time if stopped is not None else time.perf_counter()) - started
    peak = meter.stop()
    output = log_path.read_text()
    if stopped is not None:
        sys.stderr.write(output[-1500:])
        return elapsed, peak, stopped
    if process.returncode != 0:
        raise SystemExit(f"ingest failed ({process.returncode}):\n{output[-3000:]}")
    sys.stderr.write(output[-1500:])
    return elapsed, peak, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--engine", choices=["embedded", "neo4j"], default="embedded")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--archive", type=Path, default=None,
                        help="where the synthetic archive lives (default bench/archives/N)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-sample", type=int, default=0,
                        help="time bare parsing on this many files (seeded sample) instead of all")
    parser.add_argument("--stop-after-s", type=float, default=0,
                        help="stop the ingest (SIGTERM, as Ctrl-C) after this many seconds; rates use the files done")
    parser.add_argument("--batch", type=int, default=0,
                        help="instances per write (dicom-graph ingest --batch; default: the ingest's own)")
    parser.add_argument("--no-standard", action="store_true", help="ingest into a graph without the standard")
    parser.add_argument("--db", type=Path, default=None, help="embedded graph (default bench/out/ingest-N.db)")
    args = parser.parse_args()

    root = args.archive or HERE / "archives" / str(args.instances)
    synth.generate(root, args.instances, seed=args.seed, workers=args.workers)
    files = archive_files(root)
    warm(files)

    sample = files
    if args.baseline_sample and args.baseline_sample < len(files):
        sample = sorted(random.Random(args.seed).sample(files, args.baseline_sample))
    load_before = os.getloadavg()[0]
    base = baseline(sample, args.workers)
    print(f"baseline: {base:.1f} files/s over {len(sample):,} files, load average {load_before:.2f}",
          file=sys.stderr, flush=True)
    db = args.db or HERE / "out" / f"ingest-{args.instances}.db"
    target = fresh_graph(args.engine, db, not args.no_standard)
    elapsed, peak, stopped = ingest(root, target, args.workers, args.stop_after_s, args.batch)
    done = len(files) if stopped is None else stopped
    ingest_rate = done / elapsed
    result = {
        "instances": args.instances, "engine": args.engine, "workers": args.workers,
        **({"batch": args.batch} if args.batch else {}), "files": len(files),
        **({"stopped_after_files": stopped} if stopped is not None else {}),
        "baseline_files": len(sample), "standard_loaded": not args.no_standard,
        "baseline_files_per_s": round(base, 1), "ingest_files_per_s": round(ingest_rate, 1),
        "ratio": round(ingest_rate / base, 3), "peak_rss_mb": round(peak / 1e6, 1),
        "graph_mb": graph_size_mb(args.engine, db), "ingest_s": round(elapsed, 1),
        "load_avg_start": round(load_before, 2), "load_avg_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
