"""`dicom-graph standard load` and `standard fetch`: the standard's definitions into the graph."""

from __future__ import annotations

import sys

from pathlib import Path
from typing import Annotated, Any, Optional

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

    guarded(lambda: _load(docbook, db, neo4j, quiet))


def _load(docbook: Optional[Path], db: Optional[Path], neo4j: Optional[str], quiet: bool) -> None:
    from dicom_graph.loader.standard.load import format_summary, load_standard

    progress = None if quiet else (lambda message: typer.echo(f"  {message}", err=True))
    with open_for(db, neo4j, write=True) as store:
        summary = load_standard(store, docbook_dir=docbook, progress=progress)
        summary["store"] = store.describe()
    typer.echo(format_summary(summary))


def fetch(
    edition: Annotated[str, typer.Option("--edition", help="The edition: 'current' or e.g. 2026b.")] = "current",
    base_url: Annotated[str, typer.Option("--base-url", help="Where the editions are (a mirror).")] =
        "https://dicom.nema.org/medical/dicom",
    part: Annotated[Optional[list[int]], typer.Option(
        "--part", help="A part to fetch (3, 4 or 6; repeat it); default all three.", show_default=False)] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(
        "--cache-dir", help="Where downloads are kept [default: $DICOM_GRAPH_CACHE, or "
                            "$XDG_CACHE_HOME/dicom-graph (~/.cache/dicom-graph)].", show_default=False)] = None,
    db: DbOption = None, neo4j: Neo4jOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
) -> None:
    """Download NEMA's DocBook PS3.3, PS3.4 and PS3.6 of an edition, verify them, and load them.

    Each part comes from <base-url>/<edition>/source/docbook/partNN/partNN.xml into the user cache
    (a dated edition is downloaded once; 'current' each time), is checked to be whole, well-formed
    DocBook of the part and edition asked for, and is then loaded as `standard load --docbook` does.
    Nothing is loaded unless every part asked for is verified. Needs internet (or a mirror).

    Examples:

      dicom-graph standard fetch

      dicom-graph standard fetch --edition 2026b --db archive.db
    """
    guarded(lambda: _fetch(edition, base_url, tuple(part or (3, 4, 6)), cache_dir, db, neo4j, quiet))


def _fetch(edition: str, base_url: str, parts: tuple[int, ...], cache_dir: Optional[Path], db: Optional[Path],
           neo4j: Optional[str], quiet: bool) -> None:
    import tempfile

    from dicom_graph.loader.standard.fetch import FetchError, fetch as download, load_view

    bars: dict[int, Any] = {}

    def progress(number: int, done: int, total: int | None) -> None:
        if quiet or not sys.stderr.isatty():  # a bar is for people; logs get the 'verified' line
            return
        if number not in bars:
            bars[number] = typer.progressbar(length=total or 0, label=f"PS3.{number}", file=sys.stderr,
                                             show_pos=total is None)
            bars[number].__enter__()
        bar = bars[number]
        bar.update(done - bar.pos)

    try:
        fetched = download(edition, base_url, parts, cache_dir, progress)
    except FetchError as exc:
        fail(str(exc))
    finally:
        for bar in bars.values():
            bar.__exit__(None, None, None)
    if not quiet:
        typer.echo("  verified: " + ", ".join(fetched.editions.values()) + f" (in {fetched.directory})", err=True)
    with tempfile.TemporaryDirectory(prefix="dicom-graph-docbook-") as tmp:
        _load(load_view(fetched, Path(tmp) / "parts"), db, neo4j, quiet)


def register(app: typer.Typer) -> None:
    app.command("load")(load)
    app.command("fetch")(fetch)
