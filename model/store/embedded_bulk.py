"""The embedded store's bulk load: `COPY FROM` the Parquet shards themselves, and Arrow tables.

Why COPY and not the write path's MERGE: every row of a BulkPlan is new (model/bulk.py), and COPY is
the engine's fastest load (ENGINE-NOTES.md: ~40x MERGE), reading Parquet natively with no row passing
through Python. Each shard is one COPY with its own column list (shards of one label have the columns
their chunk met: new keyword columns are added first, `ALTER TABLE ... ADD`); the database is reopened
between COPYs (`_release`) so that ladybug's buffer pool holds at most one statement's pinned pages,
whatever the archive's size (see UPDATE_SLICE in embedded_write.py). A COPY is all or nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema
from ..batch import RelGroup
from ..bulk import BulkPlan, Progress
from .base import ReadOnlyError, quote
from .embedded_types import column
from .embedded_write import EmbeddedWrites


def _literal(path: Path) -> str:
    return "'" + str(path.absolute()).replace("\\", "\\\\").replace("'", "\\'") + "'"


class EmbeddedBulk(EmbeddedWrites):
    def bulk_load(self, plan: BulkPlan, progress: Progress | None = None) -> None:
        if self.read_only:
            raise ReadOnlyError("the graph is open read-only; loading needs a writer")
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            self._release()
            if progress:
                progress(done)

        with self._lock:
            for label, files in plan.node_files.items():
                for f in files:
                    step(self._copy_nodes(label, pq.read_schema(f).names, _literal(f), {}))
            for label, table in plan.node_tables.items():
                step(self._copy_nodes(label, table.column_names, "$t", {"t": table}))
            for label, keys in plan.stubs.items():
                key = schema.node(label).key
                table = pa.Table.from_arrays([column(keys, schema.node(label).props[key]),
                                              pa.array([True] * len(keys))], names=[key, "stub"])
                step(self._copy_nodes(label, [key, "stub"], "$t", {"t": table}))
            for group, files in plan.rel_files.items():
                for f in files:
                    step(self._copy_rels(group, _literal(f), {}, pq.read_metadata(f).num_rows))
            for group, table in plan.rel_tables.items():
                step(self._copy_rels(group, "$t", {"t": table}, table.num_rows))

    def _copy_nodes(self, label: str, columns: list[str], source: str, params: dict[str, Any]) -> int:
        self._ensure_columns(label, columns)
        result = self._execute(f"COPY {quote(label)}({', '.join(quote(c) for c in columns)}) FROM {source}",
                               params)
        return _copied(result)

    def _copy_rels(self, group: RelGroup, source: str, params: dict[str, Any], rows: int) -> int:
        if not rows:
            return 0
        option = f" (from='{group[1]}', to='{group[2]}')" if len(schema.rel(group[0]).pairs) > 1 else ""
        self._execute(f"COPY {quote(group[0])} FROM {source}{option}", params)
        return rows


def _copied(result: Any) -> int:
    """COPY reports "N tuples have been copied ..." as its one row."""
    rows = result.get_all() if result is not None else []
    text = str(rows[0][0]) if rows else ""
    return int(text.split()[0]) if text[:1].isdigit() else 0
