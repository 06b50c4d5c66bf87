"""Where the embedded writer's time and memory go: every ladybug statement of an ingest, by kind.

    python bench/statements.py ARCHIVE GRAPH.db [--workers 2] [--batch 5000]

Runs the ingest in this process (the writer; workers parse as usual) into GRAPH.db, which should be
fresh with the standard loaded (`dicom-graph standard load --db GRAPH.db`), and prints per kind of
statement (a COPY by table; any other by its first 40 characters) and for the reopens: how many,
their seconds, and the writer's RSS growth across them (total and largest: what one such statement
pinned in ladybug's buffer pool, see model/store/embedded.py). It wraps the store's private
`_execute` / `_reopen`: a profiling tool, not an API.
"""

from __future__ import annotations

import argparse
import collections
import time
from typing import Any

from dicom_graph.loader.ingest import DEFAULT_BATCH_INSTANCES, run_ingest
from dicom_graph.model.store.embedded import EmbeddedStore
from dicom_graph.model.store.embedded_connection import rss

Samples = dict[str, list[tuple[int, float]]]  # kind -> [(RSS growth bytes, seconds)]


def _kind(cypher: str) -> str:
    """`COPY <table>` without its column list (node COPYs name every column); else the first 40 characters."""
    return cypher.split("(")[0].split(" FROM")[0].strip() if cypher.startswith("COPY") else cypher[:40]


def instrument(samples: Samples) -> None:
    execute, reopen = EmbeddedStore._execute, EmbeddedStore._reopen

    def timed_execute(self: EmbeddedStore, cypher: str, params: dict[str, Any] | None = None) -> Any:
        before, started = rss(), time.perf_counter()
        try:
            return execute(self, cypher, params)
        finally:
            samples[_kind(cypher)].append((rss() - before, time.perf_counter() - started))

    def timed_reopen(self: EmbeddedStore) -> None:
        started = time.perf_counter()
        reopen(self)
        samples["(reopen)"].append((0, time.perf_counter() - started))

    EmbeddedStore._execute, EmbeddedStore._reopen = timed_execute, timed_reopen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive")
    parser.add_argument("db")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH_INSTANCES)
    args = parser.parse_args()
    samples: Samples = collections.defaultdict(list)
    instrument(samples)
    store = EmbeddedStore(args.db, read_only=False, create=True)
    started = time.perf_counter()
    summary = run_ingest(store, [args.archive], workers=args.workers, progress=False,
                         batch_instances=args.batch)
    elapsed = time.perf_counter() - started
    store.close()
    print(f"{summary.files_seen:,} files in {elapsed:.1f} s, {store.reopens} reopens, "
          f"writer RSS at the end {rss() >> 20} MB")
    print(f"{'statement':40s} {'n':>5s} {'seconds':>8s} {'share':>6s} {'RSS+ MB':>8s} {'max MB':>7s}")
    for kind, rows in sorted(samples.items(), key=lambda kv: -sum(s for _, s in kv[1])):
        seconds = sum(s for _, s in rows)
        print(f"{kind[:40]:40s} {len(rows):5d} {seconds:8.1f} {seconds / elapsed:6.1%} "
              f"{sum(g for g, _ in rows) / 2**20:8.0f} {max(g for g, _ in rows) / 2**20:7.0f}")


if __name__ == "__main__":
    main()
