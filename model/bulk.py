"""BulkPlan: what `load` hands a store, engine-neutral: Parquet files of rows to create, and stub keys.

Why a plan of files rather than GraphBatches or tables: an engine with a bulk loader (LadybugDB's
`COPY FROM` Parquet) takes the shards as they are, without the rows passing through Python; an engine
without one (Neo4j over Bolt) gets them as GraphBatches of `BATCH_ROWS` rows through its ordinary
MERGE write (`write_in_batches`), which is also right for a graph that already holds nodes.

Why files and not Arrow tables: a plan of the whole archive held in memory grows with the archive; the
rows merged across chunks are written by the fold (loader/bulk/fold.py) to files of their own, and a
store reads one file, or one COPY's worth, at a time.

Every row of a plan is new to the graph and unique in the plan (fold.py in loader/bulk makes it so):
node files hold full nodes (`stub: false`), `stubs` the keys known only from pointers that
nothing else in the plan or the graph holds, and relationship files each edge once (columns:
from, to, then every property of the type, as model/arrow.rel_table writes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from . import schema
from .batch import GraphBatch, RelGroup

if TYPE_CHECKING:
    from .store.base import GraphStore

BATCH_ROWS = 5_000
Progress = Callable[[int], None]  # rows written so far in this step


@dataclass
class BulkPlan:
    node_files: dict[str, list[Path]] = field(default_factory=dict)
    stubs: dict[str, list[Any]] = field(default_factory=dict)
    rel_files: dict[RelGroup, list[Path]] = field(default_factory=dict)

    def rows(self) -> int:
        files = [*(f for fs in self.node_files.values() for f in fs), *(f for fs in self.rel_files.values() for f in fs)]
        return sum(pq.read_metadata(f).num_rows for f in files) + sum(len(s) for s in self.stubs.values())


def _slices(table: pa.Table) -> Iterator[list[dict[str, Any]]]:
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        yield batch.to_pylist()


def write_in_batches(store: GraphStore, plan: BulkPlan, progress: Progress | None = None) -> None:
    """The plan through `store.write` (MERGE), BATCH_ROWS rows per write: nodes, stubs, then edges."""
    done = 0

    def write(batch: GraphBatch, n: int) -> None:
        nonlocal done
        store.write(batch, atomic=False)
        done += n
        if progress:
            progress(done)

    node_sources = ((label, pq.read_table(f)) for label, fs in plan.node_files.items() for f in fs)  # one at a time
    for label, table in node_sources:
        for rows in _slices(table):
            batch = GraphBatch()
            for row in rows:
                batch.add_node(label, row)
            write(batch, len(rows))
    for label, keys in plan.stubs.items():
        for start in range(0, len(keys), BATCH_ROWS):
            batch = GraphBatch(stubs={label: set(keys[start:start + BATCH_ROWS])})
            write(batch, len(batch.stubs[label]))
    rel_sources = ((group, pq.read_table(f)) for group, fs in plan.rel_files.items() for f in fs)
    for group, table in rel_sources:
        props = list(schema.rel(group[0]).props)
        for rows in _slices(table):
            batch = GraphBatch()
            for row in rows:
                batch.add_rel(group[0], group[1], row["c__from"], group[2], row["c__to"],
                              {p: row["c_" + p] for p in props})
            write(batch, len(rows))
