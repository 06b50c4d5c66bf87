"""An unchanged file read again is checked again: on both engines.

NO_STANDARD_HINT tells a user who ingested before loading the standard to load it and ingest again, and
the README says to load it again after a correction; an unchanged instance used to be skipped whole, so
its conformance properties stayed unset (or wrong) whatever the standard now said."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
from highdicom import UID
from highdicom.legacy import LegacyConvertedEnhancedCTImage
from pydicom.data import get_testdata_file

from dicom_graph.loader.ingest import run_ingest
from dicom_graph.loader.standard import load_standard


def _checked(store) -> dict[str, object]:
    return {r["uid"]: r["conformant"] for r in store.query(
        "MATCH (i:Instance) WHERE i.stub = false RETURN i.SOPInstanceUID AS uid, i.conformant AS conformant").records()}


def test_files_ingested_before_the_standard_are_checked_when_read_again(store, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    shutil.copy(get_testdata_file("CT_small.dcm"), folder / "ct.dcm")
    LegacyConvertedEnhancedCTImage([ct], series_instance_uid=UID(), series_number=1, sop_instance_uid=UID(),
                                   instance_number=1).save_as(folder / "lcct.dcm")

    def ingest():
        return run_ingest(store, [str(folder)], workers=1, progress=False, report_path=str(tmp_path / "r.jsonl"))

    first = ingest()
    assert not first.conformance_checked and set(_checked(store).values()) == {None}
    load_standard(store)
    again = ingest()
    assert again.instances_unchanged == 2 and again.instances_rechecked == 2
    assert "2 checked again" in again.lines()[1]
    checked = _checked(store)
    assert len(checked) == 2 and None not in checked.values()
    findings = store.run("conformance_findings").records()
    assert "UnassignedPerFrameConvertedAttributesSequence" not in {r["keyword"] for r in findings}
    third = ingest()  # nothing differs now: nothing is written
    assert third.instances_unchanged == 2 and third.instances_rechecked == 0
    assert "checked again" not in third.lines()[1] and _checked(store) == checked


def test_a_finding_the_standard_no_longer_makes_goes_when_read_again(store, tmp_path: Path) -> None:
    """What an older standard load left (a false Type 1 missing) is replaced whole, lists emptied too."""
    folder = tmp_path / "files"
    folder.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), folder / "ct.dcm")
    load_standard(store)
    run_ingest(store, [str(folder)], workers=1, progress=False, report_path=str(tmp_path / "r.jsonl"))
    read = ("MATCH (i:Instance) WHERE i.stub = false RETURN i.type1_missing AS missing, i.conformant AS ok, "
            "i.finding_keyword AS keywords")
    (truth,) = store.query(read).records()
    store.query("MATCH (i:Instance) WHERE i.stub = false SET i.type1_missing = ['Stale>StaleKeyword'], "
                "i.conformant = false, i.finding_keyword = ['StaleKeyword']", write=True)
    again = run_ingest(store, [str(folder)], workers=1, progress=False, report_path=str(tmp_path / "r.jsonl"))
    assert again.instances_rechecked == 1
    (now,) = store.query(read).records()
    assert "Stale>StaleKeyword" not in (now["missing"] or []) and "StaleKeyword" not in (now["keywords"] or [])
    assert (now["missing"] or None, now["ok"], now["keywords"] or None) == \
        (truth["missing"] or None, truth["ok"], truth["keywords"] or None)
