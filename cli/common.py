"""What every command shares: the engine options, one-line failures, opening the store, rendering rows.

A leaf module: it imports no command and nothing heavy at import time (the engines, pydicom and pandas
are imported inside the functions that need them), so `dicom-graph --help` starts fast.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, NoReturn, Optional

import typer

if TYPE_CHECKING:
    from dicom_graph.model.store import GraphStore

DbOption = Annotated[Optional[Path], typer.Option(
    "--db", help="Embedded graph file [env: DICOM_GRAPH_DB, default ./dicom-graph.db].", show_default=False)]
Neo4jOption = Annotated[Optional[str], typer.Option(
    "--neo4j", help="Neo4j Bolt URI, e.g. bolt://localhost:7687 [env: NEO4J_URI]; credentials from "
                    "NEO4J_USERNAME / NEO4J_PASSWORD.", show_default=False)]


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit: what scripts and people both can read."""
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
        raise typer.Exit(0) from None
    except StoreError as exc:
        fail(str(exc))
    except Exception as exc:  # one line for users; the traceback on request
        if os.environ.get("DICOM_GRAPH_DEBUG"):
            raise
        fail(f"{type(exc).__name__}: {' '.join(str(exc).split())}")


def open_for(db: Optional[Path], neo4j: Optional[str], *, write: bool = False) -> "GraphStore":
    """The store a command works on: read-only unless it writes, and created only by writers."""
    from dicom_graph.model.store import open_store

    return open_store(str(db) if db else None, neo4j, read_only=not write, create=write)


def parse_param(text: str) -> tuple[str, Any]:
    """`-p k=v`: v is JSON when it parses (numbers, lists), else text."""
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


