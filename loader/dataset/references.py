"""Pointers inside a dataset: every sequence item at any depth, walked once.

`walk_nested(ds, digest)` visits the sequences of a dataset and returns its pointers:
- every Referenced SOP Instance UID (0008,1155) found in a sequence item, at any depth, as
  (via, uid), where `via` is the keyword path of the enclosing sequences
  (e.g. `PerformedSeriesSequence>ReferencedImageSequence`);
- every Study Instance UID (0020,000D) and Series Instance UID (0020,000E) found in a sequence item,
  as (via, uid) pairs of their own.

While walking it feeds the content digest (see extract.content_hash) with every nested element, so a
dataset is only traversed once. Nested text values are hashed as their raw bytes (identical in every
transfer syntax); nested binary values are decoded first (their bytes depend on the byte order).
Elements whose value was deferred (bulk data inside a sequence) are hashed by length, never read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import RawDataElement

REFERENCED_SOP_INSTANCE_UID = 0x00081155
STUDY_INSTANCE_UID = 0x0020000D
SERIES_INSTANCE_UID = 0x0020000E
POINTER_TAGS = (REFERENCED_SOP_INSTANCE_UID, STUDY_INSTANCE_UID, SERIES_INSTANCE_UID)

# VRs whose encoded bytes do not depend on the transfer syntax
TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM",
                      "UC", "UI", "UR", "UT"})

_VR_CACHE: dict[int, str | None] = {}
_NAME_CACHE: dict[int, str] = {}


def dict_vr(tag: int) -> str | None:
    """The data dictionary's VR for a tag (None for private / unknown tags), cached."""
    try:
        return _VR_CACHE[tag]
    except KeyError:
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            vr = None
        _VR_CACHE[tag] = vr
        return vr


def seq_name(tag: int) -> str:
    """A sequence's keyword, or its tag as GGGGEEEE when it has none (private sequences)."""
    try:
        return _NAME_CACHE[tag]
    except KeyError:
        name = keyword_for_tag(tag) or f"{tag:08X}"
        _NAME_CACHE[tag] = name
        return name


@dataclass
class Pointers:
    instances: list[tuple[str, str]] = field(default_factory=list)  # (via, SOP Instance UID)
    studies: list[tuple[str, str]] = field(default_factory=list)
    series: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def element_vr(raw: Any) -> str | None:
    vr = raw.VR
    if vr is None or vr == "UN":
        vr = dict_vr(int(raw.tag)) or vr
    return vr


def _uids(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("ascii", "replace").strip("\x00 ")
        value = value.split("\\") if value else []
    if isinstance(value, str):
        value = [value]
    return [str(v).strip("\x00 ") for v in value if v and str(v).strip("\x00 ")]


_BINARY_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "SV": "q", "UV": "Q"}


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


def _binary_text(raw: Any, vr: str | None) -> str | None:
    """str() of the value pydicom would convert a binary number element to (an int or float, or a
    MultiValue printed like a list); None where pydicom must do it."""
    value = unpack_binary(raw, vr)
    return None if value is None else str(value)


def by_tag(pair: tuple[int, Any]) -> int:
    """Sort key for (tag, element) pairs: plain int tags, not pydicom's slower BaseTag comparisons."""
    return pair[0]


def walk_sequence(elem: Any, via: str, digest: Any, out: Pointers, depth: int = 0) -> None:
    """Walk the items of one sequence element (already a DataElement with VR SQ)."""
    if depth > 64:
        out.problems.append(f"sequence nesting deeper than 64 at {via}")
        return
    for item in elem.value or ():
        digest.update(b"\xfe\xff\x00\xe0")  # item start
        walk_item(item, via, digest, out, depth)


def walk_item(item: Any, via: str, digest: Any, out: Pointers, depth: int) -> None:
    raw_dict = item._dict
    for tag, raw in sorted(zip(map(int, raw_dict), raw_dict.values()), key=by_tag):  # plain int tags
        is_raw = isinstance(raw, RawDataElement)
        vr = element_vr(raw) if is_raw else raw.VR
        tag_bytes = tag.to_bytes(4, "little")
        if vr == "SQ":
            try:
                elem = item[tag]
            except Exception as exc:  # a sequence pydicom cannot parse: keep going, say so
                out.problems.append(f"unreadable sequence {seq_name(tag)} under {via}: "
                                    f"{type(exc).__name__}")
                continue
            if elem.VR == "SQ":
                digest.update(tag_bytes)
                walk_sequence(elem, f"{via}>{seq_name(tag)}" if via else seq_name(tag), digest, out,
                              depth + 1)
                continue
        if tag in POINTER_TAGS:
            if is_raw and isinstance(raw.value, bytes) and raw.value.isascii():
                values = _uids(raw.value)  # what pydicom's UI conversion gives, without a DataElement
            else:
                try:
                    values = _uids(item[tag].value)
                except Exception:
                    values = _uids(raw.value if is_raw else None)
            target = (out.instances if tag == REFERENCED_SOP_INSTANCE_UID
                      else out.studies if tag == STUDY_INSTANCE_UID else out.series)
            for uid in values:
                target.append((via, uid))
        digest.update(tag_bytes)
        if is_raw:
            if raw.value is None:
                digest.update(b"#%d" % (raw.length or 0))
            elif vr in TEXT_VRS or vr is None:
                digest.update(raw.value)
            else:
                text = _binary_text(raw, vr)
                if text is None:
                    try:
                        text = str(item[tag].value)
                    except Exception:
                        digest.update(raw.value)
                        continue
                digest.update(text.encode("utf-8", "replace"))
        else:
            value = raw.value
            if isinstance(value, (bytes, bytearray)):
                digest.update(b"#%d" % len(value))
            else:
                digest.update(str(value).encode("utf-8", "replace"))
