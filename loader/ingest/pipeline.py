"""The ingest pipeline: walk -> parse in worker processes -> batches -> one writer.

    summary = run_ingest(store, ["/archive"], workers=8, resume=True)

- walk: every file under the paths (loader.sources.walk), stat'ed once; with --resume, files whose
  (path, size, mtime_ns) match a SourceFile marked ingested are skipped.
- parse: a process pool (forkserver) reads chunks of files (headers only) and extracts GraphBatches
  (loader.extract); only small picklable results come back.
- write: the main process combines results into batches of ~`batch_size` instances, resolves what needs
  the graph (content conflicts, Study.patient_keys, unknown SOP classes) and writes; then, and only then,
  it marks the batch's files done (SourceFile rows). A kill -9 at any moment therefore loses at most
  uncommitted batches, whose files are parsed again by --resume; writes are MERGEs, so re-writing them
  is harmless, and the run's IngestRun (keyed by the paths) is continued, not duplicated. A file
  whose pointers reach instances not yet written waits one batch (Writer._hold_back).
- Ctrl-C (or SIGTERM, see cli_ingest): the pending batch is committed, workers stop, the run is
  marked interrupted.
- A rejection report (JSON lines: path, status, reason, error_class) lists every file that was not
  ingested, and files that were read only by forcing (no preamble / file meta: status "recovered").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import multiprocessing as mp
import os
import signal
import sys
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from pydicom.uid import UID_dictionary

from dicom_graph.model.batch import GraphBatch

from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.dataset.extract import Extracted, dataset_to_batch
from dicom_graph.loader.dataset.pseudonymize import Pseudonymizer
from dicom_graph.loader.ingest.resolve import add_study_patient_keys
from dicom_graph.loader.ingest.sources import HEAD_SIZE, NotDicom, SourceFile, read_file, walk

log = logging.getLogger("dicom_graph.ingest")

DEFAULT_BATCH_INSTANCES = 5000  # fewer, larger COPYs: each has a fixed cost on the wide Instance table
CHUNK_FILES = 16
# Chunks submitted to the workers and not yet consumed by the writer: one batch's worth (so the workers
# keep parsing the next batch while the writer writes this one) plus a few per worker. `imap_unordered`
# had no such bound: when the writer was the slower side, parsed results queued up in the writer
# process and its memory grew with the archive (4 GB and rising at 100k files of a 1M ingest).
IN_FLIGHT_PER_WORKER = 4
RESUME_CHUNK = 2000


# --- what a worker returns per file ------------------------------------------------------------

@dataclass
class FileOutcome:
    path: str
    size: int
    mtime_ns: int
    status: str  # ingested | recovered | rejected
    kind: str | None = None
    reason: str | None = None
    error_class: str | None = None
    extracted: list[Extracted] = field(default_factory=list)
    problems: int = 0
    instance_errors: list[str] = field(default_factory=list)
    held_back: bool = False  # kept for the next batch once already (see Writer._hold_back)


_WORKER: dict[str, Any] = {}


def _init_worker(requirements: conformance.Requirements | None, pseudonymizer: Pseudonymizer | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.ERROR)
    _WORKER["requirements"] = requirements
    _WORKER["pseudonymizer"] = pseudonymizer


def process_file(f: SourceFile, requirements: conformance.Requirements | None = None,
                 pseudonymizer: Pseudonymizer | None = None) -> FileOutcome:
    """Read and extract one file; never raises (a failure becomes a rejected outcome)."""
    out = FileOutcome(f.path, f.size, f.mtime_ns, "rejected")
    try:
        with open(f.path, "rb") as fh:
            head = fh.read(HEAD_SIZE)
        kind, datasets = read_file(f.path, head)
        out.kind = kind
    except NotDicom as exc:
        out.reason, out.error_class = str(exc), "NotDicom"
        return out
    except Exception as exc:  # pydicom's and the OS's errors alike: the file is rejected, the run goes on
        out.reason, out.error_class = _one_line(exc), type(exc).__name__
        return out
    source = "json" if kind == "json" else "file"
    errors: list[tuple[str, str]] = []
    for ds in datasets:
        try:
            ex = dataset_to_batch(ds, source=source, path=f.path, file_size=f.size, mtime_ns=f.mtime_ns,
                                  pseudonymizer=pseudonymizer, requirements=requirements)
        except Exception as exc:
            errors.append((type(exc).__name__, _one_line(exc)))
            continue
        out.extracted.append(ex)
        out.problems += len(ex.problems)
    if not out.extracted:
        out.error_class, out.reason = errors[0] if errors else ("EmptyDocument", "no datasets in file")
        return out
    if errors:
        out.instance_errors = [f"{c}: {m}" for c, m in errors]
    if kind == "dataset":
        out.status = "recovered"
        out.reason = "no preamble / file meta information: read by forcing the parser"
        out.error_class = "NoFileMeta"
    else:
        out.status = "ingested"
    return out


def _process_chunk(files: list[SourceFile]) -> list[FileOutcome]:
    req, pseudo = _WORKER.get("requirements"), _WORKER.get("pseudonymizer")
    return [process_file(f, req, pseudo) for f in files]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


# --- the summary --------------------------------------------------------------------------------

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


def run_key_for(paths: Iterable[str], pseudonymize: bool) -> str:
    """The IngestRun key: the same paths (and mode) are the same run, so a re-run or a resume updates
    the one IngestRun node instead of adding another."""
    ident = "\n".join(sorted(os.path.abspath(p) for p in paths)) + f"\npseudonymize={pseudonymize}"
    return "ingest-" + hashlib.sha1(ident.encode("utf-8")).hexdigest()[:16]


def default_report_path(store: Any, run_key: str) -> str:
    if getattr(store, "dialect", "") == "embedded":
        base = os.path.abspath(store.describe())
        return f"{base}.{run_key}.rejects.jsonl"
    return os.path.abspath(f"dicom-graph-{run_key}.rejects.jsonl")


# --- the writer ----------------------------------------------------------------------------------

class Writer:
    """Combines worker outcomes into batches and writes them; the only code here that talks to the store."""

    def __init__(self, store: Any, summary: IngestSummary, report: Any,
                 batch_instances: int = DEFAULT_BATCH_INSTANCES) -> None:
        self.store = store
        self.summary = summary
        self.report = report
        self.batch_instances = batch_instances
        self.pending: list[FileOutcome] = []
        self.pending_instances = 0
        self.known_sop_classes: set[str] = set()

    def add(self, outcome: FileOutcome) -> None:
        s = self.summary
        if outcome.status == "rejected":
            s.files_rejected += 1
        else:
            s.files_ingested += 1
            s.files_recovered += outcome.status == "recovered"
        if outcome.status != "ingested" or outcome.instance_errors:
            self.report.write(json.dumps({
                "path": outcome.path, "status": outcome.status, "reason": outcome.reason
                or "; ".join(outcome.instance_errors), "error_class": outcome.error_class or
                (outcome.instance_errors[0].split(":")[0] if outcome.instance_errors else None),
                **({"instance_errors": outcome.instance_errors} if outcome.instance_errors else {}),
            }, ensure_ascii=False) + "\n")
        s.problems += outcome.problems
        self.pending.append(outcome)
        self.pending_instances += len(outcome.extracted)
        if self.pending_instances >= self.batch_instances or len(self.pending) >= self.batch_instances:
            self.flush(final=False)

    def flush(self, final: bool = True) -> None:
        """Write the pending files; unless `final`, files pointing at instances that are in neither this
        batch nor the graph wait for the next batch (see _hold_back)."""
        if not self.pending:
            return
        outcomes = sorted(self.pending, key=lambda o: o.path)
        held: list[FileOutcome] = []
        if not final:
            outcomes, held = self._hold_back(outcomes)
            if not outcomes:
                return
        batch = GraphBatch()
        extracted = [ex for o in outcomes for ex in o.extracted]
        for ex in extracted:
            instance_rows = ex.batch.nodes.get("Instance", {})
            rest = GraphBatch(nodes={k: v for k, v in ex.batch.nodes.items() if k != "Instance"},
                              stubs=ex.batch.stubs, rels=ex.batch.rels)
            batch.merge(rest)
            batch.add_stub("Instance", ex.sop_instance_uid)
            ex._row = instance_rows.get(ex.sop_instance_uid)  # type: ignore[attr-defined]
        conflicted = self._instances(batch, extracted)
        add_study_patient_keys(self.store, batch, extracted)
        self._sop_classes(batch, extracted)
        self.store.write(batch, atomic=False)  # --resume redoes a batch whose files are not recorded
        if conflicted:  # their edges now come from more than one version of their content
            self.store.run("recount_pointers", uids=sorted(conflicted))
        # the files are done only once their instances are committed
        files = GraphBatch()
        for o in outcomes:
            files.add_node("SourceFile", {
                "key": o.path, "size": o.size, "mtime_ns": o.mtime_ns, "status": o.status,
                "reason": o.reason, "error_class": o.error_class, "run": self.summary.run_key,
                "sop_instance_uids": sorted({ex.sop_instance_uid for ex in o.extracted})})
        self.store.write(files, atomic=False)
        self.report.flush()
        self.pending = held
        self.pending_instances = sum(len(o.extracted) for o in held)

    def _hold_back(self, outcomes: list[FileOutcome]) -> tuple[list[FileOutcome], list[FileOutcome]]:
        """Split off, once per file, the files whose pointers reach instances that are in neither this
        batch nor the graph. Written now, each such target would become a stub that its own file, a
        batch later, completes by updating ~150 columns of an old node group: the costliest and most
        memory-hungry statement of a large embedded ingest (see model/store/embedded.py). An archive's
        pointers mostly stay within a study (images -> their MPPS, SEG -> source images), so the targets
        arrive in the next batch. A held file is not recorded as done until written: a crash loses
        nothing, --resume parses it again."""
        uids = {o.path: {ex.sop_instance_uid for ex in o.extracted} for o in outcomes}
        targets = {o.path: {t for ex in o.extracted for t in ex.batch.stubs.get("Instance", ())} - uids[o.path]
                   for o in outcomes if not o.held_back}
        outside = set().union(*targets.values()) - set().union(*uids.values())
        if not outside:
            return outcomes, []
        in_graph = self.store.existing_keys("Instance", outside)
        held: set[str] = set()
        while True:  # holding a file back takes its instances out of the batch: their pointers wait too
            here = set().union(*(u for path, u in uids.items() if path not in held))
            more = {path for path, ts in targets.items()
                    if path not in held and any(t not in here and t not in in_graph for t in ts)}
            if not more:
                break
            held |= more
        for o in outcomes:
            o.held_back = o.held_back or o.path in held
        return [o for o in outcomes if o.path not in held], [o for o in outcomes if o.path in held]

    def _instances(self, batch: GraphBatch, extracted: list[Extracted]) -> set[str]:
        """Instance rows for the batch: new ones whole, known ones only their conflicts; returns the
        UIDs seen here with content other than the graph's."""
        conflicted: set[str] = set()
        uids = sorted({ex.sop_instance_uid for ex in extracted})
        known: dict[str, dict[str, Any]] = {}
        for start in range(0, len(uids), RESUME_CHUNK):
            for row in self.store.run("instance_hashes", uids=uids[start:start + RESUME_CHUNK]).records():
                if not row.get("stub"):
                    known[row["uid"]] = {"hash": row["content_hash"],
                                         "conflicts": list(row.get("conflicting_hashes") or [])}
        rows = batch.nodes.setdefault("Instance", {})
        for ex in extracted:
            uid, h = ex.sop_instance_uid, ex.content_hash
            existing = known.get(uid)
            if existing is None:
                rows[uid] = dict(ex._row)  # type: ignore[attr-defined]
                known[uid] = {"hash": h, "conflicts": []}
                self.summary.instances_new += 1
            elif existing["hash"] == h or h in existing["conflicts"]:
                self.summary.instances_unchanged += 1
            else:
                # same SOP Instance UID, other content: keep the first, record the other
                existing["conflicts"] = sorted(set(existing["conflicts"]) | {h})
                row = rows.setdefault(uid, {"SOPInstanceUID": uid})
                row["conflicting_hashes"] = existing["conflicts"]
                conflicted.add(uid)
                self.summary.instances_updated += 1
        return conflicted

    def _sop_classes(self, batch: GraphBatch, extracted: list[Extracted]) -> None:
        uids = {ex.sop_class_uid for ex in extracted if ex.sop_class_uid} - self.known_sop_classes
        if not uids:
            return
        unknown = {u for u in uids if u not in UID_dictionary}
        if unknown:
            in_graph = self.store.existing_keys("SOPClass", unknown)
            for uid in sorted(unknown - in_graph):
                batch.add_node("SOPClass", {"uid": uid, "name": uid, "unknown": True})
        self.known_sop_classes |= uids


# --- the run ----------------------------------------------------------------------------------------

class _Progress:
    """tqdm on a terminal, a plain log line every few seconds otherwise."""

    def __init__(self, total: int, enabled: bool, summary: IngestSummary) -> None:
        self.summary = summary
        self.total = total
        self.done = 0
        self.bar = None
        self.last = time.monotonic()
        self.start = time.monotonic()
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="files", dynamic_ncols=True, smoothing=0.1)

    def update(self, n: int) -> None:
        self.done += n
        s = self.summary
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix(instances=s.instances_new + s.instances_unchanged + s.instances_updated,
                                 rejects=s.files_rejected, refresh=False)
        elif self.enabled and time.monotonic() - self.last >= 5:
            self.last = time.monotonic()
            elapsed = self.last - self.start
            rate = self.done / elapsed if elapsed else 0.0
            eta = (self.total - self.done) / rate if rate else 0.0
            print(f"ingest: {self.done:,}/{self.total:,} files, {rate:,.0f} files/s, "
                  f"{s.files_rejected:,} rejected, ETA {eta:,.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _bounded_map(pool: Any, fn: Any, items: Iterable[Any], limit: int) -> Iterator[Any]:
    """pool.imap with at most `limit` items submitted and not yet consumed (results in order)."""
    pending: deque[Any] = deque()
    source = iter(items)
    for item in source:
        pending.append(pool.apply_async(fn, (item,)))
        if len(pending) >= limit:
            break
    while pending:
        result = pending.popleft().get()
        for item in source:  # refill one
            pending.append(pool.apply_async(fn, (item,)))
            break
        yield result


def _chunks(items: list[SourceFile], size: int) -> Iterator[list[SourceFile]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _already_done(store: Any, files: list[SourceFile]) -> set[str]:
    done: set[str] = set()
    for start in range(0, len(files), RESUME_CHUNK):
        part = files[start:start + RESUME_CHUNK]
        by_path = {f.path: f for f in part}
        for row in store.run("source_files", keys=list(by_path)).records():
            f = by_path.get(row["key"])
            if f and row.get("status") == "ingested" and row.get("size") == f.size \
                    and row.get("mtime_ns") == f.mtime_ns:
                done.add(f.path)
    return done


def _write_run(store: Any, summary: IngestSummary, started_at: dt.datetime, pseudonymize: bool,
               finished: bool) -> None:
    batch = GraphBatch()
    batch.add_node("IngestRun", {
        "key": summary.run_key, "started_at": started_at, "status": summary.status,
        "finished_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) if finished else None,
        "paths": summary.paths, "files_seen": summary.files_seen, "files_ingested": summary.files_ingested,
        "files_skipped": summary.files_skipped, "files_rejected": summary.files_rejected,
        "instances_new": summary.instances_new, "instances_updated": summary.instances_updated,
        "elapsed_s": round(summary.elapsed_s, 3), "files_per_s": round(summary.files_per_s, 2),
        "report_path": summary.report_path, "workers": summary.workers, "pseudonymized": pseudonymize})
    store.write(batch)


def run_ingest(store: Any, paths: list[str], *, workers: int | None = None, resume: bool = False,
               pseudonymize: bool = False, report_path: str | None = None, progress: bool = True,
               batch_instances: int = DEFAULT_BATCH_INSTANCES) -> IngestSummary:
    """Ingest every file under `paths` into a writable store; returns the summary (see module doc).

    Raises PseudonymKeyMissing when pseudonymize is asked without DICOM_GRAPH_PSEUDONYM_KEY, and
    FileNotFoundError for a path that does not exist. Rejected files never raise.
    """
    t0 = time.monotonic()
    abs_paths = [os.path.abspath(p) for p in paths]
    for p in abs_paths:
        if not os.path.exists(p):
            raise FileNotFoundError(f"no such file or directory: {p}")
    pseudonymizer = Pseudonymizer.from_env() if pseudonymize else None
    workers = max(1, workers or os.cpu_count() or 1)
    run_key = run_key_for(abs_paths, pseudonymize)
    report_path = os.path.abspath(report_path or default_report_path(store, run_key))
    summary = IngestSummary(run_key=run_key, paths=abs_paths, report_path=report_path, workers=workers)

    requirements = conformance.load_requirements(store) or None
    summary.conformance_checked = requirements is not None

    previous = store.run("ingest_run", key=run_key).records()
    started_at = (previous[0]["started_at"] if previous and previous[0].get("started_at") and resume
                  else dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    _write_run(store, summary, started_at, pseudonymize, finished=False)

    skip = {report_path}
    files = list(walk(abs_paths, skip=skip))
    summary.files_seen = len(files)
    if resume:
        done = _already_done(store, files)
        summary.files_skipped = len(done)
        files = [f for f in files if f.path not in done]

    os.makedirs(os.path.dirname(report_path) or ".", exist_ok=True)
    bar = _Progress(len(files), progress, summary)
    with open(report_path, "w", encoding="utf-8") as report:
        writer = Writer(store, summary, report, batch_instances)
        pool = None
        try:
            if workers == 1 or len(files) <= CHUNK_FILES:
                _init_worker_local()
                results: Iterable[list[FileOutcome]] = (
                    [process_file(f, requirements, pseudonymizer) for f in chunk]
                    for chunk in _chunks(files, CHUNK_FILES))
            else:
                ctx = mp.get_context("forkserver")
                ctx.set_forkserver_preload(["dicom_graph.loader.ingest.pipeline"])
                pool = ctx.Pool(workers, initializer=_init_worker, initargs=(requirements, pseudonymizer))
                results = _bounded_map(pool, _process_chunk, _chunks(files, CHUNK_FILES),
                                       batch_instances // CHUNK_FILES + IN_FLIGHT_PER_WORKER * workers)
            for chunk in results:
                for outcome in chunk:
                    writer.add(outcome)
                bar.update(len(chunk))
            writer.flush()
            summary.status = "finished"
        except KeyboardInterrupt:
            summary.status = "interrupted"
            if pool is not None:
                pool.terminate()
                pool = None
            writer.flush()  # commit what was parsed, then stop
        finally:
            bar.close()
            if pool is not None:
                pool.close()
                pool.join()
    summary.elapsed_s = time.monotonic() - t0
    _write_run(store, summary, started_at, pseudonymize, finished=summary.status == "finished")
    return summary


def _init_worker_local() -> None:
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.ERROR)
