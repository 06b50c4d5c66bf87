"""`dicom-graph dashboard`: `streamlit run` the installed dashboard on the same graph, read-only.

Safe by default: unless a login is configured (DICOM_GRAPH_DASHBOARD_PASSWORD, or an [auth] section in
.streamlit/secrets.toml for st.login), the server binds to 127.0.0.1 so only this machine reaches it.
Any `--server.*` / `--browser.*` / `--theme.*` option is passed on to Streamlit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dicom_graph.common import DbOption, Neo4jOption, fail


def app_path() -> Path:
    import dicom_graph.dashboard as dashboard

    return Path(dashboard.__file__).resolve().parent / "app.py"


def streamlit_command(db: Optional[Path], neo4j: Optional[str], extra: list[str], *, headless: bool = False,
                      port: Optional[int] = None) -> tuple[list[str], dict[str, str]]:
    """The `streamlit run` command line and environment for a graph (shared with `demo`)."""
    from dicom_graph.dashboard.auth import login_configured

    args = list(extra)
    for arg in args:
        if not arg.startswith("--") or arg.startswith("--server.") or arg.startswith("--browser.") \
                or arg.startswith("--theme.") or arg.startswith("--client.") or arg.startswith("--logger."):
            continue
        fail(f"unknown option {arg!r}: only --server.*, --browser.*, --theme.*, --client.* and --logger.* "
             f"options are passed on to Streamlit", 2)
    given = {a.split("=", 1)[0] for a in args if a.startswith("--")}
    address = _option_value(args, "--server.address")
    if address not in (None, "127.0.0.1", "localhost", "::1") and not login_configured():
        fail(f"refusing to serve the graph on {address} without a login: set DICOM_GRAPH_DASHBOARD_PASSWORD "
             "or configure [auth] in .streamlit/secrets.toml (the graph may hold identifying data)", 2)
    options: list[str] = []
    if address is None:
        options += ["--server.address", "127.0.0.1"]
    if "--client.toolbarMode" not in given:
        options += ["--client.toolbarMode", "minimal"]
    if port is not None and "--server.port" not in given:
        options += ["--server.port", str(port)]
    if headless and "--server.headless" not in given:
        options += ["--server.headless", "true"]
    if "--browser.gatherUsageStats" not in given:
        options += ["--browser.gatherUsageStats", "false"]
    env = dict(os.environ)
    script_args: list[str] = []
    if neo4j:
        env["NEO4J_URI"] = neo4j
        env.pop("DICOM_GRAPH_DB", None)
        script_args = ["--neo4j", neo4j]
    elif db:
        env["DICOM_GRAPH_DB"] = str(Path(db).resolve())
        env.pop("NEO4J_URI", None)
        script_args = ["--db", str(Path(db).resolve())]
    command = [sys.executable, "-m", "streamlit", "run", str(app_path()), *options, *args]
    if script_args:
        command += ["--", *script_args]
    return command, env


def _option_value(args: list[str], name: str) -> Optional[str]:
    """The value of `--name value` or `--name=value` among passed-on options, else None."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def dashboard(
    ctx: typer.Context,
    db: DbOption = None,
    neo4j: Neo4jOption = None,
    headless: Annotated[bool, typer.Option("--headless", "--no-browser",
                                           help="Do not open a browser (servers, CI).")] = False,
    port: Annotated[Optional[int], typer.Option("--port", help="Shortcut for --server.port.")] = None,
) -> None:
    """Open the Streamlit dashboard on the graph (read-only; picks up new commits while ingest or listen write).

    Examples:

      dicom-graph dashboard

      dicom-graph dashboard --db archive.db --server.port 8600

      DICOM_GRAPH_DASHBOARD_PASSWORD=... dicom-graph dashboard --server.address 0.0.0.0

    Without a login (DICOM_GRAPH_DASHBOARD_PASSWORD, or [auth] in .streamlit/secrets.toml for an OIDC
    provider) the server listens on 127.0.0.1 only. --server.*, --browser.* and --theme.* options are
    passed on to `streamlit run`.
    """
    command, env = streamlit_command(db, neo4j, list(ctx.args), headless=headless, port=port)
    try:
        code = subprocess.call(command, env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(dashboard)
