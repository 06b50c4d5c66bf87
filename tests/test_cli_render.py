"""`query --format table` is for people, but never at the price of a wrong value: a 64-character UID is
printed whole, and a longer value is visibly marked as cut, with the way to see it whole."""

from __future__ import annotations

from dicom_graph.common import ELLIPSIS, render
from dicom_graph.model.store.base import QueryResult

UID_64 = "1.2.826.0.1.3680043.8.498.1234567890123456789012345678901234567890"[:64]


def table(rows: list[list[object]], columns: list[str]) -> str:
    return render(QueryResult(columns=columns, rows=rows), "table")


def test_a_64_character_uid_is_printed_whole():
    assert len(UID_64) == 64
    out = table([[UID_64, 3]], ["uid", "n"])
    assert UID_64 in out
    assert ELLIPSIS not in out
    assert out.rstrip().endswith("(1 row)")


def test_a_longer_value_is_marked_and_the_footer_says_how_to_see_it():
    long_text = "x" * 100
    out = table([[long_text]], ["text"])
    assert long_text not in out
    assert "x" * 63 + ELLIPSIS in out
    assert "--format json" in out.splitlines()[-1]
