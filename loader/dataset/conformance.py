"""Conformance of an instance to its SOP class's IOD.

The requirements come from the graph (the standard layer loaded by `dicom-graph standard load`): for each
SOP class, each module its IOD includes (name, usage M/C/U) with the module's top-level attributes and
their types. `load_requirements(store)` reads them once per ingest with the named query
`conformance_requirements`; workers get the resulting plain dict and call `check()` per instance.

What is checked, per instance:
- modules_present: modules of the IOD at least one of whose top-level attributes the instance has;
- modules_missing: mandatory (usage M) modules with at least one Type 1 or 2 attribute, none of whose
  attributes are present (a mandatory module of optional attributes only is satisfied by absence);
- type1_missing / type1_empty: Type 1 attributes of present modules that are absent / present but empty;
- type2_missing: Type 2 attributes of present modules that are absent;
- conformant: none of the above lists is non-empty.
Conditional types (1C, 2C) and conditional modules are not evaluated: their conditions are prose.
Attribute findings are written `Module name>Keyword`, so they aggregate per module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NO_STANDARD_HINT = ("conformance not checked: the standard is not loaded in this graph "
                    "(run `dicom-graph standard load` first, then ingest again)")


@dataclass(frozen=True)
class ModuleRequirement:
    name: str
    usage: str  # M, C or U
    type1: frozenset[str]
    type2: frozenset[str]
    keywords: frozenset[str]  # every top-level keyword of the module


Requirements = dict[str, tuple[ModuleRequirement, ...]]  # SOP Class UID -> modules of its IOD


def requirements_from_rows(rows: list[dict[str, Any]]) -> Requirements:
    """Build requirements from `conformance_requirements` rows (sop_class_uid, module, usage, type, keyword)."""
    acc: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        uid, module = row["sop_class_uid"], row["module"]
        if not uid or not module:
            continue
        mod = acc.setdefault(uid, {}).setdefault(
            module, {"usage": row.get("usage") or "U", "t1": set(), "t2": set(), "all": set()})
        if (row.get("usage") or "") == "M":
            mod["usage"] = "M"
        keyword, type_ = row.get("keyword"), (row.get("type") or "").strip()
        if not keyword:
            continue
        mod["all"].add(keyword)
        if type_ == "1":
            mod["t1"].add(keyword)
        elif type_ == "2":
            mod["t2"].add(keyword)
    return {uid: tuple(ModuleRequirement(name, m["usage"], frozenset(m["t1"]), frozenset(m["t2"]),
                                         frozenset(m["all"]))
                       for name, m in sorted(mods.items()))
            for uid, mods in acc.items()}


def load_requirements(store: Any) -> Requirements:
    """Requirements for every SOP class in the graph; empty when the standard is not loaded."""
    result = store.run("conformance_requirements")
    return requirements_from_rows(result.records())


def check(modules: tuple[ModuleRequirement, ...], present: dict[str, bool]) -> dict[str, Any]:
    """Check one instance. `present` maps each top-level keyword it has to whether its value is non-empty."""
    modules_present: list[str] = []
    modules_missing: list[str] = []
    type1_missing: list[str] = []
    type1_empty: list[str] = []
    type2_missing: list[str] = []
    for module in modules:
        if module.keywords and not module.keywords.isdisjoint(present):
            modules_present.append(module.name)
            for kw in sorted(module.type1):
                state = present.get(kw)
                if state is None:
                    type1_missing.append(f"{module.name}>{kw}")
                elif not state:
                    type1_empty.append(f"{module.name}>{kw}")
            for kw in sorted(module.type2):
                if kw not in present:
                    type2_missing.append(f"{module.name}>{kw}")
        elif module.usage == "M" and (module.type1 or module.type2):
            modules_missing.append(module.name)
    return {
        "modules_present": modules_present,
        "modules_missing": modules_missing,
        "type1_missing": type1_missing,
        "type1_empty": type1_empty,
        "type2_missing": type2_missing,
        "conformant": not (modules_missing or type1_missing or type1_empty or type2_missing),
    }
