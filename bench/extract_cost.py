"""Where one chunk's extraction time goes, step by step, in one process on the same warm files.

    python bench/extract_cost.py --archive bench/archives/20000 [--files 1000] [--db GRAPH_WITH_STANDARD] [--rounds 3]

Steps, each timed over the same files: bare `pydicom.dcmread(stop_before_pixels=True)`; the ingest's
worker (`process_file`: read + extract records) without and with the standard's conformance
requirements (from --db); the chunk's Resolver (entity values, patient keys, copies); writing the
chunk's shards. Prints one JSON object: seconds per step and each step's cost in bare parses. Each step
is timed `--rounds` times, the rounds interleaved, and the fastest round counts, in CPU seconds of this
process (`cpu`, what the ratios use: on a shared machine wall time mostly measures the neighbours) and
in wall seconds (`seconds`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import pydicom

from dicom_graph.loader.bulk import shards
from dicom_graph.loader.bulk.chunk import _EmptyGraph
from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.ingest.resolve import Resolver
from dicom_graph.loader.ingest.sources import walk
from dicom_graph.loader.ingest.worker import process_file, quiet
from dicom_graph.loader.ingest.writer import source_files
from dicom_graph.model.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--db", type=Path, default=None, help="a graph with the standard loaded")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    quiet()
    files = list(walk([str(args.archive)]))[:args.files]
    requirements = None
    if args.db:
        with open_store(db=str(args.db)) as store:
            requirements = conformance.load_requirements(store) or None
    t: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def step(name: str, action: Any, *args: Any) -> Any:
        started, cpu_started = time.perf_counter(), time.process_time()
        result = action(*args)
        wall, used = time.perf_counter() - started, time.process_time() - cpu_started
        t[name], cpu[name] = round(min(t.get(name, wall), wall), 3), round(min(cpu.get(name, used), used), 3)
        return result

    for _ in range(args.rounds):
        step("bare_parse", lambda: [pydicom.dcmread(f.path, stop_before_pixels=True, force=True) for f in files])
        step("worker_no_standard", lambda: [process_file(f) for f in files])
        outcomes = step("worker_with_standard", lambda: [process_file(f, requirements) for f in files])
        resolved = step("resolve", Resolver(cast(Any, _EmptyGraph())).resolve, outcomes)
        resolved.graph.merge(source_files(outcomes, "bench"))
        with tempfile.TemporaryDirectory() as out:
            step("write_shards", shards.write_chunk, resolved.graph, Path(out), 0)
    print(json.dumps({"files": len(files), "standard": requirements is not None, "rounds": args.rounds,
                      "seconds": t, "cpu": cpu,
                      "in_bare_parses": {k: round(v / cpu["bare_parse"], 2) for k, v in cpu.items()}}))


if __name__ == "__main__":
    main()
