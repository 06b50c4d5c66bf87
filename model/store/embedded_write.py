"""The embedded store's write paths: CREATE and MERGE in one transaction for small batches, COPY plus MERGE for bulk.

Why two paths (measurements in ENGINE-NOTES.md and bench/README.md): `COPY FROM` an Arrow table loads
new rows ~40x faster than `MERGE`, but is not idempotent and not safe inside a transaction; so a large
batch is split: keys already in the graph are merged, the rest are copied. Small batches (a network
message, a resumed tail) go through one transaction, so they are atomic: `LOAD FROM ... CREATE` for the
keys the graph lacks, `LOAD FROM ... MERGE` for the others.
Every path bounds what ladybug pins in its buffer pool (the constants below say how).
"""

from __future__ import annotations

from typing import Any, Iterable

from .. import schema
from ..batch import GraphBatch, RelGroup
from ..instance_width import cap_instance_rows
from ..arrow import column, node_table, rel_table
from .base import QueryError, ReadOnlyError, StoreError, WriteSummary, first_line, quote
from .embedded_connection import EmbeddedConnection, buffer_pool_bytes, rss

# Above this many rows of one label a batch goes through COPY for its new rows (not atomic across
# labels, but idempotent to re-run); at or below, the whole batch is one MERGE transaction, unless the
# caller writes with atomic=False (an ingest: --resume redoes a batch).
COPY_THRESHOLD = 1_000
# Within a large batch, a label (or relationship group) is copied only when it has at least this many
# new rows: a COPY has a fixed cost that grows with the table's width (0.1-0.3 s for 40 stub rows into
# the ~230-column Instance table, against 15 ms for a MERGE of the same rows) and pins memory per
# column (below), so small remainders go through `LOAD FROM ... CREATE` (nodes) or `MERGE` (relationships).
COPY_MIN_ROWS = 1_000
KEY_CHUNK = 5_000
# What a statement brings into ladybug 0.22's buffer pool stays pinned until the database is closed
# (CHECKPOINT does not release it), measured per kind of statement:
# - COPY: ~0.7 MB per column of the table, whatever the row count, per COPY worker thread (LadybugDB
#   issue #760), so the writer runs one thread (no slower here): ~200 MB per 5,000-instance batch.
# - an update: the rewritten column chunk of the row's node group, ~27 MB per STRING column per full
#   group (5,000 rows of one group, 20 columns: +547 MB). Completing ~200 stub instances with ~150
#   columns in one MERGE needed 2.7-3.2 GB at 800k instances: what stopped a 1M ingest with a 2 GB pool
#   at 375k (and with 4 GB at 775k). So bulk writes update at most UPDATE_SLICE columns per statement
#   (and the ingest rarely completes stubs at all: see Batcher.take in loader/ingest/batcher.py).
# - a relationship look-up by source keys scans the relationship table: +0.9 GB for REFERENCES at 1M.
# A bulk write therefore reopens the database (0.1 s) between its phases (see _release), which keeps
# the pool's high-water mark to one statement's whatever the archive size; a statement that still
# fills the pool ends the write (see _give_up_after_full_pool).
UPDATE_SLICE = 24
# Small transactional writes (the listener's, one network message each) pin too, and a long-lived
# writer would fill the pool with them: 200-row writes of 300 columns filled a 128 MB pool at the 8th
# write, and after that failure a write reported as committed was lost (measured). So after a
# transactional write the store reopens once what this open has pinned - the process's RSS growth
# since the open, an overestimate - passes this share of the pool.
PINNED_SHARE_BEFORE_REOPEN = 0.25


class EmbeddedWrites(EmbeddedConnection):
    """Upserts of GraphBatches; the store adds the schema and the reads."""

    def clear(self) -> None:
        if self.read_only:
            raise ReadOnlyError("the graph is open read-only")
        with self._lock:
            for rel_type in schema.REL_TYPES:
                self._execute(f"MATCH ()-[r:{quote(rel_type.type)}]->() DELETE r")
            for node_type in schema.NODE_TYPES:
                self._execute(f"MATCH (n:{quote(node_type.label)}) DELETE n")

    def existing_keys(self, label: str, keys: Iterable[Any]) -> set[Any]:
        key = quote(schema.node(label).key)
        wanted = list(keys)
        found: set[Any] = set()
        with self._lock:
            for start in range(0, len(wanted), KEY_CHUNK):
                # UNWIND + primary-key lookup: `WHERE n.k IN $keys` scans the whole table
                result = self._execute(f"UNWIND $keys AS k MATCH (n:{quote(label)} {{{key}: k}}) RETURN n.{key}",
                                       {"keys": wanted[start:start + KEY_CHUNK]})
                found.update(row[0] for row in result.get_all())
        return found

    def write(self, batch: GraphBatch, *, atomic: bool = True) -> WriteSummary:
        if self.read_only:
            raise ReadOnlyError("the graph is open read-only; writing needs a writer (ingest, load, listen)")
        cap_instance_rows(batch)  # one file must not widen the Instance table for good
        summary = WriteSummary()
        bulk = not atomic or any(len(rows) > COPY_THRESHOLD for rows in batch.nodes.values()) or any(
            len(rows) > COPY_THRESHOLD for rows in batch.rels.values())
        with self._lock:
            for label, rows in batch.nodes.items():
                props = {p for row in rows.values() for p in row}
                self._ensure_columns(label, props)
            if bulk:
                self._release()
                try:
                    self._write_copying(batch, summary)
                except QueryError as exc:
                    if "buffer pool is full" in str(exc):
                        self._give_up_after_full_pool(exc)
                    raise
                self._release()
            else:
                self._execute("BEGIN TRANSACTION")
                try:
                    self._write_merging(batch, summary)
                    self._execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
                if rss() - self._rss_at_open > PINNED_SHARE_BEFORE_REOPEN * buffer_pool_bytes():
                    self._reopen()
        return summary

    def _write_merging(self, batch: GraphBatch, summary: WriteSummary) -> None:
        for label in batch.nodes:
            rows = batch.node_rows(label)
            new_rows, old_rows = self._split_new(label, rows)
            self._create_nodes(label, new_rows)
            self._merge_nodes(label, old_rows)
            summary.nodes[label] = len(rows)
        for label in batch.stubs:
            self._create_stubs(label, batch.stub_keys(label), copy=False)
        for group in batch.rels:
            rows = batch.rel_rows(group)
            self._merge_rels(group, rows)
            summary.relationships[group[0]] = summary.relationships.get(group[0], 0) + len(rows)

    def _write_copying(self, batch: GraphBatch, summary: WriteSummary) -> None:
        created: dict[str, set[Any]] = {}  # keys this write adds: no edge can touch them yet
        for label in batch.nodes:
            node_type = schema.node(label)
            rows = batch.node_rows(label)
            new_rows, old_rows = self._split_new(label, rows)
            created[label] = {r[node_type.key] for r in new_rows}
            if len(new_rows) >= COPY_MIN_ROWS:
                columns = sorted({p for r in new_rows for p in r} | {"stub"})
                table = node_table(label, new_rows, columns, constants={"stub": False})
                self._execute(f"COPY {quote(label)}({', '.join(quote(c) for c in columns)}) FROM $t", {"t": table})
            else:
                self._create_nodes(label, new_rows)
            self._merge_in_column_slices(label, old_rows)
            summary.nodes[label] = len(rows)
        for label in batch.stubs:
            created.setdefault(label, set()).update(self._create_stubs(label, batch.stub_keys(label), copy=True))
        for group in batch.rels:
            self._release()
            rows = batch.rel_rows(group)
            new_rows, old_rows = self._split_existing_rels(group, rows, created)
            if len(new_rows) < COPY_MIN_ROWS:
                new_rows, old_rows = [], new_rows + old_rows
            if new_rows:
                option = (f" (from='{group[1]}', to='{group[2]}')"
                          if len(schema.rel(group[0]).pairs) > 1 else "")
                self._execute(f"COPY {quote(group[0])} FROM $t{option}", {"t": rel_table(group, new_rows)})
            self._merge_rels(group, old_rows)
            summary.relationships[group[0]] = summary.relationships.get(group[0], 0) + len(rows)

    def _merge_in_column_slices(self, label: str, rows: list[dict[str, Any]]) -> None:
        """MERGE rows that exist already (stubs being completed, entities updated), at most UPDATE_SLICE columns per
        statement with a reopen after each: see UPDATE_SLICE. Only on the non-transactional COPY path."""
        key = schema.node(label).key
        columns = sorted({p for r in rows for p in r} - {key})
        if len(columns) <= UPDATE_SLICE:
            self._merge_nodes(label, rows)
            return
        for start in range(0, len(columns), UPDATE_SLICE):
            part = columns[start:start + UPDATE_SLICE]
            self._merge_nodes(label, [{key: r[key], **{c: r[c] for c in part if c in r}} for r in rows
                                      if start == 0 or any(c in r for c in part)])
            self._release()


    def _release(self) -> None:
        """Reopen if this open has run anything: ladybug keeps what a statement touched pinned until
        close (see UPDATE_SLICE). Only between statements of a bulk write, never inside a transaction."""
        if self._used:
            self._reopen()

    def _give_up_after_full_pool(self, exc: QueryError) -> None:
        """A bulk statement (a COPY, an update slice) that fails on a full buffer pool leaves ladybug 0.22 unsafe to write to in this
        process: later commits were lost at close and string columns read back corrupted (measured; a
        1M ingest ended in a WAL panic this way). A new process finds the graph intact, so: close now
        and tell the operator how to go on."""
        self.close()
        raise StoreError(
            f"the embedded engine's buffer pool ({buffer_pool_bytes() >> 20} MB) filled during a bulk "
            f"write ({first_line(exc)}); what was committed is intact: set "
            f"DICOM_GRAPH_BUFFER_POOL_MB higher and run the same command with --resume to redo the rest") from None


    def _split_new(self, label: str, rows: list[dict[str, Any]]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(rows whose keys the graph lacks, rows whose keys it has), by one look-up of the keys."""
        key = schema.node(label).key
        existing = self.existing_keys(label, (r[key] for r in rows))
        return [r for r in rows if r[key] not in existing], [r for r in rows if r[key] in existing]

    def _create_nodes(self, label: str, rows: list[dict[str, Any]]) -> None:
        """Rows whose keys are not in the graph (the caller looked): `CREATE` takes each row's values as
        they are, where `MERGE` would look the key up and run one `SET coalesce(...)` per column. On the
        ~230-column Instance table that is the listener's costliest statement: 150 received instances'
        nodes in 34-50 ms against 210-260 ms (bench/README.md, "... CREATE for new keys ...")."""
        if not rows:
            return
        key, columns, table = _prefixed_table(label, rows)
        props = ", ".join([f"{quote(c)}: {quote('c_' + c)}" for c in (key, *columns)] + ["stub: false"])
        self._execute(f"LOAD FROM $t CREATE (__n:{quote(label)} {{{props}}})", {"t": table})

    def _merge_nodes(self, label: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        key, columns, table = _prefixed_table(label, rows)
        sets = [f"__n.{quote(c)} = coalesce({quote('c_' + c)}, __n.{quote(c)})" for c in columns]
        sets.append("__n.stub = false")
        self._execute(f"LOAD FROM $t MERGE (__n:{quote(label)} {{{quote(key)}: {quote('c_' + key)}}}) "
                      f"SET {', '.join(sets)}", {"t": table})

    def _create_stubs(self, label: str, keys: list[Any], *, copy: bool) -> list[Any]:
        """Create the missing ones as stubs and return them. COPY is only for the large,
        non-transactional path: inside an explicit transaction, COPY followed by MERGE corrupts the
        primary-key index ("invalid local node offset", ladybug 0.22)."""
        missing = sorted(set(keys) - self.existing_keys(label, keys)) if keys else []
        if not missing:
            return []
        import pyarrow as pa  # here, as in model/arrow.py: a read-only process never loads it

        node_type = schema.node(label)
        table = pa.Table.from_arrays([column(missing, node_type.props[node_type.key])],
                                     names=["c_" + node_type.key])
        if copy and len(missing) >= COPY_MIN_ROWS:
            table = table.append_column("stub", pa.array([True] * len(missing)))
            self._execute(f"COPY {quote(label)}({quote(node_type.key)}, stub) FROM $t", {"t": table})
        else:
            self._execute(f"LOAD FROM $t MERGE (__n:{quote(label)} {{{quote(node_type.key)}: "
                          f"{quote('c_' + node_type.key)}}}) ON CREATE SET __n.stub = true", {"t": table})
        return missing

    def _split_existing_rels(self, group: RelGroup, rows: list[dict[str, Any]], created: dict[str, set[Any]]
                             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Rows whose edge is new, and rows whose edge exists but carries properties to set. Only edges
        between nodes that existed before this write are looked up: at 1M instances the look-up of
        5,000 new instances' REFERENCES cost 1.4 s and ~0.9 GB of buffer pool for nothing."""
        rel_type = schema.rel(group[0])
        a_key, b_key = schema.node(group[1]).key, schema.node(group[2]).key
        ident = "".join(f", __e.{quote(p)}" for p in rel_type.identity)
        fresh_a, fresh_b = created.get(group[1], set()), created.get(group[2], set())
        sources = sorted({r["from"] for r in rows if r["from"] not in fresh_a and r["to"] not in fresh_b})
        existing: set[tuple] = set()
        for start in range(0, len(sources), KEY_CHUNK):
            result = self._execute(
                f"UNWIND $keys AS k MATCH (__a:{quote(group[1])} {{{quote(a_key)}: k}})"
                f"-[__e:{quote(group[0])}]->(__b:{quote(group[2])}) "
                f"RETURN __a.{quote(a_key)}, __b.{quote(b_key)}{ident}",
                {"keys": sources[start:start + KEY_CHUNK]})
            existing.update(tuple(row) for row in result.get_all())

        def identity(r: dict[str, Any]) -> tuple:
            return (r["from"], r["to"], *(r.get(p) for p in rel_type.identity))

        new = [r for r in rows if identity(r) not in existing]
        old = [r for r in rows if identity(r) in existing and len(r) > 2 + len(rel_type.identity)]
        return new, old

    def _merge_rels(self, group: RelGroup, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        rel_type = schema.rel(group[0])
        a, b = schema.node(group[1]), schema.node(group[2])
        identity = ", ".join(f"{quote(p)}: {quote('c_' + p)}" for p in rel_type.identity)
        others = [p for p in rel_type.props if p not in rel_type.identity]
        sets = ", ".join(f"__e.{quote(p)} = coalesce({quote('c_' + p)}, __e.{quote(p)})" for p in others)
        self._execute(
            f"LOAD FROM $t MATCH (__a:{quote(a.label)} {{{quote(a.key)}: c__from}}) "
            f"MATCH (__b:{quote(b.label)} {{{quote(b.key)}: c__to}}) "
            f"MERGE (__a)-[__e:{quote(rel_type.type)}{' {' + identity + '}' if identity else ''}]->(__b)"
            + (f" SET {sets}" if sets else ""),
            {"t": rel_table(group, rows)})


def _prefixed_table(label: str, rows: list[dict[str, Any]]) -> tuple[str, list[str], Any]:
    """(key, the other columns the rows carry, their Arrow table with `c_`-prefixed names) for LOAD FROM."""
    key = schema.node(label).key
    columns = sorted({p for r in rows for p in r} - {key})
    return key, columns, node_table(label, rows, [key, *columns], prefix="c_")
