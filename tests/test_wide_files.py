"""One file with thousands of distinct keywords must not widen the Instance table for good: it gets at most
MAX_UNDECLARED_KEYWORDS new properties, keeps the other values in `other_values` with a problem noted, and
the ordinary pydicom test files ingest normally afterwards."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import DicomDictionary, dictionary_VM, dictionary_VR, keyword_dict
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from dicom_graph.loader.ingest import run_ingest
from dicom_graph.model import schema
from dicom_graph.model.instance_width import MAX_UNDECLARED_KEYWORDS
from dicom_graph.model.store import GraphStore

WIDE_UID = "1.2.826.0.1.3680043.8.498.515100"
_TEXT_VRS = {"CS": "A", "SH": "x", "LO": "x", "LT": "x", "ST": "x", "UT": "x", "PN": "A^B", "DA": "20240101",
             "TM": "120000", "DT": "20240101120000", "IS": "1", "DS": "1.5", "UI": "1.2.3", "AE": "AE",
             "UC": "x", "UR": "http://x"}


def wide_file(path: Path) -> tuple[Path, int]:
    """A Secondary Capture instance carrying a value for every single-valued text-like dictionary keyword
    past its identity (thousands of them); returns the path and how many keyword properties it has."""
    ds = Dataset()
    for tag, entry in sorted(DicomDictionary.items()):
        vr, keyword = dictionary_VR(tag), entry[4]
        if tag < 0x00080000 or tag >= 0x7FE00000 or not keyword or vr not in _TEXT_VRS:
            continue
        if dictionary_VM(tag) == "1":
            setattr(ds, keyword, _TEXT_VRS[vr])
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, WIDE_UID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = WIDE_UID + ".1", WIDE_UID + ".2"
    ds.PatientID, ds.Modality = "WIDE", "OT"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = UID(WIDE_UID)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path, sum(1 for elem in ds if elem.keyword and schema.keyword_type(elem.keyword))


def columns(store: GraphStore) -> int:
    """Instance's properties: the embedded engine's columns, Neo4j's distinct property keys."""
    if store.dialect == "embedded":
        return len(store.query("CALL table_info('Instance') RETURN name").rows)
    return len(store.query("MATCH (i:Instance) UNWIND keys(i) AS k RETURN DISTINCT k").rows)


def test_wide_file_is_capped_and_ordinary_files_still_ingest(store: GraphStore, tmp_path: Path) -> None:
    path, keywords = wide_file(tmp_path / "wide" / "wide.dcm")
    assert keywords > 2000 and os.path.getsize(path) < 200_000
    declared = len(schema.node("Instance").props)
    before = columns(store) if store.dialect == "embedded" else 0
    summary = run_ingest(store, [str(path)], workers=1, progress=False, report_path=str(tmp_path / "r1.jsonl"))
    assert summary.files_rejected == 0
    widened = columns(store) - before
    assert widened <= MAX_UNDECLARED_KEYWORDS + (0 if store.dialect == "embedded" else declared)
    row = store.query("MATCH (i:Instance {SOPInstanceUID: $u}) RETURN i.other_values AS o, "
                      "i.other_values_problem AS p, i.PatientID AS pid", {"u": WIDE_UID}).records()[0]
    kept_elsewhere = json.loads(row["o"])
    assert len(kept_elsewhere) > 1000 and "other_values" in row["p"] and row["pid"] == "WIDE"
    assert all(k in keyword_dict for k in kept_elsewhere)  # DICOM keywords, not bookkeeping

    ordinary = os.path.dirname(get_testdata_file("CT_small.dcm") or "")
    if not ordinary:
        pytest.skip("pydicom's test files are not installed")
    summary = run_ingest(store, [ordinary], workers=1, progress=False, report_path=str(tmp_path / "r2.jsonl"))
    assert summary.instances_new > 50
    after = store.query("MATCH (i:Instance) WHERE i.stub = false RETURN count(i) AS n").scalar()
    assert after == summary.instances_new + 1
    assert columns(store) < declared + MAX_UNDECLARED_KEYWORDS + 600  # far below the file's thousands
