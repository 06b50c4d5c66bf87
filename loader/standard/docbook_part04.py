"""PS3.4 in DocBook: the service classes (annexes), the SOP class UID tables in each, and the DIMSE
Service Group tables (the SOP class taken from the enclosing section or the table's caption).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .docbook_xml import DB, ancestor_label, edition, parse, row_cells, table_rows, text_of

_USAGE_RANK = {"M": 2, "U": 1}


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
        head, body = table_rows(table)
        low = [h.lower() for h in head]
        chapter_label = ancestor_label(table).split(".")[0]
        # SOP class UID lists
        c_uid = next((i for i, h in enumerate(low) if "sop class uid" in h), None)
        if c_uid is not None and chapter_label in out.service_classes:
            for tr in body:
                cells = [text_of(c) for c in row_cells(tr)]
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
                cells = [text_of(c) for c in row_cells(tr)]
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


