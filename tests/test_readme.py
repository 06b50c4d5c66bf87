"""The README, followed as a newcomer follows it: every shell command of its ```bash blocks, every
`dicom-graph query|queries|stats ...` it quotes in its prose, and its Python (notebook) block, in the
order the README gives them, on a fresh graph in an empty folder, through the real console script.

The commands are read from README.md at test time, so a command added to the README is tested the day it
is written. Each must exit 0 and print something; a query shown in a code block must return rows (the
README shows it as something to learn from). What a test cannot do is in SKIPPED, by name, with the
reason; what it does differently is in INSTEAD, likewise. Neither list may name a command the README no
longer has (the lists cannot rot)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .conftest import REPO, console_script

# command prefix -> why the test does not run it
SKIPPED = {
    "pip install": "the test runs in the environment that install made",
    "python -m pytest": "this test is part of that run",
    "export NEO4J_PASSWORD=": "the docker compose block's settings (test_compose.py checks the file)",
    "docker compose": "needs a Docker engine; test_compose.py validates the file with `docker compose config`",
    "dicom-graph extract /": "an archive path and a Dask scheduler of the user's; test_bulk.py and "
                             "test_bulk_dask.py run extract on pydicom's files and the corpus",
    "dicom-graph load /": "loads what the extract above wrote; test_bulk.py runs load after extract, "
                          "test_bulk_admin.py the neo4j-admin route with the CI's Neo4j",
    "neo4j stop": "the user's own Neo4j server; test_bulk_admin.py stops and starts the CI's",
    "neo4j start": "the user's own Neo4j server; test_bulk_admin.py stops and starts the CI's",
}
# command -> what runs instead, and why
INSTEAD = {
    "dicom-graph demo": (["dicom-graph", "demo", "--no-dashboard"],
                         "the dashboard would serve until stopped (test_demo.py reaches it, "
                         "test_dashboard_browser.py renders every page)"),
}
PLACEHOLDER = re.compile(r"\b[A-Z]{3,}\b|[\[\]|]")  # QUERY, FILE, [--flag], a|b: a synopsis, not a command
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`(dicom-graph (?:query|queries|stats)\b[^`]*)`")


@dataclass
class Step:
    words: list[str]  # argv of one command (after INSTEAD)
    redirect: str | None  # `> FILE`
    rows: bool  # the README implies rows
    source: str  # the README text, for messages


def shell_commands(block: str) -> list[str]:
    """A bash block's commands: continued lines (an open quote, a trailing backslash) joined."""
    commands, pending = [], ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.rstrip().endswith("\\"):
            pending = pending.rstrip()[:-1]
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        if shlex.split(pending, comments=True):
            commands.append(pending)
        pending = ""
    assert not pending, f"README: unterminated command {pending!r}"
    return commands


def steps_of(command: str, rows: bool, used: set[str]) -> list[Step]:
    steps = []
    tokens = shlex.split(command, comments=True)
    while tokens:
        words = tokens[:tokens.index("&&")] if "&&" in tokens else tokens
        tokens = tokens[len(words) + 1:]
        part = shlex.join(words)
        skipped = next((prefix for prefix in SKIPPED if part.startswith(prefix)), None)
        if skipped:
            used.add(skipped)
            continue
        redirect = None
        if ">" in words:
            at = words.index(">")
            words, redirect = words[:at], words[at + 1]
        if shlex.join(words) in INSTEAD:
            used.add(shlex.join(words))
            words = INSTEAD[shlex.join(words)][0]
        assert words[0] == "dicom-graph", f"README command {part!r}: add it to SKIPPED with a reason, or run it"
        steps.append(Step(words, redirect, rows and words[1] == "query", command))
    return steps


def readme_steps() -> tuple[list[Step | str], set[str]]:
    """Shell steps and Python blocks (as text), in README order, and the SKIPPED/INSTEAD entries used."""
    text = (REPO / "README.md").read_text()
    found: list[Step | str] = []
    used: set[str] = set()
    position = 0
    for fence in [*FENCE.finditer(text), None]:
        prose = text[position:fence.start() if fence else len(text)]
        for span in INLINE.findall(prose):
            if not PLACEHOLDER.search(span.replace("dicom-graph", "")):
                found += steps_of(span, rows=False, used=used)
        if fence is None:
            break
        language, body = fence.group(1), fence.group(2)
        if language in ("bash", "sh"):
            for command in shell_commands(body):
                found += steps_of(command, rows=True, used=used)
        elif language == "python":
            found.append(body)
        position = fence.end()
    return found, used


# run in a fresh interpreter after the README's Python block: every DataFrame and graph it made has rows
PYTHON_CHECK = """
import networkx, pandas
made = {k: v for k, v in list(globals().items()) if isinstance(v, (pandas.DataFrame, networkx.Graph))}
assert made, "the README's Python block made no DataFrame or graph"
empty = [k for k, v in made.items() if len(v) == 0]
assert not empty, f"empty: {empty}"
print(sorted(made))
"""


def test_the_readme_commands_in_order_on_a_fresh_graph(tmp_path: Path) -> None:
    steps, used = readme_steps()
    assert set(SKIPPED) | set(INSTEAD) <= used, f"no longer in the README: {(set(SKIPPED) | set(INSTEAD)) - used}"
    shell = [s for s in steps if isinstance(s, Step)]
    assert shell[0].words[:2] == ["dicom-graph", "demo"], "the README's first command is the demo"
    assert len(shell) >= 8 and any(isinstance(s, str) for s in steps)  # the parse found the README's examples

    env = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")}
    exe = console_script()
    for step in steps:
        if isinstance(step, str):
            done = subprocess.run([sys.executable, "-c", step + PYTHON_CHECK], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=300)
            assert done.returncode == 0, f"README's Python block failed:\n{step}\n{done.stderr[-2000:]}"
            continue
        done = subprocess.run([exe, *step.words[1:]], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{step.source!r} exited {done.returncode}: {done.stderr.strip()[-1000:]}"
        output = done.stdout
        if step.redirect:
            (tmp_path / step.redirect).write_text(output)
        assert output.strip(), f"{step.source!r} printed nothing"
        if step.rows:
            header_only = len(output.strip().splitlines()) < 2
            assert "(0 rows)" not in output and not header_only, f"{step.source!r} returned no rows:\n{output}"
