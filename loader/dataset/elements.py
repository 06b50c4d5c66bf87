"""Top-level elements -> typed Instance properties, in one pass that also feeds the hash and the pointers.

`read_elements(ds, digest, removes)` returns `Elements`, the hand-off to the rest of the extraction:
- props: every top-level element with a keyword and a short value (not a sequence, not bulk data), typed
  by its VR (`schema.keyword_type`); private tags and tags without a keyword are no properties;
- present: each top-level keyword the instance has -> whether its value is non-empty (what conformance
  checks, including attributes that are not stored);
- invalid / problems: a value that does not parse as its type is kept as text, "Keyword=raw text", and
  counted as a problem rather than stored wrongly or dropped unsaid;
- pointers: what the sequences point at (references.py), plus a Referenced SOP Instance UID at top level.
`removes(keyword)` says which attributes pseudonymization keeps out of the graph: they are still hashed
and still count as present, but are never stored, not even as invalid text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pydicom.charset import python_encoding
from pydicom.dataelem import RawDataElement

from dicom_graph.model import schema

from .content_hash import update_deferred, update_unnamed, update_value
from .convert import as_text, ascii_text, coerce, fast_value, is_empty, plain, typed
from .part10 import sequence_element
from .references import Pointers, walk_private, walk_sequence
from .tags import (FACTS, FIRST_CONTENT_TAG, REFERENCED_SOP_INSTANCE_UID, TEXT_VRS, dict_vr, in_tag_order, seq_name,
                   tag_facts)

MAX_VALUE_CHARS = 1024
# single-valued types a str converts to directly: the common case, spared the list and bytes handling
_LONG_TEXT_VRS = frozenset({"ST", "LT", "UT", "UC", "UR"})  # no maximum, or one above MAX_VALUE_CHARS
_SCALAR_TYPES = frozenset({schema.STRING, schema.INT64, schema.DOUBLE, schema.DATE})


@dataclass
class Elements:
    props: dict[str, Any] = field(default_factory=dict)
    present: dict[str, bool] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pointers: Pointers = field(default_factory=Pointers)

    def reject(self, kw: str, text: str, reason: str) -> None:
        self.invalid.append(f"{kw}={text[:MAX_VALUE_CHARS]}")
        self.problems.append(f"{kw}: {reason}")


def read_elements(ds: Any, digest: Any, removes: Callable[[str], bool]) -> Elements:
    reader = _Reader(ds, digest, removes)
    for tag, raw in in_tag_order(ds):
        if tag >= FIRST_CONTENT_TAG:
            reader.element(tag, raw)
    _check_character_set(reader.out)
    return reader.out


def _check_character_set(out: Elements) -> None:
    """A Specific Character Set pydicom does not know makes it decode every text value as ASCII with
    replacement: the names it stores may be wrong, so the instance says so."""
    terms = out.props.get("SpecificCharacterSet") or []
    unknown = [t for t in (terms if isinstance(terms, list) else [terms]) if t and t not in python_encoding]
    if unknown:
        out.problems.append(f"SpecificCharacterSet: unknown character set {', '.join(unknown)}: text values "
                            "decoded as ASCII")


class _Reader:
    """One dataset's walk; the state every element needs, so each step takes only the element."""

    def __init__(self, ds: Any, digest: Any, removes: Callable[[str], bool]) -> None:
        self.ds, self.digest, self.removes = ds, digest, removes
        self.out = Elements()

    def element(self, tag: int, raw: Any) -> None:
        kw, type_, tag_bytes, vr = FACTS.get(tag) or tag_facts(tag)
        is_raw = isinstance(raw, RawDataElement)
        if is_raw:
            if raw.VR is not None and raw.VR != "UN":  # implicit VR files (and UN) leave it to the dictionary
                vr = raw.VR
            elif vr is None:
                vr = raw.VR
        else:
            vr = raw.VR
        if vr == "SQ":
            elem = self.sequence(tag, kw)
            if elem is None:
                return
            raw, is_raw, vr = elem, False, elem.VR  # said to be a sequence, but pydicom read it as a value
        self.digest.update(tag_bytes)
        if is_raw and raw.value is None and raw.length:
            update_deferred(self.digest, raw.length)  # deferred bulk data: never read
            if kw:
                self.out.present[kw] = True
            return
        if kw is None:  # private or unknown: hashed, not a property, but maybe a sequence with pointers
            update_unnamed(self.digest, raw.value, vr)
            if is_raw and vr in (None, "UN"):
                walk_private(self.ds, tag, raw, "", self.out.pointers)
            return
        if is_raw and vr is not None and vr in TEXT_VRS:
            text = raw.value
            if type(text) is bytes and text and text.isascii():  # most elements: decode, hash, store inline
                self.digest.update(text)
                value = ascii_text(text, vr)
                if isinstance(value, str) and type_ is not None and type_ in _SCALAR_TYPES:
                    self.store_text(tag, kw, type_, value)
                else:
                    self.store(tag, kw, type_, value)
                return
        value, type_ = self.decode(tag, raw, is_raw, vr, kw, type_)
        update_value(self.digest, raw, is_raw, vr, value)
        if type(value) is str and type_ is not None and type_ in _SCALAR_TYPES:
            self.store_text(tag, kw, type_, value)
        else:
            self.store(tag, kw, type_, value)

    def sequence(self, tag: int, kw: str | None) -> Any:
        """Walk a sequence for its pointers; None when done, or the element if it is no sequence after all."""
        try:
            elem = sequence_element(self.ds, tag)
        except Exception as exc:
            self.out.problems.append(f"unreadable sequence {seq_name(tag)}: {type(exc).__name__}: {exc}")
            return None
        if elem.VR != "SQ":
            return elem
        self.digest.update(tag.to_bytes(4, "little"))
        if kw:
            self.out.present[kw] = bool(elem.value)
        walk_sequence(elem, seq_name(tag), self.digest, self.out.pointers)
        return None

    def decode(self, tag: int, raw: Any, is_raw: bool, vr: str | None, kw: str,
               type_: str | None) -> tuple[Any, str | None]:
        """(value, property type); a value pydicom cannot convert stays raw, with no type, and is reported
        when it would have been a property."""
        try:
            if not is_raw:
                return plain(raw.value), type_
            try:
                return fast_value(raw, vr), type_
            except LookupError:
                return plain(self.ds[tag].value), type_
        except Exception as exc:
            value = raw.value if is_raw else None
            if type_ is not None and value and not self.removes(kw):
                self.out.reject(kw, as_text(value), type(exc).__name__)
            return value, None

    def store_text(self, tag: int, kw: str, type_: str, value: str) -> None:
        """The common case, a single text value, without the general path's checks."""
        out = self.out
        out.present[kw] = bool(value)
        if tag == REFERENCED_SOP_INSTANCE_UID and value:
            out.pointers.instances.append(("", value))
        if not value or self.removes(kw) or (len(value) > MAX_VALUE_CHARS and self.too_long(tag, kw, value)):
            return
        try:
            out.props[kw] = value if type_ == schema.STRING else coerce(value, type_)
        except (ValueError, TypeError, OverflowError):
            out.reject(kw, value, f"not a valid {type_}")

    def too_long(self, tag: int, kw: str, text: str) -> bool:
        """A value too long to be a property is no property. Long free text (LT, UT, ...) is meant to be
        long and is left out quietly; any other such value (a 3,000-character Patient ID) is far past its
        VR's limit, so it is not dropped unsaid: its start is kept among the invalid values."""
        if len(text) <= MAX_VALUE_CHARS:
            return False
        if dict_vr(tag) not in _LONG_TEXT_VRS:
            self.out.reject(kw, text, f"value of {len(text):,} characters, longer than {MAX_VALUE_CHARS:,}")
        return True

    def store(self, tag: int, kw: str, type_: str | None, value: Any) -> None:
        out = self.out
        empty = is_empty(value)
        out.present[kw] = not empty
        if tag == REFERENCED_SOP_INSTANCE_UID and not empty:  # a pointer at top level too
            out.pointers.instances.extend(("", u) for u in (value if isinstance(value, list) else [value]) if u)
        if type_ is None or empty or self.removes(kw):
            return
        if isinstance(value, (str, list)) and self.too_long(tag, kw, as_text(value)):
            return
        try:
            result = typed(value, type_)
        except (ValueError, TypeError, OverflowError):
            out.reject(kw, as_text(value), f"not a valid {type_}")
            return
        if result is not None and result != []:
            out.props[kw] = result
