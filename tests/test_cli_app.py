"""The CLI as one app: the console script and `python -m dicom_graph` are the same program.

The commands used to register on the app by import side effect, so `python -m dicom_graph.cli` silently
lost five of them; now one module assembles the app, and this test compares what each entry point lists.
"""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import console_script


EXPECTED = {"demo", "ingest", "listen", "query", "queries", "export", "stats", "dashboard", "standard"}


def listed_commands(command: list[str]) -> set[str]:
    out = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    section = out.stdout.split("Commands:", 1)[1]
    return set(re.findall(r"^  ([a-z][a-z-]*)\s", section, flags=re.MULTILINE))


def test_console_script_and_python_m_list_the_same_commands():
    exe = console_script()  # beside this interpreter: another install first on PATH is not this CLI
    script = listed_commands([exe])
    module = listed_commands([sys.executable, "-m", "dicom_graph"])
    assert script == module
    helps = [subprocess.run([*c, "--help"], capture_output=True, text=True, timeout=60).stdout
             for c in ([exe], [sys.executable, "-m", "dicom_graph"])]
    assert helps[0] == helps[1]  # the same program, down to the name its usage line gives
    assert EXPECTED <= script, f"missing: {EXPECTED - script}"


def test_standard_group_has_its_commands():
    out = subprocess.run([sys.executable, "-m", "dicom_graph", "standard", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^  load\s", out.stdout.split("Commands:", 1)[1], flags=re.MULTILINE)


def test_no_command_module_imports_the_app():
    """The app imports the commands, never the reverse: a cycle is what lost commands before."""
    from pathlib import Path

    import dicom_graph.commands as commands

    for module in Path(commands.__file__).parent.glob("*.py"):
        text = module.read_text()
        assert "dicom_graph.app" not in text and "from dicom_graph import app" not in text, module.name
