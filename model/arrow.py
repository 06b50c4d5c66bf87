"""The schema's neutral value types as Arrow sees them, in one place.

Why here and not in a store: Arrow is the columnar hand-off between the loaders and every engine (the
embedded store COPYs Arrow tables, `extract` writes them as Parquet shards that `load` reads back), so
the mapping is part of the vocabulary, not of an engine. A scalar type the schema adds without a
mapping fails (a KeyError) at the first conversion, never as a silently mistyped column. pyarrow (with
numpy, ~50 ms) is imported at the first conversion, not at import: a read-only `dicom-graph query`
never needs it (tests/test_cli_startup.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from . import schema
from .values import ValueType

if TYPE_CHECKING:
    import pyarrow as pa


@lru_cache(maxsize=None)
def arrow_types() -> dict[ValueType, pa.DataType]:
    import pyarrow as pa

    scalar = {
        ValueType.STRING: pa.string(), ValueType.INTEGER: pa.int64(), ValueType.FLOAT: pa.float64(),
        ValueType.BOOLEAN: pa.bool_(), ValueType.DATE: pa.date32(), ValueType.TIMESTAMP: pa.timestamp("us"),
    }
    return {**scalar, **{lst: pa.list_(scalar[item]) for lst, item in schema.LIST_ELEMENT_TYPE.items()}}


def column(values: list[Any], type_: ValueType) -> pa.Array:
    import pyarrow as pa

    return pa.array(values, type=arrow_types()[type_])


def node_table(label: str, rows: list[dict[str, Any]], columns: list[str], prefix: str = "",
               constants: dict[str, Any] | None = None) -> pa.Table:
    """Rows to an Arrow table in one pass in C (`from_pylist`: a missing key is a null); columns
    named in `constants` are filled with one value."""
    import pyarrow as pa

    constants = constants or {}
    fields = [pa.field(c, arrow_types()[schema.property_type(label, c)]) for c in columns if c not in constants]
    table = pa.Table.from_pylist(rows, schema=pa.schema(fields))
    for c, value in constants.items():
        if c in columns:
            table = table.append_column(c, column([value] * len(rows), schema.property_type(label, c)))
    table = table.select(columns)
    return table.rename_columns([prefix + c for c in columns]) if prefix else table


def rel_table(group: tuple[str, str, str], rows: list[dict[str, Any]]) -> pa.Table:
    """Endpoints first (COPY reads them by position), then every property of the type."""
    import pyarrow as pa

    rel_type = schema.rel(group[0])
    a, b = schema.node(group[1]), schema.node(group[2])
    arrays = [column([r.get("from") for r in rows], a.props[a.key]),
              column([r.get("to") for r in rows], b.props[b.key])]
    arrays += [column([r.get(p) for r in rows], t) for p, t in rel_type.props.items()]
    return pa.Table.from_arrays(arrays, names=["c__from", "c__to", *("c_" + p for p in rel_type.props)])
