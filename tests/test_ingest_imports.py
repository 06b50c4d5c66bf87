"""The ingest's light surface: `dicom-graph` imports every command module at start, so the ingest
command and the package that gives its --batch default must not pull in pydicom or pyarrow."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pydicom", "pyarrow", "ladybug", "neo4j")


def test_the_ingest_command_and_package_import_nothing_heavy():
    probe = ("import sys, dicom_graph.commands.ingest, dicom_graph.loader.ingest as ingest;"
             "assert ingest.DEFAULT_BATCH_INSTANCES > 0;"
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert out.strip() == ""


def test_run_ingest_is_loaded_on_first_use():
    import dicom_graph.loader.ingest as ingest
    from dicom_graph.loader.ingest.run import run_ingest

    assert ingest.run_ingest is run_ingest
