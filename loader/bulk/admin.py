"""A Neo4j first load through `neo4j-admin database import full`: the folded plan as the tool's input.

Why a second route for Neo4j: the tool writes the store files directly, offline, instead of one
transaction per 5,000-row MERGE batch (bench/README.md has both). It needs the database stopped or absent
and fills only an empty one, so there is no graph to ask during the fold (nothing is held yet) and no
server to write to: the run's IngestRun goes into the import itself with status `imported`, and what
needs a server is done by `dicom-graph load` once one serves the database (load.py). A failed tool
run is reported in one line (rerun it with --overwrite-destination); the tool itself warns that a
failed import may leave store files a server opens, with some rows in them, so the rows the import
must hold per label and type are kept beside the manifest (load.ADMIN_STATE), and the `load` that
finishes checks that the graph holds them before it trusts `imported`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path
from typing import Any, Iterable

from dicom_graph.loader.bulk.fold import fold
from dicom_graph.loader.bulk.load import ADMIN_STATE, IMPORTED, open_shards
from dicom_graph.loader.bulk.partition import work_folder
from dicom_graph.loader.bulk.shards import write_atomically
from dicom_graph.loader.ingest.run import run_row
from dicom_graph.model.arrow import node_table
from dicom_graph.model.store.neo4j_import import ImportFiles, write_import


class _EmptyGraph:
    """The database an `import full` fills: it holds nothing, so no definition node is left out."""

    def existing_keys(self, label: str, keys: Iterable[Any]) -> set[Any]:
        return set()


def write_admin_import(out: str, folder: Path) -> ImportFiles:
    """Fold the shards under `out` and write them as import input into `folder`."""
    t0 = time.monotonic()
    target, manifest, summary = open_shards(out)
    summary.status = IMPORTED
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    row = run_row(summary, started_at, False, finished=False)
    runs = node_table("IngestRun", [row], sorted(k for k, v in row.items() if v is not None))
    work = work_folder(target)
    try:  # the fold's merged rows are files under `work` until the import input is written from them
        folded = fold(target, [c["id"] for c in manifest["chunks"]], manifest["done"], _EmptyGraph(), work)
        files = write_import(folded.plan, folder, {"IngestRun": runs})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    state = {"run_key": summary.run_key, "set_aside": folded.set_aside, "conflicted": folded.conflicted,
             "elapsed_s": round(time.monotonic() - t0, 3), "nodes": files.node_counts,
             "relationships": files.rel_counts}
    write_atomically(target / ADMIN_STATE, lambda tmp: tmp.write_text(json.dumps(state), encoding="utf-8"))
    return files

