"""The schema's neutral value types as LadybugDB sees them: column types in DDL (Arrow types, which bulk
loads use, are the vocabulary's: model/arrow.py).

Lists are derived from their items: a scalar type the schema adds without a mapping here fails at
import (a KeyError), never as a silently mistyped column.
"""

from __future__ import annotations

from .. import schema
from ..values import ValueType

_SCALAR_DDL = {
    ValueType.STRING: "STRING", ValueType.INTEGER: "INT64", ValueType.FLOAT: "DOUBLE",
    ValueType.BOOLEAN: "BOOL", ValueType.DATE: "DATE", ValueType.TIMESTAMP: "TIMESTAMP",
}

DDL_TYPES: dict[ValueType, str] = {
    **_SCALAR_DDL, **{lst: _SCALAR_DDL[item] + "[]" for lst, item in schema.LIST_ELEMENT_TYPE.items()}}
