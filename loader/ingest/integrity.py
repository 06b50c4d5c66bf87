"""Is a file whole? Truncation and damage found while pydicom reads it, at no extra pass over the file.

pydicom reads a cut file without a word: a dataset that ends inside an element header is taken as the
end of the file, a value shorter than its length is kept short, a deferred value whose length runs past
the end of the file is skipped by a seek. Ingested as it was, a 700-byte copy of a CT image became an
instance without its Series Instance UID or Rows, and, sharing the complete file's SOP Instance UID,
could replace it. So the file is read through `Tracked`, which notes every read that returned fewer
bytes than asked and every seek past the end; `damage()` then names what is missing:

- "ends inside an element": a read of an element header (8 or 12 bytes) returned some, not all;
- "value of (gggg,eeee) cut": a value read returned fewer bytes than its length;
- "value length past the end of the file": a deferred value, or Pixel Data (headers only are read,
  so its length is checked against the file's size), needs more bytes than the file has.

A read that returns nothing at all where an element could start is the file's normal end.
Whether a damaged file is still ingested is the worker's decision (worker.py), which copy of an
instance wins is the resolver's (resolve.py).
"""

from __future__ import annotations

import io
import os
import struct
from typing import Any

from pydicom.dataelem import RawDataElement

PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel Data, Float and Double Float Pixel Data
_PIXEL_KEYWORDS = dict(zip(PIXEL_DATA_TAGS, ("PixelData", "FloatPixelData", "DoubleFloatPixelData"), strict=True))
_UNDEFINED = 0xFFFFFFFF
PREFIX = 64 * 1024  # read into memory at open
MEMORY_CAP = 8 * 1024 * 1024  # headers beyond this are read from the file, as buffered reads
_GAP = 64 * 1024  # a read this far past memory continues the headers (a deferred value was skipped)
_memory_read, _memory_seek = io.BytesIO.read, io.BytesIO.seek
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}


class Tracked(io.BytesIO):
    """A file opened for pydicom that remembers where it was cut: short reads and seeks past the end.

    pydicom reads ~400 times per file, each a Python call here (the check): from a buffered file each
    also paid the file object's own machinery (a tell() that asks the OS), so the file's first PREFIX
    bytes (the whole of most header-only files, the headers of most images) are read at once and the
    reads served from memory, which made the parse ~0.2 of a bare parse cheaper. A read that memory
    cannot answer in full goes to the file (extending memory when it continues the headers, up to
    MEMORY_CAP, else read where it is: Pixel Data's fragments), and every seek is the file's: each
    read returns, each seek fails, and so each short read is noted, exactly as reading the file would.
    `_mode` is for pydicom, which reopens a deferred value's file as fileobj_type(path, "rb")."""

    def __init__(self, path: str, _mode: str = "rb") -> None:
        self._file = open(path, "rb")  # noqa: SIM115  (closed with this object)
        try:
            self.size = os.fstat(self._file.fileno()).st_size
            head = self._file.read(PREFIX)
        except BaseException:
            self._file.close()
            raise
        super().__init__(head)
        self.name = path
        self.loaded = len(head)  # the file's first `loaded` bytes are in memory
        self.whole = self.loaded < PREFIX  # the file ended there: memory is all of it
        self.short: list[tuple[int, int, int]] = []  # (offset, asked, got) of reads that came back short
        self.past_end = False

    def read(self, size: int | None = -1, /) -> bytes:
        data = _memory_read(self, size)
        if size is None or size < 0 or len(data) < size:
            return self._rest(data, size)
        return data

    def _rest(self, data: bytes, size: int | None) -> bytes:
        """A read memory did not answer in full (or of the whole rest): what the file gives there."""
        at = self.tell() - len(data)
        if size is not None and size < -1:
            _memory_seek(self, at)
            raise ValueError("read length must be non-negative or -1")  # as a buffered file says it
        if not self.whole:
            if size is not None and size >= 0 and at <= self.loaded + _GAP and self.loaded < MEMORY_CAP:
                self._extend(max(at + size - self.loaded, self.loaded))
                _memory_seek(self, at)
                data = _memory_read(self, size)
            if not self.whole and (size is None or size < 0 or len(data) < size):
                self._file.seek(at)
                data = self._file.read(-1 if size is None else size)
                _memory_seek(self, at + len(data))
        if size is not None and size > 0 and len(data) < size:
            self.short.append((at, size, len(data)))
        return data

    def _extend(self, count: int) -> None:
        self._file.seek(self.loaded)
        chunk = self._file.read(count)
        _memory_seek(self, self.loaded)
        self.write(chunk)
        self.loaded += len(chunk)
        self.whole = len(chunk) < count

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        if whence == os.SEEK_CUR:  # relative to where pydicom is, which the file object does not know
            self._file.seek(self.tell())
        position = self._file.seek(offset, whence)
        _memory_seek(self, position)
        self.past_end = self.past_end or position > self.size
        return position

    def close(self) -> None:
        file = getattr(self, "_file", None)  # (absent when the open failed: close() still runs, at collection)
        if file is not None:
            file.close()
        super().close()


def damage(fh: Tracked, ds: Any) -> list[str]:
    """What is missing from the file `ds` was read from (empty when it is whole)."""
    found = []
    for offset, asked, got in fh.short:
        if got == 0 and asked in (4, 8):
            continue  # no element where one could start: the end of the file (or of a lookahead)
        if asked in (4, 8):  # an element header (tag + VR + length, or the extra 4 length bytes)
            found.append(f"the file ends inside an element at byte {offset + got:,} of {fh.size:,}")
        else:
            found.append(f"a value at byte {offset:,} is cut: {got:,} of its {asked:,} bytes")
    # a value cut or deferred past the end shows as a short read or a seek past the end: without either,
    # no element is cut, and the walk over every element is spared
    cut = _cut_value(ds, fh.size) if fh.short or fh.past_end else None
    if cut:
        found.append(cut)
    elif fh.past_end:
        found.append(f"a value length runs past the end of the file ({fh.size:,} bytes)")
    pixels = _pixel_data_short(fh, ds)
    if pixels:
        found.append(pixels)
    return list(dict.fromkeys(found))


def identity_cut(ds: Any, size: int) -> bool:
    """Whether the SOP Instance UID itself lies past the cut: then the file cannot say whose copy it is."""
    raw = ds._dict.get(0x00080018) if hasattr(ds, "_dict") else None
    if not isinstance(raw, RawDataElement) or raw.length in (None, _UNDEFINED):
        return False
    return raw.value_tell + raw.length > size or (raw.value is not None and len(raw.value) < raw.length)


def _cut_value(ds: Any, size: int) -> str | None:
    """A top-level value pydicom kept shorter than its length, or deferred past the end of the file."""
    for tag in cut_tags(ds, size)[:1]:
        raw = ds._dict[tag]
        return (f"the value of ({tag >> 16:04X},{tag & 0xFFFF:04X}) needs {raw.length:,} bytes from byte "
                f"{raw.value_tell:,}: the file ends at {size:,}")
    return None


def cut_tags(ds: Any, size: int) -> list[int]:
    """The top-level elements whose values the cut ran through. The worker drops them before extraction:
    a Series Instance UID cut in the middle would otherwise make a series that does not exist."""
    return [tag for tag, raw in getattr(ds, "_dict", {}).items()
            if isinstance(raw, RawDataElement) and raw.length not in (None, _UNDEFINED)
            and (raw.value_tell + raw.length > size or (raw.value is not None and len(raw.value) < raw.length))]


def pixel_data_after(fh: Tracked, ds: Any) -> str | None:
    """The keyword of the pixel data element the header read stopped before, if the file has one: the
    element is there (conformance counts it present) though its value is never read."""
    start, noted = fh.tell(), len(fh.short)
    header = fh.read(4)
    fh.seek(start)
    if not header:  # the file ends where the headers did: no element, and no cut to note (a short read
        del fh.short[noted:]  # left here would cost damage() its walk over every element for nothing)
    if len(header) < 4:
        return None
    group, element = struct.unpack(("<" if getattr(ds, "is_little_endian", True) is not False else ">") + "HH",
                                   header)
    return _PIXEL_KEYWORDS.get(group << 16 | element)


def _pixel_data_short(fh: Tracked, ds: Any) -> str | None:
    """Pixel Data is not read (headers only): where pydicom stopped before it, its declared length is
    compared with what the file still has."""
    start = fh.tell()
    header = fh.read(12)
    if len(header) < 8:
        return None
    little = getattr(ds, "is_little_endian", True) is not False
    order = "<" if little else ">"
    group, element = struct.unpack(order + "HH", header[:4])
    if (group << 16 | element) not in PIXEL_DATA_TAGS:
        return None
    vr = header[4:6]
    if not (vr.isalpha() and vr.isupper()):  # implicit VR (files that say explicit and are not, too)
        length, value_at = struct.unpack(order + "I", header[4:8])[0], start + 8
    elif vr in _LONG_VRS:
        if len(header) < 12:
            return f"the file ends inside the Pixel Data element header at byte {start + len(header):,}"
        length, value_at = struct.unpack(order + "I", header[8:12])[0], start + 12
    else:
        length, value_at = struct.unpack(order + "H", header[6:8])[0], start + 8
    if length == _UNDEFINED:
        return _fragments_short(fh, value_at, order)
    if value_at + length > fh.size:
        return (f"Pixel Data needs {length:,} bytes from byte {value_at:,}, the file has "
                f"{fh.size - value_at:,}")
    return None


def _fragments_short(fh: Tracked, at: int, order: str) -> str | None:
    """Encapsulated Pixel Data: item headers are followed (their values skipped) up to the delimiter."""
    while True:
        fh.seek(at)
        header = fh.read(8)
        if len(header) < 8:
            return f"encapsulated Pixel Data ends without its delimiter at byte {at:,} of {fh.size:,}"
        group, element, length = struct.unpack(order + "HHI", header)
        if (group, element) == (0xFFFE, 0xE0DD):
            return None
        if (group, element) != (0xFFFE, 0xE000) or at + 8 + length > fh.size:
            return (f"encapsulated Pixel Data is cut: a fragment at byte {at:,} needs {length:,} bytes, "
                    f"the file has {max(fh.size - at - 8, 0):,}")
        at += 8 + length
