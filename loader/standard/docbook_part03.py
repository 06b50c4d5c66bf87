"""PS3.3 in DocBook: the IOD module tables of Annex A (composite) and B (normalized), with IE, usage and
conditions, and the module attribute tables they reference: `>` nesting, and `Include` rows of macros
expanded in place with their sequence paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lxml import etree

from . import curated
from .docbook_xml import DB, ancestor_label, by_id, column, edition, parse, row_cells, table_rows, tag_of, text_of

_TYPES = {"1", "1C", "2", "2C", "3"}


@dataclass
class IODTable:
    key: str
    name: str
    kind: str
    section: str
    modules: list[dict] = field(default_factory=list)  # {module, name, ie, usage, condition, ref}


@dataclass
class Part03:
    edition: str
    iods: dict[str, IODTable] = field(default_factory=dict)
    modules: dict[str, dict] = field(default_factory=dict)  # key -> {name, section, rows: [(path, tag, type, cond)]}


def _is_attribute_table(head: list[str]) -> bool:
    low = [h.lower() for h in head]
    return len(low) >= 3 and low[0].startswith("attribute name") and low[1] == "tag"




def _first_attribute_table(el: etree._Element) -> etree._Element | None:
    if el.tag == f"{DB}table":
        return el if _is_attribute_table(table_rows(el)[0]) else None
    for table in el.iter(f"{DB}table"):
        if _is_attribute_table(table_rows(table)[0]):
            return table
    return None


def _xref_target(cell: etree._Element) -> str | None:
    for x in cell.iter(f"{DB}xref", f"{DB}olink", f"{DB}link"):
        target = x.get("linkend") or x.get("targetptr")
        if target:
            return target
    return None


def _condition(description: str) -> str | None:
    m = re.search(r"((?:Required|Shall be present) (if|when|for|only)\b.*)", description)
    return m.group(1) if m else None


def read_part03(path: Path, keyword_of: Callable[[str], tuple[str | None, str | None]]) -> Part03:
    """keyword_of(tag) -> (keyword, vr) from the data dictionary in use."""
    root = parse(str(path))
    out = Part03(edition(root, "DICOM PS3.3"))
    ids = by_id(root)

    def expand(table: etree._Element, base: list[str], seen: tuple[int, ...]) -> list[tuple[str, str, str | None, str | None]]:
        if id(table) in seen or len(seen) > 12:
            return []
        seen = (*seen, id(table))
        _head, body = table_rows(table)
        rows: list[tuple[str, str, str | None, str | None]] = []
        stack: list[str] = []
        for tr in body:
            cells = row_cells(tr)
            if not cells:
                continue
            first = text_of(cells[0])
            depth = len(first) - len(first.lstrip(">"))
            label = first.lstrip(">").strip()
            if label.lower().startswith("include"):
                target = _xref_target(tr)
                el = ids.get(target) if target else None
                sub = _first_attribute_table(el) if el is not None else None
                if sub is not None:
                    rows += expand(sub, base + stack[:depth], seen)
                continue
            if len(cells) < 3:
                continue
            tag = tag_of(text_of(cells[1]))
            if tag is None:
                continue
            keyword, vr = keyword_of(tag)
            if keyword is None:
                continue
            stack = stack[:depth]
            type_ = text_of(cells[2]).upper()
            description = text_of(cells[3]) if len(cells) > 3 else ""
            rows.append((">".join(base + stack), tag, type_ if type_ in _TYPES else None,
                         _condition(description) if type_ in ("1C", "2C") else None))
            if vr == "SQ":
                stack.append(keyword)
        return rows

    # module attribute tables, by their caption
    module_tables: dict[str, etree._Element] = {}
    for table in root.iter(f"{DB}table"):
        caption = table.find(f"{DB}caption")
        cap = text_of(caption) if caption is not None else ""
        m = re.match(r"(.+?) Module Attributes(?: Description)?$", cap)
        if m and _is_attribute_table(table_rows(table)[0]):
            key = curated.slugify(m.group(1))
            module_tables.setdefault(key, table)
            out.modules.setdefault(key, {"name": m.group(1), "section": f"PS3.3 {ancestor_label(table)}",
                                         "table": table})
    # IOD module tables
    for table in root.iter(f"{DB}table"):
        caption = table.find(f"{DB}caption")
        cap = text_of(caption) if caption is not None else ""
        m = re.match(r"(.+?) IOD Modules$", cap)
        if not m:
            continue
        head, body = table_rows(table)
        low = [h.lower() for h in head]
        if "module" not in low:
            continue
        label = ancestor_label(table)
        iod = IODTable(curated.slugify(m.group(1)), m.group(1),
                       "normalized" if label.startswith("B") else "composite", f"PS3.3 {label}")
        c_ie = low.index("ie") if "ie" in low else None
        c_usage = column(head, "usage")
        ie = iod.name
        for tr in body:
            cells = row_cells(tr)
            texts = [text_of(c) for c in cells]
            if c_ie is not None and len(texts) == len(head):
                ie, offset = texts[c_ie] or ie, 1
            else:
                offset = 0 if c_ie is not None else 0
            rest = cells[offset:] if c_ie is not None else cells
            if not rest:
                continue
            name = text_of(rest[0])
            if not name:
                continue
            usage_text = text_of(rest[-1]) if c_usage is not None else "M"
            usage = usage_text[:1].upper() if usage_text[:1].upper() in ("M", "C", "U") else "M"
            # only a C row has a condition ("U - see elsewhere" is a note, not a condition)
            condition = re.sub(r"^[MCU]\s*-\s*", "", usage_text).strip() if usage == "C" else None
            ref = _xref_target(rest[1]) if len(rest) > 1 else None
            iod.modules.append({"module": curated.slugify(name), "name": name, "ie": ie, "usage": usage,
                                "condition": condition or None, "ref": ref})
        out.iods[iod.key] = iod
        for row in iod.modules:  # resolve the module's attribute table through its reference
            if row["module"] in out.modules and "rows" in out.modules[row["module"]]:
                continue
            el = ids.get(row["ref"]) if row["ref"] else None
            t = _first_attribute_table(el) if el is not None else module_tables.get(row["module"])
            if t is not None:
                entry = out.modules.setdefault(row["module"], {"name": row["name"],
                                                               "section": f"PS3.3 {ancestor_label(t)}"})
                entry["table"] = t
    for entry in out.modules.values():
        entry["rows"] = expand(entry.pop("table"), [], ())
    return out

