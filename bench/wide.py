"""Does one very wide file still slow every later ingest? (issue: one 41 KB file with 3,594 keywords once
added 3,594 Instance columns for good, and an ordinary 20k ingest then failed in the default pool.)

    python bench/wide.py --instances 20000 [--workers 2] [--archive DIR]

In one run, alternating: (a) the synthetic archive ingested into a fresh graph; (b) a fresh graph that
first ingests the crafted wide file of tests/test_wide_files.py (every single-valued text keyword of the
dictionary), then the same archive. Prints files/s, their ratio b/a, the peak RSS of each ingest's process
tree and the Instance table's column count; the last line is one JSON object. Default buffer pool.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import PeakRSS, fresh_graph  # noqa: E402
from tests.test_wide_files import wide_file  # noqa: E402


def timed_ingest(target: list[str], paths: list[str], workers: int) -> tuple[float, int]:
    proc = subprocess.Popen(["dicom-graph", "ingest", *paths, *target, "--workers", str(workers), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = PeakRSS(proc.pid)
    started = time.perf_counter()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed: {err.strip()}")
    return elapsed, peak.stop()


def instance_columns(db: Path) -> int:
    out = subprocess.run(["dicom-graph", "query", "CALL table_info('Instance') RETURN count(*) AS n", "-f", "json",
                          "--db", str(db)], capture_output=True, text=True, check=True)
    return int(json.loads(out.stdout)[0]["n"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--archive", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-wide-"))
    archive = args.archive or ROOT / "bench" / "archives" / f"synth{args.instances}"
    if not archive.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "synth.py"), str(archive), "--instances",
                        str(args.instances), "--workers", str(args.workers)], check=True)
    wide, keywords = wide_file(work / "wide" / "wide.dcm")
    files = sum(1 for p in archive.rglob("*") if p.is_file())

    plain_db, wide_db = work / "plain.db", work / "wide.db"
    plain_s, plain_rss = timed_ingest(fresh_graph("embedded", plain_db, True), [str(archive)], args.workers)
    target = fresh_graph("embedded", wide_db, True)
    timed_ingest(target, [str(wide.parent)], 1)
    wide_cols = instance_columns(wide_db)
    after_s, after_rss = timed_ingest(target, [str(archive)], args.workers)
    result = {"files": files, "wide_file_keywords": keywords, "workers": args.workers,
              "plain_files_per_s": round(files / plain_s, 1), "after_wide_files_per_s": round(files / after_s, 1),
              "ratio": round(plain_s / after_s, 3), "plain_peak_rss_mb": round(plain_rss / 1e6, 1),
              "after_wide_peak_rss_mb": round(after_rss / 1e6, 1),
              "instance_columns_after_wide_file": wide_cols, "instance_columns_at_end": instance_columns(wide_db),
              "instance_columns_plain": instance_columns(plain_db)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
