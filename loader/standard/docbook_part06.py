"""PS3.6 in DocBook: the data dictionary (tables 6-1, 7-1, 8-1, with or without the Keyword column)
and the UID registry (A-1): what becomes Attribute, SOPClass and TransferSyntax rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .docbook_xml import by_id, column, edition, parse, row_cells, table_rows, tag_of, text_of

@dataclass
class Part06:
    edition: str
    attributes: dict[str, dict] = field(default_factory=dict)
    uids: dict[str, dict] = field(default_factory=dict)  # uid -> {name, type, keyword, retired}


def read_part06(path: Path) -> Part06:
    root = parse(str(path))
    out = Part06(edition(root, "DICOM PS3.6"))
    ids = by_id(root)
    for table_id in ("table_6-1", "table_7-1", "table_8-1"):
        table = ids.get(table_id)
        if table is None:
            continue
        head, body = table_rows(table)
        c_tag, c_name, c_kw = column(head, "tag"), column(head, "name"), column(head, "keyword")
        c_vr, c_vm = column(head, "vr"), column(head, "vm")
        for tr in body:
            cells = [text_of(c) for c in row_cells(tr)]
            if c_tag is None or len(cells) <= max(c for c in (c_tag, c_vr, c_vm) if c is not None):
                continue
            tag = tag_of(cells[c_tag])
            if tag is None:
                continue
            keyword = cells[c_kw].replace(" ", "") if c_kw is not None else ""
            note = " ".join(cells[max(c_vm or 0, c_kw or 0) + 1:]) if len(cells) > (c_vm or 0) + 1 else ""
            out.attributes[tag] = {
                "tag": tag, "keyword": keyword or None, "name": cells[c_name] if c_name is not None else "",
                "vr": (cells[c_vr] or None) if c_vr is not None else None,
                "vm": (cells[c_vm] or None) if c_vm is not None else None, "retired": "RET" in note.upper(),
                "source": out.edition}
    table = ids.get("table_A-1")
    if table is not None:
        head, body = table_rows(table)
        c_uid, c_name = column(head, "uid value", "uid"), column(head, "uid name", "name")
        c_kw, c_type = column(head, "uid keyword", "keyword"), column(head, "uid type", "type")
        for tr in body:
            cells = [text_of(c) for c in row_cells(tr)]
            if c_uid is None or c_name is None or c_type is None or len(cells) <= c_type:
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
