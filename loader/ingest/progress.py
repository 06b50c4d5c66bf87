"""How a long ingest (or extract, or load) shows it is alive: tqdm on a terminal, a plain line every few seconds otherwise
(a scheduler's log, `nohup`), and nothing with --no-progress."""

from __future__ import annotations

import sys
import time
from typing import Any

from dicom_graph.loader.ingest.summary import IngestSummary

LINE_EVERY_S = 5


class Progress:
    def __init__(self, total: int, enabled: bool, summary: IngestSummary, what: str = "ingest",
                 unit: str = "files") -> None:
        self.summary = summary
        self.what, self.unit = what, unit
        self.total = total
        self.done = 0
        self.bar: Any = None
        self.last = time.monotonic()
        self.start = time.monotonic()
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, dynamic_ncols=True, smoothing=0.1)

    def update(self, n: int) -> None:
        self.done += n
        s = self.summary
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix(instances=s.instances, rejects=s.files_rejected, refresh=False)
        elif self.enabled and time.monotonic() - self.last >= LINE_EVERY_S:
            self.last = time.monotonic()
            elapsed = self.last - self.start
            rate = self.done / elapsed if elapsed else 0.0
            eta = (self.total - self.done) / rate if rate else 0.0
            print(f"{self.what}: {self.done:,}/{self.total:,} {self.unit}, {rate:,.0f} {self.unit}/s, "
                  f"{s.files_rejected:,} rejected, ETA {eta:,.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class LazyProgress:
    """A Progress made when its total is first known: extract knows it after the walk, load after the
    fold, and both are driven by callbacks from deeper down."""

    def __init__(self, enabled: bool, what: str, unit: str = "files") -> None:
        self.enabled, self.what, self.unit = enabled, what, unit
        self.bar: Progress | None = None

    def update(self, n: int, total: int) -> None:
        if self.bar is None:
            self.bar = Progress(total, self.enabled, IngestSummary(self.what, []), self.what, self.unit)
        self.bar.update(n)

    def advance_to(self, done: int, total: int) -> None:
        self.update(done - (self.bar.done if self.bar else 0), total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
