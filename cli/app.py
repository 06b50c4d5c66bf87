"""The `dicom-graph` command line, assembled in one place (the contract users and scripts rely on).

Every command lives in its own module under `commands/` and is added here explicitly through that
module's `register`; no command module imports this one, so there is no import cycle and no command
depends on import side effects (`python -m dicom_graph` and the console script are the same app).

Every command takes `--db PATH` (the embedded graph) or `--neo4j URI`, and reads NEO4J_URI,
NEO4J_USERNAME, NEO4J_PASSWORD, NEO4J_DATABASE and DICOM_GRAPH_DB. Failures print one line on stderr
and exit non-zero; DICOM_GRAPH_DEBUG=1 shows the traceback instead.
"""

from __future__ import annotations

from typing import Annotated

import typer

from dicom_graph import __version__
from dicom_graph.commands import dashboard, demo, export, extract, ingest, listen, load, query, standard, stats

HELP = ("The DICOM Information Model as a graph: the standard's definitions and real data, joined.\n\n"
        "Start with `dicom-graph demo`. The embedded graph (LadybugDB) is the default; pass --neo4j URI "
        "(or set NEO4J_URI) to use Neo4j.")


def build() -> typer.Typer:
    """The whole app: the root options, every command, and the `standard` group."""
    app = typer.Typer(name="dicom-graph", help=HELP, no_args_is_help=True, add_completion=False,
                      rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]})

    @app.callback(invoke_without_command=True)
    def _root(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False
              ) -> None:
        if version:
            typer.echo(f"dicom-graph {__version__}")
            raise typer.Exit()

    standard_app = typer.Typer(help="The standard's definitions: SOP classes, IODs, modules, attributes, DIMSE.",
                               no_args_is_help=True, rich_markup_mode=None)
    standard.register(standard_app)
    app.add_typer(standard_app, name="standard")
    for command in (demo, ingest, extract, load, listen, query, export, stats, dashboard):
        command.register(app)
    return app


def main() -> None:
    build()(prog_name="dicom-graph")  # `python -m dicom_graph` names itself as the console script does
