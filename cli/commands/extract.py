"""`dicom-graph extract`: DICOM files -> Parquet shards, in local processes or on a Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dicom_graph.common import DbOption, Neo4jOption, check_inputs, fail, guarded, open_for

CHUNK_FILES = 1000  # loader/bulk/extract.py's default, here so that --help does not import pyarrow


def extract(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The shard folder (created; shared by every Dask "
                                                          "worker with --dask).", show_default=False)],
    workers: Annotated[Optional[int], typer.Option(
        "--workers", "-w", help="Local extraction processes [default: the machine's cores].",
        show_default=False)] = None,
    dask: Annotated[Optional[str], typer.Option(
        "--dask", help="Run the chunks as tasks on this Dask scheduler, e.g. tcp://10.0.0.5:8786 (needs "
                       "pip install 'dicom-graph[dask]'; --out must be on a filesystem every worker sees).",
        show_default=False)] = None,
    chunk_files: Annotated[int, typer.Option(
        "--chunk-files", min=1, help="Files per chunk: one task, one shard per label.")] = CHUNK_FILES,
    progress: Annotated[bool, typer.Option("--progress/--no-progress",
                                           help="A progress bar on a terminal (plain lines otherwise).")] = True,
    db: DbOption = None, neo4j: Neo4jOption = None,
) -> None:
    """Extract DICOM files into Parquet shards, for a fast first `dicom-graph load` of a large archive.

    Each chunk of files (consecutive in path order) is parsed and resolved on its own and written as one
    Parquet file per node label and relationship type under OUT/nodes, OUT/stubs and OUT/rels, with its
    lines of the rejection report (OUT/rejects.jsonl, in `ingest`'s format); OUT/manifest.json records
    the schema version, the files of each chunk and the rows of each shard. Interrupted (Ctrl-C, kill -9,
    a lost Dask worker), the same command again redoes only the chunks without a done record. Shards are
    deterministic: the same files give the same bytes locally and on a cluster.

    Conformance is checked against the standard loaded in the graph named by --db / --neo4j (or the
    default graph) when there is one, as `ingest` does; the graph is only read.

    Examples:

      dicom-graph extract /srv/archive --out /scratch/archive.shards --workers 8

      dicom-graph extract /nfs/archive --out /nfs/archive.shards --dask tcp://scheduler:8786

      dicom-graph load /scratch/archive.shards --db archive.db
    """
    check_inputs(paths, workers)

    def body() -> None:
        from dicom_graph.loader.bulk.extract import run_extract
        from dicom_graph.loader.bulk.manifest import ManifestError
        from dicom_graph.loader.ingest.progress import LazyProgress

        bar = LazyProgress(progress, "extract")
        try:
            summary = run_extract([str(p) for p in paths], str(out), workers=workers, dask=dask,
                                  requirements=_requirements(db, neo4j), chunk_files=chunk_files,
                                  on_chunk=bar.update)
        except ManifestError as exc:
            fail(str(exc))
        finally:
            bar.close()
        for line in summary.lines():
            typer.echo(line)

    guarded(body)


def _requirements(db: Optional[Path], neo4j: Optional[str]) -> Any:
    """The standard's requirements from the graph, when a graph with the standard loaded is there."""
    from dicom_graph.loader.dataset import conformance
    from dicom_graph.model.store import GraphNotFound

    try:
        with open_for(db, neo4j) as store:
            return conformance.load_requirements(store) or None
    except GraphNotFound:
        return None


def register(app: typer.Typer) -> None:
    app.command()(extract)
