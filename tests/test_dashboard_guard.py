"""The dashboard cannot be exposed by accident: `dicom-graph dashboard` (the real console script) refuses
any address beyond loopback without a login, wherever Streamlit would read it from; on loopback it starts,
and a stop (SIGTERM, Ctrl+C, even SIGKILL of the command) leaves no Streamlit child serving. Wrong passwords
are slowed per client (unit level and through AppTest)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import psutil
import pytest
from streamlit.testing.v1 import AppTest

from dicom_graph.commands.dashboard import served_address
from dicom_graph.dashboard import auth

from .test_dashboard_apptest import APP
from .test_demo import dicom_graph_command, free_port

EXPOSED = "0.0.0.0"


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A working directory and a HOME of their own, no login, no inherited Streamlit address."""
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    for name in ("STREAMLIT_SERVER_ADDRESS", auth.PASSWORD_ENV, "NEO4J_URI", "DICOM_GRAPH_DB"):
        monkeypatch.delenv(name, raising=False)
    return {"home": home, "cwd": cwd, "db": tmp_path / "g.db"}


def config(folder: Path, address: str) -> None:
    (folder / ".streamlit").mkdir(exist_ok=True)
    (folder / ".streamlit" / "config.toml").write_text(f'[server]\naddress = "{address}"\n')


def start(place: dict, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([*dicom_graph_command(), "dashboard", "--db", str(place["db"]), "--headless", *args],
                            cwd=place["cwd"], env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    """The exit code and stderr; a command that starts serving instead is stopped (with its children)."""
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("the dashboard started where it had to refuse")
    return process.returncode, err


@pytest.mark.parametrize("case", ["repeated flag", "flag=value", "environment", "working dir config",
                                  "home config", "config env: value"])
def test_exposed_address_without_login_is_refused(place: dict, case: str):
    args: list[str] = []
    env: dict[str, str] = {}
    if case == "repeated flag":
        args = ["--server.address", "127.0.0.1", "--server.address", EXPOSED]
    elif case == "flag=value":
        args = [f"--server.address={EXPOSED}"]
    elif case == "environment":
        env = {"STREAMLIT_SERVER_ADDRESS": EXPOSED}
    elif case == "working dir config":
        config(place["cwd"], EXPOSED)
    elif case == "home config":
        config(place["home"], EXPOSED)
    else:
        config(place["cwd"], "env:DASHBOARD_BIND")
        env = {"DASHBOARD_BIND": EXPOSED}
    code, err = finish(start(place, *args, env=env))
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dicom-graph: refusing to serve the graph on 0.0.0.0"), err


def test_address_precedence_follows_streamlit(place: dict, monkeypatch: pytest.MonkeyPatch):
    assert served_address([]) == (None, "default")
    config(place["home"], "10.0.0.1")
    assert served_address([])[0] == "10.0.0.1"
    config(place["cwd"], "10.0.0.2")  # the project's config overrides the user's
    assert served_address([])[0] == "10.0.0.2"
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "10.0.0.3")  # the environment overrides both files
    assert served_address([])[0] == "10.0.0.3"
    flags = ["--server.address=10.0.0.4", "--server.address", "127.0.0.1"]  # flags win, the last one
    assert served_address(flags) == ("127.0.0.1", "--server.address")
    assert served_address(["--server.address", "127.0.0.1", "--", "--server.address", EXPOSED])[0] == "127.0.0.1"


@pytest.fixture
def serving(place: dict) -> Iterator[tuple[subprocess.Popen, psutil.Process, int]]:
    """`dicom-graph dashboard` on loopback (no address given), healthy: (command, Streamlit child, port)."""
    port = free_port()
    process = start(place, "--server.port", str(port))
    children: list[psutil.Process] = []
    try:
        deadline, healthy = time.monotonic() + 120, False
        while not healthy and time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    healthy = r.read().strip() == b"ok"
            except OSError:
                time.sleep(0.5)
        assert healthy, process.communicate()[1] if process.poll() is not None else "no answer"
        children += psutil.Process(process.pid).children()
        assert len(children) == 1
        yield process, children[0], port
    finally:  # whatever the test found, nothing it started keeps running
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for child in children:
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                child.kill()
        process.communicate()


def listening_addresses(child: psutil.Process, port: int) -> set[str]:
    return {c.laddr.ip for c in child.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def gone(child: psutil.Process, timeout: float = 30) -> bool:
    try:
        child.wait(timeout=timeout)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        return False
    return not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_loopback_starts_and_a_stop_reaches_the_child(serving, stop: signal.Signals):
    process, child, port = serving
    assert listening_addresses(child, port) <= {"127.0.0.1", "::1"}, "served beyond loopback"
    process.send_signal(stop)
    process.wait(timeout=60)
    assert gone(child), f"Streamlit (pid {child.pid}) outlived `dicom-graph dashboard`"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_child_stops_when_the_command_is_killed(serving):
    process, child, _ = serving
    process.kill()
    process.wait(timeout=30)
    assert gone(child), f"Streamlit (pid {child.pid}) outlived a killed `dicom-graph dashboard`"


# --- the login's rate limit --------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_backs_off_after_five_wrong_passwords():
    clock = Clock()
    limiter = auth.LoginLimiter(clock=clock)
    for _ in range(4):
        limiter.failed("1.2.3.4")
        assert limiter.wait_s("1.2.3.4") == 0
    limiter.failed("1.2.3.4")
    assert limiter.wait_s("1.2.3.4") == 2
    assert limiter.wait_s("5.6.7.8") == 0  # per client
    clock.now += 2
    assert limiter.wait_s("1.2.3.4") == 0
    limiter.failed("1.2.3.4")
    assert limiter.wait_s("1.2.3.4") == 4
    for _ in range(20):
        limiter.failed("1.2.3.4")
    assert limiter.wait_s("1.2.3.4") == limiter.max_wait_s
    limiter.succeeded("1.2.3.4")
    assert limiter.wait_s("1.2.3.4") == 0


def test_login_refuses_even_the_right_password_during_the_wait(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    clock = Clock()
    monkeypatch.setattr(auth, "LIMITER", auth.LoginLimiter(clock=clock))
    monkeypatch.setenv(auth.PASSWORD_ENV, "right")
    monkeypatch.setenv("DICOM_GRAPH_DB", str(tmp_path / "none.db"))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()

    def sign_in(password: str) -> list[str]:
        at.text_input[1].input(password)
        at.button[0].click()
        at.run()
        return [e.value for e in at.error]

    for _ in range(5):
        assert sign_in("wrong") == ["Wrong password."]
    refused = sign_in("right")
    assert refused and refused[0].startswith("Too many wrong passwords"), refused
    assert "_signed_in" not in at.session_state
    clock.now += 2
    assert sign_in("right") == []
    assert at.session_state["_signed_in"]
