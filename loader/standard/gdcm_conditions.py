"""1C/2C condition text offline, from GDCM's PS3.3 2008 XML (data/gdcm_attribute_conditions.csv).

highdicom's module tables (current edition) give each attribute's Type and no condition, so without a
text a 1C/2C attribute is never evaluated. The only offline source of the text is an older edition
(GDCM's PS3.3 2008, derived by derive_gdcm.py; data/GDCM-PROVENANCE.md), and an older edition must
never make an attribute required that the current tables do not: a row is applied only where module,
tag, path and Type agree with the current table, and the current Type always stays, except where 2008
says the attribute comes from a macro included only on a condition (the SR content item macros "if and
only if Value Type (0040,A040) is SCOORD"): there a current Type 1 / 2 that 2008 gives the macro itself
becomes 1C / 2C on the include's condition (required less often, never more).

Two curated tables (each row citing PS3.3) complete it: attribute_conditions.csv for the content-item
macros 2008 does not have (SCOORD3D, TABLE) and texts a later edition changed, on the same rule, and attribute_type_overrides.csv, which
marks a module's Type that overrides the other modules' of its IOD (`CONTAINS.overrides`).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from . import curated
from .catalog import StandardCatalog
from .functional_groups import vendored

EDITION = "GDCM PS3.3 2008"
CURATED = "dicom-graph curated (PS3.3, each row cites its edition)"


def apply(cat: StandardCatalog) -> dict[str, int]:
    """Condition texts into the catalog's CONTAINS rows; returns how many matched, and how."""
    rows: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in vendored("gdcm_attribute_conditions.csv"):
        rows.setdefault((row["module"], row["tag"], row["path"]), []).append(row)
    report = {"contains_conditional": 0, "matched_same_type": 0, "conditional_include": 0,
              "type_disagrees": 0, "ambiguous": 0, "not_in_2008": 0}
    for key, contains in cat.contains.items():
        type_ = contains.get("type")
        found = rows.get(key, [])
        if len(found) > 1:
            report["ambiguous"] += type_ in ("1C", "2C")
            continue
        if found and not contains.get("condition"):
            _apply_row(contains, found[0], report)
        if contains.get("type") in ("1C", "2C"):
            report["contains_conditional"] += 1
            report["not_in_2008"] += not found
    report["curated"] = _apply_curated(cat)
    cat.sources["attribute_conditions"] = f"{EDITION} (vendored, applied where the current types agree)"
    return report


def _apply_row(contains: dict[str, Any], row: dict[str, str], report: dict[str, int]) -> None:
    type_ = contains.get("type")
    if not row["condition"]:
        return
    if type_ == row["type"]:
        contains.update(condition=row["condition"], condition_source=EDITION)
        report["matched_same_type"] += 1
    elif type_ == row["own_type"] and row["type"] == f"{type_}C":
        contains.update(type=row["type"], condition=row["condition"], condition_source=EDITION)
        report["conditional_include"] += 1
    elif type_ in ("1C", "2C"):
        report["type_disagrees"] += 1



def _apply_curated(cat: StandardCatalog) -> int:
    """The curated conditions (over 2008's; a current Type 1 / 2 only ever becomes 1C / 2C) and type
    overrides."""
    applied = 0
    for row in curated.table("attribute_conditions.csv"):
        tag, patterns = cat.keyword_tags.get(row["keyword"], ""), row["paths"].split("|")  # '' is the top level
        for (module, key_tag, path), contains in cat.contains.items():
            if (module, key_tag) != (row["module"], tag) or not any(fnmatchcase(path, p) for p in patterns):
                continue
            if contains.get("type") in (row["type"][0], row["type"]):
                contains.update(type=row["type"], condition=row["condition"], condition_source=CURATED)
                if row["parse_as"]:
                    contains["condition_parse_as"] = row["parse_as"]
                applied += 1
    for row in curated.table("attribute_type_overrides.csv"):
        overriding = cat.contains.get((row["module"], cat.keyword_tags.get(row["keyword"], ""), ""))
        if overriding is not None:
            overriding["overrides"] = True
    return applied
