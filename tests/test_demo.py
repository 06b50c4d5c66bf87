"""`dicom-graph demo`, as a user runs it after the README's install: it builds the graph from the sample
files that ship with the installed packages (no network, no ../shared) and reaches a running dashboard."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dicom_graph_command() -> list[str]:
    exe = shutil.which("dicom-graph")
    return [exe] if exe else [sys.executable, "-c", "from dicom_graph.app import main; main()"]


def test_demo_reaches_a_running_dashboard(tmp_path: Path):
    port = free_port()
    db = tmp_path / "demo.db"
    env = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")}
    log_path = tmp_path / "demo.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([*dicom_graph_command(), "demo", "--db", str(db), "--no-browser",
                                    "--port", str(port)], cwd=tmp_path, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            healthy = False
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                        healthy = r.status == 200 and r.read().strip() == b"ok"
                except OSError:
                    pass
                if healthy:
                    break
                time.sleep(0.5)
            output = log_path.read_text()
            assert healthy, f"the dashboard never answered; demo output:\n{output[-3000:]}"
            # the page itself is served (the app's HTML shell), on 127.0.0.1 only
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                assert r.status == 200 and b"<html" in r.read().lower()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
    output = log_path.read_text()
    assert "loading the DICOM standard" in output
    assert "ingest finished" in output
    assert "graph ready" in output and "instances" in output
    assert db.exists()
    # what it built: the standard and real data
    from dicom_graph.model.store import open_store

    with open_store(str(db)) as store:
        counts = store.run("data_counts").records()[0]
        assert counts["instances"] >= 50 and counts["studies"] >= 10
        assert store.count_nodes("IOD") > 100


def test_demo_builds_the_default_graph_the_readme_commands_then_read(tmp_path: Path):
    """The README's first hour: `demo`, then the commands after it with no --db must read what the demo
    built (it once wrote ./dicom-graph-demo.db while they all opened ./dicom-graph.db), and the featured
    example must show derived objects (SEG, SR, RT) of the demo data, not one OT -> OT row."""
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")}
    built = subprocess.run([*dicom_graph_command(), "demo", "--no-dashboard"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    default = (tmp_path / "dicom-graph.db").resolve()
    assert default.exists() and not (tmp_path / "dicom-graph-demo.db").exists()
    assert f"the graph is {default}" in built.stdout  # it says where
    assert "`dicom-graph query example_derived_objects`" in built.stdout  # and what to type, with no --db

    # the figures are the Overview's (data_counts), and the demo says what they leave out, as the Overview does
    from dicom_graph.model.queries.overview import left_out
    from dicom_graph.model.store import open_store

    with open_store(str(default)) as store:
        data = store.run("data_counts").records()[0]
        note = left_out({r["what"]: r["n"] for r in store.run("dashboard_status")})
    assert f"{data['patients']:,} patients, {data['studies']:,} studies, {data['series']:,} series, " \
           f"{data['instances']:,} instances" in built.stdout
    assert note and f"({note})" in built.stdout

    stats = subprocess.run([*dicom_graph_command(), "stats", "--json"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["nodes"]["Instance"] >= 50

    derived = subprocess.run([*dicom_graph_command(), "query", "example_derived_objects", "-f", "json"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert derived.returncode == 0, derived.stderr
    rows = json.loads(derived.stdout)
    modalities = {r["source_modality"] for r in rows}
    assert {"SEG", "SR", "RTSTRUCT"} <= modalities and "OT" not in modalities
    assert all(r["source_sop_class"] and r["pointers"] >= 1 and 0 <= r["in_graph"] <= r["pointers"] for r in rows)
    assert any(r["source_sop_class"] == "Segmentation Storage" for r in rows)
