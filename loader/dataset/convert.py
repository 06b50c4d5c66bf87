"""Element values to property values: decoding raw bytes, and coercion to the schema's property types.

Most elements of a file are still raw bytes when the extractor meets them; decoding the common ones here
(ASCII text, binary numbers) skips pydicom's per-element machinery, which dominated an extraction's time.
Whatever needs a character set or a VR pydicom knows better is left to pydicom (LookupError).
"""

from __future__ import annotations

from typing import Any

from pydicom.dataelem import RawDataElement
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from dicom_graph.model import schema

from .tags import TEXT_VRS, unpack_binary

_SINGLE_VALUE_TEXT_VRS = frozenset({"LT", "ST", "UT", "UR"})
# what both engines store as an integer (LadybugDB INT64, Neo4j's long): an IS of 20 digits or a UV of
# 2**64-1 parses as a Python int but fails the whole write ("Python int too large to convert to C long")
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def plain(value: Any) -> Any:
    """A pydicom value as plain Python (picklable, comparable): lists, str, int, float, bytes."""
    if isinstance(value, (list, tuple, MultiValue)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value)  # PersonName and friends


def fast_value(raw: RawDataElement, vr: str | None) -> Any:
    """Decode a raw value without pydicom's element machinery when that is safe; else raise LookupError."""
    value = raw.value
    if not value:
        return None
    if vr in TEXT_VRS:
        if not value.isascii():
            raise LookupError  # a character set is involved: let pydicom decode it
        return ascii_text(value, vr)
    number = unpack_binary(raw, vr)
    if number is None:
        raise LookupError
    return number


def ascii_text(value: bytes, vr: str) -> str | list[str]:
    """An ASCII value of a text VR as pydicom gives it: padding stripped, multiple values split."""
    text = value.decode("ascii")
    if vr in _SINGLE_VALUE_TEXT_VRS:
        return text.rstrip(" \x00")
    parts = [p.strip(" \x00") for p in text.split("\\")]
    return parts[0] if len(parts) == 1 else parts


def is_empty(value: Any) -> bool:
    """No value: None, empty text or bytes, values that are all empty, a sequence of no items. pydicom's
    MultiValue and Sequence are no lists: a nested Type 1 sequence with no items was taken for a value."""
    if value is None:
        return True
    if isinstance(value, (str, bytes)):
        return len(value) == 0
    if isinstance(value, (list, tuple, MultiValue, Sequence)):
        return all(is_empty(v) for v in value)  # a Dataset item is a value: is_empty(item) is False
    return False


def as_text(value: Any) -> str:
    """A value as the text it was written as: multiple values joined by backslashes."""
    if isinstance(value, list):
        return "\\".join("" if v is None else str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def _text_of_bytes(value: bytes) -> str | list[str]:
    """Bytes pydicom left undecoded (UN, unknown VRs) read as text, when they are text."""
    if not value.isascii():
        raise ValueError("binary value")
    text = value.decode("ascii").strip(" \x00")
    return text.split("\\") if "\\" in text else text


def typed(value: Any, type_: str) -> Any:
    """Coerce a plain value to a property type; ValueError when it does not parse."""
    if isinstance(value, bytes):
        value = _text_of_bytes(value)
    if type_ in schema.LIST_ELEMENT_TYPE:
        items = value if isinstance(value, list) else [value]
        items = [v for v in items if v not in (None, "")]
        return coerce(items, type_) if items else None
    if isinstance(value, list):
        items = [v for v in value if v not in (None, "")]
        if len(items) > 1:
            raise ValueError("more than one value for a single-valued attribute")
        if not items:
            return None
        value = items[0]
    if value == "":
        return None
    return coerce(value, type_)


def coerce(value: Any, type_: str) -> Any:
    """schema.coerce, and an integer the engines cannot hold is a ValueError like any unparseable value:
    the extractor keeps its text among the invalid values instead of losing the file's whole batch."""
    result = schema.coerce(value, type_)
    for number in result if isinstance(result, list) else (result,):
        if type(number) is int and not INT64_MIN <= number <= INT64_MAX:
            raise ValueError(f"{number} is out of the 64-bit integer range")
    return result
