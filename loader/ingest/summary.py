"""What a run tells its user: the IngestSummary (counts, rate, status) and the rejection report.

The report is JSON lines (path, status, reason, error_class[, instance_errors]), one per file that was
not ingested as it is: rejected files, files read only by forcing (no preamble / file meta: status
"recovered"), and files some of whose datasets could not be read.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, TextIO

from dicom_graph.loader.dataset import conformance
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
    instances_new: int = 0
    instances_unchanged: int = 0
    instances_updated: int = 0  # existing instance, different content: recorded as a conflict
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
        if outcome.status == "rejected":
            self.files_rejected += 1
        else:
            self.files_ingested += 1
            self.files_recovered += outcome.status == "recovered"
        self.problems += outcome.problems

    def count_instances(self, resolved: ResolvedBatch) -> None:
        self.instances_new += resolved.instances_new
        self.instances_unchanged += resolved.instances_unchanged
        self.instances_updated += resolved.instances_updated

    def lines(self) -> list[str]:
        return [
            f"ingest {self.status}: {self.files_seen:,} files seen, {self.files_ingested:,} ingested"
            f" ({self.files_recovered:,} recovered without file meta), {self.files_skipped:,} skipped"
            f" (unchanged), {self.files_rejected:,} rejected",
            f"instances: {self.instances_new:,} new, {self.instances_updated:,} updated"
            f" (content conflict recorded), {self.instances_unchanged:,} unchanged;"
            f" {self.problems:,} value problems",
            f"elapsed {self.elapsed_s:.1f} s, {self.files_per_s:,.1f} files/s with {self.workers} workers",
            f"rejection report: {self.report_path}" + ("" if self.files_rejected or self.files_recovered
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
        self.out.write(json.dumps({
            "path": outcome.path, "status": outcome.status, "reason": outcome.reason or "; ".join(errors),
            "error_class": outcome.error_class or (errors[0].split(":")[0] if errors else None),
            **({"instance_errors": errors} if errors else {}),
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
