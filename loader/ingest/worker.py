"""Stage 2, in worker processes: one SourceFile -> one FileOutcome (parse headers, extract records).

Only small picklable results cross back to the writer process: the file's status, why it was
rejected or recovered, and its instances as `Extracted` records (loader/dataset). Nothing here reads
the graph, so any number of workers can run it; pool.py preloads this module in the forkserver.
"""

from __future__ import annotations

import logging
import signal
import warnings
from dataclasses import dataclass, field
from typing import Any

from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.dataset.extract import Extracted, dataset_to_batch, mark_damaged
from dicom_graph.loader.dataset.pseudonymize import Pseudonymizer
from dicom_graph.loader.ingest import integrity
from dicom_graph.loader.ingest.garbage import fewer_collections
from dicom_graph.loader.ingest.integrity import Tracked
from dicom_graph.loader.ingest.sources import HEAD_SIZE, NotDicom, SourceFile, read_file, stored_path


@dataclass
class FileOutcome:
    """The worker's hand-off for one file: what the summary counts, the report lists and the writer writes."""

    path: str
    size: int
    mtime_ns: int
    status: str  # ingested | recovered | damaged (ingested, marked) | rejected
    kind: str | None = None
    reason: str | None = None
    error_class: str | None = None
    extracted: list[Extracted] = field(default_factory=list)
    problems: int = 0
    instance_errors: list[str] = field(default_factory=list)


_WORKER: dict[str, Any] = {}


def quiet() -> None:
    """pydicom warns about every odd value of a hostile archive: the rejection report says it once."""
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.ERROR)


def init_worker(requirements: conformance.Requirements | None, pseudonymizer: Pseudonymizer | None) -> None:
    """Pool initializer: the settings every task of the run shares are sent once per process, not per chunk."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
    quiet()
    _WORKER["requirements"] = requirements
    _WORKER["pseudonymizer"] = pseudonymizer


@fewer_collections()
def process_chunk(files: list[SourceFile]) -> list[FileOutcome]:
    """One pool task: a few files per round trip, with the settings init_worker left in this process."""
    req, pseudo = _WORKER.get("requirements"), _WORKER.get("pseudonymizer")
    return [process_file(f, req, pseudo) for f in files]


def process_file(f: SourceFile, requirements: conformance.Requirements | None = None,
                 pseudonymizer: Pseudonymizer | None = None) -> FileOutcome:
    """Read and extract one file; never raises (a failure becomes a rejected outcome). Pseudonymized, the
    outcome names the file by its keyed hash only: SourceFile and the rejection report are kept."""
    out = _read_and_extract(f, requirements, pseudonymizer)
    if pseudonymizer:
        out.path = pseudonymizer.path(stored_path(f.path)[0])  # the hash of what the graph stores, as extract's
        out.reason = out.reason and pseudonymizer.scrub(out.reason, f.path)
        out.instance_errors = [pseudonymizer.scrub(e, f.path) for e in out.instance_errors]
    return out


def _read_and_extract(f: SourceFile, requirements: conformance.Requirements | None,
                      pseudonymizer: Pseudonymizer | None) -> FileOutcome:
    out = FileOutcome(f.path, f.size, f.mtime_ns, "rejected")
    try:
        with Tracked(f.path) as fh:
            head = fh.read(HEAD_SIZE)
            fh.seek(0)
            kind, datasets = read_file(f.path, head, fh)
            pixels = integrity.pixel_data_after(fh, datasets[0]) if kind != "json" else None
            damage = integrity.damage(fh, datasets[0]) if kind != "json" else []
        out.kind = kind
    except NotDicom as exc:
        out.reason, out.error_class = str(exc), "NotDicom"
        return out
    except Exception as exc:  # pydicom's and the OS's errors alike: the file is rejected, the run goes on
        out.reason, out.error_class = one_line(exc), type(exc).__name__
        return out
    if damage and integrity.identity_cut(datasets[0], f.size):
        out.error_class, out.reason = "Truncated", "truncated before its SOP Instance UID: " + damage[0]
        return out
    for tag in integrity.cut_tags(datasets[0], f.size) if damage else ():
        del datasets[0][tag]
    try:
        _extract(out, f, datasets, "json" if kind == "json" else "file", requirements, pseudonymizer,
                 (pixels,) if pixels else ())
    except Exception as exc:  # whatever the extraction did not foresee is this file's failure only
        out.extracted, out.error_class, out.reason = [], type(exc).__name__, one_line(exc)
    if damage:
        _mark(out, damage)
    return out


def _extract(out: FileOutcome, f: SourceFile, datasets: list[Any], source: str,
             requirements: conformance.Requirements | None, pseudonymizer: Pseudonymizer | None,
             bulk_present: tuple[str, ...] = ()) -> None:
    path, path_hex = stored_path(f.path)
    errors: list[tuple[str, str]] = []
    for ds in datasets:
        try:
            ex = dataset_to_batch(ds, source=source, path=path, file_size=f.size, mtime_ns=f.mtime_ns,
                                  pseudonymizer=pseudonymizer, requirements=requirements,
                                  bulk_present=bulk_present)
        except Exception as exc:
            errors.append((type(exc).__name__, one_line(exc)))
            continue
        if path_hex is not None and pseudonymizer is None:  # the bytes would name the file
            ex.batch.nodes["Instance"][ex.sop_instance_uid]["path_hex"] = path_hex
        out.extracted.append(ex)
        out.problems += len(ex.problems)
    if not out.extracted:
        out.error_class, out.reason = errors[0] if errors else ("EmptyDocument", "no datasets in file")
        return
    if errors:
        out.instance_errors = [f"{c}: {m}" for c, m in errors]
    if out.kind == "dataset":
        out.status = "recovered"
        out.reason = "no preamble / file meta information: read by forcing the parser"
        out.error_class = "NoFileMeta"
    else:
        out.status = "ingested"


def _mark(out: FileOutcome, damage: list[str]) -> None:
    """A cut or damaged file: rejected as truncated when nothing could be taken from it, else ingested
    with its instances marked damaged (a damaged copy never replaces a complete one: resolve.py)."""
    if not out.extracted:
        out.error_class, out.reason = "Truncated", f"truncated: {'; '.join(damage)} ({out.reason})"
        return
    for ex in out.extracted:
        mark_damaged(ex)
    out.status, out.error_class = "damaged", "Truncated"
    out.reason = "damaged: " + "; ".join(damage) + (f"; {out.reason}" if out.reason else "")


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]
