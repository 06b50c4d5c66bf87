"""The ingest's writer side (batcher -> resolver -> writer): how files are grouped into batches, on both engines.

A file pointing at an instance that is in neither its batch nor the graph waits one batch, so that the
target is written whole instead of as a stub that a later batch completes (an update of ~150 columns:
the costliest statement of a large embedded ingest)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage as CT
from pydicom.uid import UID, ExplicitVRLittleEndian
from pydicom.uid import KeyObjectSelectionDocumentStorage as KOS

from dicom_graph.loader.ingest.run import BatchCommitter
from dicom_graph.loader.ingest.sources import SourceFile
from dicom_graph.loader.ingest.summary import IngestSummary, RejectionReport
from dicom_graph.loader.ingest.worker import process_file


def _file(folder: Path, name: str, sop_class: str, uid: str, points_at: list[str]) -> SourceFile:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.9", f"1.2.9.{sop_class[-1]}"
    ds.PatientID, ds.Modality = "P1", "KO" if sop_class == KOS else "CT"
    if points_at:
        refs = []
        for target in points_at:
            ref = Dataset()
            ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = CT, target
            refs.append(ref)
        ds.ReferencedImageSequence = Sequence(refs)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_class), UID(uid)
    path = folder / name
    ds.save_as(path, enforce_file_format=True)
    st = os.stat(path)
    return SourceFile(str(path), st.st_size, st.st_mtime_ns)


def _instances(store) -> dict[str, bool]:
    return {r["uid"]: bool(r["stub"]) for r in
            store.query("MATCH (i:Instance) RETURN i.SOPInstanceUID AS uid, i.stub AS stub").records()}


def test_a_pointer_to_the_next_batch_waits_instead_of_making_a_stub(store, tmp_path):
    kos = _file(tmp_path, "1.dcm", KOS, "1.2.9.100", ["1.2.9.200", "1.2.9.404"])  # .404 never comes
    image = _file(tmp_path, "2.dcm", CT, "1.2.9.200", [])
    other = _file(tmp_path, "3.dcm", CT, "1.2.9.300", [])
    summary = IngestSummary(run_key="t", paths=[str(tmp_path)], report_path="r", workers=1)
    writer = BatchCommitter(store, summary, RejectionReport(io.StringIO()), batch_instances=1)

    writer.add(process_file(kos))  # a full batch, but its targets are not here yet: it waits
    assert _instances(store) == {}
    assert store.count_nodes("SourceFile") == 0  # not recorded as done: a crash now loses nothing

    writer.add(process_file(image))  # the target arrives; a file waits only once, so .404 is stubbed
    assert _instances(store) == {"1.2.9.100": False, "1.2.9.200": False, "1.2.9.404": True}
    pairs = {(r["referencing"], r["referenced"]) for r in store.run("reference_pairs")}
    assert pairs == {("1.2.9.100", "1.2.9.200"), ("1.2.9.100", "1.2.9.404")}

    writer.add(process_file(other))
    writer.commit(final=True)
    assert _instances(store)["1.2.9.300"] is False
    assert store.count_nodes("SourceFile") == 3


def test_an_instance_row_a_kill_left_without_its_hash_is_completed_not_rejected(store, tmp_path):
    """The wide Instance row goes in several statements; a kill -9 between them leaves a row that is no
    stub and has no content hash. The next write of that file must complete it: in one CI run, --resume
    rejected 99 such files ("'NoneType' object has no attribute 'startswith'") and the graph lost them."""
    image = _file(tmp_path, "1.dcm", CT, "1.2.9.500", [])
    summary = IngestSummary(run_key="t", paths=[str(tmp_path)], report_path="r", workers=1)
    writer = BatchCommitter(store, summary, RejectionReport(io.StringIO()), batch_instances=1)
    writer.add(process_file(image))
    writer.commit(final=True)
    store.query("MATCH (i:Instance {SOPInstanceUID: '1.2.9.500'}) SET i.content_hash = NULL", write=True)

    writer.add(process_file(image))
    writer.commit(final=True)
    assert summary.files_rejected == 0
    row = store.query("MATCH (i:Instance {SOPInstanceUID: '1.2.9.500'}) "
                      "RETURN i.content_hash AS h, i.stub AS stub").records()[0]
    assert row["h"] and not row["stub"]
