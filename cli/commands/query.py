"""`dicom-graph query` and `dicom-graph queries`: Cypher and the named queries, read-only unless asked."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

from dicom_graph.common import DbOption, Neo4jOption, fail, guarded, open_for, parse_param, render

if TYPE_CHECKING:
    from dicom_graph.model.queries import Param


def query(
    cypher: Annotated[str, typer.Argument(help="A Cypher statement, or the name of a named query.")],
    param: Annotated[Optional[list[str]], typer.Option(
        "--param", "-p", help="A parameter k=v (repeatable); v is read as JSON when it parses (numbers, lists), "
                              "else text.")] = None,
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
    text, params = _statement(cypher, dict(parse_param(p) for p in param or []))

    def body() -> None:
        with open_for(db, neo4j, write=write) as store:
            result = store.query(text(store.dialect), params, write=write, timeout_s=timeout)
        typer.echo(render(result, fmt), nl=False)
        limit = params.get("limit")
        if isinstance(limit, int) and len(result.records()) >= limit:  # a cut answer says it is cut
            typer.echo(f"dicom-graph: {limit:,} rows, the query's limit: there may be more (-p limit=N)", err=True)

    guarded(body)


def _statement(cypher: str, given: dict[str, Any]) -> tuple[Callable[[str], str], dict[str, Any]]:
    """What to send for `query CYPHER` (dicom_graph.statement.resolve). Usage errors (an unknown name, a
    parameter unknown or missing) exit 2 before any graph is opened, naming what the query takes."""
    from dicom_graph.model.store import StoreError
    from dicom_graph.statement import resolve

    try:
        resolved = resolve(cypher, given)
    except StoreError as exc:
        fail(str(exc), 2)
    return resolved


def list_queries(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Also the internal ones (the loaders' and the "
                                           "dashboard's plumbing), marked [internal].")] = False,
) -> None:
    """List the named queries (run one with `dicom-graph query NAME -p k=v`).

    Example:

      dicom-graph queries --all
    """
    from dicom_graph.model import queries

    named = sorted((queries.all_queries() if show_all else queries.listed()).values(), key=lambda q: q.name)
    if as_json:
        typer.echo(json.dumps([{"name": q.name, "title": q.title, "visibility": q.visibility.value,
                                "params": [_param_json(p) for p in q.parameters],
                                "description": q.description} for q in named], indent=1, default=str))
        return
    for q in named:
        mark = "" if q.listed else " [internal]"
        params = f"   [{q.signature()}]" if q.parameters else ""
        typer.echo(f"{q.name:<36} {q.title}{mark}{params}")


def _param_json(p: "Param") -> dict[str, Any]:
    return {"name": p.name, "required": True} if p.required else {"name": p.name, "default": p.default}


def register(app: typer.Typer) -> None:
    app.command()(query)
    app.command("queries")(list_queries)
