"""1C/2C condition text offline, from two older editions, the newer first.

highdicom's module tables (current edition) give each attribute's Type and no condition, so without a
text a 1C/2C attribute is never evaluated. The offline sources of the text are older editions:
innolitics' dicom-standard 0.1.0 (PyPI; PS3.3 as current on 2020-04-07, derived by derive_innolitics.py) and GDCM's PS3.3
2008 (derived by derive_gdcm.py; provenance in data/). An older edition must never make an attribute
required that the current tables do not: a row is applied only where module, tag, path and Type agree
with the current table, by the first edition that has it, and the current Type always stays, except where
2008 says the attribute comes from a macro included only on a condition (the SR content item macros "if
and only if Value Type (0040,A040) is SCOORD"): there a current Type 1 / 2 that 2008 gives the macro
itself becomes 1C / 2C on the include's condition (required less often, never more).

Two curated tables (each row citing PS3.3) complete it: attribute_conditions.csv for the content-item
macros 2008 does not have (SCOORD3D, TABLE) and texts a later edition changed, on the same rule, and attribute_type_overrides.csv, which
marks a module's Type that overrides the other modules' of its IOD (`CONTAINS.overrides`).
"""

from __future__ import annotations

from collections import Counter
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from . import curated
from .catalog import StandardCatalog
from .curated import vendored

SOURCES = (("innolitics_attribute_conditions.csv.gz", "innolitics/dicom-standard 0.1.0 (PS3.3 current on 2020-04-07)"),
           ("gdcm_attribute_conditions.csv", "GDCM PS3.3 2008"))
EDITIONS = tuple(edition for _name, edition in SOURCES)
_VALUE_TYPE = "Value Type (0040,A040)"
_CODE_MACRO = frozenset({"00080100", "00080102", "00080103", "00080105", "00080106", "00080107", "0008010D",
                         "00080119", "00080120"})
CURATED = "dicom-graph curated (PS3.3, each row cites its edition)"


def apply(cat: StandardCatalog) -> dict[str, Any]:
    """Condition texts into the catalog's CONTAINS rows; returns how many each edition gave, and how."""
    report: dict[str, Any] = {"editions": {}}
    macro_of = {m["sequence"]: slug for slug, m in cat.macros.items() if m.get("sequence")}
    macro_of.update({cat.keyword_tags[k]: slug for k, slug in list(macro_of.items()) if k in cat.keyword_tags})
    for name, edition in SOURCES:
        rows: dict[tuple[str, str, str], list[dict[str, str]]] = {}
        for row in vendored(name):
            rows.setdefault((row["module"], row["tag"], row["path"]), []).append(row)
        counts = {"matched_same_type": 0, "conditional_include": 0, "type_disagrees": 0, "ambiguous": 0}
        for key, contains in cat.contains.items():
            found = rows.get(key) or rows.get(_in_macro(key, macro_of)) or rows.get(_in_code_macro(key), [])
            if not found or contains.get("condition") and not _on_value_type(contains, found):
                continue
            if len(found) > 1:
                counts["ambiguous"] += contains.get("type") in ("1C", "2C")
            else:
                _apply_row(contains, found[0], edition, counts)
        report["editions"][edition] = counts
    report["curated"] = _apply_curated(cat)
    conditional = [c for c in cat.contains.values() if c.get("type") in ("1C", "2C")]
    report["contains_conditional"] = len(conditional)
    report["with_text"] = sum(1 for c in conditional if c.get("condition"))
    kept = Counter(c.get("condition_source") for c in conditional if c.get("condition"))
    for edition, counts in report["editions"].items():
        counts["kept"] = kept[edition]  # a later source (2008's Value Type texts, curated rows) may replace one
    cat.sources["attribute_conditions"] = (" over ".join(EDITIONS)
                                           + " (vendored, applied where the current types agree)")
    return report


def macro_sequence_condition(tag: str) -> tuple[str, str] | None:
    """(text, edition) of the condition a functional group macro's own table gives its one Sequence when
    that is 1C / 2C there (Unassigned Shared Converted Attributes: "Required if any unassigned shared
    Attributes are present."): the newest edition with one text for the tag, else None."""
    return _macro_sequence_conditions().get(tag.upper())


@lru_cache(maxsize=None)
def _macro_sequence_conditions() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for name, edition in SOURCES:
        texts: dict[str, set[str]] = {}
        for row in vendored(name):
            if row["module"].startswith("macro:") and not row["path"] and row["condition"]:
                texts.setdefault(row["tag"], set()).add(row["condition"])
        for tag, seen in texts.items():
            if len(seen) == 1 and tag not in found:
                found[tag] = (seen.pop(), edition)
    return found


def _on_value_type(contains: dict[str, Any], found: list[dict[str, str]]) -> bool:
    """2008 keeps a content item macro's include condition ("... if and only if Value Type (0040,A040) is
    TCOORD") in its attributes' texts, 2020's expansion drops it: an older text conditional on the Value
    Type replaces a newer one that is not (else every SR document would need its TCOORD attributes)."""
    return (len(found) == 1 and _VALUE_TYPE in found[0]["condition"]
            and _VALUE_TYPE not in (contains.get("condition") or ""))


def _in_macro(key: tuple[str, str, str], macro_of: dict[str, str]) -> tuple[str, str, str]:
    """A functional group module's row as the row of its macro, the macro tables' key: (fg module, tag,
    'Shared...>PixelMeasuresSequence>...') -> ('macro:pixel-measures', tag, 'PixelMeasuresSequence>...'),
    and the macro's own Sequence in the item -> ('macro:pixel-measures', its tag, '')."""
    module, tag, path = key
    if not module.endswith("-multi-frame-functional-groups"):
        return key
    _item, _, inner = path.partition(">")
    macro = macro_of.get(inner.split(">")[0]) if inner else macro_of.get(tag)
    return (f"macro:{macro}", tag, inner) if macro else key


def _in_code_macro(key: tuple[str, str, str]) -> tuple[str, str, str]:
    """An attribute of the Code Sequence Macro (PS3.3 Table 8.8-1: Code Value, Coding Scheme Designator,
    Long / URN Code Value, the Context Group versions), which no other table defines, in a code sequence
    of a module newer than the edition: the macro's own row, whose text is the same wherever it is used."""
    module, tag, path = key
    return ("macro:code-sequence", tag, "") if path.endswith("CodeSequence") and tag in _CODE_MACRO else key


def _apply_row(contains: dict[str, Any], row: dict[str, str], edition: str, counts: dict[str, int]) -> None:
    type_ = contains.get("type")
    if not row["condition"]:
        return
    if type_ == row["type"]:
        contains.update(condition=row["condition"], condition_source=edition)
        counts["matched_same_type"] += 1
    elif type_ == row["own_type"] and row["type"] == f"{type_}C":
        contains.update(type=row["type"], condition=row["condition"], condition_source=edition)
        counts["conditional_include"] += 1
    elif type_ in ("1C", "2C"):
        counts["type_disagrees"] += 1


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
