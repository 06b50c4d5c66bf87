"""A Part 10 file's headers read from memory: pydicom's own objects, without pydicom's reader.

pydicom's reader asks its file object for every element header and value, a few hundred Python calls
per file, and that parse was the largest single cost of extraction (~1.1 bare parses of the ~2.2 a
worker spent per file). The headers of most files are already in memory (integrity.Tracked holds a
file's first 64 KB), so `read` walks those bytes by offset and builds the very objects that
`pydicom.dcmread(fh, stop_before_pixels=True, defer_size=...)` builds: a FileDataset of RawDataElements,
Sequences of Datasets where pydicom parses them (undefined lengths; a defined-length sequence stays raw
bytes, as pydicom leaves it), the same tells, flags and character sets, and `fh` left where pydicom
leaves it (before Pixel Data, or at the end). Everything after the parse is unchanged, and so is the
graph.

It follows only the common case and declines (None) everything else, which pydicom then reads as before:
no 'DICM' prefix, no or an implicit-VR file meta, a command set, big endian, deflated or private
transfer syntaxes, a dataset whose VRs contradict its transfer syntax, an unknown VR, an undefined length
on anything but a sequence, and anything (header, value, look-ahead) not wholly in memory. A cut file is
therefore always pydicom's, whose short reads integrity.py turns into the damage report.
`sequence_element` does the same for the sequences pydicom's reader leaves raw and converts on access.
tests/test_part10.py compares both with pydicom, object for object, on every file the suite has.
"""

from __future__ import annotations

import io
import struct
from typing import Any, Callable

from pydicom import config
from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element, empty_value_for_VR
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.hooks import hooks, raw_element_value, raw_element_vr
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian,
                         PrivateTransferSyntaxes)
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, VR
from pydicom.values import convert_string

_EXPLICIT = struct.Struct("<HH2sH").unpack_from
_IMPLICIT = struct.Struct("<HHL").unpack_from
_LENGTH32 = struct.Struct("<L").unpack_from
_VRS = {vr.encode(default_encoding): vr.value for vr in VR}
_LONG = frozenset(EXPLICIT_VR_LENGTH_32)
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})  # pydicom's stop_before_pixels
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_CHARSET = 0x00080005
_CHARSET_TAG = BaseTag(_CHARSET)
_TAGS: dict[int, BaseTag] = {}  # one BaseTag per tag seen: keys are immutable ints, so they can be shared
_MAX_CACHED = 1 << 16  # private tags vary without end in a hostile archive: a long-running listener's cap
_raw = tuple.__new__  # RawDataElement(...) without the NamedTuple's keyword-handling __new__
_TEMPLATES: dict[tuple[Any, ...], dict[str, Any]] = {}
_DEFAULT_CONFIG = {"assume_implicit_vr_switch": True, "replace_un_with_known_vr": True}


class _Decline(Exception):
    """Not the case mirrored here: pydicom reads the file."""


def read(fh: Any, defer_size: int) -> FileDataset | None:
    """What dcmread(fh, stop_before_pixels=True, defer_size=defer_size) returns, or None when this file
    is not the common case (then nothing is changed: fh is where it was). `fh` is a BytesIO: the
    ingest's integrity.Tracked, whose `whole` says whether its memory holds all of the file, or a plain
    one, all of which is (a received C-STORE dataset); any other file object is pydicom's."""
    if not isinstance(fh, io.BytesIO) or any(getattr(config, name) != value for name, value in _DEFAULT_CONFIG.items()):
        return None  # a caller changed how pydicom reads: only pydicom knows
    buf = fh.getvalue()
    if len(buf) < 144 or buf[128:132] != b"DICM":
        return None
    try:
        return _Walk(buf, getattr(fh, "whole", True), defer_size).file(fh)
    except _Decline:
        return None


def sequence_element(container: Dataset, tag: int) -> DataElement:
    """container[tag] for an element that may be a sequence. pydicom's reader leaves a defined-length
    sequence (as dcmtk writes them, and so every C-STORE storescu sends) as raw bytes, which `container[tag]`
    parses with the reader this module replaces; here those bytes are walked as `read` walks a file and
    the element stored exactly as that conversion stores it (then `container[tag]` returns it). An
    empty one, which pydicom makes without reading, is pydicom's."""
    raw = container._dict.get(tag)  # type: ignore[call-overload]
    if (isinstance(raw, RawDataElement) and raw.VR == "SQ" and isinstance(raw.value, bytes) and raw.value
            and raw.is_little_endian is True and _default_conversion()):
        encodings = (container.original_character_set or container._character_set) or [default_encoding]
        encodings = [encodings] if isinstance(encodings, str) else encodings
        try:
            seq, _ = _Walk(raw.value, True, None).sequence(0, raw.is_implicit_VR, encodings, len(raw.value),
                                                           offset=raw.value_tell)
        except _Decline:
            seq = None
        if seq is not None:  # convert_raw_data_element's DataElement, set as Dataset.__getitem__ sets it
            container[raw.tag] = DataElement(raw.tag, raw.VR, seq, raw.value_tell, raw.length == _UNDEFINED,
                                             already_converted=True)
    return container[tag]


def _default_conversion() -> bool:
    """Whether pydicom converts raw elements its own way (no callback or hook a caller registered)."""
    return (config.data_element_callback is None and not hooks.raw_element_kwargs
            and hooks.raw_element_vr is raw_element_vr and hooks.raw_element_value is raw_element_value)


class _Walk:
    """One file's bytes and where the walk stopped; each method mirrors the pydicom function it names."""

    def __init__(self, buf: bytes, whole: bool, defer_size: int | None) -> None:
        self.buf, self.end, self.whole, self.defer_size = buf, len(buf), whole, defer_size

    def need(self, pos: int, count: int) -> None:
        if pos + count > self.end:
            raise _Decline

    def file(self, fh: Any) -> FileDataset:
        """read_partial: preamble, file meta, the dataset up to Pixel Data."""
        meta, pos = self.dataset(132, False, None, default_encoding, stop=_not_file_meta, defer_size=None)
        file_meta = FileMetaDataset(meta)
        file_meta.set_original_encoding(is_implicit_vr=False, is_little_endian=True,
                                        character_encoding=default_encoding)
        if file_meta._dict:
            try:
                file_meta[next(iter(file_meta._dict))]
            except NotImplementedError:
                raise _Decline from None  # pydicom rereads it as implicit VR
        self.need(pos, 8)  # the dataset's first element (an empty dataset is pydicom's)
        if _IMPLICIT(self.buf, pos)[0] == 0:
            raise _Decline  # a command set in a file
        implicit = _implicit_for(file_meta.get("TransferSyntaxUID"))
        dataset, stopped = self.dataset(pos, implicit, None, default_encoding, stop=_PIXEL_TAGS.__contains__,
                                        defer_size=self.defer_size)
        ds = FileDataset(fh, dataset, self.buf[:128], file_meta, implicit, True)
        ds.set_original_encoding(implicit, True, dataset._character_set)
        fh.seek(stopped)
        return ds

    def dataset(self, pos: int, implicit: bool, length: int | None, parent_encoding: Any, *,
                stop: Callable[[int], bool] | None = None, defer_size: int | None = None) -> tuple[Dataset, int]:
        """read_dataset + data_element_generator: up to `length` bytes, an item delimiter, or (stop given:
        a top-level dataset) the element `stop` names or the end of the file. Only the top-level dataset
        defers values (pydicom reads file meta and sequence items without a defer size). The header
        reads are inlined: this loop runs for every element of the archive."""
        implicit = self.implicit_vr(pos, implicit, top=stop is not None)
        buf, end, start, encoding = self.buf, self.end, pos, parent_encoding
        limit = _UNDEFINED if defer_size is None else defer_size
        elements: dict[BaseTag, Any] = {}
        while length is None or pos - start < length:
            if pos + 8 > end:
                if stop is None or pos != end or not self.whole:
                    raise _Decline  # cut, or the headers go on past memory
                break
            at = pos
            if implicit:
                group, element, size = _IMPLICIT(buf, pos)
                vr, pos = None, pos + 8
            else:
                group, element, raw_vr, size = _EXPLICIT(buf, pos)
                vr = _VRS.get(raw_vr)
                if vr is None:
                    if (group, element) == (0xFFFE, 0xE00D) and not (b"AA" <= raw_vr <= b"ZZ"):
                        pos += 8
                        break  # the item delimiter, which pydicom reads as an implicit element
                    if stop is not None and stop(group << 16 | element):
                        pos = at  # the file meta's end before an implicit VR dataset: whatever pydicom
                        break     # takes these bytes for, its stop_when rewinds to the element's start
                    raise _Decline  # an unknown VR, or an implicit element in an explicit dataset
                if vr in _LONG:
                    if pos + 12 > end:
                        raise _Decline
                    size, pos = _LENGTH32(buf, pos + 8)[0], pos + 12
                else:
                    pos += 8
            tag = group << 16 | element
            if tag == _ITEM_END:
                break
            if stop is not None and stop(tag):
                pos = at
                break
            key = _TAGS.get(tag) or _new_tag(tag)
            if size == _UNDEFINED:
                value_at, vr = pos, self.undefined_vr(tag, vr, pos)
                seq, pos = self.sequence(pos, implicit, encoding)
                elements[key] = DataElement(key, vr, seq, value_at, is_undefined_length=True)
                continue
            if pos + size > end:
                raise _Decline
            value: Any
            if size > limit and tag != _CHARSET:
                value = None
            else:
                value = buf[pos:pos + size] if size > 0 else empty_value_for_VR(vr, raw=True)
            if tag == _CHARSET:
                encoding = convert_encodings(convert_string(value or b"", True))
            elements[key] = _raw(RawDataElement, (key, vr, size, value, pos, implicit, True, True, False))
            pos += size
        charset = elements.get(_CHARSET_TAG)
        own = (convert_encodings(convert_raw_data_element(charset).value) if charset is not None
               else parent_encoding)
        return _new_dataset(elements, parent_encoding, implicit, own), pos

    def implicit_vr(self, pos: int, implicit: bool, top: bool) -> bool:
        """_is_implicit_vr: a sequence item may turn out implicit; a top-level dataset must agree."""
        if not top and implicit:
            return True
        self.need(pos, 6)
        b0, b1 = self.buf[pos + 4], self.buf[pos + 5]
        found = not (0x40 < b0 < 0x5B and 0x40 < b1 < 0x5B)
        if found == implicit:
            return implicit
        if top:
            raise _Decline  # pydicom warns and reads it the other way
        return True

    def undefined_vr(self, tag: int, vr: str | None, pos: int) -> str:
        """An undefined length: only a sequence is read here (pydicom's UN -> SQ inference is declined)."""
        if vr is None:
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                self.need(pos, 4)
                vr = VR.SQ if _IMPLICIT(self.buf, pos)[0:2] == (0xFFFE, 0xE000) else None
        if vr != VR.SQ:
            raise _Decline
        return vr

    def sequence(self, pos: int, implicit: bool, encoding: Any, length: int | None = None,
                 offset: int = 0) -> tuple[Sequence, int]:
        """read_sequence + read_sequence_item: items up to the sequence delimiter (undefined length) or
        for `length` bytes; item tells are `offset` + where they are in these bytes, as pydicom's."""
        items = []
        start = pos
        while length is None or pos - start < length:
            at = pos
            self.need(pos, 8)
            group, element, size = _IMPLICIT(self.buf, pos)
            pos += 8
            tag = group << 16 | element
            if tag == _SEQUENCE_END:
                break
            if tag != _ITEM:
                raise _Decline
            item, pos = self.dataset(pos, implicit, None if size == _UNDEFINED else size, encoding)
            item.__dict__.update(is_undefined_length_sequence_item=size == _UNDEFINED, seq_item_tell=at + offset,
                                 file_tell=at + offset)  # read_sequence(_item)'s, without Dataset.__setattr__
            items.append(item)
        seq = Sequence(items)
        seq.is_undefined_length = length is None
        return seq, pos


def _not_file_meta(tag: int) -> bool:
    return tag >> 16 != 2


def _implicit_for(transfer_syntax: Any) -> bool:
    """read_partial's choice of encoding; what it does more (sniffing, inflating, big endian) is pydicom's."""
    if transfer_syntax is None or transfer_syntax in (ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian) \
            or transfer_syntax in PrivateTransferSyntaxes:
        raise _Decline
    return bool(transfer_syntax == ImplicitVRLittleEndian)


def _new_dataset(elements: dict[BaseTag, Any], parent_encoding: Any, implicit: bool, own: Any) -> Dataset:
    """Dataset(elements, parent_encoding=...) + set_original_encoding(implicit, True, own), by copying the
    state pydicom's own constructor gives a dataset with these encodings (made once per combination):
    its __setattr__, which checks every name against the DICOM dictionary, was a third of this reader's
    cost. Mutable state (the private-block and pixel caches) is copied, never shared."""
    key = (_hashable(parent_encoding), implicit, _hashable(own))
    state = _TEMPLATES.get(key)
    if state is None:
        template = Dataset({}, parent_encoding=parent_encoding)
        template.set_original_encoding(implicit, True, own)
        if len(_TEMPLATES) >= _MAX_CACHED:
            _TEMPLATES.clear()
        state = _TEMPLATES[key] = dict(vars(template))
    ds = object.__new__(Dataset)
    vars(ds).update({name: value.copy() if isinstance(value, (dict, list)) else value
                     for name, value in state.items()})
    vars(ds)["_dict"] = elements
    return ds


def _new_tag(tag: int) -> BaseTag:
    if len(_TAGS) >= _MAX_CACHED:
        _TAGS.clear()
    return _TAGS.setdefault(tag, BaseTag(tag))


def _hashable(encoding: Any) -> Any:
    return tuple(encoding) if isinstance(encoding, list) else encoding
