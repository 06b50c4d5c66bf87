"""`dicom-graph load`: Parquet shards from `extract` -> a graph without data, through the engine's bulk path."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from dicom_graph.common import DbOption, Neo4jOption, fail, guarded, open_for

ImportDirOption = Annotated[Optional[Path], typer.Option(
    "--neo4j-import-dir", show_default=False,
    help="Write the load as `neo4j-admin database import full` input (Parquet, and its arguments in "
         "import.args) into this folder and print the command, instead of loading into a running server "
         "(default with --neo4j-admin: SHARDS/neo4j-import).")]
AdminOption = Annotated[Optional[str], typer.Option(
    "--neo4j-admin", show_default=False,
    help="Also run this neo4j-admin on the written files. The Neo4j database must be stopped (or absent) "
         "and empty: `import full` refuses a database that exists (or replaces it when you pass its "
         "--overwrite-destination yourself).")]
DatabaseOption = Annotated[Optional[str], typer.Option(
    "--neo4j-database", show_default=False, help="The database neo4j-admin imports into [env: NEO4J_DATABASE, "
                                                 "default neo4j].")]


def load(
    shards: Annotated[Path, typer.Argument(help="The folder `dicom-graph extract --out` wrote.", show_default=False)],
    progress: Annotated[bool, typer.Option("--progress/--no-progress",
                                           help="A progress bar on a terminal (plain lines otherwise).")] = True,
    db: DbOption = None, neo4j: Neo4jOption = None, import_dir: ImportDirOption = None, admin: AdminOption = None,
    database: DatabaseOption = None,
) -> None:
    """Bulk-load extracted shards into a graph that holds no data yet (the standard may be loaded).

    The embedded engine COPYs the Parquet shards as they are; Neo4j gets them in batched MERGEs.
    Patients, studies, series and the other entities are merged across chunks, pointers resolved across
    them (stubs only for what no file holds), entity conflicts counted over the whole archive: the graph
    is the one `dicom-graph ingest` builds from the same files (`stats --json` equal). Chunks holding
    copies of an instance that another chunk holds too are written through the ingest's conflict policy
    after the bulk load (their files must still be there). Interrupted, the same command clears what the
    unfinished load wrote and loads again. New files into a graph with data: `dicom-graph ingest`.

    A first load of a large archive into Neo4j can go through `neo4j-admin database import full`
    (offline, much faster): `--neo4j-import-dir` writes its input and prints the command, `--neo4j-admin`
    also runs it; the database must be stopped or absent. Then start Neo4j and run the same `load` with
    `--neo4j URI`: it creates the constraints and indexes, writes the set-aside chunks and marks the
    run finished (until then the run shows as `imported`).

    Examples:

      dicom-graph extract /srv/archive --out archive.shards && dicom-graph load archive.shards --db archive.db

      NEO4J_PASSWORD=... dicom-graph load archive.shards --neo4j bolt://db:7687

      neo4j stop && dicom-graph load archive.shards --neo4j-admin $NEO4J_HOME/bin/neo4j-admin \\
        && neo4j start && dicom-graph load archive.shards --neo4j bolt://localhost:7687
    """
    if not (shards / "manifest.json").exists():
        fail(f"{shards} holds no extraction (no manifest.json): run `dicom-graph extract PATH --out {shards}` first")
    if import_dir or admin:
        if db or neo4j:
            fail("--neo4j-import-dir / --neo4j-admin write an offline import: no --db or --neo4j with them", 2)
        guarded(lambda: _admin_import(shards, import_dir or shards / "neo4j-import", admin,
                                      database or os.environ.get("NEO4J_DATABASE") or "neo4j"))
        return

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


def _admin_import(shards: Path, folder: Path, admin: str | None, database: str) -> None:
    from dicom_graph.loader.bulk.admin import write_admin_import
    from dicom_graph.loader.bulk.manifest import ManifestError
    from dicom_graph.model.store.neo4j_import import run_import

    try:
        files = write_admin_import(str(shards), folder.absolute())
    except ManifestError as exc:
        fail(str(exc))
    command = files.command(admin or "neo4j-admin", database)
    typer.echo(f"wrote {files.rows:,} rows as neo4j-admin import input in {folder} "
               f"({len(files.nodes)} node and {len(files.relationships)} relationship files)")
    if admin:
        run_import(command)
        typer.echo(f"neo4j-admin imported them into database {database}")
    else:
        typer.echo(f"with the database stopped (or absent), run:\n  {shlex.join(command)}\n"
                   f"(the file holds the arguments: {shlex.join(files.arguments(database)[:6])} --nodes=... "
                   f"--relationships=...)")
    typer.echo(f"then start Neo4j and finish the load (constraints, indexes, the run):\n  "
               f"dicom-graph load {shlex.quote(str(shards))} --neo4j bolt://HOST:7687")


def register(app: typer.Typer) -> None:
    app.command()(load)
