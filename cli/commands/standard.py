"""`dicom-graph standard load`: the standard's definitions into the graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dicom_graph.common import DbOption, Neo4jOption, fail, guarded, open_for


def load(
    docbook: Annotated[Optional[Path], typer.Option(
        "--docbook", help="A folder with NEMA's DocBook part03.xml / part04.xml / part06.xml (any edition, "
                          "any subset of the three); what it lacks comes from the installed packages.",
        show_default=False)] = None,
    db: DbOption = None, neo4j: Neo4jOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
) -> None:
    """Load the DICOM standard: service classes, SOP classes, IODs, modules, attributes, DIMSE groups.

    Offline by default: the data dictionary and UID registry of pydicom, highdicom's IOD and module
    tables, pynetdicom's service classes, and our curated tables of the normalized IODs (PS3.3 Annex B)
    and DIMSE service groups (PS3.4). With --docbook, NEMA's own XML of any edition
    (https://www.dicomstandard.org/current, "DocBook") replaces what it covers.

    Idempotent: loading again changes nothing; loading another edition updates in place and marks
    what it no longer defines `superseded = true`.

    Examples:

      dicom-graph standard load

      dicom-graph standard load --docbook ~/Downloads/dicom-2026b/source/docbook --db archive.db
    """
    if docbook is not None and not docbook.is_dir():
        fail(f"--docbook {docbook} is not a folder")

    def body() -> None:
        from dicom_graph.loader.standard.load import format_summary, load_standard

        progress = None if quiet else (lambda message: typer.echo(f"  {message}", err=True))
        with open_for(db, neo4j, write=True) as store:
            summary = load_standard(store, docbook_dir=docbook, progress=progress)
            summary["store"] = store.describe()
        typer.echo(format_summary(summary))

    guarded(body)


def register(app: typer.Typer) -> None:
    app.command("load")(load)
