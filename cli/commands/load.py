"""`dicom-graph load`: Parquet shards from `extract` -> a graph without data, through the engine's bulk path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dicom_graph.common import DbOption, Neo4jOption, fail, guarded, open_for


def load(
    shards: Annotated[Path, typer.Argument(help="The folder `dicom-graph extract --out` wrote.", show_default=False)],
    progress: Annotated[bool, typer.Option("--progress/--no-progress",
                                           help="A progress bar on a terminal (plain lines otherwise).")] = True,
    db: DbOption = None, neo4j: Neo4jOption = None,
) -> None:
    """Bulk-load extracted shards into a graph that holds no data yet (the standard may be loaded).

    The embedded engine COPYs the Parquet shards as they are; Neo4j gets them in batched MERGEs.
    Patients, studies, series and the other entities are merged across chunks, pointers resolved across
    them (stubs only for what no file holds), entity conflicts counted over the whole archive: the graph
    is the one `dicom-graph ingest` builds from the same files (`stats --json` equal). Chunks holding
    copies of an instance that another chunk holds too are written through the ingest's conflict policy
    after the bulk load (their files must still be there). Interrupted, the same command clears what the
    unfinished load wrote and loads again. New files into a graph with data: `dicom-graph ingest`.

    Examples:

      dicom-graph extract /srv/archive --out archive.shards && dicom-graph load archive.shards --db archive.db

      NEO4J_PASSWORD=... dicom-graph load archive.shards --neo4j bolt://db:7687
    """
    if not (shards / "manifest.json").exists():
        fail(f"{shards} holds no extraction (no manifest.json): run `dicom-graph extract PATH --out {shards}` first")

    def body() -> None:
        from dicom_graph.loader.bulk.load import run_load
        from dicom_graph.loader.bulk.manifest import ManifestError
        from dicom_graph.loader.ingest.progress import LazyProgress

        with open_for(db, neo4j, write=True) as store:
            bar = LazyProgress(progress, "load", "rows")
            try:
                summary = run_load(store, str(shards), on_rows=bar.advance_to)
            except ManifestError as exc:
                fail(str(exc))
            finally:
                bar.close()
        for line in summary.lines():
            typer.echo(line.replace("ingest finished", "load finished", 1))

    guarded(body)


def register(app: typer.Typer) -> None:
    app.command()(load)
