"""The neutral value types of graph properties, and the coercion of Python values to them.

The schema says what a property holds in these words only; each store maps them to its engine
(model/arrow.py to Arrow types, model/store/embedded_types.py to LadybugDB column types; Neo4j is schemaless and
needs none), so a third engine is one more mapping, not a change to the schema. Every value is coerced
here, before any store sees it, so both engines hold the same Python values and answer alike.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any


class ValueType(StrEnum):
    """What a property holds. A str subclass, so callers that compare with or hash plain strings
    (older code, the DICOM extractor's caches) keep working."""

    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    STRING_LIST = "list<string>"
    INTEGER_LIST = "list<integer>"
    FLOAT_LIST = "list<float>"
    BOOLEAN_LIST = "list<boolean>"
    DATE_LIST = "list<date>"
    TIMESTAMP_LIST = "list<timestamp>"

    @property
    def element(self) -> "ValueType | None":
        """The type of one item of a list type; None for a scalar type."""
        return LIST_ELEMENT_TYPE.get(self)


SCALAR_TYPES = tuple(t for t in ValueType if not t.value.startswith("list<"))
LIST_ELEMENT_TYPE: dict[ValueType, ValueType] = {ValueType(f"list<{t.value}>"): t for t in SCALAR_TYPES}


def coerce(value: Any, type_: ValueType | str) -> Any:
    """Coerce a value to a property type; raise ValueError when it cannot be.

    Callers that must keep unparseable values (the DICOM extractor) catch the error and keep the
    text elsewhere; the stores only ever see values of the declared type.
    """
    if value is None:
        return None
    plan = _PLANS.get(type_)
    if plan is None:
        raise ValueError(f"unknown property type {type_}")
    element, convert = plan
    if element is not None:
        items = value if isinstance(value, (list, tuple)) else [value]
        return [convert(v) for v in items if v is not None]
    return convert(value)


def _string(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _integer(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


def _float(value: Any) -> float:
    result = float(value)
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} is not a finite number")
    return result


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"{value!r} is not a boolean")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return parse_dicom_date(str(value))


def _timestamp(value: Any) -> dt.datetime:
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if stamp.tzinfo is not None:  # stored as naive UTC: the embedded engine has no zones
        stamp = stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return stamp


_SCALAR_COERCIONS = {
    ValueType.STRING: _string, ValueType.INTEGER: _integer, ValueType.FLOAT: _float,
    ValueType.BOOLEAN: _boolean, ValueType.DATE: _date, ValueType.TIMESTAMP: _timestamp,
}

# type -> (item type of a list type or None, the coercion of one value): every property of every instance
# is coerced, and building the enum member and its item type per value showed in an extraction's profile
_PLANS: dict[str, tuple[ValueType | None, Any]] = {
    kind: (kind.element, _SCALAR_COERCIONS[kind.element or kind]) for kind in ValueType}


def parse_dicom_date(text: str) -> dt.date:
    """DA is YYYYMMDD; ISO dates (DICOM JSON producers that got it wrong, our own exports) pass too."""
    text = text.strip()
    if len(text) == 8 and text.isdigit():
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return dt.date.fromisoformat(text)
