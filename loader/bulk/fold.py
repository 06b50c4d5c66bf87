"""Load time: the shards of every chunk -> one BulkPlan, deciding what `ingest` decides across batches.

Each chunk was resolved on its own (chunk.py); what spans chunks is decided here, once, over the whole
archive, so that extract + load gives the graph `ingest` gives:
- instances: a SOP Instance UID found in more than one chunk (copies of one instance in different
  files) is left to the ingest's conflict policy: the chunks that hold such an instance are *set aside*
  and, after the bulk load, their files are parsed again and written through the ingest's own
  committer, against the loaded graph (load.py). Every other instance is in exactly one chunk, so the
  Instance shards (and SourceFile, and the edges from instances) are copied as they are;
- entities (patients, studies, series, equipment, frames of reference, SOP classes): the chunks' rows
  of one key are merged: Study.patient_keys is the union; any other property keeps its smallest value
  as text, which is what ingest keeps for an attribute its instances disagree on (entities.py) and,
  where they agree, the one value;
- EntityValues: the chunks' counts are added (each instance version is in one chunk), and the
  EntityConflict rows are made from the sums, as ingest makes them from its running counts;
- unknown SOP classes the graph already holds are left out, as ingest does;
- stubs: a key any chunk points at that no chunk, and not the graph, holds as a node;
- edges between entities (HAS_STUDY, HAS_SERIES, ...) repeat across chunks: each is kept once.
Whatever is merged is merged in parts by a hash of its key and written to Parquet (partition.py), so
the fold holds one part's rows, never the archive's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dicom_graph.loader.bulk.partition import FOLD_ROWS, partitions
from dicom_graph.loader.bulk.shards import folders, parse_rel_folder, shard_paths, write_parquet
from dicom_graph.loader.ingest.entities import conflict_row, fold_counts, value_text
from dicom_graph.model import schema
from dicom_graph.model.arrow import node_table, rel_table
from dicom_graph.model.bulk import BulkPlan


class HeldKeys(Protocol):
    """What fold asks of the graph: which definition nodes it already holds (a GraphStore answers; a
    neo4j-admin import, which fills an empty database, needs no graph: bulk/admin.py)."""

    def existing_keys(self, label: str, keys: Iterable[Any]) -> set[Any]: ...

UNIQUE_PER_CHUNK = ("Instance", "SourceFile")  # one chunk's rows: a file is in one chunk, so is an instance


@dataclass
class Folded:
    plan: BulkPlan
    set_aside: list[int] = field(default_factory=list)  # chunks the ingest's committer writes (module doc)
    conflicted: list[str] = field(default_factory=list)  # instances whose pointers are recounted after


def fold(out: Path, chunk_ids: list[int], done: dict[str, Any], store: HeldKeys, work: Path,
         fold_rows: int = FOLD_ROWS) -> Folded:
    """The plan of the whole archive; what is merged across chunks is written, part by part of about
    `fold_rows` shard rows (partition.py), as Parquet files under `work`, which must outlive the load."""
    uids = {c: _column(shard_paths(out, "nodes/Instance", [c]), schema.node("Instance").key) for c in chunk_ids}
    counts = pc.value_counts(pa.chunked_array(list(uids.values()), pa.string()))  # no copy of them all
    copies = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    set_aside = [c for c, u in uids.items() if len(copies) and pc.any(pc.is_in(u, value_set=copies)).as_py()]
    del uids, counts
    bulk = [c for c in chunk_ids if c not in set_aside]
    folded = Folded(BulkPlan(), set_aside, sorted({u for c in bulk for u in done[str(c)]["conflicted"]}))
    plan = folded.plan
    # the keys of every full node, per label, a chunk or a part at a time: what a stub must not repeat
    full: dict[str, Iterable[pa.Array]] = {}
    for label in folders(out, "nodes"):
        paths = shard_paths(out, f"nodes/{label}", bulk)
        key = schema.node(label).key
        if label in UNIQUE_PER_CHUNK:
            plan.node_files[label] = paths
            full[label] = _columns(paths, key)  # read only if pointers to this label are left to check
            continue
        keys = []
        for part, tables in enumerate(partitions(paths, key, fold_rows)):
            rows = _values_rows(tables) if label == "EntityValues" else _entity_rows(label, tables)
            if label == "EntityValues":
                _add_nodes(plan, work, "EntityConflict", part, _conflict_rows(rows))
            if label in schema.DEFINITION_LABELS:  # the standard may be loaded: its nodes stay as they are
                held = store.existing_keys(label, [r[key] for r in rows])
                rows = [r for r in rows if r[key] not in held]
            _add_nodes(plan, work, label, part, rows)
            keys.append(pa.array([r[key] for r in rows], pa.string()))
        full[label] = keys
    for label in folders(out, "stubs"):
        _stubs(plan, label, _column(shard_paths(out, f"stubs/{label}", bulk), schema.node(label).key),
               full.get(label, ()), store)
    for name in folders(out, "rels"):
        group = parse_rel_folder(name)
        paths = shard_paths(out, f"rels/{name}", bulk)
        if "Instance" in group[1:]:  # an edge to or from an instance is in that instance's chunk only
            plan.rel_files[group] = paths
            continue
        for part, tables in enumerate(partitions(paths, "c__from", fold_rows)):  # one edge: one `from`, one part
            edges = _unique_rels(group, tables)
            if edges.num_rows:
                path = write_parquet(work / "rels" / name / f"part-{part:06d}.parquet", edges)
                plan.rel_files.setdefault(group, []).append(path)
    return folded


def _columns(paths: list[Path], name: str) -> Iterator[pa.Array]:
    for p in paths:
        yield pq.read_table(p, columns=[name]).column(name).combine_chunks()


def _column(paths: list[Path], name: str) -> pa.Array:
    parts = list(_columns(paths, name))
    return pa.concat_arrays(parts) if parts else pa.array([], pa.string())


def _add_nodes(plan: BulkPlan, work: Path, label: str, part: int, rows: list[dict[str, Any]]) -> None:
    """One part's folded rows of a label, sorted by key, as a Parquet file the plan loads."""
    if not rows:
        return
    key = schema.node(label).key
    rows = sorted(rows, key=lambda r: r[key])
    table = node_table(label, rows, sorted({p for r in rows for p in r} | {"stub"}), constants={"stub": False})
    plan.node_files.setdefault(label, []).append(
        write_parquet(work / "nodes" / label / f"part-{part:06d}.parquet", table))


def _entity_rows(label: str, tables: list[pa.Table]) -> list[dict[str, Any]]:
    """One row per key from the chunks' rows of it (the module doc says how properties are merged)."""
    key = schema.node(label).key
    merged: dict[Any, dict[str, Any]] = {}
    for table in tables:
        for row in table.to_pylist():
            mine = merged.setdefault(row[key], {})
            for prop, value in row.items():
                if value is None:
                    continue
                if prop not in mine:
                    mine[prop] = value
                elif prop == "patient_keys":
                    mine[prop] = sorted(set(mine[prop]) | set(value))
                elif value_text(value) < value_text(mine[prop]):
                    mine[prop] = value
    return list(merged.values())


def _values_rows(tables: list[pa.Table]) -> list[dict[str, Any]]:
    """One EntityValues row per entity, its counts the sums of every chunk's."""
    merged: dict[str, dict[str, Any]] = {}
    for table in tables:
        for row in table.to_pylist():
            mine = merged.setdefault(row["key"], {**row, "observed": {}})
            fold_counts(mine["observed"], json.loads(row["observed"] or "{}"))
    return [{**row, "observed": json.dumps(row["observed"], sort_keys=True)} for row in merged.values()]


def _conflict_rows(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    conflicts = []
    for row in values:
        for keyword, counts in json.loads(row["observed"]).items():
            if len(counts) > 1:
                conflicts.append(conflict_row(row["entity"], row["entity_key"], keyword, counts))
    return conflicts


def _stubs(plan: BulkPlan, label: str, pointed: pa.Array, full: Iterable[pa.Array], store: HeldKeys) -> None:
    keys = pc.unique(pointed)
    for held in full:  # one chunk's or part's keys at a time: the archive's instance UIDs are never held at once
        if len(keys) and len(held):
            keys = pc.filter(keys, pc.invert(pc.is_in(keys, value_set=held)))
    wanted = sorted(keys.to_pylist())
    if label in schema.DEFINITION_LABELS:
        held = store.existing_keys(label, wanted)
        wanted = [k for k in wanted if k not in held]
    if wanted:
        plan.stubs[label] = wanted


def _unique_rels(group: tuple[str, str, str], tables: list[pa.Table]) -> pa.Table:
    """Edges between entities, once each (a later chunk's properties win, as a later batch's do)."""
    rel_type = schema.rel(group[0])
    edges: dict[tuple[Any, ...], dict[str, Any]] = {}
    for table in tables:
        for row in table.to_pylist():
            edge = {"from": row["c__from"], "to": row["c__to"],
                    **{p: row["c_" + p] for p in rel_type.props if row["c_" + p] is not None}}
            edges.setdefault((edge["from"], edge["to"], *(edge.get(p) for p in rel_type.identity)), {}).update(edge)
    return rel_table(group, [edges[k] for k in sorted(edges, key=lambda k: tuple(str(x) for x in k))])
