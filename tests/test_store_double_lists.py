"""Multi-valued decimals (Image Position (Patient), Pixel Spacing, Window Center) read back as written,
however many writes and checkpoints they arrive in.

ladybug 0.22 with its column compression on lost list elements appended after a checkpoint: with
these seeded values, 6-10 of 2,400 positions came back with one element 0.0, whether the rows went in
by COPY, CREATE or MERGE (model/store/embedded_connection.py, COMPRESSION). A silently wrong position
is worse than none, so this checks every value, on both engines, and that a graph written the old way
is refused to writers.
"""

from __future__ import annotations

import random

import pytest

from dicom_graph.model.batch import GraphBatch


def positions(seed: int, writes: int, per_write: int) -> list[dict[str, list[float]]]:
    rng = random.Random(seed)
    return [{f"2.25.{seed}{w:03d}{i:05d}": [round(rng.uniform(-400, 400), 3) for _ in range(3)]
             for i in range(per_write)} for w in range(writes)]


def test_decimal_lists_written_across_checkpoints_read_back_as_written(store):
    written: dict[str, list[float]] = {}
    for seed, per_write in ((2, 400), (4, 400), (5, 1200)):  # 1,200: the bulk path's COPY, else CREATE
        for rows in positions(seed, 6 if per_write == 400 else 3, per_write):
            batch = GraphBatch()
            for uid, position in rows.items():
                batch.add_node("Instance", {"SOPInstanceUID": uid, "ImagePositionPatient": position})
            store.write(batch, atomic=False)  # the embedded bulk path checkpoints after each write
            written.update(rows)
    got = {r["uid"]: r["ipp"] for r in store.query(
        "MATCH (i:Instance) RETURN i.SOPInstanceUID AS uid, i.ImagePositionPatient AS ipp").records()}
    wrong = {uid: (value, got.get(uid)) for uid, value in written.items() if got.get(uid) != value}
    assert len(got) == len(written) == 2 * 6 * 400 + 3 * 1200
    assert not wrong, f"{len(wrong)} positions read back otherwise, e.g. {next(iter(wrong.items()))}"


def test_a_graph_written_with_compressed_decimals_is_refused_to_writers_and_read_as_it_is(tmp_path, monkeypatch):
    from dicom_graph.model.store import StoreError, embedded_connection, open_store

    path = str(tmp_path / "old.db")
    monkeypatch.setattr(embedded_connection, "COMPRESSION", True)  # as dicom-graph wrote graphs before
    old = open_store(db=path, read_only=False, create=True)
    batch = GraphBatch()
    for uid, position in positions(2, 1, 1200)[0].items():
        batch.add_node("Instance", {"SOPInstanceUID": uid, "ImagePositionPatient": position})
    old.write(batch, atomic=False)
    old.close()
    monkeypatch.setattr(embedded_connection, "COMPRESSION", False)
    with pytest.raises(StoreError, match=r"stored compressed .* build a new graph"):
        open_store(db=path, read_only=False)
    reader = open_store(db=path)
    assert reader.query("MATCH (i:Instance) RETURN count(*)").scalar() == 1200
    reader.close()
    with pytest.raises(StoreError, match="stored compressed"):  # refused again, not "locked by a writer"
        open_store(db=path, read_only=False)
