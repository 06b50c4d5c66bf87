"""`dicom-graph export`: the nodes and relationships a query returns, as a file Gephi, Cytoscape or networkx
reads. It goes through the Python API's `subgraph`, so the file holds exactly the graph a notebook gets."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from dicom_graph.common import DbOption, Neo4jOption, fail, guarded, parse_param

if TYPE_CHECKING:
    import networkx as nx

FORMATS = ("graphml", "json", "csv")


def export(
    cypher: Annotated[str, typer.Argument(help="A Cypher statement or a named query that RETURNs nodes, "
                                               "relationships or paths.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="graphml, json (networkx node-link) or csv.")]
    = "graphml",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write [default stdout; "
                                                   "csv writes FILE's .nodes.csv and .edges.csv].")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="A parameter k=v (repeatable).")]
    = None,
    db: DbOption = None, neo4j: Neo4jOption = None,
) -> None:
    """Write the nodes and relationships a query returns as GraphML, node-link JSON or CSV; read-only.

    Examples:

      dicom-graph export example_pointer_paths -p limit=500 -o pointers.graphml     (open in Gephi / Cytoscape)

      dicom-graph export pointers_graph_of_study -p study=UID -f json > study.json   (networkx node-link)

      dicom-graph export example_pointer_paths -f csv -o pointers     (pointers.nodes.csv, pointers.edges.csv)

    Node attributes are the label (`label`) and the properties; an edge's are its type (`label`) and its
    properties. Lists are written as JSON text, dates as ISO text. The endpoints of a returned relationship
    are in the file even when the query did not return them (without properties).
    """
    if fmt not in FORMATS:
        fail(f"unknown --format {fmt!r}; use {', '.join(FORMATS)}", 2)
    if fmt == "csv" and output is None:
        fail("--format csv writes two tables (nodes and edges): give -o FILE", 2)
    params = dict(parse_param(p) for p in param or [])

    def body() -> None:
        from dicom_graph.api import connect

        with connect(str(db) if db else None, neo4j) as g:
            graph = g.subgraph(cypher, **params)
        written = write(graph, fmt, output)
        where = ", ".join(str(p) for p in written) if written else "stdout"
        typer.echo(f"exported {graph.number_of_nodes():,} nodes and {graph.number_of_edges():,} relationships "
                   f"to {where}", err=True)

    guarded(body)


def write(graph: "nx.MultiDiGraph", fmt: str, output: Optional[Path]) -> list[Path]:
    """Write the graph; return the files written (none for stdout)."""
    if fmt == "csv":
        assert output is not None  # checked by the command before any graph is opened
        stem = output.with_suffix("") if output.suffix == ".csv" else output
        nodes, edges = stem.with_name(stem.name + ".nodes.csv"), stem.with_name(stem.name + ".edges.csv")
        nodes.write_text(_csv(["Id"], [{"Id": n, **a} for n, a in graph.nodes(data=True)]), encoding="utf-8")
        edges.write_text(_csv(["Source", "Target", "Id"], [{"Source": u, "Target": v, "Id": k, **a}
                                                          for u, v, k, a in graph.edges(keys=True, data=True)]),
                         encoding="utf-8")
        return [nodes, edges]
    text = _graphml(graph) if fmt == "graphml" else _node_link(graph)
    if output is None:
        typer.echo(text, nl=False)
        return []
    output.write_text(text, encoding="utf-8")
    return [output]


def _scalar(value: Any) -> Any:
    """A value GraphML and CSV can hold: numbers and booleans as they are, the rest as text (lists as JSON)."""
    from dicom_graph.model.store.base import json_value

    value = json_value(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def _graphml(graph: "nx.MultiDiGraph") -> str:
    """GraphML with one declared type per attribute: a key whose values mix integers and floats is
    written as floats, any other mix as text (GraphML declares one type per key)."""
    import networkx as nx

    out = nx.MultiDiGraph()
    node_attrs = _uniform([a for _n, a in graph.nodes(data=True)])
    edge_attrs = _uniform([a for _u, _v, a in graph.edges(data=True)])
    out.add_nodes_from((str(n), a) for n, a in zip(graph.nodes, node_attrs, strict=True))
    out.add_edges_from((str(u), str(v), str(k), a)
                       for (u, v, k), a in zip(graph.edges(keys=True), edge_attrs, strict=True))
    buffer = io.BytesIO()
    nx.write_graphml(out, buffer, encoding="utf-8")
    return buffer.getvalue().decode("utf-8")


def _uniform(attrs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [{k: _scalar(v) for k, v in a.items()} for a in attrs]
    kinds: dict[str, set[type]] = {}
    for row in rows:
        for k, v in row.items():
            kinds.setdefault(k, set()).add(type(v))
    cast = {k: float if t == {int, float} else str for k, t in kinds.items() if len(t) > 1}
    return [{k: cast[k](v) if k in cast else v for k, v in row.items()} for row in rows]


def _node_link(graph: "nx.MultiDiGraph") -> str:
    """networkx's node-link JSON (`nx.node_link_graph(json.load(f), edges="edges")` reads it back)."""
    import networkx as nx

    data = nx.node_link_data(graph, edges="edges")
    return json.dumps(data, ensure_ascii=False, default=_scalar) + "\n"


def _csv(first: list[str], rows: list[dict[str, Any]]) -> str:
    """Gephi's spreadsheet import: Id (nodes) or Source, Target (edges) first, then every attribute."""
    columns = first + sorted({k for row in rows for k in row} - set(first))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows({k: _scalar(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def register(app: typer.Typer) -> None:
    app.command()(export)
