"""Reading an embedded graph's file into the OS page cache ahead of its first queries.

Why: on a cold page cache (after a reboot, or once other work evicted the graph) a dashboard's first
views read their columns from the disk in the engine's small page reads, scattered over several
columns at once: at 1M instances three pages took 1.2-3.3 s there against 0.47-0.95 s with the file in
the page cache and 0.2-0.5 s warm (bench/README.md, "Cold first views; the extract's collector"). One
sequential read of the whole file runs at the disk's streaming rate (14.4 s for the 5.5 GB graph here,
once the page cache was emptied), in the background, while the first page renders. The same idea as
PostgreSQL's pg_prewarm or Neo4j's page cache warm-up; only the OS's cache is filled, never the
engine's, and nothing is written.

A graph larger than `share` of the memory the OS reports available is left alone: reading it would
evict its own first pages, or another program's.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

CHUNK = 4 * 1024 * 1024
SHARE = 0.5  # of MemAvailable


def available_memory() -> int | None:
    """Bytes the OS could give without swapping (Linux's MemAvailable), None where it does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class PageCacheWarmer(threading.Thread):
    """One sequential read of `path`, in a daemon thread; `read` counts the bytes read so far."""

    def __init__(self, path: Path) -> None:
        super().__init__(name=f"page-cache-warmer {path.name}", daemon=True)
        self.path = path
        self.read = 0
        self.error: OSError | None = None

    def run(self) -> None:
        buffer = bytearray(CHUNK)
        try:
            with open(self.path, "rb", buffering=0) as f:
                if hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)  # a larger readahead
                while n := f.readinto(buffer):
                    self.read += n
        except OSError as exc:  # the graph was replaced or removed meanwhile: its reader will say so
            self.error = exc


def warm(path: Path, share: float = SHARE) -> PageCacheWarmer | None:
    """Start reading `path` into the page cache, unless it is larger than `share` of the available
    memory (or the OS does not say how much there is): the thread, or None when nothing was started."""
    available = available_memory()
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if available is None or size > share * available:
        return None
    warmer = PageCacheWarmer(path)
    warmer.start()
    return warmer
