"""The `dicom-graph` command line: the contract users and scripts rely on (DESIGN.md).

Every command takes `--db PATH` (the embedded graph) or `--neo4j URI`, and reads NEO4J_URI,
NEO4J_USERNAME, NEO4J_PASSWORD, NEO4J_DATABASE and DICOM_GRAPH_DB. Failures print one line on stderr
and exit non-zero; DICOM_GRAPH_DEBUG=1 shows the traceback instead.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from dicom_graph import __version__

app = typer.Typer(
    name="dicom-graph",
    help="The DICOM Information Model as a graph: the standard's definitions and real data, joined.\n\n"
         "Start with `dicom-graph demo`. The embedded graph (LadybugDB) is the default; pass --neo4j URI "
         "(or set NEO4J_URI) to use Neo4j.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
standard_app = typer.Typer(help="The standard's definitions: SOP classes, IODs, modules, attributes, DIMSE.",
                           no_args_is_help=True, rich_markup_mode=None)
app.add_typer(standard_app, name="standard")

DbOption = Annotated[Optional[Path], typer.Option(
    "--db", help="Embedded graph file [env: DICOM_GRAPH_DB, default ./dicom-graph.db].", show_default=False)]
Neo4jOption = Annotated[Optional[str], typer.Option(
    "--neo4j", help="Neo4j Bolt URI, e.g. bolt://localhost:7687 [env: NEO4J_URI]; credentials from "
                    "NEO4J_USERNAME / NEO4J_PASSWORD.", show_default=False)]


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"dicom-graph: {message}", err=True)
    raise typer.Exit(code)


def guarded(action: Callable[[], Any]) -> Any:
    """Run a command body; turn every failure into one line on stderr and a non-zero exit."""
    from dicom_graph.model.store import StoreError

    try:
        return action()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:  # `dicom-graph query ... | head` closed the pipe: not an error
        sys.stderr.close()
        raise typer.Exit(0)
    except StoreError as exc:
        fail(str(exc))
    except Exception as exc:  # one line for users; the traceback on request
        if os.environ.get("DICOM_GRAPH_DEBUG"):
            raise
        fail(f"{type(exc).__name__}: {' '.join(str(exc).split())}")


def open_for(db: Optional[Path], neo4j: Optional[str], *, write: bool = False):
    from dicom_graph.model.store import open_store

    return open_store(str(db) if db else None, neo4j, read_only=not write, create=write)


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    if version:
        typer.echo(f"dicom-graph {__version__}")
        raise typer.Exit()


# --- stats ---------------------------------------------------------------------------------------

@app.command()
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


# --- query ---------------------------------------------------------------------------------------

@app.command()
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
    params = dict(_parse_param(p) for p in param)

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


@app.command("queries")
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


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        fail(f"--param {text!r} is not k=v", 2)
    key, raw = text.split("=", 1)
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def render(result: Any, fmt: str) -> str:
    from dicom_graph.model.store.base import json_value

    if fmt == "json":
        return json.dumps([{k: json_value(v) for k, v in r.items()} for r in result.records()],
                          ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(result.columns)
        for row in result.rows:
            writer.writerow([_cell(json_value(v)) for v in row])
        return out.getvalue()
    cells = [[_cell(json_value(v)) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(result.columns)]
    widths = [min(w, 60) for w in widths]
    lines = [" | ".join(c.ljust(w) for c, w in zip(result.columns, widths)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c[:w].ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def main() -> None:
    # each command module registers itself on `app`
    from dicom_graph import cli_dashboard, cli_demo, cli_ingest, cli_listen, cli_standard  # noqa: F401

    app()


if __name__ == "__main__":
    main()
