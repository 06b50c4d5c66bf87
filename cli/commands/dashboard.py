"""`dicom-graph dashboard`: `streamlit run` the installed dashboard on the same graph, read-only.

Safe by default: unless a login is configured (DICOM_GRAPH_DASHBOARD_PASSWORD, or an [auth] section in
.streamlit/secrets.toml for st.login), the server binds to 127.0.0.1 so only this machine reaches it. The
address checked is the one Streamlit will use, found in Streamlit's own order (streamlit/config.py and
web/cli.py): the last --server.address flag, else STREAMLIT_SERVER_ADDRESS, else the last config.toml
that sets it (~/.streamlit, then ./.streamlit, then the app's own .streamlit), else none, which Streamlit
takes for every interface, so 127.0.0.1 is passed. Any `--server.*` / `--browser.*` / `--theme.*` option is
passed on to Streamlit. The Streamlit child is stopped with the command: SIGTERM and SIGINT are forwarded
and the child waited for (and on Linux it gets SIGTERM should this process die first), so no orphan
keeps serving the graph.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from types import FrameType
from typing import Annotated, Callable, Optional

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
    address, where = served_address(args)
    if address is not None and not is_loopback(address) and not login_configured():
        fail(f"refusing to serve the graph on {address or 'every interface'} ({where}) without a login: set "
             "DICOM_GRAPH_DASHBOARD_PASSWORD or configure [auth] in .streamlit/secrets.toml (the graph may "
             "hold identifying data)", 2)
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


def served_address(args: list[str], cwd: Optional[Path] = None) -> tuple[Optional[str], str]:
    """The server.address Streamlit will use, and where it comes from; None when nothing sets it."""
    flag = _last_option_value(args, "--server.address")
    if flag is not None:
        return flag, "--server.address"
    if os.environ.get("STREAMLIT_SERVER_ADDRESS"):  # click ignores an empty variable
        return os.environ["STREAMLIT_SERVER_ADDRESS"], "STREAMLIT_SERVER_ADDRESS"
    found: tuple[Optional[str], str] = (None, "default")
    cwd = cwd or Path.cwd()
    for path in (Path.home() / ".streamlit" / "config.toml", cwd / ".streamlit" / "config.toml",
                 app_path().parent / ".streamlit" / "config.toml"):
        try:
            server = tomllib.loads(path.read_text(encoding="utf-8")).get("server", {})
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            fail(f"cannot read {path} to check where the dashboard would listen: {exc}", 2)
        if isinstance(server, dict) and "address" in server:
            value = str(server["address"])
            if value.startswith("env:"):  # Streamlit reads env:NAME from the environment
                value = os.environ.get(value[4:], value)
            found = (value, str(path))
    return found


def is_loopback(address: str) -> bool:
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:  # a host name, "" (every interface), anything else: not provably local
        return False


def _last_option_value(args: list[str], name: str) -> Optional[str]:
    """The value click will take for `--name value` / `--name=value`: the last one before any `--`."""
    value = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == name and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


STOP_GRACE_S = 10.0  # after a forwarded signal, how long the child may take before it is killed


def serve(command: list[str], env: dict[str, str]) -> int:
    """Run the Streamlit child until it ends; SIGTERM / SIGINT to this process are passed on to it."""
    children: list[subprocess.Popen] = []
    received: list[int] = []

    def forward(signum: int, frame: Optional[FrameType]) -> None:
        received.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)
                timer = threading.Timer(STOP_GRACE_S, child.kill)
                timer.daemon = True
                timer.start()

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        children.append(subprocess.Popen(command, env=env, preexec_fn=_die_with_parent()))
        if received:  # a signal that came while the child was being started
            forward(received[-1], None)
        code = children[0].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code if code >= 0 else 128 - code


def _die_with_parent() -> Optional[Callable[[], None]]:
    """On Linux, have the kernel send the child SIGTERM should this process die without forwarding."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not between fork and exec
    parent = os.getpid()

    def arm() -> None:
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


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
    provider) the server listens on loopback only, wherever the address is set (flag, STREAMLIT_SERVER_ADDRESS
    or .streamlit/config.toml). --server.*, --browser.* and --theme.* options are passed on to `streamlit run`.
    SIGTERM or Ctrl+C stops the server with this command.
    """
    command, env = streamlit_command(db, neo4j, list(ctx.args), headless=headless, port=port)
    raise typer.Exit(serve(command, env))


def register(app: typer.Typer) -> None:
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(dashboard)
