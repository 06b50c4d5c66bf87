"""The architecture, checked: the folders README's Layout section names, small modules, Cypher only in
model/, engine code only in model/store/. A reviewer reads these rules in DESIGN.md; this makes them hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import REPO

PRODUCT = ("cli", "loader", "model", "dashboard")
MAX_LINES = 350
CYPHER = re.compile(r"\b(MATCH|MERGE|CREATE|UNWIND)\s*\(|\bDETACH DELETE\b|\bRETURN\s+count\(")
ENGINE_IMPORT = re.compile(r"^\s*(import|from)\s+(ladybug|kuzu|neo4j)\b", re.MULTILINE)


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def readme_layout() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    return [line.split()[0] for line in block.splitlines() if line and not line.startswith(" ")]


def test_readme_layout_names_the_folders_that_exist():
    named = readme_layout()
    for entry in named:
        assert (REPO / entry.rstrip("/")).exists(), f"README's Layout names {entry}, which does not exist"
    top = {p.name + "/" for p in REPO.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert top <= set(named), f"packages missing from README's Layout: {top - set(named)}"
    assert not (REPO / "dicom_graph").exists(), "a top-level dicom_graph/ shadows the installed package"


@pytest.mark.parametrize("path", python_files(*PRODUCT, "tests"), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_is_a_god_module(path: Path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines (at most {MAX_LINES}): split it"


def test_cypher_lives_in_model_only():
    def code(path: Path) -> str:  # help texts may show the user a `dicom-graph query "..."` example
        return "\n".join(line for line in path.read_text().splitlines() if "dicom-graph query" not in line)

    offenders = [str(p.relative_to(REPO)) for p in python_files("cli", "loader", "dashboard")
                 if CYPHER.search(code(p))]
    assert not offenders, f"Cypher outside model/: {offenders}"


def test_engine_code_lives_in_model_store_only():
    store = REPO / "model" / "store"
    offenders = [str(p.relative_to(REPO)) for p in python_files(*PRODUCT)
                 if store not in p.parents and ENGINE_IMPORT.search(p.read_text())]
    assert not offenders, f"engine imports outside model/store/: {offenders}"
