"""Every output of the per-file path for fixed files, as text: the check that a speed-up changed nothing.

    PYTHONHASHSEED=0 python bench/extract_snapshot.py --db GRAPH_WITH_STANDARD --out before.txt PATH...
    (change the code)
    PYTHONHASHSEED=0 python bench/extract_snapshot.py --db GRAPH_WITH_STANDARD --out after.txt PATH...
    cmp before.txt after.txt

For the files under PATH (the corpus, pydicom's test files, a synthetic sample) it writes one line per
`process_file` outcome (every field, dicts in insertion order) with the standard, without it and
pseudonymized with a fixed key, then the chunk's resolved batch and the SHA-256 of every shard
`shards.write_chunk` makes of it. The resolver's dict order follows set iteration, hence the fixed hash
seed; the shards are sorted and do not depend on it.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path
from typing import Any, TextIO, cast

from dicom_graph.loader.bulk import shards
from dicom_graph.loader.bulk.chunk import _EmptyGraph
from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.dataset.pseudonymize import Pseudonymizer
from dicom_graph.loader.ingest.resolve import Resolver
from dicom_graph.loader.ingest.sources import SourceFile, walk
from dicom_graph.loader.ingest.worker import process_file, quiet
from dicom_graph.loader.ingest.writer import source_files
from dicom_graph.model.store import open_store


def canon(x: Any) -> Any:
    """A value as nested lists and (type, repr) pairs: equal text means equal values of equal types."""
    if isinstance(x, dict):
        return [(canon(k), canon(v)) for k, v in x.items()]
    if isinstance(x, set):
        return sorted(repr(canon(v)) for v in x)
    if isinstance(x, (list, tuple)):
        return [canon(v) for v in x]
    if hasattr(x, "__dataclass_fields__"):
        return [(k, canon(getattr(x, k))) for k in x.__dataclass_fields__]
    return (type(x).__name__, repr(x))


def snapshot(out: TextIO, label: str, files: list[SourceFile], requirements: Any, pseudonymizer: Any,
             with_shards: bool) -> None:
    outcomes = [process_file(f, requirements, pseudonymizer) for f in files]
    for f, o in zip(files, outcomes, strict=True):
        out.write(f"{label}\t{f.path}\t{canon(o)!r}\n")
    if not with_shards:
        return
    resolved = Resolver(cast(Any, _EmptyGraph())).resolve(outcomes)
    resolved.graph.merge(source_files(outcomes, "bench"))
    out.write(f"RESOLVED {label}\t{canon(resolved.graph)!r}\n")
    with tempfile.TemporaryDirectory() as d:
        shards.write_chunk(resolved.graph, Path(d), 0)
        for p in sorted(Path(d).rglob("*")):
            if p.is_file():
                out.write(f"SHARD {label}\t{p.relative_to(d)}\t{hashlib.sha256(p.read_bytes()).hexdigest()}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--db", type=Path, required=True, help="a graph with the standard loaded")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--files", type=int, default=5000, help="at most this many files per PATH")
    args = parser.parse_args()
    quiet()
    with open_store(db=str(args.db)) as store:
        requirements = conformance.load_requirements(store)
    files = [f for p in args.paths for f in list(walk([p]))[:args.files]]
    with args.out.open("w", encoding="utf-8") as out:
        snapshot(out, "standard", files, requirements, None, True)
        snapshot(out, "no standard", files, None, None, True)
        snapshot(out, "pseudonymized", files, requirements, Pseudonymizer(b"bench-snapshot-key"), False)


if __name__ == "__main__":
    main()
