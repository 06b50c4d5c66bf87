"""What a run tells its user: the IngestSummary (counts, rate, status) and the rejection report.

The report is JSON lines (path, status, reason, error_class[, instance_errors][, path_hex]), one per file
that was not ingested as it is: rejected files (a cut file that cannot say whose copy it is: error_class
`Truncated`; a file whose worker died twice: `WorkerDied`; a file the engine would not take: the engine's
error), files read only by forcing (no preamble / file meta: status "recovered"), cut or damaged files
ingested with their instances marked (status "damaged"), files some of whose datasets could not be read,
and entries the walk skipped (status "skipped": FIFOs, sockets, dangling or outward symlinks, unreadable
entries). A path that is not UTF-8 is given in its escaped text form, with its bytes in `path_hex`
(sources.stored_path).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, TextIO

from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.ingest.sources import stored_path
from dicom_graph.loader.ingest.worker import FileOutcome

if TYPE_CHECKING:
    from dicom_graph.loader.ingest.resolve import ResolvedBatch
    from dicom_graph.model.store import GraphStore


@dataclass
class IngestSummary:
    run_key: str
    paths: list[str]
    files_seen: int = 0
    files_skipped: int = 0  # --resume: already ingested unchanged
    files_ingested: int = 0  # including recovered
    files_recovered: int = 0
    files_rejected: int = 0
    files_damaged: int = 0  # ingested, marked damaged (counted in files_ingested too)
    entries_skipped: int = 0  # what the walk did not read: FIFOs, sockets, dangling or outward symlinks
    instances_new: int = 0
    instances_unchanged: int = 0
    instances_updated: int = 0  # existing instance, different content: recorded as a conflict
    instances_rechecked: int = 0  # unchanged, conformance findings rewritten (a standard loaded since)
    problems: int = 0
    elapsed_s: float = 0.0
    report_path: str | None = None
    status: str = "running"
    conformance_checked: bool = False
    workers: int = 1

    @property
    def files_per_s(self) -> float:
        parsed = self.files_seen - self.files_skipped
        return parsed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def interrupted(self) -> bool:
        return self.status == "interrupted"

    @property
    def instances(self) -> int:
        return self.instances_new + self.instances_unchanged + self.instances_updated

    def count_file(self, outcome: FileOutcome) -> None:
        """Files count when parsed (what the progress bar shows); their instances once resolved."""
        self._count(outcome, 1)

    def uncount_file(self, outcome: FileOutcome) -> None:
        """A file counted when parsed that its write then rejected (committer.py) is counted again."""
        self._count(outcome, -1)

    def _count(self, outcome: FileOutcome, n: int) -> None:
        if outcome.status == "rejected":
            self.files_rejected += n
        else:
            self.files_ingested += n
            self.files_recovered += n * (outcome.status == "recovered")
            self.files_damaged += n * (outcome.status == "damaged")
        self.problems += n * outcome.problems

    def count_instances(self, resolved: ResolvedBatch) -> None:
        self.instances_new += resolved.instances_new
        self.instances_unchanged += resolved.instances_unchanged
        self.instances_updated += resolved.instances_updated
        self.instances_rechecked += resolved.instances_rechecked

    def lines(self) -> list[str]:
        return [
            f"ingest {self.status}: {self.files_seen:,} files seen, {self.files_ingested:,} ingested"
            f" ({self.files_recovered:,} recovered without file meta, {self.files_damaged:,} damaged),"
            f" {self.files_skipped:,} skipped (unchanged), {self.files_rejected:,} rejected,"
            f" {self.entries_skipped:,} entries not read (not regular files)",
            f"instances: {self.instances_new:,} new, {self.instances_updated:,} updated"
            f" (content conflict recorded), {self.instances_unchanged:,} unchanged"
            + (f" ({self.instances_rechecked:,} checked again: findings rewritten)" if self.instances_rechecked
               else "") + ";"
            f" {self.problems:,} value problems",
            f"elapsed {self.elapsed_s:.1f} s, {self.files_per_s:,.1f} files/s with {self.workers} workers",
            f"rejection report: {self.report_path}" + ("" if self.files_rejected or self.files_recovered
                                                        or self.files_damaged or self.entries_skipped
                                                        else " (empty)"),
        ] + ([] if self.conformance_checked else [conformance.NO_STANDARD_HINT])

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["files_per_s"] = round(self.files_per_s, 2)
        return d


class RejectionReport:
    """The report's lines, written as files are parsed and flushed once their batch is committed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def record(self, outcome: FileOutcome) -> None:
        if outcome.status == "ingested" and not outcome.instance_errors:
            return
        errors = outcome.instance_errors
        self._line(outcome.path, outcome.status, outcome.reason or "; ".join(errors),
                   outcome.error_class or (errors[0].split(":")[0] if errors else None),
                   {"instance_errors": errors} if errors else {})

    def skipped(self, path: str, reason: str) -> None:
        """An entry the walk did not read (sources.walk's on_skip)."""
        self._line(path, "skipped", reason, "NotRegularFile", {})

    def _line(self, path: str, status: str, reason: str, error_class: str | None, extra: dict[str, Any]) -> None:
        text, path_hex = stored_path(path)
        self.out.write(json.dumps({
            "path": text, "status": status, "reason": reason, "error_class": error_class, **extra,
            **({"path_hex": path_hex} if path_hex else {}),
        }, ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self.out.flush()


def run_key_for(paths: Iterable[str], pseudonymize: bool) -> str:
    """The IngestRun key: the same paths (and mode) are the same run, so a re-run or a resume updates
    the one IngestRun node instead of adding another."""
    ident = "\n".join(sorted(os.path.abspath(p) for p in paths)) + f"\npseudonymize={pseudonymize}"
    return "ingest-" + hashlib.sha1(ident.encode("utf-8")).hexdigest()[:16]


def default_report_path(store: GraphStore, run_key: str) -> str:
    """Next to the embedded graph (one report per graph and run); in the working folder for Neo4j."""
    if getattr(store, "dialect", "") == "embedded":
        base = os.path.abspath(store.describe())
        return f"{base}.{run_key}.rejects.jsonl"
    return os.path.abspath(f"dicom-graph-{run_key}.rejects.jsonl")
