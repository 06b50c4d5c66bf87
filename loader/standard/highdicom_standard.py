"""The ONE module that touches highdicom's private machine-readable standard.

highdicom ships, under `highdicom/_standard/`, JSON tables generated from the DICOM standard:
- `iod_module_map.json`: IOD slug -> [{key: module slug, usage: M/C/U, ie: IE name}]
- `module_attribute_map.json`: module slug -> [{keyword, type, path: [enclosing sequence keywords]}]
  (macros already expanded, nested sequence items listed with their path)
- `sop_class_iod_map.json`: SOP Class UID -> IOD slug

They are private: the layout may change in any release. highdicom is pinned in pyproject.toml
(PINNED_VERSION below), this module is the only reader, and tests/test_standard_offline.py checks
that the files are there with the expected shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

PINNED_VERSION = "0.28.2"
_FILES = ("iod_module_map.json", "module_attribute_map.json", "sop_class_iod_map.json")


class HighdicomStandardMissing(RuntimeError):
    """highdicom's private `_standard` tables are not where this pinned version keeps them."""


@dataclass(frozen=True)
class HighdicomStandard:
    version: str
    iod_modules: dict[str, list[dict]]
    module_attributes: dict[str, list[dict]]
    sop_class_iods: dict[str, str]


def version() -> str:
    import highdicom

    return getattr(highdicom, "__version__", "unknown")


@lru_cache(maxsize=1)
def load() -> HighdicomStandard:
    """Read the three tables (about 0.4 s; cached for the life of the process)."""
    try:
        base = resources.files("highdicom") / "_standard"
        data = {name: json.loads((base / name).read_text(encoding="utf-8")) for name in _FILES}
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError, OSError) as exc:
        raise HighdicomStandardMissing(
            f"highdicom {version()}: private tables _standard/{{{', '.join(_FILES)}}} not found "
            f"(dicom-graph is tested with highdicom=={PINNED_VERSION}): {exc}") from exc
    iods, modules, sops = (data[n] for n in _FILES)
    if not (isinstance(iods, dict) and isinstance(modules, dict) and isinstance(sops, dict)):
        raise HighdicomStandardMissing("highdicom _standard tables have an unexpected layout")
    return HighdicomStandard(version(), iods, modules, sops)
