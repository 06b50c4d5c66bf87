"""The cyclic garbage collector, set for work that holds batches of acyclic rows.

Why: CPython's collector runs by allocation counts (700 new container objects start a young collection,
every 10th of those an older one) and traverses every object of the generations it collects. An ingest's
writer holds a batch of 5,000 instances at a time (their rows, lists and records: ~1-2 million container
objects) that churns batch after batch, so the oldest generation kept qualifying for a full collection.
Measured at 20k files (bench/README.md, "The garbage collector, and entity values in runs"): 20 full collections took 5.4-5.8 s of
the writer's ~27 s of CPU, and all its collections together found 1,544 objects to free. Rows, records
and datasets are freed by reference counting the moment they are dropped; only the collector's pace
changes here, never what is kept. A cycle that does become garbage waits for a later collection, which
still comes (the last threshold is reached every ~100 million allocations at most). Used by the ingest
(writer and parser tasks) and by `extract`'s chunks: there the default pace spent ~9 % of a chunk's CPU
collecting (1.3 s of 14 s over 6,000 files, 9 full collections), and a 100k extract took 105.9-117.7 s with
these thresholds against 121.0-142.3 s without (bench/README.md, "Cold first views; the extract's collector").
On 1 Dec the same thresholds had made `extract` slower (20.9 / 21.9 s against 17.6 / 18.7 s at 20k); the
workers have since kept the run's requirements and the conformance memo for good, which may be why the
answer changed: not pinned down.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

# generation 0 after 50,000 allocations, generation 1 after 20 of those, generation 2 after 100 of those
BATCH_THRESHOLDS = (50_000, 20, 100)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """BATCH_THRESHOLDS for the duration, then whatever the process had: an ingest run inside a longer
    program (a test, a notebook) leaves that program's collector as it found it."""
    previous = gc.get_threshold()
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
