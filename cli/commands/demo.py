"""`dicom-graph demo`: the first command of the README.

On the embedded default, with no network: load the standard, ingest the real DICOM test files that ship
with the installed packages (pydicom's `data/test_files`; highdicom's wheel ships none, so its files are
used only when a source checkout's `data/test_files` is present), print what was done, and open the
dashboard on the result.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from dicom_graph.common import DbOption, fail, guarded


def sample_dirs() -> list[Path]:
    """Folders of real DICOM files shipped with installed packages (only what is on disk)."""
    found: list[Path] = []
    import pydicom

    pydicom_files = Path(pydicom.__file__).resolve().parent / "data" / "test_files"
    if pydicom_files.is_dir():
        found.append(pydicom_files)
    try:
        import highdicom

        root = Path(highdicom.__file__).resolve().parent
        for candidate in (root / "data" / "test_files", root.parent / "data" / "test_files",
                          root / "tests" / "data"):
            if candidate.is_dir() and any(candidate.rglob("*.dcm")):
                found.append(candidate)
                break
    except ImportError:
        pass
    return found


def demo(
    db: DbOption = None,
    headless: Annotated[bool, typer.Option("--headless", "--no-browser",
                                           help="Do not open a browser (servers, CI).")] = False,
    no_dashboard: Annotated[bool, typer.Option("--no-dashboard", help="Build the graph, do not start the "
                                               "dashboard.")] = False,
    port: Annotated[Optional[int], typer.Option("--port", help="Dashboard port [default 8501].")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Parser processes.")] = 2,
) -> None:
    """Load the standard, ingest a sample of real DICOM files that ships with pydicom, open the dashboard.

    Everything is local: the graph is the one every other command opens by default (--db, else
    DICOM_GRAPH_DB, else ./dicom-graph.db; embedded LadybugDB), so the commands you type next read what
    the demo built. Nothing is downloaded, and the dashboard listens on 127.0.0.1 only. Run it again to
    reuse the same graph (nothing is duplicated).

    Examples:

      dicom-graph demo

      dicom-graph demo --no-dashboard && dicom-graph query example_derived_objects
    """
    from dicom_graph.commands.dashboard import serve, streamlit_command
    from dicom_graph.loader.ingest import run_ingest
    from dicom_graph.loader.standard.load import format_summary, load_standard
    from dicom_graph.model.queries.overview import left_out
    from dicom_graph.model.store import default_db_path, open_store

    path = (db or Path(default_db_path())).resolve()
    dirs = sample_dirs()
    if not dirs:
        fail("no sample DICOM files found (pydicom's data/test_files is missing from this install)")

    def build() -> None:
        t0 = time.monotonic()
        typer.echo(f"dicom-graph demo: building {path}")
        with open_store(str(path), read_only=False, create=True) as store:
            typer.echo("1/2 loading the DICOM standard (definitions from the installed packages, offline) ...")
            summary = load_standard(store)
            typer.echo("    " + format_summary(summary).replace("\n", "\n    "))
            typer.echo("2/2 ingesting the sample files shipped with the installed packages:")
            for d in dirs:
                typer.echo(f"    {d}")
            result = run_ingest(store, [str(d) for d in dirs], workers=workers, progress=False)
            for line in result.lines():
                typer.echo(f"    {line}")
            data = store.run("data_counts").records()[0]
            status = {r["what"]: int(r["n"] or 0) for r in store.run("dashboard_status")}
            stats = store.stats()["nodes"]
        # the Overview's figures (data_counts) and what they leave out, in the Overview's words
        note = left_out(status)
        typer.echo(f"graph ready in {time.monotonic() - t0:.1f} s: {data['patients']:,} patients, "
                   f"{data['studies']:,} studies, {data['series']:,} series, {data['instances']:,} instances, "
                   f"{stats.get('SOPClass', 0):,} SOP classes, {stats.get('Attribute', 0):,} attributes"
                   + (f" ({note})" if note else ""))

    guarded(build)
    typer.echo(f"the graph is {path}: {_next_steps(path, db)}")
    if no_dashboard:
        return
    command, env = streamlit_command(path, None, [], headless=headless, port=port)
    typer.echo(f"starting the dashboard on http://127.0.0.1:{port or 8501} (Ctrl+C to stop) ...")
    raise typer.Exit(serve(command, env))  # SIGTERM / Ctrl+C reach the Streamlit child, which is waited for


def _next_steps(path: Path, db: Optional[Path]) -> str:
    """What to type next. Without --db the demo built the default graph, so the commands need no --db;
    with one, or with NEO4J_URI set (which the other commands would follow), they do: a newcomer copies
    this line, it must work as printed."""
    suffix = "" if db is None and not os.environ.get("NEO4J_URI") else f" --db {path}"
    return (f"every command reads it{' with' + suffix if suffix else ' by default'}, e.g. "
            f"`dicom-graph stats{suffix}`, `dicom-graph query example_derived_objects{suffix}`, "
            f"`dicom-graph dashboard{suffix}`")


def register(app: typer.Typer) -> None:
    app.command()(demo)
