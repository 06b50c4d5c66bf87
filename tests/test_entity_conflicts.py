"""Entity conflicts: two instances of one study with two StudyDates are both recorded, the Study keeps the
earlier one whatever the order, batch or run the files come in, and "studies on day D" answers both days;
the listener's write path records them the same way."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from dicom_graph.loader.ingest import run_ingest
from dicom_graph.loader.network.config import ListenerConfig
from dicom_graph.loader.network.context import ServiceContext
from dicom_graph.loader.network.spool import Spool
from dicom_graph.loader.network.storage import Storage
from dicom_graph.loader.network.writer import MicroBatches, Received
from dicom_graph.model.store import GraphStore

STUDY = "1.2.826.0.1.3680043.8.498.515001"
SERIES = STUDY + ".1"
DAYS = {"a": "20240302", "b": "20240301", "c": "20231231"}  # b is the earliest of a and b


def make_file(folder: Path, name: str, study_date: str, **extra: str) -> Path:
    """One Secondary Capture instance of STUDY / SERIES, differing from its siblings in StudyDate."""
    folder.mkdir(parents=True, exist_ok=True)
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = f"{SERIES}.{ord(name[0])}"
    ds.PatientID, ds.PatientName = "P-515", "Doe^Jane"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, SERIES
    ds.StudyDate, ds.Modality, ds.StudyDescription = study_date, "OT", "two days"
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = folder / f"{name}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def ingest(store: GraphStore, tmp: Path, *paths: Path) -> None:
    run_ingest(store, [str(p) for p in paths], workers=1, progress=False, report_path=str(tmp / "rejects.jsonl"))


def conflicts(store: GraphStore) -> list[dict]:
    return store.run("entity_conflicts").records()


def study_date(store: GraphStore) -> str:
    return store.query("MATCH (s:Study {StudyInstanceUID: $u}) RETURN s.StudyDate AS d",
                       {"u": STUDY}).scalar().isoformat()


def on_day(store: GraphStore, day: str) -> list[str]:
    return store.run("studies_on_day", day=day).column("study_uid")


def test_two_study_dates_both_answer(store: GraphStore, tmp_path: Path) -> None:
    a = make_file(tmp_path / "in", "a", DAYS["a"])
    b = make_file(tmp_path / "in", "b", DAYS["b"])
    ingest(store, tmp_path, a, b)
    rows = [r for r in conflicts(store) if r["keyword"] == "StudyDate"]
    assert rows == [{"entity": "Study", "key": STUDY, "keyword": "StudyDate",
                     "values": ["2024-03-01", "2024-03-02"], "counts": [1, 1], "kept": "2024-03-01"}]
    assert study_date(store) == "2024-03-01"  # the smallest value as text: the earlier day
    assert on_day(store, "2024-03-01") == [STUDY]
    assert on_day(store, "2024-03-02") == [STUDY]
    assert on_day(store, "2024-03-03") == []
    assert {r["keyword"] for r in store.run("study_entity_conflicts", study=STUDY).records()} == {"StudyDate"}
    # an attribute every instance agrees on is no conflict
    assert not [r for r in conflicts(store) if r["keyword"] in ("StudyDescription", "Modality")]


def test_order_batches_and_runs_do_not_change_the_record(store: GraphStore, tmp_path: Path) -> None:
    b = make_file(tmp_path / "run1", "b", DAYS["b"])
    a = make_file(tmp_path / "run2", "a", DAYS["a"])
    ingest(store, tmp_path, a)  # the later day first, in a run of its own
    assert conflicts(store) == [] and study_date(store) == "2024-03-02"
    ingest(store, tmp_path, b)  # a new file disagreeing with the graph from an earlier run
    first = conflicts(store)
    assert [r["values"] for r in first] == [["2024-03-01", "2024-03-02"]]
    assert study_date(store) == "2024-03-01"
    ingest(store, tmp_path, a, b)  # the same files again: nothing counted twice
    assert conflicts(store) == first
    assert study_date(store) == "2024-03-01"
    # a third day, arriving last and latest, is added; the earliest of all is still kept
    ingest(store, tmp_path, make_file(tmp_path / "run3", "d", "20240305"))
    assert conflicts(store)[0]["values"] == ["2024-03-01", "2024-03-02", "2024-03-05"]
    assert study_date(store) == "2024-03-01"


def test_listener_write_path_records_conflicts(store: GraphStore, tmp_path: Path) -> None:
    ingest(store, tmp_path, make_file(tmp_path / "in", "a", DAYS["a"], PatientSize="1.70"))
    context, spool = ServiceContext(store, ListenerConfig()), Spool(tmp_path / "spool")
    writer = MicroBatches(context, spool)
    storage = Storage(context, spool, writer)
    received = make_file(tmp_path / "net", "c", DAYS["c"], PatientSize="1.69")
    data, ds = received.read_bytes(), pydicom.dcmread(received)
    uid, cls = str(ds.SOPInstanceUID), str(ds.SOPClassUID)
    writer.start()
    writer.put(Received(storage.accept(data, uid, cls), spool.put(data), data, None))
    writer.stop()
    spool.close()
    assert Spool(tmp_path / "spool").pending() == []  # written, so nothing is left to replay
    by_keyword = {r["keyword"]: r for r in conflicts(store)}
    assert by_keyword["StudyDate"]["values"] == ["2023-12-31", "2024-03-02"]
    assert by_keyword["PatientSize"]["entity"] == "Study"  # Patient Study module: the Study IE, as dcentvfy says
    assert by_keyword["PatientSize"]["values"] == ["1.69", "1.7"]
    assert study_date(store) == "2023-12-31"
    assert on_day(store, "2024-03-02") == [STUDY]


def test_runs_of_one_value_are_counted_per_instance_and_once_per_version(store: GraphStore, tmp_path: Path) -> None:
    """a, b, c, d in one batch, one after another: the value of a comes back after b's, and c and d
    repeat it (the writer counts a run of repeated values at once); ingested again, nothing more counts."""
    files = [make_file(tmp_path / "in", name, day) for name, day in
             (("a", "20240302"), ("b", "20240301"), ("c", "20240302"), ("d", "20240302"))]
    for _ in range(2):
        ingest(store, tmp_path, *files)
        [row] = [c for c in conflicts(store) if c["keyword"] == "StudyDate"]
        assert (row["values"], row["counts"], row["kept"]) == (["2024-03-01", "2024-03-02"], [1, 3], "2024-03-01")
    assert study_date(store) == "2024-03-01"
