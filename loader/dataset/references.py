"""Pointers: what an instance refers to, from every sequence item at any depth, and the edges they become.

`walk_sequence(elem, via, digest, pointers)` visits the items of one sequence (and the sequences in them)
and collects into `Pointers`:
- every Referenced SOP Instance UID (0008,1155), as (via, uid), where `via` is the keyword path of the
  enclosing sequences (e.g. `PerformedSeriesSequence>ReferencedImageSequence`);
- every Study Instance UID (0020,000D) and Series Instance UID (0020,000E), as (via, uid) pairs of their own.
While walking it feeds the content hash with every nested element (content_hash.update_nested), so a
dataset is only traversed once. A sequence pydicom cannot parse, or nesting deeper than 64, is a problem
noted in `Pointers.problems`, never a failure: the rest of the dataset is still read.

Private sequences are walked too. In an implicit VR file (or as UN) a private sequence such as Philips
(2001,9000) arrives with no VR: the public dictionary does not know its tag, so it looked like an opaque
value and its pointers were lost, although pydicom reads it through its private dictionary (the block's
Private Creator). `walk_private` enters any such value that starts with an item tag and that pydicom
reads as a sequence; its bytes are still hashed as they were (content hashes of graphs already built
stay valid), the walk only collects pointers.

`add_references(batch, instance_uid, pointers)` turns them into REFERENCES edges (DESIGN.md: a pointer to
something not ingested yet points at a stub).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydicom.dataelem import RawDataElement

from dicom_graph.model.batch import GraphBatch

from .content_hash import ITEM_START, update_nested
from .part10 import sequence_element
from .tags import (REFERENCED_SOP_INSTANCE_UID, SERIES_INSTANCE_UID, STUDY_INSTANCE_UID, element_vr, in_tag_order,
                   seq_name)

MAX_DEPTH = 64
_ITEM_TAGS = (ITEM_START, b"\xff\xfe\xe0\x00")  # (FFFE,E000) little and big endian


class _NoDigest:
    """The digest of a walk that only collects pointers (the element was hashed as a whole)."""

    def update(self, data: bytes) -> None:
        return None


@dataclass
class Pointers:
    instances: list[tuple[str, str]] = field(default_factory=list)  # (via, SOP Instance UID)
    studies: list[tuple[str, str]] = field(default_factory=list)
    series: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def targets(self, tag: int) -> list[tuple[str, str]] | None:
        """Where a pointer element's values go; None for an element that is no pointer."""
        if tag == REFERENCED_SOP_INSTANCE_UID:
            return self.instances
        if tag == STUDY_INSTANCE_UID:
            return self.studies
        if tag == SERIES_INSTANCE_UID:
            return self.series
        return None


def _uids(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("ascii", "replace").strip("\x00 ")
        value = value.split("\\") if value else []
    if isinstance(value, str):
        value = [value]
    return [str(v).strip("\x00 ") for v in value if v and str(v).strip("\x00 ")]


def _pointer_uids(item: Any, tag: int, raw: Any, is_raw: bool) -> list[str]:
    if is_raw and isinstance(raw.value, bytes) and raw.value.isascii():
        return _uids(raw.value)  # what pydicom's UI conversion gives, without a DataElement
    try:
        return _uids(item[tag].value)
    except Exception:
        return _uids(raw.value if is_raw else None)


def walk_sequence(elem: Any, via: str, digest: Any, out: Pointers, depth: int = 0) -> None:
    """Walk the items of one sequence element (already a DataElement with VR SQ)."""
    if depth > MAX_DEPTH:
        out.problems.append(f"sequence nesting deeper than {MAX_DEPTH} at {via}")
        return
    for item in elem.value or ():
        digest.update(ITEM_START)
        walk_item(item, via, digest, out, depth)


def walk_item(item: Any, via: str, digest: Any, out: Pointers, depth: int) -> None:
    for tag, raw in in_tag_order(item):
        is_raw = isinstance(raw, RawDataElement)
        vr = element_vr(raw) if is_raw else raw.VR
        if vr == "SQ":
            try:
                elem = sequence_element(item, tag)
            except Exception as exc:  # a sequence pydicom cannot parse: keep going, say so
                out.problems.append(f"unreadable sequence {seq_name(tag)} under {via}: "
                                    f"{type(exc).__name__}")
                continue
            if elem.VR == "SQ":
                digest.update(tag.to_bytes(4, "little"))
                walk_sequence(elem, f"{via}>{seq_name(tag)}" if via else seq_name(tag), digest, out,
                              depth + 1)
                continue
        targets = out.targets(tag)
        if targets is not None:
            targets.extend((via, uid) for uid in _pointer_uids(item, tag, raw, is_raw))
        digest.update(tag.to_bytes(4, "little"))
        update_nested(digest, item, tag, raw, is_raw, vr)
        if targets is None and vr in (None, "UN"):
            walk_private(item, tag, raw, via, out, depth + 1)


def walk_private(container: Any, tag: int, raw: Any, via: str, out: Pointers, depth: int = 0) -> None:
    """Collect the pointers of a value without a known VR that is a sequence after all (module doc)."""
    value = getattr(raw, "value", None)
    if not isinstance(value, bytes) or value[:4] not in _ITEM_TAGS:
        return
    try:
        elem = container[tag]  # pydicom resolves the VR through its private dictionary
    except Exception:
        return  # hashed as a value already: nothing is lost that was kept before
    if elem.VR == "SQ":
        walk_sequence(elem, f"{via}>{seq_name(tag)}" if via else seq_name(tag), _NoDigest(), out, depth)


def add_references(batch: GraphBatch, instance_uid: str, pointers: Pointers) -> int:
    """Add the instance's REFERENCES edges; returns how many distinct edges it has."""
    for label, found in (("Instance", pointers.instances), ("Series", pointers.series),
                         ("Study", pointers.studies)):
        for via, target in found:
            batch.add_rel("REFERENCES", "Instance", instance_uid, label, target, {"via": via})
    return sum(len(rows) for group, rows in batch.rels.items() if group[0] == "REFERENCES")
