"""`dicom-graph query` and `dicom-graph queries`: Cypher and the named queries, read-only unless asked."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from dicom_graph.common import DbOption, Neo4jOption, fail, guarded, open_for, parse_param, render


def query(
    cypher: Annotated[str, typer.Argument(help="A Cypher statement, or the name of a named query.")],
    param: Annotated[list[str], typer.Option("--param", "-p", help="A parameter k=v (repeatable); v is "
                                             "read as JSON when it parses (numbers, lists), else text.")] = [],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
    write: Annotated[bool, typer.Option("--write", help="Allow the statement to change the graph.")] = False,
    timeout: Annotated[Optional[float], typer.Option(help="Stop the query after this many seconds.")] = None,
    db: DbOption = None, neo4j: Neo4jOption = None,
) -> None:
    """Run Cypher against the graph; read-only unless --write.

    Examples:

      dicom-graph query "MATCH (s:Series) RETURN s.Modality AS modality, count(*) AS n ORDER BY n DESC"

      dicom-graph query "MATCH (p:Patient {PatientID: \\$pid})-[:HAS_STUDY]->(s) RETURN s" -p pid=12345 -f json

      dicom-graph query instances_by_modality          (a named query; `dicom-graph queries` lists them)

    --format json prints one JSON array of objects keyed by the RETURN columns (dates as ISO strings);
    csv has a header row.
    """
    if fmt not in ("table", "json", "csv"):
        fail(f"unknown --format {fmt!r}; use table, json or csv", 2)
    params = dict(parse_param(p) for p in param)

    def body() -> None:
        from dicom_graph.model import queries

        with open_for(db, neo4j, write=write) as store:
            named = queries.all_queries().get(cypher)
            unknown = sorted(set(params) - set(named.params)) if named is not None else []
            if unknown:
                fail(f"{cypher} takes {', '.join(named.params) or 'no parameters'}; not {', '.join(unknown)}", 2)
            if named is not None:
                result = store.query(named.text(store.dialect), {**named.params, **params},
                                     write=write, timeout_s=timeout)
            else:
                result = store.query(cypher, params, write=write, timeout_s=timeout)
        typer.echo(render(result, fmt), nl=False)

    guarded(body)


def list_queries(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """List the named queries (run one with `dicom-graph query NAME -p k=v`)."""
    from dicom_graph.model import queries

    named = [q for q in queries.all_queries().values() if not q.write]
    if as_json:
        typer.echo(json.dumps([{"name": q.name, "title": q.title, "params": q.params,
                                "description": q.description} for q in named], indent=1, default=str))
        return
    for q in sorted(named, key=lambda q: q.name):
        params = " ".join(f"{k}={v!r}" for k, v in q.params.items())
        typer.echo(f"{q.name:<36} {q.title}" + (f"   [{params}]" if params else ""))


def register(app: typer.Typer) -> None:
    app.command()(query)
    app.command("queries")(list_queries)
