"""Curated tables written by us: small, reviewed CSV files under data/, every row citing PS3.x.

- dimse_services.csv: the 11 DIMSE services, their group (DIMSE-C / DIMSE-N) and kind (PS3.7)
- service_classes.csv: the service classes of PS3.4 (annex), with pynetdicom's implementing class
- normalized_iods.csv: the normalized IODs of PS3.3 Annex B with their modules
- sop_classes.csv: SOP class facts the packages lack (normalized SOP classes' IOD and service class,
  SOP classes pynetdicom does not implement, SOP classes that use no DIMSE service at all)
- dimse_groups.csv: each normalized SOP class's DIMSE Service Group with SCU/SCP usage (PS3.4 tables)
- meta_sop_classes.csv: the SOP classes a Meta SOP class comprises (its group is their union)
- dimse_rules.csv: the rules giving composite / query / retrieve SOP classes their DIMSE group
- names.csv: the standard's display names where slug-to-name rules fall short
- ie_overrides.csv: Information Entities where highdicom's table gives another (Basic Directory)
- macro_sequences.csv: a functional group macro's one Sequence where the name rule falls short
- macro_placement.csv: macros that may go only in the Shared or only in the Per-frame item
- macro_conditions.csv: a macro's usage condition in an IOD where the vendored 2024e text predates the
  SOP classes that use it (the Segmentation macro and Label Map Segmentation, Sup 243)
- attribute_conditions.csv: 1C/2C conditions where the vendored 2008 text falls short (`paths`: where, as
  patterns; '' is the top level): SR content-item
  attributes of newer macros (SCOORD3D, TABLE), 1C on the Value Type that includes them, and texts a
  later edition changed (Patient Position); `parse_as` restates a text in the parser's grammar
- attribute_type_overrides.csv: a module whose Type for an attribute overrides the other modules' of
  the IOD (SC Equipment's Modality, Type 3, over General Series' Type 1)
"""

from __future__ import annotations

import csv
import gzip
import re
from functools import lru_cache
from importlib import resources

DATA_PACKAGE = "dicom_graph.loader.standard.data"


@lru_cache(maxsize=None)
def table(name: str) -> tuple[dict[str, str], ...]:
    text = (resources.files(DATA_PACKAGE) / name).read_text(encoding="utf-8")
    rows = tuple({k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(text.splitlines()))
    for row in rows:
        if not row.get("cites"):
            raise ValueError(f"{name}: row without a citation: {row}")
    return rows


@lru_cache(maxsize=None)
def vendored(name: str) -> tuple[dict[str, str], ...]:
    """A vendored table (data/*-PROVENANCE.md), gzipped where it is large: no `cites` column, since its
    provenance file covers every row."""
    raw = (resources.files(DATA_PACKAGE) / name).read_bytes()
    text = (gzip.decompress(raw) if name.endswith(".gz") else raw).decode("utf-8")
    return tuple(dict(r) for r in csv.DictReader(text.splitlines()))


TABLES = ("dimse_services.csv", "service_classes.csv", "normalized_iods.csv", "sop_classes.csv",
          "dimse_groups.csv", "meta_sop_classes.csv", "dimse_rules.csv", "names.csv", "ie_overrides.csv",
          "macro_sequences.csv", "macro_placement.csv", "macro_conditions.csv", "attribute_conditions.csv",
          "attribute_type_overrides.csv")


def dimse_rules() -> list[tuple[re.Pattern, str, str, str]]:
    rows = sorted(table("dimse_rules.csv"), key=lambda r: int(r["order"]))
    return [(re.compile(r["pattern"]), r["dimse"], r["scu"], r["scp"]) for r in rows]


# --- display names from slugs ---------------------------------------------------------------------

_UPPER = {"ct", "mr", "sr", "rt", "pet", "xa", "xrf", "ecg", "vl", "cad", "cda", "pdf", "stl", "obj", "mtl",
          "lut", "voi", "sop", "ups", "us", "dx", "nm", "cr", "oct", "ivus", "dvh", "roi", "uv", "sc", "mpr",
          "icc", "qa", "hl7", "3d", "2d", "4d", "id", "ie"}
_SMALL = {"and", "of", "for", "in", "with", "to", "without", "the", "or", "on", "a", "by"}
_PAIRS = {("x", "ray"): "X-Ray", ("multi", "frame"): "Multi-frame", ("b", "scan"): "B-scan",
          ("xa", "xrf"): "XA/XRF", ("nm", "pet"): "NM/PET", ("contrast", "bolus"): "Contrast/Bolus",
          ("16", "bit"): "16-bit", ("32", "bit"): "32-bit", ("8", "bit"): "8-bit", ("en", "face"): "En Face",
          ("non", "patient"): "Non-Patient", ("real", "time"): "Real-Time"}


def slug_name(slug: str) -> str:
    """`general-series` -> `General Series`, `ct-image` -> `CT Image`, `x-ray-3d-image` -> `X-Ray 3D Image`."""
    tokens, out, i = slug.split("-"), [], 0
    while i < len(tokens):
        if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) in _PAIRS:
            out.append(_PAIRS[(tokens[i], tokens[i + 1])])
            i += 2
            continue
        word = tokens[i]
        if word in _UPPER:
            out.append(word.upper())
        elif word in _SMALL and out:
            out.append(word)
        elif word:
            out.append(word[:1].upper() + word[1:])
        i += 1
    return " ".join(out)


@lru_cache(maxsize=None)
def _name_overrides() -> dict[tuple[str, str], str]:
    return {(r["label"], r["key"]): r["name"] for r in table("names.csv")}


def display_name(label: str, slug: str) -> str:
    return _name_overrides().get((label, slug)) or slug_name(slug)


def slugify(name: str) -> str:
    """`General Series` -> `general-series`; `Contrast/Bolus` -> `contrast-bolus` (highdicom's slugs)."""
    text = " ".join(name.replace("\u200b", "").split()).lower()
    text = re.sub(r"[^a-z0-9]", "-", text)  # per character, like highdicom: "Image - Equipment" -> "image---equipment"
    return text.strip("-")
