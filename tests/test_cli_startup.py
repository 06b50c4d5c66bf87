"""What the real console script imports before it does anything: `--help` touches no engine, no pandas and
no pydicom, and a Cypher query or `stats` on the embedded graph pulls neither the other engine, nor
pydicom, nor the write path's pyarrow, nor the dashboard's or the API's libraries (bench/startup.py has
the times)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pydicom

from dicom_graph.loader.ingest import run_ingest
from dicom_graph.model.store import open_store

from .conftest import console_script

ENV = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")}


def imported(*args: str) -> set[str]:
    """Top-level packages the console script imported to run `args` (from `python -X importtime`)."""
    done = subprocess.run([sys.executable, "-X", "importtime", console_script(), *args], env=ENV, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return {line.split("|")[2].strip().split(".")[0] for line in done.stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


def test_help_imports_nothing_heavy() -> None:
    packages = imported("--help")
    assert "typer" in packages  # the measurement sees imports at all
    heavy = {"pandas", "networkx", "numpy", "pyarrow", "ladybug", "neo4j", "pydicom", "pynetdicom", "streamlit"}
    assert not packages & heavy, f"--help imports {sorted(packages & heavy)}"
    assert not imported("export", "--help") & heavy


def test_an_embedded_query_imports_only_what_it_needs(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    with open_store(str(db), read_only=False, create=True) as store:
        run_ingest(store, [str(Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm")],
                   workers=1, progress=False, report_path=str(tmp_path / "rejects.jsonl"))
    packages = imported("query", "RETURN 1", "--db", str(db))
    assert "ladybug" in packages
    # pydicom came in through model/schema.py (0.15 s), pyarrow and numpy through the embedded store's
    # write path (0.05 s): a read types no keyword and writes no Arrow table
    unneeded = {"pandas", "networkx", "neo4j", "streamlit", "altair", "highdicom", "lxml", "pydicom",
                "pynetdicom", "pyarrow", "numpy"}
    assert not packages & unneeded, f"query imports {sorted(packages & unneeded)}"
    assert not imported("stats", "--json", "--db", str(db)) & unneeded

