"""CPU of the per-file path's phases against a bare parse that keeps nothing, in one process.

    python bench/extract_phases.py --archive DIR [--files 1000] --db GRAPH_WITH_STANDARD

The bare parse here drops each dataset at once, as bench/ingest.py's baseline does (bench/extract_cost.py
keeps a chunk's datasets alive, which garbage collection makes ~1.8x slower). Then `process_file` with the
standard over the same warm files, each phase timed by wrapping its function. Prints one line per phase:
CPU seconds and bare parses.
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path
from typing import Any

import pydicom

from dicom_graph.loader.dataset import conformance, extract
from dicom_graph.loader.ingest import integrity, worker
from dicom_graph.loader.ingest.sources import walk
from dicom_graph.loader.ingest.worker import process_file, quiet
from dicom_graph.model.store import open_store

SPENT: collections.defaultdict[str, float] = collections.defaultdict(float)


def timed(module: Any, name: str, label: str) -> None:
    inner = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[label] += time.process_time() - started
    setattr(module, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--db", type=Path, required=True, help="a graph with the standard loaded")
    args = parser.parse_args()
    quiet()
    with open_store(db=str(args.db)) as store:
        requirements = conformance.load_requirements(store)
    phases = [(worker, "read_file", "read_file (the parse)"), (integrity, "damage", "damage"),
              (extract, "read_elements", "read_elements"), (conformance, "check", "conformance evaluated"),
              (extract, "add_context", "context"), (extract, "add_references", "references")]
    memo = getattr(extract, "memo", None)  # loader/dataset/memo.py; absent from the trees before it, which
    if memo is not None:                   # bench/README.md compares with this same script
        phases.append((memo, "check", "conformance (memo + what it evaluates)"))
    for module, name, label in phases:
        timed(module, name, label)
    files = list(walk([str(args.archive)]))[:args.files]
    for f in files[:100]:
        process_file(f, requirements)  # warm: imports, caches, the page cache
    started = time.process_time()
    for f in files:
        pydicom.dcmread(f.path, stop_before_pixels=True, force=True)
    bare = time.process_time() - started
    SPENT.clear()
    started = time.process_time()
    for f in files:
        process_file(f, requirements)
    total = time.process_time() - started
    print(f"bare parse {bare:.3f} s; process_file with the standard {total:.3f} s = {total / bare:.2f} bare parses")
    for label, spent in sorted(SPENT.items(), key=lambda kv: -kv[1]):
        print(f"  {label:24s} {spent:.3f} s  {spent / bare:.2f}")


if __name__ == "__main__":
    main()
