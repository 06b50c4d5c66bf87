"""Between the workers and the resolver: FileOutcomes -> batches of ~N instances, in path order.

A file whose pointers reach instances that are in neither its batch nor the graph waits one batch
(`Batcher.take`). Written at once, each such target would become a stub that its own file, a batch
later, completes by updating ~150 columns of an old node group: the costliest and most memory-hungry
statement of a large embedded ingest (see model/store/embedded.py). An archive's pointers mostly stay
within a study (images -> their MPPS, SEG -> source images), so the targets arrive in the next batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dicom_graph.loader.ingest.sizes import DEFAULT_BATCH_INSTANCES
from dicom_graph.loader.ingest.worker import FileOutcome

if TYPE_CHECKING:
    from dicom_graph.model.store import GraphStore


class Batcher:
    """Holds parsed files until they are written: a file leaves only through `written`, so a batch that
    an interrupt cut short is still here for the last `take(final=True)`."""

    def __init__(self, store: GraphStore, batch_instances: int = DEFAULT_BATCH_INSTANCES) -> None:
        self.store = store
        self.batch_instances = batch_instances
        self.pending: list[FileOutcome] = []
        self.pending_instances = 0
        self.waited: set[str] = set()  # paths held back once already: a file waits only once

    def add(self, outcome: FileOutcome) -> bool:
        """Whether the batch is full (by instances, or by files for files without instances)."""
        self.pending.append(outcome)
        self.pending_instances += len(outcome.extracted)
        return self.pending_instances >= self.batch_instances or len(self.pending) >= self.batch_instances

    def take(self, final: bool) -> list[FileOutcome]:
        """The files to write now, sorted by path; unless `final`, without the files whose pointers
        reach instances that are in neither this batch nor the graph (they wait for the next batch).
        A held file is not recorded as done until written: a crash loses nothing, --resume parses it
        again."""
        outcomes = sorted(self.pending, key=lambda o: o.path)
        if final:
            return outcomes
        held = self._held_back(outcomes)
        self.waited |= held
        return [o for o in outcomes if o.path not in held]

    def written(self, files: list[FileOutcome]) -> None:
        paths = {o.path for o in files}
        self.pending = [o for o in self.pending if o.path not in paths]
        self.pending_instances = sum(len(o.extracted) for o in self.pending)
        self.waited -= paths

    def _held_back(self, outcomes: list[FileOutcome]) -> set[str]:
        uids = {o.path: {ex.sop_instance_uid for ex in o.extracted} for o in outcomes}
        targets = {o.path: {t for ex in o.extracted for t in ex.batch.stubs.get("Instance", ())} - uids[o.path]
                   for o in outcomes if o.path not in self.waited}
        outside = set().union(*targets.values()) - set().union(*uids.values())
        if not outside:
            return set()
        in_graph = self.store.existing_keys("Instance", outside)
        held: set[str] = set()
        while True:  # holding a file back takes its instances out of the batch: their pointers wait too
            here = set().union(*(u for path, u in uids.items() if path not in held))
            more = {path for path, ts in targets.items()
                    if path not in held and any(t not in here and t not in in_graph for t in ts)}
            if not more:
                return held
            held |= more
