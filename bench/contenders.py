"""dicom-graph and its rivals on the same synthetic archive, in one run, W workers each where they have any.

    python bench/contenders.py --archive /data/synth20k [--workers 2] [--out DIR] [--skip NAME ...]
                               [--dicomindex PATH/TO/dicomindex] [--no-standard] [--json FILE]

In this order, on a page cache warmed by one untimed read of every file, each contender preceded by a
fresh timing of bare parsing (the machine is shared: a contender's ratio is to the bare parse timed
right before it, in the same run):
  parse       bare `pydicom.dcmread(stop_before_pixels=True)` with W processes (bench/ingest.py's)
  ingest      `dicom-graph ingest --workers W` into a fresh embedded graph (standard loaded, untimed)
  bulk        `dicom-graph extract --workers W` + `dicom-graph load` into a fresh embedded graph (bench/bulk.py)
  duckdb      bench/duckdb_indexer.py: pydicom with W processes -> one Parquet file (DuckDB queries it)
  dicomindex  `dicomindex index_full` (PyPI; pydicom into SQLite, one process, a commit per file)
  orthanc     Debian's Orthanc (bench/listen.py's server) sent every file by POST /instances, W uploaders
Every rate is Part 10 instances per second (the archive's MPPS DICOM JSON documents, which only
dicom-graph reads, are not counted, though ingest and extract process them). Peak RSS is that of each
contender's process tree (Orthanc: the server's; the bare parse: this process and its pool); store size
is what it leaves on disk (extract + load: the graph, with the shards given beside it). Then each
contender that can answers bench/answers.py's three questions, compared with dicom-graph ingest's
answers and, for instances per SOP class, with the archive's SYNTH.json. Prints a markdown table, then
one JSON line (the last line).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import answers  # noqa: E402  (bench/ is not a package)
import duckdb_indexer  # noqa: E402
import listen  # noqa: E402
from bulk import extract_and_load, folder_mb, timed  # noqa: E402
from ingest import PeakRSS, archive_files, baseline, fresh_graph, graph_size_mb, ingest, warm  # noqa: E402

CONTENDERS = ("parse", "ingest", "bulk", "duckdb", "dicomindex", "orthanc")
Run = dict[str, Any]


def mb(size: int | float) -> float:
    return round(size / 1e6, 1)


def file_mb(path: Path) -> float:
    return mb(path.stat().st_size) if path.exists() else 0.0


def parse(ctx: Run) -> Run:
    meter = PeakRSS(os.getpid())
    started = time.perf_counter()
    baseline(ctx["files"], ctx["workers"])
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": mb(meter.stop())}


def run_ingest(ctx: Run) -> Run:
    db = ctx["out"] / "contenders-ingest.db"
    seconds, peak, _ = ingest(ctx["root"], fresh_graph("embedded", db, ctx["standard"]), ctx["workers"])
    return {"seconds": seconds, "peak_rss_mb": mb(peak), "store_mb": graph_size_mb("embedded", db),
            "ask": partial(answers.dicom_graph, db)}


def bulk(ctx: Run) -> Run:
    db, shards = ctx["out"] / "contenders-bulk.db", ctx["out"] / "contenders-shards"
    target = fresh_graph("embedded", db, ctx["standard"])
    shutil.rmtree(shards, ignore_errors=True)
    extract_s, extract_peak, load_s, load_peak = extract_and_load(ctx["root"], shards, target, ctx["workers"],
                                                                  1000, ctx["standard"])
    return {"seconds": extract_s + load_s, "extract_s": round(extract_s, 1), "load_s": round(load_s, 1),
            "peak_rss_mb": mb(max(extract_peak, load_peak)), "store_mb": graph_size_mb("embedded", db),
            "shards_mb": folder_mb(shards), "ask": partial(answers.dicom_graph, db)}


def duckdb(ctx: Run) -> Run:
    parquet = ctx["out"] / "contenders-index.parquet"
    seconds, peak = timed([sys.executable, str(HERE / "duckdb_indexer.py"), str(parquet), str(ctx["root"]),
                           "--workers", str(ctx["workers"]), "--index-only"])
    return {"seconds": seconds, "peak_rss_mb": mb(peak), "store_mb": file_mb(parquet),
            "ask": partial(duckdb_indexer.answers, parquet)}


def dicomindex(ctx: Run) -> Run:
    command = ctx["dicomindex"] or shutil.which("dicomindex")
    if not command:
        return {"skipped": "dicomindex not found (pip install dicomindex into its own venv; --dicomindex PATH)"}
    sqlite = ctx["out"] / "contenders-dicomindex.sqlite"
    sqlite.unlink(missing_ok=True)
    seconds, peak = timed([command, "index_full", str(sqlite), str(ctx["root"])])
    return {"seconds": seconds, "workers": 1, "peak_rss_mb": mb(peak), "store_mb": file_mb(sqlite),
            "ask": partial(answers.dicomindex, sqlite)}


def post_all(files: list[str], port: int, workers: int) -> list[tuple[str, str]]:
    """POST every file to Orthanc's /instances over W kept-alive connections; (path, error) per failure."""
    local = threading.local()

    def post(path: str) -> tuple[str, str] | None:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        with open(path, "rb") as f:
            local.connection.request("POST", "/instances", f.read(), {"Content-Type": "application/dicom"})
        answer = local.connection.getresponse()
        body = answer.read()
        return None if answer.status == 200 else (path, f"HTTP {answer.status} {body[:300]!r}")

    with ThreadPoolExecutor(workers) as pool:
        return [e for e in pool.map(post, files) if e]


def orthanc(ctx: Run) -> Run:
    work = Path(tempfile.mkdtemp(prefix="bench-contenders-", dir=ctx["out"]))
    with listen.orthanc_server(work) as (process, _, port):
        meter = PeakRSS(process.pid)
        started = time.perf_counter()
        errors = post_all(ctx["files"], port, ctx["workers"])
        # as an uploader would: a refused file is sent again, once, alone (counted in the time)
        still = post_all([path for path, _ in errors], port, 1)
        seconds, peak = time.perf_counter() - started, meter.stop()
        rest = partial(listen.orthanc_rest, port)
        stored = rest("/statistics")["CountInstances"]
        asked = time.perf_counter()
        said = answers.orthanc(rest, ctx["workers"])
        answer_s = time.perf_counter() - asked
    store = folder_mb(work / "orthanc")
    shutil.rmtree(work)
    return {"seconds": seconds, "peak_rss_mb": mb(peak), "store_mb": store, "stored": stored,
            "version": listen.orthanc_version(), "ask": lambda: said, "answer_s": round(answer_s, 2),
            **({"refused_first": len(errors), "refused_again": len(still), "first_refusals": errors[:3]}
               if errors else {})}


RUNNERS: dict[str, Callable[[Run], Run]] = {"parse": parse, "ingest": run_ingest, "bulk": bulk, "duckdb": duckdb,
                                            "dicomindex": dicomindex, "orthanc": orthanc}


def measure(name: str, ctx: Run) -> Run:
    """One contender after its own bare-parse yardstick; its answers when it has any."""
    load = os.getloadavg()[0]
    base = baseline(ctx["files"], ctx["workers"])
    run = RUNNERS[name](ctx)
    if "skipped" in run:
        return {"contender": name, **run}
    rate = len(ctx["files"]) / run["seconds"]
    run.update(contender=name, seconds=round(run["seconds"], 1), files_per_s=round(rate, 1),
               parse_files_per_s=round(base, 1), ratio=round(rate / base, 3), load_avg_start=round(load, 2),
               load_avg_end=round(os.getloadavg()[0], 2))
    ask = run.pop("ask", None)
    if ask is not None:
        asked = time.perf_counter()
        run["answers"] = ask()
        run.setdefault("answer_s", round(time.perf_counter() - asked, 2))
    print(f"{name}: {rate:.1f} files/s, bare parse {base:.1f}, ratio {rate / base:.3f}", file=sys.stderr, flush=True)
    return run


def verdicts(runs: list[Run], manifest: dict[str, Any] | None) -> None:
    """Each run's answers against dicom-graph ingest's (or extract + load's) and the manifest's, all on
    what the Part 10 files hold (the MPPS instances dicom-graph also has are counted beside)."""
    said: dict[int, answers.Answers] = {}
    for i, run in enumerate(runs):
        if "answers" in run:
            said[i], mpps = answers.files_only(run.pop("answers"))
            if mpps:
                run["mpps_instances"] = mpps
    reference = next((i for i in said if runs[i]["contender"] in ("ingest", "bulk")), None)
    for i, mine in said.items():
        run = runs[i]
        run["summary"] = answers.summary(mine)
        run["instances_answered"] = sum(mine["instances_per_sop_class"].values())
        if i == reference:
            run["reference"] = True
        elif reference is not None:
            run["disagrees_with_" + runs[reference]["contender"]] = answers.disagreements(said[reference], mine)
        if manifest is not None:
            run["sop_classes_match_manifest"] = mine["instances_per_sop_class"] == manifest["per_sop_class"]
            if "mpps_instances" in run:
                run["mpps_match_manifest"] = run["mpps_instances"] == manifest["mpps_documents"]


def cell(run: Run, question: str) -> str:
    s = run.get("summary", {}).get(question)
    return f"{', '.join(s['top'])} ({s['top_n']:,})" if s else "–"


def table(runs: list[Run]) -> str:
    lines = ["| contender | s | files/s | bare parse files/s (just before) | ratio | ratio to the run's median parse | "
             "peak RSS MB | store MB | most studies: modality | most series: patient | most instances: SOP class | "
             "answers agree |", "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|"]
    for r in runs:
        if "skipped" in r:
            lines.append(f"| {r['contender']} | skipped: {r['skipped']} |" + " |" * 11)
            continue
        agree = next((("yes" if not v else "**no**") for k, v in r.items() if k.startswith("disagrees_with_")),
                     "reference" if r.get("reference") else "–")
        lines.append(f"| {r['contender']} | {r['seconds']:,} | {r['files_per_s']:,} | {r['parse_files_per_s']:,} | "
                     f"{r['ratio']} | {r['ratio_to_median_parse']} | {r['peak_rss_mb']:,} | {r.get('store_mb', '–')} | "
                     + " | ".join(cell(r, q) for q in answers.QUESTIONS) + f" | {agree} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, required=True, help="a bench/synth.py archive")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "out", help="graphs, shards, indexes go here")
    parser.add_argument("--skip", nargs="*", default=[], choices=CONTENDERS)
    parser.add_argument("--dicomindex", help="the dicomindex command (default: on PATH)")
    parser.add_argument("--no-standard", action="store_true", help="graphs without the standard")
    parser.add_argument("--json", type=Path, help="also write the JSON line here")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = [f for f in archive_files(args.archive) if not f.endswith(".json")]
    warm(files)
    manifest_path = args.archive / "SYNTH.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    ctx: Run = {"root": args.archive, "files": files, "workers": args.workers, "out": args.out,
                "standard": not args.no_standard, "dicomindex": args.dicomindex}
    runs = [measure(name, ctx) for name in CONTENDERS if name not in args.skip]
    median = statistics.median(r["parse_files_per_s"] for r in runs if "parse_files_per_s" in r)
    for run in runs:
        if "files_per_s" in run:
            run["ratio_to_median_parse"] = round(run["files_per_s"] / median, 3)
    verdicts(runs, manifest)
    result = {"bench": "contenders", "archive": str(args.archive), "instances": len(files), "workers": args.workers,
              "cpus": os.cpu_count(), "median_parse_files_per_s": round(median, 1), "runs": runs}
    print(table(runs))
    line = json.dumps(result)
    if args.json:
        args.json.write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
