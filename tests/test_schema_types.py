"""The schema's neutral value types: the old names still work, coercion gives the same Python values
on every engine, and the embedded engine maps every type (a new type without a mapping fails here)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from dicom_graph.model import schema
from dicom_graph.model.arrow import arrow_types
from dicom_graph.model.store.embedded_types import DDL_TYPES
from dicom_graph.model.values import LIST_ELEMENT_TYPE, ValueType, coerce


def test_old_names_are_the_neutral_types():
    assert (schema.STRING, schema.INT64, schema.DOUBLE, schema.BOOL) == (
        ValueType.STRING, ValueType.INTEGER, ValueType.FLOAT, ValueType.BOOLEAN)
    assert schema.LIST_ELEMENT_TYPE[schema.STRING_LIST] is schema.STRING
    assert schema.keyword_type("Rows") is ValueType.INTEGER
    assert schema.keyword_type("PixelSpacing") is ValueType.FLOAT_LIST
    assert schema.keyword_type("StudyDate") is ValueType.DATE
    assert schema.keyword_type("PixelData") is None


def test_every_property_of_the_schema_has_a_neutral_type():
    for node_type in schema.STORED_NODE_TYPES:
        assert all(isinstance(t, ValueType) for t in node_type.props.values()), node_type.label
    for rel_type in schema.REL_TYPES:
        assert all(isinstance(t, ValueType) for t in rel_type.props.values()), rel_type.type


def test_every_type_is_a_list_or_the_item_of_one():
    assert {t.element for t in LIST_ELEMENT_TYPE} | set(LIST_ELEMENT_TYPE) == set(ValueType)
    assert ValueType.DATE_LIST.element is ValueType.DATE and ValueType.DATE.element is None


def test_embedded_engine_maps_every_type():
    assert set(DDL_TYPES) == set(arrow_types()) == set(ValueType)
    assert DDL_TYPES[ValueType.INTEGER] == "INT64" and DDL_TYPES[ValueType.STRING_LIST] == "STRING[]"
    assert arrow_types()[ValueType.TIMESTAMP_LIST] == pa.list_(pa.timestamp("us"))


@pytest.mark.parametrize("value, type_, expected", [
    ("3", ValueType.INTEGER, 3),
    (True, ValueType.INTEGER, 1),
    (4.0, ValueType.INTEGER, 4),
    ("2.5", ValueType.FLOAT, 2.5),
    (7, ValueType.STRING, "7"),
    ("20240131", ValueType.DATE, dt.date(2024, 1, 31)),
    ("2024-01-31", ValueType.DATE, dt.date(2024, 1, 31)),
    (dt.datetime(2024, 1, 31, 10, 0), ValueType.DATE, dt.date(2024, 1, 31)),
    ("2024-01-31T10:00:00+02:00", ValueType.TIMESTAMP, dt.datetime(2024, 1, 31, 8, 0)),
    (["1", None, "2"], ValueType.INTEGER_LIST, [1, 2]),
    ("0.5", ValueType.FLOAT_LIST, [0.5]),
    ([True], "list<boolean>", [True]),  # the type's text works as well as the member
    (None, ValueType.DATE, None),
])
def test_coercion(value, type_, expected):
    result = coerce(value, type_)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("value, type_", [
    (2.5, ValueType.INTEGER), ("nan", ValueType.FLOAT), ("inf", ValueType.FLOAT), ("yes", ValueType.BOOLEAN),
    ("2024-13-01", ValueType.DATE), ("x", "INT64"),
])
def test_coercion_refuses(value, type_):
    with pytest.raises(ValueError):
        coerce(value, type_)
