"""The embedded store's bulk load: `COPY FROM` the Parquet shards themselves, and Arrow tables.

Why COPY and not the write path's MERGE: every row of a BulkPlan is new (model/bulk.py), and COPY is
the engine's fastest load (ENGINE-NOTES.md: ~40x MERGE). A COPY has a fixed cost (0.1-0.3 s on the wide
Instance table, plus the reopen below), so shards are not copied one by one (measured: 34 statements
for 2,189 files, 7.5 s, 70 % of it fixed costs) but read as Arrow (no row becomes a Python object) and
copied COPY_ROWS rows at a time, their columns unified (shards of one label have the columns their
chunk met; new keyword columns are added first, `ALTER TABLE ... ADD`). The database is reopened
between COPYs (`_release`) so that ladybug's buffer pool holds at most one statement's pinned pages,
whatever the archive's size (see UPDATE_SLICE in embedded_write.py). A COPY is all or nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .. import schema
from ..batch import RelGroup
from ..arrow import column
from .base import ReadOnlyError, quote
from .embedded_write import EmbeddedWrites

if TYPE_CHECKING:  # imported where a load runs: every embedded open inherits this class
    import pyarrow as pa

    from ..bulk import BulkPlan, Progress


# rows per COPY: fixed costs amortised; and at most COPY_BYTES of Arrow per COPY, since the engine's
# working memory during a COPY into the wide Instance table grows with the slice (measured, 238 columns:
# +0.5 GB of RSS for 10k rows, +0.9 GB for 26k; bench/README.md "Bounded memory")
COPY_ROWS = 25_000
COPY_BYTES = 64 * 1024 * 1024


def _runs(files: list[Path]) -> Iterator[pa.Table]:
    """The shards' rows as tables of about COPY_ROWS rows or COPY_BYTES, columns unified (a missing
    one is null)."""
    import pyarrow.parquet as pq

    run: list[pa.Table] = []
    rows = size = 0
    for f in files:
        run.append(pq.read_table(f))
        rows, size = rows + run[-1].num_rows, size + run[-1].nbytes
        if rows >= COPY_ROWS or size >= COPY_BYTES:
            rows = size = 0
            yield _combined(run)  # not bound here: once the caller drops it, no run is held while the next is read
    if run:
        yield _combined(run)


def _combined(run: list[Any]) -> Any:
    """The run's tables as one, and the run emptied: the shards' tables go before the COPY, so one copy of
    the rows is held, not two."""
    import pyarrow as pa

    tables = run[:]
    run.clear()
    return pa.concat_tables(tables, promote_options="default").combine_chunks()


class EmbeddedBulk(EmbeddedWrites):
    def bulk_load(self, plan: BulkPlan, progress: Progress | None = None) -> None:
        if self.read_only:
            raise ReadOnlyError("the graph is open read-only; loading needs a writer")
        import pyarrow as pa

        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            self._release()
            if progress:
                progress(done)

        with self._lock:
            # one run of shards at a time, read lazily: the Arrow of one COPY is held, not the archive's
            # (and not two runs' either: the table goes before the next run is read)
            for label, files in plan.node_files.items():
                for table in _runs(files):
                    n = self._copy_nodes(label, table.column_names, {"t": table})
                    del table
                    step(n)
            for label, keys in plan.stubs.items():
                key = schema.node(label).key
                table = pa.Table.from_arrays([column(keys, schema.node(label).props[key]),
                                              pa.array([True] * len(keys))], names=[key, "stub"])
                step(self._copy_nodes(label, [key, "stub"], {"t": table}))
            for group, files in plan.rel_files.items():
                for table in _runs(files):
                    n = self._copy_rels(group, {"t": table})
                    del table
                    step(n)

    def _copy_nodes(self, label: str, columns: list[str], params: dict[str, Any]) -> int:
        self._ensure_columns(label, columns)
        self._execute(f"COPY {quote(label)}({', '.join(quote(c) for c in columns)}) FROM $t", params)
        return int(params["t"].num_rows)

    def _copy_rels(self, group: RelGroup, params: dict[str, Any]) -> int:
        if not params["t"].num_rows:
            return 0
        option = f" (from='{group[1]}', to='{group[2]}')" if len(schema.rel(group[0]).pairs) > 1 else ""
        self._execute(f"COPY {quote(group[0])} FROM $t{option}", params)
        return int(params["t"].num_rows)
