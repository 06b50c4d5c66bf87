"""Would a narrower Instance table make the bulk load faster? The same shards loaded as they are, and
with their rare keywords folded into the one JSON column the width cap already uses, alternating.

    python bench/instance_width.py --shards bench/out/shards-100000 --standard GRAPH_WITH_STANDARD.db \
        [--min-fill 0.5] [--rounds 2]

The narrow variant is a copy of the shard folder (hard links; only the Instance node shards are
rewritten, untimed): an undeclared keyword present in fewer than --min-fill of all Instance rows leaves
its column and goes, per row, into `other_values` (model/instance_width.py's JSON object keyword ->
value). That is the design issue 18 asks to decide: common keywords as columns, rare ones in a map.
Each load runs in a fresh process into a copy of --standard (the graph with the standard loaded), with
bench/statements.py's statement timer, and prints one JSON line: load seconds, the Instance COPYs'
seconds, every other COPY's, the reopens', the process's peak RSS, Instance columns and graph size.
Last line: one JSON object with every round of both variants.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def fill(shards: Path) -> tuple[int, collections.Counter[str]]:
    """(Instance rows, non-null values per column) over every Instance node shard."""
    rows, filled = 0, collections.Counter[str]()
    for path in sorted((shards / "nodes" / "Instance").glob("*.parquet")):
        table = pq.read_table(path)
        rows += table.num_rows
        for name in table.column_names:
            filled[name] += table.num_rows - table.column(name).null_count
    return rows, filled


def narrow_copy(shards: Path, out: Path, rare: set[str]) -> None:
    """`shards` with the `rare` columns of every Instance shard folded into other_values."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(shards, out, copy_function=os.link)
    for path in sorted((out / "nodes" / "Instance").glob("*.parquet")):
        table = pq.read_table(path)
        moved = [c for c in table.column_names if c in rare]
        if not moved:
            continue
        columns = {c: table.column(c).to_pylist() for c in moved}
        old = table.column("other_values").to_pylist() if "other_values" in table.column_names else [None] * len(table)
        folded = []
        for i in range(table.num_rows):
            values = json.loads(old[i]) if old[i] else {}
            values.update({c: _json(columns[c][i]) for c in moved if columns[c][i] is not None})
            folded.append(json.dumps(values, sort_keys=True) if values else None)
        table = table.drop_columns(moved + (["other_values"] if "other_values" in table.column_names else []))
        names = sorted([*table.column_names, "other_values"])
        table = table.append_column("other_values", pa.array(folded, pa.string())).select(names)
        path.unlink()  # a hard link: the original shard keeps its bytes
        pq.write_table(table, path, compression="zstd")


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def one_load(shards: Path, db: Path) -> dict[str, Any]:
    """The child's work: load `shards` into `db`, every statement timed."""
    import statements  # bench/statements.py: wraps the store's private _execute / _reopen

    from dicom_graph.loader.bulk.load import run_load
    from dicom_graph.model.store.embedded import EmbeddedStore

    samples: statements.Samples = collections.defaultdict(list)
    statements.instrument(samples)
    store = EmbeddedStore(str(db), read_only=False, create=False)
    started = time.perf_counter()
    run_load(store, str(shards))
    elapsed = time.perf_counter() - started
    store._columns.clear()  # a private cache: what the table has now, asked of the engine
    columns = len(store._table_columns("Instance"))
    store.close()
    seconds = {kind.replace("`", ""): sum(s for _, s in rows) for kind, rows in samples.items()}
    copy_instance = sum(s for k, s in seconds.items() if k == "COPY Instance")
    copy_other = sum(s for k, s in seconds.items() if k.startswith("COPY") and k != "COPY Instance")
    return {"load_s": round(elapsed, 2), "copy_instance_s": round(copy_instance, 2),
            "copy_other_s": round(copy_other, 2), "reopens_s": round(seconds.get("(reopen)", 0.0), 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "instance_columns": columns,
            "graph_mb": round(sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file()) / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=Path, required=True)
    parser.add_argument("--standard", type=Path, required=True, help="a graph file with the standard loaded")
    parser.add_argument("--min-fill", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", type=Path, default=HERE / "out" / "width")
    parser.add_argument("--one", nargs=2, type=Path, help=argparse.SUPPRESS)  # the child: SHARDS DB
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_load(*args.one)))
        return
    from dicom_graph.model import schema

    rows, filled = fill(args.shards)
    declared = schema.node("Instance").props
    rare = {c for c, n in filled.items() if c not in declared and n < args.min_fill * rows}
    args.work.mkdir(parents=True, exist_ok=True)
    narrow = args.work / "shards-narrow"
    narrow_copy(args.shards, narrow, rare)
    result: dict[str, Any] = {"instances": rows, "columns": len(filled), "declared": len(declared & filled.keys()),
                              "rare": len(rare), "min_fill": args.min_fill, "rounds": []}
    for n in range(args.rounds):
        for name, shards in (("wide", args.shards), ("narrow", narrow)) if n % 2 == 0 else (
                ("narrow", narrow), ("wide", args.shards)):
            db = args.work / f"{name}.db"
            for stale in args.work.glob(f"{name}.db*"):
                stale.unlink()
            shutil.copyfile(args.standard, db)
            child = subprocess.run([sys.executable, __file__, "--shards", str(shards), "--standard", str(args.standard),
                                    "--one", str(shards), str(db)], capture_output=True, text=True, check=True)
            line = {"variant": name, "load_avg": round(os.getloadavg()[0], 2),
                    **json.loads(child.stdout.strip().splitlines()[-1])}
            print(json.dumps(line), file=sys.stderr, flush=True)
            result["rounds"].append(line)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
