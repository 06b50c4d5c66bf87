"""What every part of NEMA's DocBook needs: parsing, clean text, table rows and cells, tags, ids.

NEMA's XML carries zero-width spaces and soft hyphens inside names and keywords; `clean` removes them
so that names compare with the packages' names.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree

DB = "{http://docbook.org/ns/docbook}"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
ZWSP = "\u200b"
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u00ad\u2060\ufeff\u200c\u200d"))  # NEMA's zero-width / soft hyphens
_TAG_RE = re.compile(r"\(?\s*([0-9A-Fa-fxX]{4})\s*,\s*([0-9A-Fa-fxX]{4})\s*\)?")


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


def table_rows(table: etree._Element) -> tuple[list[str], list[etree._Element]]:
    head = [text_of(th) for th in table.iter(f"{DB}th")]
    body = [tr for tbody in table.iter(f"{DB}tbody") for tr in tbody.iter(f"{DB}tr")]
    return head, body


def row_cells(tr: etree._Element) -> list[etree._Element]:
    return [c for c in tr if c.tag in (f"{DB}td", f"{DB}th")]


def tag_of(text: str) -> str | None:
    m = _TAG_RE.search(text)
    return f"{m.group(1)}{m.group(2)}".upper() if m else None


def column(head: list[str], *names: str) -> int | None:
    low = [h.lower() for h in head]
    for name in names:
        for i, h in enumerate(low):
            if h == name or h.startswith(name):
                return i
    return None


def by_id(root: etree._Element) -> dict[str, etree._Element]:
    out: dict[str, etree._Element] = {}
    for el in root.iter(f"{DB}table", f"{DB}section", f"{DB}chapter"):
        ident = el.get(XML_ID)
        if ident and ident not in out:
            out[ident] = el
    return out


def ancestor_label(el: etree._Element) -> str:
    node = el.getparent()
    while node is not None:
        if node.tag in (f"{DB}section", f"{DB}chapter") and node.get("label"):
            return node.get("label")
        node = node.getparent()
    return ""
