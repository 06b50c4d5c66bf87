"""`load`'s driver: shards -> fold (fold.py) -> the store's bulk load -> the set-aside chunks -> done.

The fold's merged rows go to a work folder under the shards (OUT/.fold-PID, partition.py), deleted
when the bulk load has read them.

Where the load's progress lives: in the graph, as the run's IngestRun node (the key `ingest` would give
the same paths), marked `loading` before the first row and `finished` after the last. A load is for a
graph that holds no data yet (the standard's definitions may be loaded): a graph whose data is what a
load of these same shards left unfinished (a kill -9, a full disk) is cleared and loaded again from
the start, since the bulk path writes new rows only and cannot tell a half-loaded label from a whole
one cheaply; any other data is refused (new files into an existing graph are `ingest`'s job).

A Neo4j first load can go through `neo4j-admin database import` instead (admin.py): the tool writes the
bulk rows, the run's IngestRun among them as `imported`, into a stopped database; once a server serves
it, this same `load` against it finds `imported` and does only what needs the server (the schema's
constraints, the set-aside chunks, the pointer recount) before marking the run `finished`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from dicom_graph.loader.bulk import manifest as manifests
from dicom_graph.loader.bulk.fold import Folded, fold
from dicom_graph.loader.bulk.partition import work_folder
from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.ingest.committer import BatchCommitter
from dicom_graph.loader.ingest.run import write_run
from dicom_graph.loader.ingest.sources import SourceFile
from dicom_graph.loader.ingest.summary import IngestSummary, RejectionReport
from dicom_graph.loader.ingest.worker import process_file, quiet
from dicom_graph.model.bulk import BulkPlan

if TYPE_CHECKING:
    from dicom_graph.model.store import GraphStore

LOADING = "loading"
IMPORTED = "imported"  # neo4j-admin wrote the bulk rows (admin.py); what needs the server is still to do
ADMIN_STATE = "neo4j-import.json"  # beside the manifest: what the server side of an admin import needs


class LoadError(manifests.ManifestError):
    """The graph cannot take these shards as it is (it holds other data)."""


def open_shards(out: str) -> tuple[Path, dict[str, Any], IngestSummary]:
    """The extraction under `out`, checked loadable, and the summary its load starts from."""
    target = Path(out).absolute()
    manifest = manifests.read(target)
    if manifest is None:
        raise manifests.ManifestError(f"{target} holds no extraction (no manifest.json): run `dicom-graph extract` first")
    manifests.check_loadable(manifest, target)
    summary = IngestSummary(run_key=manifest["run_key"], paths=manifest["paths"],
                            report_path=str(target / "rejects.jsonl"), status=LOADING)
    return target, manifest, summary


def run_load(store: GraphStore, out: str, *, on_rows: Callable[[int, int], None] | None = None
             ) -> IngestSummary:
    """Load the shards under `out` into `store` (see the module doc); `on_rows(done, total)` as rows go in.
    A Neo4j database that `neo4j-admin` imported these shards into (its run `imported`) gets the rest."""
    t0 = time.monotonic()
    target, manifest, summary = open_shards(out)
    chunk_ids = [c["id"] for c in manifest["chunks"]]
    previous = store.run("ingest_run", key=summary.run_key).records()
    if previous and previous[0].get("status") == IMPORTED:
        if not (target / ADMIN_STATE).exists():
            raise LoadError(f"{store.describe()} holds a neo4j-admin import of these shards, but {target} has "
                            f"no {ADMIN_STATE} (written beside the manifest with the import): finish from those shards")
        state = json.loads((target / ADMIN_STATE).read_text(encoding="utf-8"))
        _check_imported(store, state)
        folded = Folded(BulkPlan(), state["set_aside"], state["conflicted"])
        started_at, t0 = previous[0]["started_at"], t0 - state["elapsed_s"]
    else:
        _start_clean(store, previous, target)
        started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        write_run(store, summary, started_at, False, finished=False)
        work = work_folder(target)
        try:
            folded = fold(target, chunk_ids, manifest["done"], store, work)
            total = folded.plan.rows()
            store.bulk_load(folded.plan, (lambda n: on_rows(n, total)) if on_rows else None)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if folded.conflicted:
        store.run("recount_pointers", uids=folded.conflicted)
    count_chunks(summary, manifest, folded.set_aside)
    _write_set_aside(store, summary, [manifest["chunks"][c] for c in folded.set_aside],
                     bool(manifest["conformance_checked"]), target)
    summary.status = "finished"
    summary.elapsed_s = time.monotonic() - t0
    write_run(store, summary, started_at, False, finished=True)
    return summary


def count_chunks(summary: IngestSummary, manifest: dict[str, Any], set_aside: list[int]) -> None:
    """The summary's counts from the chunks loaded in bulk (the set-aside ones count as they are written)."""
    for c in manifest["chunks"]:
        if c["id"] not in set_aside:
            _count(summary, manifest["done"][str(c["id"])])
    summary.files_seen = sum(len(c["files"]) for c in manifest["chunks"])
    summary.conformance_checked = bool(manifest["conformance_checked"])


def _check_imported(store: GraphStore, state: dict[str, Any]) -> None:
    """A failed neo4j-admin run can leave a store a server opens with some of the rows (admin.py); the
    rows it wrote are the least the graph holds (the set-aside chunks only add to them)."""
    short = [f"{name} {found:,} of {n:,}" for kind, count in (("nodes", store.count_nodes),
                                                            ("relationships", store.count_rels))
             for name, n in state[kind].items() if (found := count(name)) < n]
    if short:
        raise LoadError(f"{store.describe()} holds an incomplete neo4j-admin import ({', '.join(short)}): "
                        f"stop Neo4j and import again with --overwrite-destination")


def _start_clean(store: GraphStore, previous: list[dict[str, Any]], out: Path) -> None:
    if not store.count_nodes("Instance") and not store.count_nodes("SourceFile"):
        return
    if previous and previous[0].get("status") == LOADING:
        store.clear_data()  # what an unfinished load of these shards left: start again
        return
    raise LoadError(f"{store.describe()} already holds data; `load` fills a graph without data (the standard "
                    f"may be loaded): load {out} into a new graph, or add the files with `dicom-graph ingest`")


def _count(summary: IngestSummary, done: dict[str, Any]) -> None:
    statuses, instances = done["statuses"], done["instances"]
    summary.files_rejected += statuses.get("rejected", 0)
    summary.files_ingested += sum(n for s, n in statuses.items() if s != "rejected")
    summary.files_recovered += statuses.get("recovered", 0)
    summary.files_damaged += statuses.get("damaged", 0)
    summary.instances_new += instances["new"]
    summary.instances_updated += instances["updated"]
    summary.instances_unchanged += instances["unchanged"]
    summary.problems += done["problems"]


def _write_set_aside(store: GraphStore, summary: IngestSummary, chunks: list[dict[str, Any]],
                     checked: bool, out: Path) -> None:
    """The chunks holding copies of an instance that other chunks hold too: parsed again and written by
    the ingest's own committer against the loaded graph, so the conflict policy decides as in `ingest`
    (fold.py). Their report lines (the extraction's report has them too) and any file the graph refuses
    go to OUT/load-rejects.jsonl."""
    if not chunks:
        return
    quiet()
    requirements = conformance.load_requirements(store) if checked else None
    text = io.StringIO()
    committer = BatchCommitter(store, summary, RejectionReport(text))
    for chunk in chunks:
        for path, size, mtime_ns in chunk["files"]:
            committer.add(process_file(SourceFile(path, size, mtime_ns), requirements))
    committer.commit(final=True)
    if text.getvalue():
        (out / "load-rejects.jsonl").write_text(text.getvalue(), encoding="utf-8")
