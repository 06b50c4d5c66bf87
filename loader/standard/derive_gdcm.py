"""Derive data/gdcm_attribute_conditions.csv from GDCM's PS3.3 XML (run by hand, never at load time).

highdicom's module tables give each attribute's Type but not the standard's condition text, so a 1C or
2C attribute cannot be evaluated offline. GDCM (BSD licence) keeps PS3.3 2008 as XML with every module's
and macro's attributes, their Type and the standard's description, which holds the condition ("Required
if ..."), and the macro includes with their own conditions ("Include 'Spatial Coordinates Macro' ... if
and only if Value Type (0040,A040) is SCOORD", the SR content items). This script expands the includes
into each module and writes one row per (module, tag, path) that is conditional, by its own type or by a
conditional include:

    python -m dicom_graph.loader.standard.derive_gdcm Part3.xml > loader/standard/data/gdcm_attribute_conditions.csv

where Part3.xml is `git show HEAD:Source/InformationObjectDefinition/Part3.xml` of malaterre/GDCM
(provenance: data/GDCM-PROVENANCE.md). The load (attribute_conditions.py) applies a row only where the
current type table agrees.
"""

from __future__ import annotations

import csv
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from pydicom.datadict import dictionary_has_tag, dictionary_keyword

from .curated import slugify

_TABLE = re.compile(r"Table\s+([A-Z]+[\w.\-]*\w|\d[\w.\-]*\w)")
_REQUIRED = re.compile(r"(?:Required|Shall be present)\s+(?:if|when|only if|for)\b.*?(?=\n|Enumerated Values?:|"
                       r"Defined Terms?:|Note:|$)", re.S)
_IFF = re.compile(r"\bif and only if (.+?)\.?$", re.I)
_IFF_VALUE = re.compile(r"^Required if and only if (Value Type \(0040,A040\)) is (\w+)\.$")
COLUMNS = ("module", "tag", "path", "keyword", "own_type", "type", "condition")


@dataclass(frozen=True)
class Row:
    tag: str
    path: tuple[str, ...]
    own_type: str
    type: str
    condition: str


def keyword(tag: str) -> str:
    """The dictionary keyword, or '' for a tag this pydicom does not know (GDCM has some typos)."""
    return dictionary_keyword(int(tag, 16)) if dictionary_has_tag(int(tag, 16)) else ""


def _depth(name: str) -> tuple[int, str]:
    stripped = name.lstrip(">")
    return len(name) - len(stripped), stripped


def condition_of(description: str) -> str:
    """The 'Required if ...' sentences of a description, whitespace collapsed ('' when none)."""
    found = [" ".join(m.group(0).split()) for m in _REQUIRED.finditer(description or "")]
    return " ".join(found)


def _include_condition(ref: str) -> str:
    """'Include ... Table C.18.6-1 if and only if Value Type (0040,A040) is SCOORD.' -> its condition."""
    m = _IFF.search(" ".join(ref.split()))
    return f"Required if and only if {m.group(1)}." if m else ""


def _wrap(type_: str, condition: str, include_condition: str) -> tuple[str, str]:
    """A Type 1 / 2 attribute of a conditionally included macro is 1C / 2C on the include's condition; a
    1C / 2C one needs both conditions ('Required if Value Type (0040,A040) is TCOORD and ...')."""
    if not include_condition:
        return type_, condition
    if type_ in ("1", "2"):
        return f"{type_}C", include_condition
    own = re.match(r"Required if (.*)$", condition)
    outer = re.match(r"Required if and only if (.*?)\.?$", include_condition)
    if own and outer and "Required" not in own.group(1):
        return type_, f"Required if {outer.group(1)} and {own.group(1)}"
    return type_, condition


def _expand(table: ET.Element, tables: dict[str, ET.Element], depth0: int, stack: list[str],
            include_condition: str, seen: tuple[str, ...]) -> list[Row]:
    rows: list[Row] = []
    for child in table:
        if child.tag == "entry":
            depth, _name = _depth(child.get("name") or "")
            depth += depth0
            tag = f"{child.get('group', '')}{child.get('element', '')}".upper()
            if not re.fullmatch(r"[0-9A-F]{8}", tag):
                continue
            del stack[depth:]
            path = tuple(stack)
            own = (child.get("type") or "").strip()
            text = condition_of(child.findtext("description") or "")
            type_, condition = _wrap(own, text, include_condition)
            rows.append(Row(tag, path, own, type_, condition))
            stack.append(keyword(tag) or tag)
        elif child.tag == "include":
            ref = child.get("ref") or ""
            depth, text = _depth(ref)
            m = _TABLE.search(text)
            target = tables.get(m.group(1).rstrip(".")) if m else None
            if target is None or m is None or m.group(1) in seen:
                continue
            del stack[depth + depth0:]
            inner = _include_condition(text) or include_condition
            rows += _expand(target, tables, depth + depth0, list(stack), inner, (*seen, m.group(1)))
    return rows


def derive(root: ET.Element) -> list[dict[str, str]]:
    """Every conditional row of every module, macros expanded, keyed by the module's slug."""
    tables = {t.get("table", ""): t for t in root if t.tag in ("module", "macro")}
    out: list[dict[str, str]] = []
    for module in root.iter("module"):
        name = re.sub(r"\s+Module(?: Attributes)?$", "", module.get("name", "").strip())
        for row in _expand(module, tables, 0, [], "", (module.get("table", ""),)):
            if row.type in ("1C", "2C"):
                out.append({"module": slugify(name), "tag": row.tag, "path": ">".join(row.path),
                            "keyword": keyword(row.tag), "own_type": row.own_type,
                            "type": row.type, "condition": row.condition})
    return out


def merged(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """One row per (module, tag, path): an attribute several content-item macros include on different
    Value Types (Referenced SOP Sequence for COMPOSITE, IMAGE and WAVEFORM) gets the union of them;
    other disagreements are kept as several rows, which the load reads as ambiguous and skips."""
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in rows:
        group = groups.setdefault((row["module"], row["tag"], row["path"]), [])
        if row not in group:
            group.append(row)
    out: list[dict[str, str]] = []
    for group in groups.values():
        values = [_IFF_VALUE.match(r["condition"]) for r in group]
        if len(group) > 1 and all(values) and len({(r["own_type"], r["type"]) for r in group}) == 1:
            terms = " or ".join(m.group(2) for m in values if m)
            out.append({**group[0], "condition": f"Required if and only if {values[0].group(1)} is {terms}."}
                       if values[0] else group[0])
        else:
            out.extend(group)
    return out


def main(argv: list[str]) -> int:
    root = ET.parse(argv[1]).getroot()
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(merged(derive(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
