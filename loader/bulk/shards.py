"""Where a chunk's rows live on disk: one Parquet file per chunk in one folder per label / relationship type.

    OUT/manifest.json
    OUT/nodes/<Label>/chunk-000007.parquet       full nodes (columns: the properties the chunk has, sorted)
    OUT/stubs/<Label>/chunk-000007.parquet       keys known only from a pointer
    OUT/rels/<TYPE>.<From>.<To>/chunk-000007.parquet   from, to, then every property of the type
    OUT/rejects/chunk-000007.jsonl               the chunk's lines of the rejection report

Shards are deterministic (rows sorted by key, columns sorted, no timestamps): the same files give the
same bytes wherever they were extracted, so a Dask run and a local run can be compared byte for byte.
A shard is written under a temporary name and renamed, so a file with the final name is complete.
"""

from __future__ import annotations

import os
from operator import itemgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dicom_graph.model import schema
from dicom_graph.model.arrow import column, node_table, rel_table
from dicom_graph.model.batch import GraphBatch, RelGroup

MANIFEST = "manifest.json"


def chunk_name(chunk_id: int) -> str:
    return f"chunk-{chunk_id:06d}"


def rel_folder(group: RelGroup) -> str:
    return ".".join(group)


def parse_rel_folder(name: str) -> RelGroup:
    rel_type, a, b = name.split(".")
    return rel_type, a, b


def write_atomically(path: Path, write: Any) -> None:
    """`write(tmp_path)`, then rename: a kill -9 leaves a temporary file, never a half shard."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_chunk(graph: GraphBatch, out: Path, chunk_id: int) -> dict[str, int]:
    """Every shard of one chunk; returns the row count per shard folder (what the manifest records)."""
    name = chunk_name(chunk_id) + ".parquet"
    rows: dict[str, int] = {}
    for label in sorted(graph.nodes):
        key = schema.node(label).key
        node_rows = sorted(graph.node_rows(label), key=lambda r: r[key])
        columns = sorted({p for r in node_rows for p in r} | {"stub"})
        write_parquet(out / "nodes" / label / name, node_table(label, node_rows, columns, constants={"stub": False}))
        rows[f"nodes/{label}"] = len(node_rows)
    for label in sorted(graph.stubs):
        keys = graph.stub_keys(label)
        if keys:
            node_type = schema.node(label)
            table = pa.Table.from_arrays([column(keys, node_type.props[node_type.key])], names=[node_type.key])
            write_parquet(out / "stubs" / label / name, table)
            rows[f"stubs/{label}"] = len(keys)
    for group in sorted(graph.rels):
        identity = schema.rel(group[0]).identity
        rel_rows = sorted(graph.rel_rows(group), key=_rel_order(identity))
        write_parquet(out / "rels" / rel_folder(group) / name, rel_table(group, rel_rows))
        rows[f"rels/{rel_folder(group)}"] = len(rel_rows)
    return rows


def _rel_order(identity: tuple[str, ...]) -> Any:
    """A relationship row's sort key: its ends, then its identity properties as text (most types have
    none: their key is a plain itemgetter, not a tuple built per row)."""
    if not identity:
        return itemgetter("from", "to")
    return lambda r: (r["from"], r["to"], *[str(r.get(p)) for p in identity])


def write_parquet(path: Path, table: pa.Table) -> Path:
    write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    return path


def shard_paths(out: Path, folder: str, chunk_ids: list[int]) -> list[Path]:
    """The shards of `folder` (e.g. "nodes/Instance") for these chunks, in chunk order; a chunk
    without rows of that label has no shard."""
    paths = [out / folder / (chunk_name(c) + ".parquet") for c in chunk_ids]
    return [p for p in paths if p.exists()]


def folders(out: Path, kind: str) -> list[str]:
    """The shard folders of one kind ("nodes", "stubs", "rels") the extraction wrote, sorted."""
    base = out / kind
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
