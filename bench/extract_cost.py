"""Where one chunk's extraction time goes, step by step, in one process on the same warm files.

    python bench/extract_cost.py --archive bench/archives/20000 [--files 1000] [--db GRAPH_WITH_STANDARD]

Steps, each timed over the same files: bare `pydicom.dcmread(stop_before_pixels=True)`; the ingest's
worker (`process_file`: read + extract records) without and with the standard's conformance
requirements (from --db); the chunk's Resolver (entity values, patient keys, copies); writing the
chunk's shards. Prints one JSON object: seconds per step and each step's cost in bare parses.
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
    args = parser.parse_args()
    quiet()
    files = list(walk([str(args.archive)]))[:args.files]
    requirements = None
    if args.db:
        with open_store(db=str(args.db)) as store:
            requirements = conformance.load_requirements(store) or None
    t: dict[str, float] = {}

    def step(name: str, action: Any) -> Any:
        started = time.perf_counter()
        result = action()
        t[name] = round(time.perf_counter() - started, 3)
        return result

    step("bare_parse", lambda: [pydicom.dcmread(f.path, stop_before_pixels=True, force=True) for f in files])
    step("worker_no_standard", lambda: [process_file(f) for f in files])
    outcomes = step("worker_with_standard", lambda: [process_file(f, requirements) for f in files])
    resolved = step("resolve", lambda: Resolver(cast(Any, _EmptyGraph())).resolve(outcomes))
    resolved.graph.merge(source_files(outcomes, "bench"))
    with tempfile.TemporaryDirectory() as out:
        step("write_shards", lambda: shards.write_chunk(resolved.graph, Path(out), 0))
    print(json.dumps({"files": len(files), "standard": requirements is not None, "seconds": t,
                      "in_bare_parses": {k: round(v / t["bare_parse"], 2) for k, v in t.items()}}))


if __name__ == "__main__":
    main()
