"""The bulk path (`extract` + `load`) against bare parsing and `ingest`, measured in one run.

    python bench/bulk.py --instances 20000 [--workers 2] [--archive DIR] [--skip-ingest] [--no-standard] [--neo4j]

Makes (or reuses) a synthetic archive with bench/synth.py and measures, in this order, on the same
warm page cache: (a) bare `pydicom.dcmread(stop_before_pixels=True)` with W processes, (b) `dicom-graph
ingest` with W workers into a fresh embedded graph, (c) `dicom-graph extract --workers W` into a fresh
shard folder, then (d) `dicom-graph load` of those shards into a fresh embedded graph. Every graph gets
the standard first (untimed) and extract reads it from the load's target, so all three check
conformance as production does. Bare parsing is timed again right before (c), and the bulk ratios use
that second figure (the machine is shared: the ingest's ratio uses the first, timed right before it).
Peak RSS is per command's process tree (bench/ingest.py's PeakRSS).
With --neo4j, the same shards then go into Neo4j both ways, each timed from the shards to a finished
run: (e) `dicom-graph load --neo4j $NEO4J_URI` (batched UNWIND ... MERGE into the emptied server) and
(f) the admin route: `load --neo4j-admin .ci/neo4j-admin` into a fresh state dir (--admin-state), a
server started on the imported store (.ci/neo4j-start, NEO4J_KEEP_DATA=1, counted: a user's server must
start too), and the `load --neo4j` that creates the constraints and finishes the run. Neither Neo4j gets
the standard (`import full` fills an empty database only), so both load the same rows.
Prints as its last line one JSON object with files/s, the ratios to (a), peak RSS and sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import synth  # noqa: E402  (bench/ is not a package)
from ingest import PeakRSS, archive_files, baseline, fresh_graph, graph_size_mb, ingest, warm  # noqa: E402


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """(seconds, peak RSS bytes of the process tree) of one command, which must succeed."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    meter = PeakRSS(process.pid)
    output, _ = process.communicate()
    elapsed, peak = time.perf_counter() - started, meter.stop()
    sys.stderr.write(output[-1500:])
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed ({process.returncode}):\n{output[-3000:]}")
    return elapsed, peak


def extract_and_load(root: Path, shards: Path, target: list[str], workers: int, chunk_files: int,
                     standard: bool) -> tuple[float, int, float, int]:
    """(extract seconds, its peak RSS, load seconds, its peak RSS): `extract` of root into the empty
    shards folder (reading the standard from the load's target when it has one), then `load` into it."""
    extract_s, extract_peak = timed(["dicom-graph", "extract", str(root), "--out", str(shards), "--workers",
                                     str(workers), "--chunk-files", str(chunk_files), "--no-progress",
                                     *(target if standard else [])])
    load_s, load_peak = timed(["dicom-graph", "load", str(shards), *target, "--no-progress"])
    return extract_s, extract_peak, load_s, load_peak


def folder_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


def neo4j_contenders(shards: Path, files: int, extract_s: float, base: float, state: Path) -> dict[str, object]:
    """(e) and (f) of the module doc; the admin route's server is stopped at the end."""
    ci = HERE.parent / ".ci"
    fresh_graph("neo4j", Path("unused"), False)
    unwind_s, unwind_peak = timed(["dicom-graph", "load", str(shards), "--neo4j", os.environ["NEO4J_URI"],
                                   "--no-progress"])
    env = {**os.environ, "NEO4J_STATE_DIR": str(state)}
    subprocess.run(["bash", str(ci / "neo4j-stop")], env=env, capture_output=True, check=False)
    shutil.rmtree(state / "home", ignore_errors=True)
    started = time.perf_counter()
    import_s, import_peak = timed(["dicom-graph", "load", str(shards), "--neo4j-admin", str(ci / "neo4j-admin"),
                                   "--no-progress"], env)
    start = subprocess.run(["bash", str(ci / "neo4j-start")], env={**env, "NEO4J_KEEP_DATA": "1"},
                           capture_output=True, text=True, check=True)
    start_s = time.perf_counter() - started - import_s
    finish_s, _ = timed(["dicom-graph", "load", str(shards), "--neo4j", start.stdout.split()[-1], "--no-progress"], env)
    admin_s = time.perf_counter() - started
    store = state / "home" / "data" / "databases" / "neo4j"
    store_mb = folder_mb(store)
    subprocess.run(["bash", str(ci / "neo4j-stop")], env=env, capture_output=True, check=False)
    unwind_rate, admin_rate = files / (extract_s + unwind_s), files / (extract_s + admin_s)
    return {"neo4j_unwind_load_s": round(unwind_s, 1), "neo4j_unwind_files_per_s": round(unwind_rate, 1),
            "neo4j_unwind_ratio": round(unwind_rate / base, 3), "neo4j_unwind_peak_rss_mb": round(unwind_peak / 1e6, 1),
            "neo4j_unwind_store_mb": graph_size_mb("neo4j", Path("unused")),
            "neo4j_admin_import_s": round(import_s, 1), "neo4j_admin_start_s": round(start_s, 1),
            "neo4j_admin_finish_s": round(finish_s, 1), "neo4j_admin_load_s": round(admin_s, 1),
            "neo4j_admin_files_per_s": round(admin_rate, 1), "neo4j_admin_ratio": round(admin_rate / base, 3),
            "neo4j_admin_peak_rss_mb": round(import_peak / 1e6, 1), "neo4j_admin_store_mb": store_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--archive", type=Path, default=None, help="default bench/archives/N")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="graphs and shards go here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-files", type=int, default=1000)
    parser.add_argument("--skip-ingest", action="store_true", help="measure bare parsing and the bulk path only")
    parser.add_argument("--no-standard", action="store_true")
    parser.add_argument("--neo4j", action="store_true", help="also load the shards into Neo4j both ways "
                        "(NEO4J_URI for the UNWIND load; --admin-state for neo4j-admin's)")
    parser.add_argument("--admin-state", type=Path, default=Path("/tmp/dicom-graph-bench-admin"))
    args = parser.parse_args()

    root = args.archive or HERE / "archives" / str(args.instances)
    synth.generate(root, args.instances, seed=args.seed, workers=args.workers)
    files = archive_files(root)
    warm(files)
    load_before = os.getloadavg()[0]
    base = baseline(files, args.workers)
    print(f"baseline: {base:.1f} files/s over {len(files):,} files", file=sys.stderr, flush=True)
    result: dict[str, object] = {"instances": args.instances, "files": len(files), "workers": args.workers,
                                 "chunk_files": args.chunk_files, "standard_loaded": not args.no_standard,
                                 "baseline_files_per_s": round(base, 1)}
    if not args.skip_ingest:
        db = args.out / f"bulk-ingest-{args.instances}.db"
        elapsed, peak, _ = ingest(root, fresh_graph("embedded", db, not args.no_standard), args.workers)
        result.update(ingest_files_per_s=round(len(files) / elapsed, 1), ingest_ratio=round(len(files) / elapsed / base, 3),
                      ingest_peak_rss_mb=round(peak / 1e6, 1), ingest_graph_mb=graph_size_mb("embedded", db))
    db = args.out / f"bulk-load-{args.instances}.db"
    target = fresh_graph("embedded", db, not args.no_standard)
    shards = args.out / f"shards-{args.instances}"
    shutil.rmtree(shards, ignore_errors=True)
    # the machine is shared: bare parsing again, right before the bulk path, is its fairest yardstick
    base_next = baseline(files, args.workers)
    print(f"baseline again: {base_next:.1f} files/s", file=sys.stderr, flush=True)
    extract_s, extract_peak, load_s, load_peak = extract_and_load(root, shards, target, args.workers,
                                                                  args.chunk_files, not args.no_standard)
    bulk_rate = len(files) / (extract_s + load_s)
    result.update(extract_s=round(extract_s, 1), load_s=round(load_s, 1),
                  extract_files_per_s=round(len(files) / extract_s, 1),
                  baseline_before_bulk_files_per_s=round(base_next, 1),
                  bulk_files_per_s=round(bulk_rate, 1), bulk_ratio=round(bulk_rate / base_next, 3),
                  extract_ratio=round(len(files) / extract_s / base_next, 3),
                  extract_peak_rss_mb=round(extract_peak / 1e6, 1), load_peak_rss_mb=round(load_peak / 1e6, 1),
                  shards_mb=folder_mb(shards), load_graph_mb=graph_size_mb("embedded", db),
                  load_avg_start=round(load_before, 2))
    if args.neo4j:
        result.update(neo4j_contenders(shards, len(files), extract_s, base_next, args.admin_state))
    result.update(load_avg_end=round(os.getloadavg()[0], 2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
