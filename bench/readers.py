"""Readers beside a writer: does any read see fewer nodes than a read that ended before it began?

    python bench/readers.py [--instances 600] [--batch 20] [--readers 2] [--seconds 150]

Makes a synthetic archive (bench/synth.py, seed 0), starts `dicom-graph ingest --workers 1 --batch B`
into a fresh embedded graph (a small batch: the writer reopens and checkpoints often) and R reader
processes that open the graph read-only, count Instance, SourceFile and Study, close, and again, until
the ingest ends (or --seconds). Prints one JSON line: reads, the ones that failed (by first words of
the error: errors and waits are acceptable), and `went_back`, the reads that counted less than a read
which had ended before they started (a read's snapshot is taken somewhere inside it). Any went_back is
a wrong answer (tests/test_readers_never_go_back.py runs this and asserts none).
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("Instance", "SourceFile", "Study")
READER = f"""
import json, sys, time
from dicom_graph.model.store import open_store
db, until = sys.argv[1], float(sys.argv[2])
while time.time() < until:
    started = time.time()
    try:
        with open_store(db, read_only=True) as store:
            counts = [store.count_nodes(label) for label in {LABELS!r}]
        print(json.dumps([started, time.time(), counts]), flush=True)
    except Exception as exc:
        print(json.dumps([started, time.time(), str(exc).splitlines()[0][:200]]), flush=True)
"""


def went_back(reads: list[tuple[float, float, list[int]]]) -> list[str]:
    """Reads that counted less than a read which had ENDED before they STARTED."""
    by_end = sorted(reads, key=lambda r: r[1])
    best = [0] * len(LABELS)
    done = 0
    out = []
    for start, _, counts in sorted(reads, key=lambda r: r[0]):
        while done < len(by_end) and by_end[done][1] < start:
            best = [max(a, b) for a, b in zip(best, by_end[done][2], strict=True)]
            done += 1
        if any(now < before for now, before in zip(counts, best, strict=True)):
            out.append(f"{dict(zip(LABELS, counts, strict=True))} after {dict(zip(LABELS, best, strict=True))}")
    return out


def run(work: Path, instances: int, batch: int, readers: int, seconds: float) -> dict:
    archive = work / "archive"
    subprocess.run([sys.executable, str(ROOT / "bench" / "synth.py"), str(archive), "--instances",
                    str(instances), "--workers", "2"], check=True, capture_output=True)
    db = work / "busy.db"
    started = time.monotonic()
    writer = subprocess.Popen([sys.executable, "-c", "from dicom_graph.app import main; main()", "ingest",
                               str(archive), "--db", str(db), "--workers", "1", "--batch", str(batch),
                               "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs: list[subprocess.Popen] = []
    try:
        while not db.exists() and writer.poll() is None and time.monotonic() < started + seconds:
            time.sleep(0.05)  # the file the writer creates
        until = time.time() + seconds
        procs = [subprocess.Popen([sys.executable, "-c", READER, str(db), str(until)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(readers)]
        _, writer_err = writer.communicate(timeout=seconds + 600)
        for proc in procs:  # the writer is done: stop the readers
            proc.terminate()
        outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    finally:
        for proc in (writer, *procs):
            if proc.poll() is None:
                proc.kill()
    lines = [json.loads(line) for out in outputs for line in out.splitlines()
             if line.startswith("[") and line.endswith("]")]  # not one cut short by the terminate
    counted = [(a, b, c) for a, b, c in lines if isinstance(c, list)]
    errors = collections.Counter(" ".join(c.split()[:8]) for _, _, c in lines if isinstance(c, str))
    back = went_back(counted)
    return {"instances": instances, "batch": batch, "readers": readers, "writer_rc": writer.returncode,
            "writer_error": writer_err.strip()[-300:] if writer.returncode else "",
            "writer_s": round(time.monotonic() - started, 1), "reads": len(lines), "counted": len(counted),
            "distinct_counts": len({tuple(c) for _, _, c in counted}),
            "read_ms_median": round(1000 * sorted(b - a for a, b, _ in counted)[len(counted) // 2], 1)
            if counted else None,
            "failed": dict(errors.most_common()), "went_back": len(back), "went_back_examples": back[:3],
            "last": dict(zip(LABELS, max((c for _, _, c in counted), default=[]), strict=False))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=600)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        print(json.dumps(run(Path(work), args.instances, args.batch, args.readers, args.seconds)))


if __name__ == "__main__":
    main()
