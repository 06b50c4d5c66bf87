"""The spool's segment format (loader/network/spool.py) on real files: what a restart replays."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicom_graph.loader.network import spool as spool_module
from dicom_graph.loader.network.spool import HEADER, Spool


def test_only_records_not_marked_written_are_replayed_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    entries = [spool.put(f"dataset {i}".encode()) for i in range(5)]
    spool.done([entries[1], entries[3]])
    spool.close()  # as a kill would leave it: records 0, 2 and 4 never reached the graph
    again = Spool(tmp_path)
    assert [data for _, data in again.pending()] == [b"dataset 0", b"dataset 2", b"dataset 4"]
    again.close()


def test_a_record_cut_by_a_crash_ends_the_scan(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first = spool.put(b"complete")
    second = spool.put(b"cut short by the crash")
    spool.close()
    [segment] = tmp_path.glob("segment-*.spool")
    with open(segment, "r+b") as fh:  # the second record's last bytes never reached the disk
        fh.seek(second.offset + HEADER.size + 5)
        fh.write(bytes(17))
    again = Spool(tmp_path)
    assert [(entry.offset, data) for entry, data in again.pending()] == [(first.offset, b"complete")]
    again.close()


def test_a_full_segment_whose_records_are_all_written_is_deleted(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_module, "SEGMENT_BYTES", 4096)
    spool = Spool(tmp_path)
    entries = [spool.put(bytes(1500)) for _ in range(3)]  # two fit in the first segment, one in a second
    assert len(list(tmp_path.glob("segment-*.spool"))) == 2
    spool.done(entries[:2])
    assert len(list(tmp_path.glob("segment-*.spool"))) == 1  # the full one went once written
    spool.done(entries[2:])
    spool.close()
    assert not list(tmp_path.glob("segment-*.spool"))
    rejected = Spool(tmp_path)
    kept = rejected.reject(rejected.put(b"refused by the graph"), b"refused by the graph", "1.2.3", "why")
    rejected.close()
    assert kept.read_bytes() == b"refused by the graph"  # kept beside the spool, and not replayed:
    assert Spool(tmp_path).pending() == []


def test_a_record_appended_then_refused_is_not_replayed_and_an_accepted_one_is(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    refused = spool.append(b"refused by the checks")  # appended before its dataset is checked
    accepted = spool.append(b"accepted")
    spool.forget(refused)
    spool.sync(accepted)
    spool.close()
    again = Spool(tmp_path)
    assert [(entry.offset, data) for entry, data in again.pending()] == [(accepted.offset, b"accepted")]
    again.close()
