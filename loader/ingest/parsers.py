"""Stage 2's driver, in the writer process: files -> FileOutcomes, parsed in worker processes, in order.

The workers are pool.OrderedPool's: each owns its pipe, so a worker that dies (kill -9, the OOM killer,
a crash in a native decoder) costs only the chunk it held, which is parsed again, then file by file;
a file that still kills its worker alone is reported (`WorkerDied`), and every file is accounted for.
"""

from __future__ import annotations

from typing import Iterator

from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.dataset.pseudonymize import Pseudonymizer
from dicom_graph.loader.ingest.pool import OrderedPool
from dicom_graph.loader.ingest.sizes import CHUNK_FILES, IN_FLIGHT_PER_WORKER
from dicom_graph.loader.ingest.sources import SourceFile
from dicom_graph.loader.ingest.worker import FileOutcome, init_worker, process_chunk, process_file, quiet

WORKER_DIED = ("WorkerDied", "the parser process died twice while reading this file (killed, crashed or out "
                             "of memory), once with its chunk and once alone: the file is not ingested")


class Parsers:
    """Where files are parsed: in this process for a small run or --workers 1, else in a pool."""

    def __init__(self, workers: int, requirements: conformance.Requirements | None,
                 pseudonymizer: Pseudonymizer | None, batch_instances: int, isolated: bool = False) -> None:
        """`isolated`: never in this process, even a few files or one worker (for files one of which
        has killed its parser already: bulk/extract.py)."""
        self.workers = workers
        self.isolated = isolated
        self.initargs = (requirements, pseudonymizer)
        self.in_flight = batch_instances // CHUNK_FILES + IN_FLIGHT_PER_WORKER * workers
        self.pool: OrderedPool[SourceFile, FileOutcome] | None = None

    def outcomes(self, files: list[SourceFile]) -> Iterator[list[FileOutcome]]:
        chunks = [files[start:start + CHUNK_FILES] for start in range(0, len(files), CHUNK_FILES)]
        if not self.isolated and (self.workers == 1 or len(files) <= CHUNK_FILES):
            quiet()
            return ([process_file(f, *self.initargs) for f in chunk] for chunk in chunks)
        self.pool = OrderedPool(self.workers, process_chunk, _died, init_worker, self.initargs, self.in_flight)
        return self.pool.map(chunks)

    def terminate(self) -> None:
        """Ctrl-C: the workers are stopped at once (--resume parses the files whose batch was not
        committed)."""
        if self.pool is not None:
            self.pool.close(kill=True)
            self.pool = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None


def _died(f: SourceFile) -> FileOutcome:
    return FileOutcome(f.path, f.size, f.mtime_ns, "rejected", error_class=WORKER_DIED[0], reason=WORKER_DIED[1])
