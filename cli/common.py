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


def check_inputs(paths: list[Path], workers: Optional[int]) -> None:
    """What `ingest` and `extract` refuse before any work: a path that is not there, no workers."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such file or directory: {', '.join(missing)}")
    if workers is not None and workers < 1:
        fail("--workers must be at least 1", 2)


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
    return _table(result.columns, [[_cell(json_value(v)) for v in row] for row in result.rows])


TABLE_CELL_MAX = 64  # the longest UID (PS3.5 9.1): no UID is ever cut
ELLIPSIS = "…"


def _table(columns: list[str], cells: list[list[str]]) -> str:
    """Columns for people. A value longer than TABLE_CELL_MAX is cut with a visible mark and a footer
    that says how to see it whole: a silently cut value (a UID!) is a wrong answer."""
    widths = [min(max([len(c)] + [len(row[i]) for row in cells]), TABLE_CELL_MAX) for i, c in enumerate(columns)]
    cut = any(len(value) > TABLE_CELL_MAX for row in cells for value in row)

    def fit(value: str, width: int) -> str:
        return (value if len(value) <= width else value[:width - 1] + ELLIPSIS).ljust(width)

    lines = [" | ".join(fit(c, w) for c, w in zip(columns, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(fit(c, w) for c, w in zip(row, widths, strict=True)) for row in cells]
    footer = f"({len(cells)} row{'s' if len(cells) != 1 else ''})"
    if cut:
        footer += f"; values longer than {TABLE_CELL_MAX} characters end in {ELLIPSIS}: --format json shows them whole"
    lines.append(footer)
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


