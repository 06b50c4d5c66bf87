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
    "bookkeeping": {"IngestRun": n}}; every label and type of the schema is listed, zeros too.
    A graph that does not exist yet has all zeros.
    """
    from dicom_graph.model.store import GraphNotFound

    def body() -> None:
        try:
            with open_for(db, neo4j) as store:
                counts = store.stats()
        except GraphNotFound as exc:
            typer.echo(f"dicom-graph: {exc}", err=True)
            counts = _empty_stats()
        if as_json:
            typer.echo(json.dumps(counts, sort_keys=False))
            return
        for section, values in counts.items():
            typer.echo(section)
            for name, count in values.items():
                typer.echo(f"  {name:<20} {count:>12,}")

    guarded(body)


def _empty_stats() -> dict[str, dict[str, int]]:
    from dicom_graph.model import schema

    return {"nodes": {n.label: 0 for n in schema.NODE_TYPES if not n.bookkeeping},
            "relationships": {r.type: 0 for r in schema.REL_TYPES},
            "bookkeeping": {n.label: 0 for n in schema.NODE_TYPES if n.bookkeeping}}


def register(app: typer.Typer) -> None:
    app.command()(stats)
