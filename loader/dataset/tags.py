"""Per-tag facts from pydicom's public data dictionary, cached once per process, and element order.

Every element of every instance asks for its keyword, property type and VR; the dictionary lookups behind
them are slow enough to show in an extraction profile, and their answers never change, hence the caches.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from operator import itemgetter
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag

from dicom_graph.model import schema

REFERENCED_SOP_INSTANCE_UID = 0x00081155
STUDY_INSTANCE_UID = 0x0020000D
SERIES_INSTANCE_UID = 0x0020000E
FIRST_CONTENT_TAG = 0x00030000  # 0000 (command) and 0002 (file meta) are not content; 0004 (DICOMDIR) is

# VRs whose encoded bytes do not depend on the transfer syntax
TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM",
                      "UC", "UI", "UR", "UT"})

_BINARY_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "SV": "q", "UV": "Q"}
# VRs whose bytes are numbers (tags for AT): no padding and no separators, so any byte is a value
BINARY_VRS = frozenset({*_BINARY_FORMATS, "AT"})


@lru_cache(maxsize=None)
def tag_info(tag: int) -> tuple[str | None, str | None]:
    """(keyword, property type) of a public tag; (None, None) for private / unknown tags."""
    if tag >> 16 & 1:
        return None, None
    kw = keyword_for_tag(tag) or None
    return kw, schema.keyword_type(kw) if kw else None


@lru_cache(maxsize=None)
def dict_vr(tag: int) -> str | None:
    """The data dictionary's VR for a tag (None for private / unknown tags)."""
    try:
        return dictionary_VR(tag)
    except KeyError:
        return None


@lru_cache(maxsize=None)
def seq_name(tag: int) -> str:
    """A sequence's keyword, or its tag as GGGGEEEE when it has none (private sequences)."""
    return keyword_for_tag(tag) or f"{tag:08X}"


# tag -> (keyword, property type, the tag as the hash takes it, dictionary VR): every element of every
# instance needs all four, and one dict lookup (`FACTS.get(tag) or tag_facts(tag)`) costs less than the
# three cached calls and the to_bytes it replaces
FACTS: dict[int, tuple[str | None, str | None, bytes, str | None]] = {}


def tag_facts(tag: int) -> tuple[str | None, str | None, bytes, str | None]:
    facts = FACTS[tag] = (*tag_info(tag), tag.to_bytes(4, "little"), dict_vr(tag))
    return facts


def element_vr(raw: Any) -> str | None:
    """A raw element's VR; implicit VR files (and UN) leave it to the dictionary."""
    vr = raw.VR
    if vr is None or vr == "UN":
        vr = dict_vr(int(raw.tag)) or vr
    return vr


def in_tag_order(ds: Any) -> list[tuple[int, Any]]:
    """(tag, element) pairs of a dataset in tag order, elements as stored (raw until something reads them).

    Tags are plain ints, not pydicom's BaseTag: its comparisons are Python-level and cost ~15 % of an
    extraction.
    """
    return sorted(zip(map(int, ds.keys()), ds.values(), strict=True), key=itemgetter(0))


def unpack_binary(raw: Any, vr: str | None) -> Any:
    """A binary number element's value (one number, or a list) decoded with struct, as pydicom would give
    it; None when the VR is not a plain binary number or the length does not fit it."""
    fmt = _BINARY_FORMATS.get(vr)  # type: ignore[arg-type]
    value = raw.value
    if fmt is None or not value:
        return None
    size = struct.calcsize(fmt)
    n = len(value) // size
    if n * size != len(value):
        return None
    values = struct.unpack(("<" if raw.is_little_endian else ">") + fmt * n, value)
    return values[0] if n == 1 else list(values)
