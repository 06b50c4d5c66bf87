"""Reader of NEMA's DocBook XML of the standard (any edition): part03.xml, part04.xml, part06.xml.

- PS3.6: tables 6-1 (data elements), 7-1 (file meta), 8-1 (directory), with or without the Keyword
  column, and A-1 (UIDs) -> Attribute, SOPClass, TransferSyntax.
- PS3.3: the IOD module tables of Annex A (composite) and B (normalized) with IE, usage and conditions;
  the module attribute tables they reference, `>` nesting, and `Include` rows of macros (expanded in
  place, with their sequence paths).
- PS3.4: the service classes (annexes), the SOP class UID tables in each, and the DIMSE Service Group
  tables (SOP class taken from the enclosing section or the table's caption).

`apply_docbook(catalog, dir)` overlays what the directory holds on a catalog built from the packages:
a part replaces the domain it defines (PS3.6: the data dictionary and the UID registry; PS3.3: each
IOD and module it has a table for; PS3.4: the DIMSE groups and service classes it states); what the
directory lacks stays as the packages and curated tables have it. NEMA's zero-width spaces are removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from lxml import etree

from . import curated
from .catalog import StandardCatalog

DB = "{http://docbook.org/ns/docbook}"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
ZWSP = "\u200b"
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u00ad\u2060\ufeff\u200c\u200d"))  # NEMA's zero-width / soft hyphens
_TAG_RE = re.compile(r"\(?\s*([0-9A-Fa-fxX]{4})\s*,\s*([0-9A-Fa-fxX]{4})\s*\)?")
_TYPES = {"1", "1C", "2", "2C", "3"}
_USAGE_RANK = {"M": 2, "U": 1}


def clean(text: str | None) -> str:
    return " ".join((text or "").translate(_INVISIBLE).split())


def text_of(el: etree._Element) -> str:
    return clean("".join(el.itertext()))


@lru_cache(maxsize=8)
def parse(path: str) -> etree._Element:
    parser = etree.XMLParser(recover=True, huge_tree=True, remove_comments=True)
    return etree.parse(path, parser).getroot()


def edition(root: etree._Element, fallback: str) -> str:
    """`DICOM PS3.6 2013 - Data Dictionary` -> `DICOM PS3.6 2013` (from the book's subtitle)."""
    for tag in ("subtitle", "title"):
        el = root.find(f".//{DB}{tag}")
        if el is not None and text_of(el):
            text = text_of(el)
            m = re.search(r"(PS\s?3\.\d+)\s+(\d{4}[a-z]?)", text)
            if m:
                return f"DICOM {m.group(1).replace(' ', '')} {m.group(2)}"
            return f"DICOM {text.split(' - ')[0]}"
    return fallback


def _rows(table: etree._Element) -> tuple[list[str], list[etree._Element]]:
    head = [text_of(th) for th in table.iter(f"{DB}th")]
    body = [tr for tbody in table.iter(f"{DB}tbody") for tr in tbody.iter(f"{DB}tr")]
    return head, body


def _cells(tr: etree._Element) -> list[etree._Element]:
    return [c for c in tr if c.tag in (f"{DB}td", f"{DB}th")]


def _tag(text: str) -> str | None:
    m = _TAG_RE.search(text)
    return f"{m.group(1)}{m.group(2)}".upper() if m else None


def _col(head: list[str], *names: str) -> int | None:
    low = [h.lower() for h in head]
    for name in names:
        for i, h in enumerate(low):
            if h == name or h.startswith(name):
                return i
    return None


def _by_id(root: etree._Element) -> dict[str, etree._Element]:
    out: dict[str, etree._Element] = {}
    for el in root.iter(f"{DB}table", f"{DB}section", f"{DB}chapter"):
        ident = el.get(XML_ID)
        if ident and ident not in out:
            out[ident] = el
    return out


# --- PS3.6 ----------------------------------------------------------------------------------------

@dataclass
class Part06:
    edition: str
    attributes: dict[str, dict] = field(default_factory=dict)
    uids: dict[str, dict] = field(default_factory=dict)  # uid -> {name, type, keyword, retired}


def read_part06(path: Path) -> Part06:
    root = parse(str(path))
    out = Part06(edition(root, "DICOM PS3.6"))
    ids = _by_id(root)
    for table_id in ("table_6-1", "table_7-1", "table_8-1"):
        table = ids.get(table_id)
        if table is None:
            continue
        head, body = _rows(table)
        c_tag, c_name, c_kw = _col(head, "tag"), _col(head, "name"), _col(head, "keyword")
        c_vr, c_vm = _col(head, "vr"), _col(head, "vm")
        for tr in body:
            cells = [text_of(c) for c in _cells(tr)]
            if c_tag is None or len(cells) <= max(c for c in (c_tag, c_vr, c_vm) if c is not None):
                continue
            tag = _tag(cells[c_tag])
            if tag is None:
                continue
            keyword = cells[c_kw].replace(" ", "") if c_kw is not None else ""
            note = " ".join(cells[max(c_vm or 0, c_kw or 0) + 1:]) if len(cells) > (c_vm or 0) + 1 else ""
            out.attributes[tag] = {
                "tag": tag, "keyword": keyword or None, "name": cells[c_name] if c_name is not None else "",
                "vr": cells[c_vr] or None, "vm": cells[c_vm] or None, "retired": "RET" in note.upper(),
                "source": out.edition}
    table = ids.get("table_A-1")
    if table is not None:
        head, body = _rows(table)
        c_uid, c_name = _col(head, "uid value", "uid"), _col(head, "uid name", "name")
        c_kw, c_type = _col(head, "uid keyword", "keyword"), _col(head, "uid type", "type")
        for tr in body:
            cells = [text_of(c) for c in _cells(tr)]
            if c_uid is None or c_type is None or len(cells) <= c_type:
                continue
            uid = cells[c_uid].replace(" ", "")
            name = cells[c_name]
            retired = "(retired)" in name.lower()
            name = re.sub(r"\s*\(Retired\)\s*", " ", name, flags=re.I).strip()
            out.uids[uid] = {"uid": uid, "name": name, "type": cells[c_type],
                             "keyword": cells[c_kw].replace(" ", "") if c_kw is not None else None,
                             "retired": retired}
    return out


# --- PS3.3 ----------------------------------------------------------------------------------------

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


def _ancestor_label(el: etree._Element) -> str:
    node = el.getparent()
    while node is not None:
        if node.tag in (f"{DB}section", f"{DB}chapter") and node.get("label"):
            return node.get("label")
        node = node.getparent()
    return ""


def _first_attribute_table(el: etree._Element) -> etree._Element | None:
    if el.tag == f"{DB}table":
        return el if _is_attribute_table(_rows(el)[0]) else None
    for table in el.iter(f"{DB}table"):
        if _is_attribute_table(_rows(table)[0]):
            return table
    return None


def _xref_target(cell: etree._Element) -> str | None:
    for x in cell.iter(f"{DB}xref", f"{DB}olink", f"{DB}link"):
        target = x.get("linkend") or x.get("targetptr")
        if target:
            return target
    return None


def _condition(description: str) -> str | None:
    m = re.search(r"(Required (if|when|for|only)\b.*)", description)
    return m.group(1) if m else None


def read_part03(path: Path, keyword_of: Callable[[str], tuple[str | None, str | None]]) -> Part03:
    """keyword_of(tag) -> (keyword, vr) from the data dictionary in use."""
    root = parse(str(path))
    out = Part03(edition(root, "DICOM PS3.3"))
    ids = _by_id(root)

    def expand(table: etree._Element, base: list[str], seen: tuple[int, ...]) -> list[tuple[str, str, str | None, str | None]]:
        if id(table) in seen or len(seen) > 12:
            return []
        seen = (*seen, id(table))
        _head, body = _rows(table)
        rows: list[tuple[str, str, str | None, str | None]] = []
        stack: list[str] = []
        for tr in body:
            cells = _cells(tr)
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
            tag = _tag(text_of(cells[1]))
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
        if m and _is_attribute_table(_rows(table)[0]):
            key = curated.slugify(m.group(1))
            module_tables.setdefault(key, table)
            out.modules.setdefault(key, {"name": m.group(1), "section": f"PS3.3 {_ancestor_label(table)}",
                                         "table": table})
    # IOD module tables
    for table in root.iter(f"{DB}table"):
        caption = table.find(f"{DB}caption")
        cap = text_of(caption) if caption is not None else ""
        m = re.match(r"(.+?) IOD Modules$", cap)
        if not m:
            continue
        head, body = _rows(table)
        low = [h.lower() for h in head]
        if "module" not in low:
            continue
        label = _ancestor_label(table)
        iod = IODTable(curated.slugify(m.group(1)), m.group(1),
                       "normalized" if label.startswith("B") else "composite", f"PS3.3 {label}")
        c_ie = low.index("ie") if "ie" in low else None
        c_usage = _col(head, "usage")
        ie = iod.name
        for tr in body:
            cells = _cells(tr)
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
            condition = re.sub(r"^[MCU]\s*-\s*", "", usage_text).strip() if len(usage_text) > 1 else None
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
                                                               "section": f"PS3.3 {_ancestor_label(t)}"})
                entry["table"] = t
    for key, entry in out.modules.items():
        entry["rows"] = expand(entry.pop("table"), [], ())
    return out


# --- PS3.4 ----------------------------------------------------------------------------------------

@dataclass
class Part04:
    edition: str
    service_classes: dict[str, dict] = field(default_factory=dict)  # annex label -> {name, section}
    sop_class_annex: dict[str, str] = field(default_factory=dict)  # SOP class uid -> annex label
    groups: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # uid -> dimse -> (scu, scp)
    group_tables: dict[str, str] = field(default_factory=dict)  # uid -> table label


def _norm(name: str) -> str:
    name = re.sub(r"\(retired\)", "", name.lower())
    name = re.sub(r"\bsop class(es)?\b|\bdefinitions?\b", "", name)
    return re.sub(r"[^a-z0-9]", "", name)


def read_part04(path: Path, sop_names: dict[str, str], dimse_names: Iterable[str]) -> Part04:
    """sop_names: uid -> name of the SOP classes known (to place the DIMSE tables)."""
    root = parse(str(path))
    out = Part04(edition(root, "DICOM PS3.4"))
    dimse_names = set(dimse_names)
    by_norm: dict[str, list[str]] = {}
    for uid, name in sop_names.items():
        by_norm.setdefault(_norm(name), []).append(uid)

    for chapter in root.iter(f"{DB}chapter"):
        title = chapter.find(f"{DB}title")
        label = chapter.get("label") or ""
        name = re.sub(r"\s*\((Normative|Informative)\)\s*$", "", text_of(title) if title is not None else "")
        if re.fullmatch(r"[A-Z]{1,2}", label) and re.search(r"Service|SOP Class", name) \
                and "retired" not in name.lower():
            out.service_classes[label] = {"name": name, "section": f"PS3.4 {label}"}

    def uids_for(names: list[str]) -> list[str]:
        for n in names:
            norm = _norm(n)
            if not norm:
                continue
            if norm in by_norm:
                return by_norm[norm]
            ends = [u for k, us in by_norm.items() if k.endswith(norm) and len(norm) > 8 for u in us]
            if ends:
                return sorted(ends)
        return []

    for table in root.iter(f"{DB}table"):
        head, body = _rows(table)
        low = [h.lower() for h in head]
        chapter_label = _ancestor_label(table).split(".")[0]
        # SOP class UID lists
        c_uid = next((i for i, h in enumerate(low) if "sop class uid" in h), None)
        if c_uid is not None and chapter_label in out.service_classes:
            for tr in body:
                cells = [text_of(c) for c in _cells(tr)]
                if len(cells) > c_uid and re.fullmatch(r"[0-9.]+", cells[c_uid].replace(" ", "")):
                    out.sop_class_annex.setdefault(cells[c_uid].replace(" ", ""), chapter_label)
        # DIMSE Service Group tables
        if len(low) == 2 and low[0].startswith("dimse service element") and "scu" in low[1]:
            caption = table.find(f"{DB}caption")
            cap = text_of(caption) if caption is not None else ""
            names: list[str] = []
            m = re.search(r"DIMSE Service Group - UPS (\w+)", cap)
            if m:
                names.append(f"Unified Procedure Step - {m.group(1)}")
            node = table.getparent()
            while node is not None:
                if node.tag in (f"{DB}section", f"{DB}chapter"):
                    t = node.find(f"{DB}title")
                    if t is not None and "SOP Class" in text_of(t):
                        names.append(text_of(t))
                node = node.getparent()
            group: dict[str, tuple[str, str]] = {}
            for tr in body:
                cells = [text_of(c) for c in _cells(tr)]
                if len(cells) < 2:
                    continue
                dimse = cells[0].split(" - ")[0].strip().upper()
                usage = cells[1].replace(" ", "").split("/")
                if dimse not in dimse_names or len(usage) != 2:
                    continue
                scu, scp = (u[:1].upper() for u in usage)
                old = group.get(dimse)
                if old:
                    scu = scu if _USAGE_RANK.get(scu, 0) >= _USAGE_RANK.get(old[0], 0) else old[0]
                    scp = scp if _USAGE_RANK.get(scp, 0) >= _USAGE_RANK.get(old[1], 0) else old[1]
                group[dimse] = (scu, scp)
            for uid in uids_for(names):
                out.groups[uid] = group
                out.group_tables[uid] = table.get("label") or cap
    return out


# --- overlay on the catalog -----------------------------------------------------------------------

def apply_docbook(catalog: StandardCatalog, directory: Path,
                  progress: Callable[[str], None] | None = None) -> list[str]:
    """Overlay the DocBook parts found in `directory` on the catalog; return the parts found."""
    from .packages import assign_sop_class_facts, package_sources

    say = progress or (lambda _m: None)
    directory = Path(directory)
    found: list[str] = []
    part06_path, part03_path, part04_path = (directory / f"part0{n}.xml" for n in (6, 3, 4))
    if part06_path.exists():
        p6 = read_part06(part06_path)
        found.append(p6.edition)
        referenced = {t for (_m, t, _p) in catalog.contains}
        kept = {t: r for t, r in catalog.attributes.items() if t in referenced and t not in p6.attributes}
        catalog.attributes = {**p6.attributes, **kept}
        catalog.keyword_tags = {}
        for tag, row in catalog.attributes.items():
            if row.get("keyword"):
                catalog.keyword_tags.setdefault(row["keyword"], tag)
        sops = {u: r for u, r in p6.uids.items() if r["type"] in ("SOP Class", "Meta SOP Class")}
        old = catalog.sop_classes
        catalog.sop_classes = {}
        for uid, r in sops.items():
            prior = old.get(uid, {})
            catalog.sop_classes[uid] = {"uid": uid, "name": r["name"],
                                        "keyword": r["keyword"] or prior.get("keyword"),
                                        "retired": r["retired"], "source": p6.edition,
                                        "kind": "other" if r["type"] == "Meta SOP Class" else None}
        catalog.transfer_syntaxes = {u: {"uid": u, "name": r["name"], "retired": r["retired"],
                                         "source": p6.edition}
                                     for u, r in p6.uids.items() if r["type"] == "Transfer Syntax"}
        catalog.sources["attributes"] = catalog.sources["uids"] = p6.edition
        say(f"{p6.edition}: {len(p6.attributes):,} data elements, {len(sops)} SOP classes, "
            f"{len(catalog.transfer_syntaxes)} transfer syntaxes")
    if part03_path.exists():
        def keyword_of(tag: str) -> tuple[str | None, str | None]:
            row = catalog.attributes.get(tag)
            return (row.get("keyword"), row.get("vr")) if row else (None, None)

        p3 = read_part03(part03_path, keyword_of)
        found.append(p3.edition)
        for key, entry in p3.modules.items():
            if not entry["rows"]:
                continue
            catalog.add_module(key, entry["name"], p3.edition, entry["section"])
            catalog.modules[key].update({"name": entry["name"], "source": p3.edition})
            catalog.clear_module_contents(key)
            for path, tag, type_, cond in entry["rows"]:
                catalog.contains[(key, tag, path)] = {"type": type_, "condition": cond}
        for key, iod in p3.iods.items():
            catalog.clear_iod(key)
            catalog.iods[key] = {"key": key, "name": iod.name, "kind": iod.kind, "section": iod.section,
                                 "source": p3.edition}
            for row in iod.modules:
                catalog.add_module(row["module"], row["name"], p3.edition)
                catalog.include(key, row["module"], row["usage"], row["ie"], p3.edition, row["condition"])
        catalog.sources["iods"] = catalog.sources["modules"] = f"{p3.edition} (where it has tables)"
        say(f"{p3.edition}: {len(p3.iods)} IOD module tables, "
            f"{sum(1 for e in p3.modules.values() if e['rows'])} module attribute tables")
    keep = False
    if part04_path.exists():
        p4 = read_part04(part04_path, {u: r["name"] for u, r in catalog.sop_classes.items()},
                         catalog.dimse_services)
        found.append(p4.edition)
        by_section = {r["section"]: k for k, r in catalog.service_classes.items()}
        annex_key: dict[str, str] = {}
        for label, sc in p4.service_classes.items():
            key = by_section.get(sc["section"]) or curated.slugify(sc["name"])
            annex_key[label] = key
            catalog.service_classes[key] = {"key": key, "name": sc["name"], "section": sc["section"],
                                            "source": p4.edition}
        for uid, label in p4.sop_class_annex.items():
            if uid in catalog.sop_classes and label in annex_key:
                catalog.defines[uid] = annex_key[label]
        for uid, group in p4.groups.items():
            for k in [k for k in catalog.supports if k[0] == uid]:
                del catalog.supports[k]
            for dimse, (scu, scp) in group.items():
                catalog.supports[(uid, dimse)] = {"scu": scu, "scp": scp}
        catalog.sources["dimse"] = f"{p4.edition} DIMSE Service Group tables, else curated"
        catalog.sources["service_classes"] = f"{p4.edition}, else pynetdicom"
        keep = True
        say(f"{p4.edition}: {len(p4.service_classes)} service classes, {len(p4.sop_class_annex)} SOP class "
            f"UIDs placed, {len(p4.groups)} DIMSE service groups")
    if found:
        assign_sop_class_facts(catalog, package_sources(), keep_defines=keep, keep_supports=keep)
        catalog.prune()
    return found
