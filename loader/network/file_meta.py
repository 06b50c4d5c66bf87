"""A received C-STORE dataset as a Part 10 file: the bytes pynetdicom's `event.encoded_dataset()` gives,
built without pydicom.

pynetdicom makes the File Meta Information as a pydicom FileMetaDataset and encodes it with pydicom's
writer: ~0.15-0.3 ms per message of the receiving thread, the GIL held, for seven elements whose layout
never changes (PS3.10 7.1: Explicit VR Little Endian, group 0002). Here they are packed directly, the same
elements with the same values in the same order (tests/test_listener_file_meta.py compares the bytes
with pynetdicom's for odd and even UID lengths and on a real association). Anything that is not a plain
UID goes back to pynetdicom, which validates and encodes it as it always has.
"""

from __future__ import annotations

import struct
from typing import Any

from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

from .context import is_uid

_PREFIX = b"\x00" * 128 + b"DICM"
_SHORT = struct.Struct("<HH2sH").pack  # group, element, VR, 16-bit length (PS3.5 7.1.2)


def _element(element: int, vr: bytes, value: bytes) -> bytes:
    return _SHORT(0x0002, element, vr, len(value)) + value


def _uid(element: int, uid: str) -> bytes:
    value = uid.encode("ascii")
    return _element(element, b"UI", value + b"\x00" * (len(value) % 2))  # UI pads with NUL (PS3.5 6.2)


def _implementation() -> bytes:
    version = PYNETDICOM_IMPLEMENTATION_VERSION.encode("ascii")
    return (_uid(0x0012, PYNETDICOM_IMPLEMENTATION_UID)
            + _element(0x0013, b"SH", version + b" " * (len(version) % 2)))  # SH pads with a space


_VERSION = struct.pack("<HH2sHL", 0x0002, 0x0001, b"OB", 0, 2) + b"\x00\x01"  # OB: reserved 0, 32-bit length
_IMPLEMENTATION = _implementation()


def part10_bytes(sop_class: str, sop_instance: str, transfer_syntax: str, dataset: bytes) -> bytes | None:
    """The Part 10 file of an encoded dataset; None when a UID is not one (pynetdicom's path then)."""
    if not (is_uid(sop_class) and is_uid(sop_instance) and is_uid(transfer_syntax)):
        return None
    rest = b"".join((_VERSION, _uid(0x0002, sop_class), _uid(0x0003, sop_instance),
                     _uid(0x0010, transfer_syntax), _IMPLEMENTATION))
    group_length = _element(0x0000, b"UL", struct.pack("<L", len(rest)))
    return b"".join((_PREFIX, group_length, rest, dataset))


def received_file(event: Any) -> bytes:
    """What `event.encoded_dataset()` returns for a C-STORE event, cheaper where the UIDs are plain."""
    request = event.request
    data = part10_bytes(str(request.AffectedSOPClassUID or ""), str(request.AffectedSOPInstanceUID or ""),
                        str(event.context.transfer_syntax or ""), request.DataSet.getvalue())
    return data if data is not None else event.encoded_dataset()
