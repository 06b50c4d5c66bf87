"""Peak memory of `extract` and `load` at one archive size: what issue 18 bounds (1M within 2.5 GB).

    python bench/bulk_memory.py extract ARCHIVE SHARDS --db GRAPH_WITH_STANDARD [--workers 2]
    python bench/bulk_memory.py load SHARDS --db FRESH_GRAPH [--standard-from GRAPH_WITH_STANDARD]
    python bench/bulk_memory.py subset SHARDS N SUBSET     # the first N chunks of SHARDS as an extraction
    python bench/bulk_memory.py replicate SHARDS K BIGGER  # SHARDS K times over, every copy its own entities

Runs the one command (the installed `dicom-graph`) under a sampler of its process tree (every 100 ms)
and prints, as its last line, one JSON object: seconds, peak RSS of the tree, of the main process and of
the largest other process (an extraction worker), and the main process's RSS at every tenth of the run,
so that a step that grows with the archive shows where in the run it is. `extract` starts a fresh
SHARDS (deleted first); `load` starts from a copy of --standard-from (the standard loaded, no data)
or an empty graph, since a load needs a graph without data. `--cli PATH` runs another installation's
`dicom-graph` (the code before a change, side by side in the same run).

`subset` makes, from one large extraction (even an unfinished one), the extraction of its first N chunks
(their shards linked, not copied): chunks are consecutive runs of the sorted files, so this is what
`extract` of exactly those files writes, and one extraction gives loads at several sizes.

`replicate` makes a K times larger extraction without extracting again (100k instances take ~15 min
to extract on this machine, 1M would take hours): copy k of every chunk has every key of the data
layer suffixed with `.k` (patients, studies, series, instances, source files, equipment, frames of
reference, the entity values and the edges' ends; the standard's SOP classes stay), so the copies
share nothing and the load sees K times the patients, series and instances, with the same columns.
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

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import PeakRSS  # noqa: E402  (bench/ is not a package)


class TreeMeter(PeakRSS):
    """Peak RSS of a process tree and of its root, and the root's RSS over time."""

    def __init__(self, pid: int) -> None:
        self.tree = self.root = self.other = 0
        self.timeline: list[tuple[float, int]] = []
        self._start = time.perf_counter()
        super().__init__(pid)

    def sample(self, root: int, others: list[int]) -> None:
        super().sample(root, others)
        self.root, self.tree = max(self.root, root), self.peak
        self.other = max([self.other, *others])
        self.timeline.append((time.perf_counter() - self._start, root))

    def deciles(self) -> list[float]:
        """The root's RSS (MB) at 10 %, 20 %, ... of the run."""
        if not self.timeline:
            return []
        end = self.timeline[-1][0]
        marks = [next((rss for t, rss in self.timeline if t >= end * k / 10), self.timeline[-1][1]) for k in range(1, 11)]
        return [round(m / 1e6) for m in marks]


def measure(command: list[str]) -> dict[str, object]:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    meter = TreeMeter(process.pid)
    output, _ = process.communicate()
    meter.stop()
    sys.stderr.write(output[-1500:])
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed ({process.returncode})")
    return {"seconds": round(time.perf_counter() - started, 1), "peak_tree_mb": round(meter.tree / 1e6),
            "peak_main_mb": round(meter.root / 1e6), "peak_other_mb": round(meter.other / 1e6),
            "main_mb_by_tenth": meter.deciles()}


def subset(shards: Path, chunks: int, target: Path) -> None:
    manifest = json.loads((shards / "manifest.json").read_text())
    done = {str(c): manifest["done"].get(str(c)) or json.loads((shards / "done" / f"{c}.json").read_text())
            for c in range(chunks)}  # an unfinished extraction has its done records in done/ only
    shutil.rmtree(target, ignore_errors=True)
    names = {f"chunk-{c:06d}" for c in range(chunks)}
    for shard in shards.glob("*/*/*.parquet"):
        if shard.stem in names:
            link = target / shard.relative_to(shards)
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(shard, link)
    (target / "rejects.jsonl").write_text("")
    manifest.update(chunks=manifest["chunks"][:chunks], done=done, finished=True, skipped=[])
    (target / "manifest.json").write_text(json.dumps(manifest))
    files = sum(len(c["files"]) for c in manifest["chunks"])
    print(json.dumps({"command": "subset", "chunks": chunks, "files": files, "out": str(target)}))


def _suffixed(table: pa.Table, columns: list[str], suffix: str) -> pa.Table:
    for name in columns:
        i = table.schema.get_field_index(name)
        values = table.column(i)
        if pa.types.is_list(values.type):
            new = pa.array([[v + suffix for v in row] if row is not None else None for row in values.to_pylist()],
                           values.type)
        else:
            new = pc.binary_join_element_wise(values, pa.scalar(suffix), "")
        table = table.set_column(i, name, new)
    return table


def _keys(kind: str, name: str) -> list[str]:
    """The columns of a shard folder that hold keys of the data layer."""
    from dicom_graph.model import schema

    if kind == "rels":
        _, a, b = name.split(".")
        return [c for c, label in (("c__from", a), ("c__to", b)) if label not in schema.DEFINITION_LABELS]
    if name in schema.DEFINITION_LABELS:
        return []
    extra = {"EntityValues": ["entity_key"], "Study": ["patient_keys"]}.get(name, [])
    return [schema.node(name).key, *extra]


def replicate(shards: Path, copies: int, target: Path) -> None:
    manifest = json.loads((shards / "manifest.json").read_text())
    n = len(manifest["chunks"])
    shutil.rmtree(target, ignore_errors=True)
    for shard in sorted(shards.glob("*/*/*.parquet")):
        kind, folder = shard.parent.parent.name, shard.parent.name
        table, chunk = pq.read_table(shard), int(shard.stem.split("-")[1])
        for k in range(copies):
            path = target / kind / folder / f"chunk-{k * n + chunk:06d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(_suffixed(table, _keys(kind, folder), f".{k}") if k else table, path, compression="zstd")
    done = {}
    for c in range(n):
        record = manifest["done"][str(c)]
        for k in range(copies):
            done[str(k * n + c)] = {**record, "conflicted": [u + f".{k}" if k else u for u in record["conflicted"]]}
    chunks = [{**chunk, "id": k * n + chunk["id"]} for k in range(copies) for chunk in manifest["chunks"]]
    manifest.update(chunks=chunks, done=done, finished=True, skipped=[])
    (target / "rejects.jsonl").write_text("")
    (target / "manifest.json").write_text(json.dumps(manifest))
    print(json.dumps({"command": "replicate", "chunks": len(chunks), "out": str(target)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["extract", "load", "subset", "replicate"])
    parser.add_argument("paths", nargs="+", help="extract: ARCHIVE SHARDS; load: SHARDS; "
                                                 "subset: SHARDS N SUBSET; replicate: SHARDS K BIGGER")
    parser.add_argument("--db", type=Path)
    parser.add_argument("--cli", default="dicom-graph", help="the dicom-graph to run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--standard-from", type=Path, default=None)
    args = parser.parse_args()
    if args.command == "subset":
        subset(Path(args.paths[0]), int(args.paths[1]), Path(args.paths[2]))
        return
    if args.command == "replicate":
        replicate(Path(args.paths[0]), int(args.paths[1]), Path(args.paths[2]))
        return
    if args.db is None:
        parser.error("--db is needed")
    if args.command == "extract":
        archive, shards = map(Path, args.paths)
        shutil.rmtree(shards, ignore_errors=True)
        command = [args.cli, "extract", str(archive), "--out", str(shards), "--workers", str(args.workers),
                   "--no-progress", "--db", str(args.db)]
    else:
        shards = Path(args.paths[0])
        for stale in args.db.parent.glob(args.db.name + "*"):
            stale.unlink() if stale.is_file() else shutil.rmtree(stale)
        if args.standard_from:
            shutil.copyfile(args.standard_from, args.db)
        command = [args.cli, "load", str(shards), "--db", str(args.db), "--no-progress"]
    result = {"command": args.command, "cli": args.cli, "paths": args.paths, **measure(command)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
