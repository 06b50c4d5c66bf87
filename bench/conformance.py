"""What conformance evaluation adds to ingest time, with the evaluation on and off in one run.

    python bench/conformance.py --instances 20000 [--rounds 2] [--workers 2] [--archive DIR]

Makes (or reuses) a synthetic archive with bench/synth.py, then ingests it `--rounds` times each way into
a fresh embedded graph with the standard loaded (untimed): off (DICOM_GRAPH_BENCH_NO_CONFORMANCE=1, the
switch only this bench sets), then on, alternating, so that the machine's other load hits both alike.
Each run's wall time and the CPU seconds of the ingest process (the writer and its main loop, from the
children's rusage: the parser workers are the forkserver's children, never waited by it, so their CPU is
not in it) are printed. Then, in this process, the worker's own step on a seeded sample of
`--sample` files: read the headers and build the records (dataset_to_batch) with the requirements and
without, alternating per file, timed with process CPU time: the share conformance adds to what a parser
worker does, whoever the bottleneck is. The last line is one JSON object with the medians and the shares:
(on - off) / off, for the ingest's wall time, the ingest process's CPU, and the worker step.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import synth  # noqa: E402
from bench.ingest import HERE, archive_files, fresh_graph, ingest, warm  # noqa: E402


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(root: Path, db: Path, workers: int, evaluate: bool) -> tuple[float, float]:
    target = fresh_graph("embedded", db, standard=True)
    if evaluate:
        os.environ.pop("DICOM_GRAPH_BENCH_NO_CONFORMANCE", None)
    else:
        os.environ["DICOM_GRAPH_BENCH_NO_CONFORMANCE"] = "1"
    try:
        cpu = _cpu_children()
        elapsed, _peak, _stopped = ingest(root, target, workers)
        return elapsed, _cpu_children() - cpu
    finally:
        os.environ.pop("DICOM_GRAPH_BENCH_NO_CONFORMANCE", None)


def worker_step(files: list[str], db: Path, sample: int, seed: int) -> dict[str, float]:
    """CPU seconds of read + dataset_to_batch over the sample, with and without the requirements."""
    import random
    import time

    from dicom_graph.loader.dataset import conformance
    from dicom_graph.loader.dataset.extract import dataset_to_batch
    from dicom_graph.loader.ingest.sources import read_file
    from dicom_graph.model.store import open_store

    with open_store(db=str(db), read_only=True) as store:
        requirements = conformance.load_requirements(store)
    chosen = sorted(random.Random(seed).sample(files, min(sample, len(files))))
    spent = {"off": 0.0, "on": 0.0}
    for path in chosen:
        for mode in ("off", "on"):
            started = time.process_time()
            for ds in read_file(path)[1]:  # Part 10 files and the MPPS DICOM JSON documents alike
                dataset_to_batch(ds, source="file", path=path, requirements=requirements if mode == "on" else None)
            spent[mode] += time.process_time() - started
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--archive", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=5000, help="files for the worker-step measurement")
    args = parser.parse_args()
    root = args.archive or HERE / "archives" / str(args.instances)
    synth.generate(root, args.instances, seed=args.seed, workers=args.workers)
    files = archive_files(root)
    warm(files)
    db = HERE / "out" / f"conformance-{args.instances}.db"
    runs: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    load_before = os.getloadavg()[0]
    for round_ in range(args.rounds):
        for mode in ("off", "on"):
            wall, cpu = _run(root, db, args.workers, mode == "on")
            runs[mode].append((wall, cpu))
            print(f"round {round_ + 1} evaluation {mode}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
                  f"load average {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    step = worker_step(files, db, args.sample, args.seed)
    wall = {m: statistics.median(w for w, _c in r) for m, r in runs.items()}
    cpu = {m: statistics.median(c for _w, c in r) for m, r in runs.items()}
    print(json.dumps({
        "instances": len(files), "workers": args.workers, "rounds": args.rounds,
        "wall_s_off": round(wall["off"], 1), "wall_s_on": round(wall["on"], 1),
        "wall_added": round((wall["on"] - wall["off"]) / wall["off"], 3),
        "main_cpu_s_off": round(cpu["off"], 1), "main_cpu_s_on": round(cpu["on"], 1),
        "main_cpu_added": round((cpu["on"] - cpu["off"]) / cpu["off"], 3),
        "worker_step_files": min(args.sample, len(files)), "worker_step_cpu_s_off": round(step["off"], 2),
        "worker_step_cpu_s_on": round(step["on"], 2),
        "worker_step_added": round((step["on"] - step["off"]) / step["off"], 3),
        "runs": runs, "load_avg_start": round(load_before, 2), "load_avg_end": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
