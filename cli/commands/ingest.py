"""`dicom-graph ingest`: the batch job over archives of DICOM files and DICOM JSON."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer

from dicom_graph.common import DbOption, Neo4jOption, check_inputs, guarded, open_for
from dicom_graph.loader.ingest.sizes import DEFAULT_BATCH_INSTANCES


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).",
                                                 show_default=False)],
    workers: Annotated[Optional[int], typer.Option(
        "--workers", "-w", help="Parser processes [default: the machine's cores].", show_default=False)] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Skip files already ingested unchanged (same path, size and mtime).")] = False,
    pseudonymize: Annotated[bool, typer.Option(
        "--pseudonymize", help="Replace Patient ID and Name by a keyed HMAC (key from "
                               "DICOM_GRAPH_PSEUDONYM_KEY) and drop the other identifying attributes of "
                               "PS3.15 Table E.1-1; UIDs are kept; file paths are stored as keyed hashes.")] = False,
    report: Annotated[Optional[Path], typer.Option(
        "--report", help="Where to write the rejection report (JSON lines) [default: next to the embedded "
                         "graph; for Neo4j in $XDG_DATA_HOME/dicom-graph/reports (~/.local/share/...)].",
        show_default=False)] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress",
                                           help="A progress bar on a terminal (plain lines otherwise).")] = True,
    batch: Annotated[int, typer.Option(
        "--batch", min=1, help="Instances per write. Larger batches ingest faster on the embedded engine "
                               "(fewer, larger COPYs) and hold more memory: see bench/README.md.")] = DEFAULT_BATCH_INSTANCES,
    db: DbOption = None, neo4j: Neo4jOption = None,
) -> None:
    """Ingest DICOM files, DICOMDIRs and DICOM JSON into patients, studies, series, instances and pointers.

    Part 10 files are found recursively, with or without a .dcm extension; only headers are read.
    Every Referenced SOP Instance UID in any sequence becomes a REFERENCES edge (a target not yet
    ingested is a stub that a later ingest completes). Broken files are rejected with a reason in the
    report and never stop the run; the exit status is 0 when the run finished. Ctrl-C or SIGTERM (a
    scheduler's stop, `timeout`) commits what was parsed, marks the run interrupted and exits 130.

    Examples:

      dicom-graph ingest /srv/archive --workers 8

      dicom-graph ingest /srv/archive --resume                  # after a crash, Ctrl-C or SIGTERM

      DICOM_GRAPH_PSEUDONYM_KEY=... dicom-graph ingest export/ --pseudonymize --neo4j bolt://db:7687
    """
    check_inputs(paths, workers)

    def body() -> None:
        from dicom_graph.loader.ingest import run_ingest

        with open_for(db, neo4j, write=True) as store, _sigterm_as_ctrl_c():
            where = report or (None if store.dialect == "embedded" else neo4j_report_path(store.describe()))
            summary = run_ingest(store, [str(p) for p in paths], workers=workers, resume=resume,
                                 pseudonymize=pseudonymize, report_path=str(where) if where else None,
                                 progress=progress, batch_instances=batch)
        for line in summary.lines():
            typer.echo(line)
        if summary.interrupted:
            raise typer.Exit(130)

    guarded(body)


def neo4j_report_path(server: str) -> Path:
    """A Neo4j graph has no folder of its own: its reports go to the user's data folder (XDG), one per run,
    named by the server and the time, not into whatever folder the ingest was started from."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    name = re.sub(r"[^A-Za-z0-9.-]+", "-", server).strip("-")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return base / "dicom-graph" / "reports" / f"{name}-{stamp}-{os.getpid()}.rejects.jsonl"


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """A batch job is stopped by SIGTERM (schedulers, `timeout`, `kill`) more often than by Ctrl-C, and
    a job started in the background ignores SIGINT altogether; both should stop the same clean way."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def register(app: typer.Typer) -> None:
    app.command()(ingest)
