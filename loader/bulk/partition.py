"""The shards of one label in parts by key hash: how the fold stays within a bounded memory at any size.

Why: the fold merges the rows of one key across every chunk (fold.py), and holding every row of a label
at once as Python dicts grows with the archive (measured: the fold and the load's Arrow together took
0.85 GB at 10k instances; bench/README.md). Every row of one key hashes to the same part, so a part is
folded on its own, its result written to a Parquet file in the load's work folder and dropped: at most
about FOLD_ROWS shard rows are held at a time, whatever the number of chunks. A part reads every shard
of its label again (shards of entities are small: a few rows per series per chunk); the hash of each row
is computed once, from its key column alone.
"""

from __future__ import annotations

import os
import shutil
import zlib
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

FOLD_ROWS = 50_000  # shard rows held (as Arrow, then as Python dicts) while one part is folded
WORK_PREFIX = ".fold-"


def partitions(paths: list[Path], key: str, fold_rows: int = FOLD_ROWS) -> Iterator[list[pa.Table]]:
    """The shards' rows, part by part: each part the rows of every shard whose `key` hashes to it."""
    total = sum(pq.read_metadata(p).num_rows for p in paths)
    parts = max(1, -(-total // fold_rows))
    if parts == 1:
        yield [pq.read_table(p) for p in paths]
        return
    buckets = {p: _buckets(pq.read_table(p, columns=[key]).column(key), parts) for p in paths}
    for part in range(parts):
        yield [pq.read_table(p).filter(pc.equal(buckets[p], part)) for p in paths]


def _buckets(keys: pa.ChunkedArray, parts: int) -> pa.Array:
    """A stable hash (CRC-32 of the key's text) modulo the number of parts: the same in every process."""
    return pa.array([zlib.crc32(str(k).encode()) % parts for k in keys.to_pylist()], pa.uint32())


def work_folder(out: Path) -> Path:
    """This load's folder for its folded files, under the shards (the disk that holds them has room):
    what a killed load left (its process gone) is deleted first; a load running beside, from the same
    shards, keeps its own."""
    for stale in out.glob(WORK_PREFIX + "*"):
        pid = stale.name[len(WORK_PREFIX):]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = out / f"{WORK_PREFIX}{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
