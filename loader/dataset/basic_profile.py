"""The attributes `--pseudonymize` keeps out of the graph: PS3.15 Table E.1-1, as far as we apply it.

They live in a cited data file (loader/standard/data/ps3.15-basic-profile.csv, beside the other curated
tables) rather than in code, so each row can be checked against the standard, and a later issue can bring
the whole table without touching the code. A row is: keyword, tag (GGGGEEEE), the Basic Profile's action
code for it (X, Z, D or the table's combinations such as X/Z/D), citation.

Today every row is applied the same way, whatever its code: the attribute is not stored. For X that is the
profile's action; for Z and D (an empty or dummy value in a de-identified dataset) an absent property says
no more than an empty one would. Patient ID and Patient Name are not rows: they get a keyed pseudonym
instead (pseudonymize.py). UIDs are not rows either: they are kept so that pointers still resolve.

The file is checked when it is read: a keyword that does not match its tag in pydicom's data dictionary,
an unknown action code or a missing citation stops the import, so a typo cannot quietly keep an
identifier in the graph.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pydicom.datadict import keyword_for_tag

DATA_PACKAGE = "dicom_graph.loader.standard.data"
FILE_NAME = "ps3.15-basic-profile.csv"
_ACTION = re.compile(r"[XZD](/[XZD])*")


@dataclass(frozen=True)
class ProfileRow:
    keyword: str
    tag: str  # GGGGEEEE, upper case, as Attribute.tag
    action: str
    cites: str


def _checked(line: int, row: dict[str, str]) -> ProfileRow:
    entry = ProfileRow(*(row.get(k, "").strip() for k in ("keyword", "tag", "action", "cites")))
    where = f"{FILE_NAME} line {line}"
    if not re.fullmatch("[0-9A-F]{8}", entry.tag) or keyword_for_tag(int(entry.tag, 16)) != entry.keyword:
        raise ValueError(f"{where}: {entry.keyword!r} is not the keyword of tag {entry.tag!r}")
    if not _ACTION.fullmatch(entry.action):
        raise ValueError(f"{where}: unknown Basic Profile action {entry.action!r}")
    if not entry.cites:
        raise ValueError(f"{where}: row without a citation")
    return entry


@lru_cache(maxsize=None)
def rows() -> tuple[ProfileRow, ...]:
    text = (resources.files(DATA_PACKAGE) / FILE_NAME).read_text(encoding="utf-8")
    return tuple(_checked(line, row) for line, row in enumerate(csv.DictReader(text.splitlines()), start=2))


def removed_keywords() -> frozenset[str]:
    return frozenset(row.keyword for row in rows())
