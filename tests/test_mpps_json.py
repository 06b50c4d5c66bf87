"""A DICOM JSON MPPS (a normalized instance) pointing at corpus instances: its pointers are found."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
from pydicom.uid import PYDICOM_ROOT_UID
# pynetdicom makes its SOP class constants at import time, out of mypy's sight
from pynetdicom.sop_class import ModalityPerformedProcedureStep as MPPS  # type: ignore[attr-defined]

from dicom_graph.loader.ingest import run_ingest


def _uid(value: str) -> dict:
    return {"vr": "UI", "Value": [value]}


def test_mpps_json_points_at_corpus_instances(store, pydicom_corpus, tmp_path):
    # three real instances of one series of the corpus, read with pydicom (not with our loader)
    series: dict[str, list] = {}
    for path in sorted((pydicom_corpus / "pydicom").rglob("*.dcm")):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue
        if "SeriesInstanceUID" in ds and "StudyInstanceUID" in ds and "SOPInstanceUID" in ds:
            series.setdefault(ds.SeriesInstanceUID, []).append(ds)
    target = max(series.values(), key=len)[:3]
    study_uid, series_uid = target[0].StudyInstanceUID, target[0].SeriesInstanceUID
    mpps_uid = PYDICOM_ROOT_UID + "777001"
    doc = {
        "00080016": _uid(MPPS),
        "00080018": _uid(mpps_uid),
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Should^NotBeLinked"}]},
        "00100020": {"vr": "LO", "Value": ["MPPS-PATIENT"]},
        "00400252": {"vr": "CS", "Value": ["COMPLETED"]},
        "00400270": {"vr": "SQ", "Value": [{"0020000D": _uid(study_uid)}]},
        "00400340": {"vr": "SQ", "Value": [{
            "0020000E": _uid(series_uid),
            "00081140": {"vr": "SQ", "Value": [
                {"00081150": _uid(str(ds.SOPClassUID)), "00081155": _uid(str(ds.SOPInstanceUID))}
                for ds in target]},
        }]},
    }
    json_dir = tmp_path / "mpps"
    json_dir.mkdir()
    (json_dir / "mpps.json").write_text(json.dumps([doc]))

    # the MPPS first (targets are stubs), then the corpus folder that holds them completes them
    summary = run_ingest(store, [str(json_dir)], workers=1, progress=False,
                         report_path=str(tmp_path / "r1.jsonl"))
    assert summary.files_ingested == 1 and summary.instances_new == 1
    refs = store.run("instance_references", uid=mpps_uid).records()
    got = {(r["target_label"], r["target"], r["via"]) for r in refs}
    for ds in target:
        assert ("Instance", str(ds.SOPInstanceUID), "PerformedSeriesSequence>ReferencedImageSequence") in got
    assert ("Series", series_uid, "PerformedSeriesSequence") in got
    assert ("Study", study_uid, "ScheduledStepAttributesSequence") in got
    assert all(r["stub"] for r in refs)

    # normalized: no invented context (no patient, study or series of its own)
    assert store.query("MATCH (p:Patient) RETURN count(p) AS n").scalar() == 0
    assert store.query("MATCH (:Series)-[:HAS_INSTANCE]->(i:Instance {SOPInstanceUID: $u}) "
                       "RETURN count(i) AS n", {"u": mpps_uid}).scalar() == 0
    row = store.query("MATCH (i:Instance {SOPInstanceUID: $u}) RETURN i.source AS source, "
                      "i.PerformedProcedureStepStatus AS status", {"u": mpps_uid}).records()[0]
    assert row == {"source": "json", "status": "COMPLETED"}

    run_ingest(store, [str(Path(target[0].filename).parent)], workers=1, progress=False,
               report_path=str(tmp_path / "r2.jsonl"))
    refs = store.run("instance_references", uid=mpps_uid).records()
    assert {str(d.SOPInstanceUID) for d in target} <= {r["target"] for r in refs}
    assert not any(r["stub"] for r in refs if r["target"] in {str(d.SOPInstanceUID) for d in target})
    assert not any(r["stub"] for r in refs if r["target_label"] in ("Series", "Study"))
