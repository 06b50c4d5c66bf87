"""`dicom-graph stats`: node and relationship counts per label and type."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from dicom_graph.common import DbOption, Neo4jOption, guarded, open_for


def stats(db: DbOption = None, neo4j: Neo4jOption = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Node and relationship counts per label and type.

    Example: dicom-graph stats --json --db archive.db

    The JSON is {"nodes": {"Patient": n, ...}, "relationships": {"HAS_STUDY": n, ...},
    "bookkeeping": {"IngestRun": n}}; every label and type of the schema is listed, zeros too. (The one
    GraphVersion node, which records the schema version the graph was written with, is not counted.)
    A graph that does not exist is an error (exit 1), not a table of zeros: a mistyped --db must not
    read as an empty archive.
    """

    def body() -> None:
        with open_for(db, neo4j) as store:
            counts = store.stats()
        if as_json:
            typer.echo(json.dumps(counts, sort_keys=False))
            return
        for section, values in counts.items():
            typer.echo(section)
            for name, count in values.items():
                typer.echo(f"  {name:<20} {count:>12,}")

    guarded(body)


def register(app: typer.Typer) -> None:
    app.command()(stats)
