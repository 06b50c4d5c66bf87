"""bench/synth.py: determinism, validity and the counts in SYNTH.json."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import pydicom
import pytest
from pydicom import config
from pydicom.dataset import Dataset

ROOT = Path(__file__).resolve().parents[1]
N = 300


def _load_synth():
    spec = importlib.util.spec_from_file_location("bench_synth", ROOT / "bench" / "synth.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # so that the multiprocessing workers can pickle its functions
    spec.loader.exec_module(mod)
    return mod


synth = _load_synth()


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _dicom_files(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".json"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    a = base / "a"
    info = synth.generate(a, N, seed=0, workers=1)
    return a, info, base


def test_deterministic_and_worker_independent(archive):
    a, info, base = archive
    b = base / "b"
    info_b = synth.generate(b, N, seed=0, workers=2)
    assert info_b == info
    da, db = _digests(a), _digests(b)
    assert len(da) > N
    assert da == db
    # another seed gives another archive
    c = base / "c"
    synth.generate(c, N, seed=1, workers=1)
    assert _digests(c) != da


def test_reuse_existing(archive):
    a, info, _ = archive
    marker = a / "SYNTH.json"
    mtime = marker.stat().st_mtime_ns
    t0 = time.perf_counter()
    again = synth.generate(a, N, seed=0, workers=1)
    assert time.perf_counter() - t0 < 1.0
    assert again == info
    assert marker.stat().st_mtime_ns == mtime


def test_files_valid_and_counts_match(archive):
    a, info, _ = archive
    files = _dicom_files(a)
    assert abs(len(files) - N) <= 0.05 * N
    assert len(files) == info["instances"]
    patients, studies, series = set(), set(), set()
    per_sop, per_ts = Counter(), Counter()
    all_uids = set()
    pairs, ref_targets = 0, []
    top_counts, all_counts = [], []
    no_ext = 0
    old = config.settings.reading_validation_mode
    config.settings.reading_validation_mode = config.RAISE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for f in files:
                ds = pydicom.dcmread(f, stop_before_pixels=True)
                meta = ds.file_meta
                assert meta.MediaStorageSOPClassUID == ds.SOPClassUID
                assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
                assert meta.TransferSyntaxUID in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
                assert "PixelData" not in ds
                elems = list(ds.iterall())  # converts every raw element (validation RAISE)
                for e in elems:
                    _ = e.value
                str(ds)
                top_counts.append(len(ds))
                all_counts.append(len(elems))
                refs = {e.value for e in elems if e.tag == 0x00081155}
                pairs += len(refs)
                ref_targets.extend(refs)
                patients.add(ds.PatientID)
                studies.add(ds.StudyInstanceUID)
                series.add(ds.SeriesInstanceUID)
                all_uids.add(ds.SOPInstanceUID)
                per_sop[ds.SOPClassUID] += 1
                per_ts[meta.TransferSyntaxUID] += 1
                no_ext += f.suffix != ".dcm"
                _ = ds.PatientName.family_name  # decodes with the file's character set
    finally:
        config.settings.reading_validation_mode = old

    assert len(all_uids) == len(files)
    assert len(patients) == info["patients"]
    assert len(studies) == info["studies"]
    assert len(series) == info["series"]
    assert dict(per_sop) == info["per_sop_class"]
    assert dict(per_ts) == info["per_transfer_syntax"]
    assert no_ext == info["files_without_extension"]
    assert pairs == info["reference_pairs"]
    assert sum(1 for u in ref_targets if u in all_uids) == info["reference_pairs_by_target"]["instance"]
    assert set(info["per_modality"]) >= {"CT", "MR", "PT", "CR", "US", "SEG", "SR", "KO", "PR", "RTSTRUCT"}
    assert min(top_counts) >= 80 and max(top_counts) <= 200, (min(top_counts), max(top_counts))
    assert min(all_counts) >= 80 and max(all_counts) <= 250, (min(all_counts), max(all_counts))


def test_character_sets(archive):
    a, _, _ = archive
    seen = Counter()
    for f in _dicom_files(a):
        ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SpecificCharacterSet", "PatientName"])
        cs = ds.get("SpecificCharacterSet")
        seen[str(cs)] += 1
        name = str(ds.PatientName)
        if cs is None:
            assert name.isascii()
        elif cs == "ISO_IR 100":
            name.encode("latin-1")
    assert "None" in seen and "ISO_IR 100" in seen and "ISO_IR 192" in seen


def test_pointer_structures(archive):
    a, _, _ = archive
    found = set()
    for f in _dicom_files(a):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        m = ds.Modality
        if m == "SEG":
            assert ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID
            src = ds.SharedFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence
            assert len(src) == int(ds.NumberOfFrames) == len(ds.PerFrameFunctionalGroupsSequence)
        elif m in ("SR", "KO"):
            ev = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
            assert ev.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        elif m == "PR":
            assert ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID
        elif m == "RTSTRUCT":
            rs = ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
            assert rs.RTReferencedSeriesSequence[0].ContourImageSequence[0].ReferencedSOPInstanceUID
        found.add(m)
    assert {"SEG", "SR", "KO", "PR", "RTSTRUCT"} <= found


def test_mpps_json(archive):
    a, info, _ = archive
    docs = sorted(a.rglob("mpps.json"))
    assert len(docs) == info["mpps_documents"] == info["studies"]
    series_uids = set()
    inst_uids = set()
    for f in _dicom_files(a):
        ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SeriesInstanceUID", "SOPInstanceUID"])
        series_uids.add(ds.SeriesInstanceUID)
        inst_uids.add(ds.SOPInstanceUID)
    n_refs = 0
    for d in docs:
        ds = Dataset.from_json(json.loads(d.read_text(encoding="utf-8")))
        assert ds.SOPClassUID == "1.2.840.10008.3.1.2.3.3"
        assert ds.PerformedProcedureStepStatus == "COMPLETED"
        for item in ds.PerformedSeriesSequence:
            assert item.SeriesInstanceUID in series_uids
            for r in item.ReferencedImageSequence:
                assert r.ReferencedSOPInstanceUID in inst_uids
                n_refs += 1
    assert n_refs == info["mpps_referenced_images"]
