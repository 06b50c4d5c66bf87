"""Extraction (Dataset -> GraphBatch), sources sniffing, pseudonymization and conformance: pure units."""

from __future__ import annotations

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag
from pydicom.sequence import Sequence
from pydicom.datadict import tag_for_keyword
from pydicom.uid import CTImageStorage, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.sop_class import (BasicFilmBox, ModalityPerformedProcedureStep,  # type: ignore[attr-defined]
                                  UnifiedProcedureStepPull)

from dicom_graph.loader.dataset import basic_profile, conformance
from dicom_graph.loader.dataset.extract import ExtractError, dataset_to_batch
from dicom_graph.loader.dataset.identity import is_normalized
from dicom_graph.loader.dataset.pseudonymize import REMOVED_KEYWORDS, Pseudonymizer
from dicom_graph.loader.ingest import sources

CT = CTImageStorage


def make_ds(**extra) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = "1.2.3.4.1"
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = "1.2.3.4.5"
    ds.PatientID = "P1"
    ds.PatientName = "Doe^Jane"
    ds.PatientBirthDate = "19700101"
    ds.InstitutionName = "General Hospital"
    ds.Modality = "CT"
    ds.Manufacturer = "ACME"
    ds.Rows = 512
    ds.SliceThickness = "2.5"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ref = Dataset()
    ref.ReferencedSOPClassUID = CT
    ref.ReferencedSOPInstanceUID = "9.9.9.1"
    item = Dataset()
    item.SeriesInstanceUID = "9.9.9"
    item.ReferencedInstanceSequence = Sequence([ref])
    ds.ReferencedSeriesSequence = Sequence([item])
    for k, v in extra.items():
        setattr(ds, k, v)
    return ds


def instance(ex):
    return ex.batch.nodes["Instance"][ex.sop_instance_uid]


def test_properties_typed_and_context_normalized():
    ex = dataset_to_batch(make_ds(), source="file", path="/x.dcm", file_size=10, mtime_ns=0)
    row = instance(ex)
    assert row["Rows"] == 512 and row["SliceThickness"] == 2.5
    assert row["ImageType"] == ["ORIGINAL", "PRIMARY"]
    assert str(row["PatientBirthDate"]) == "1970-01-01"
    assert row["source"] == "file" and row["stub"] is False and row["content_hash"]
    assert "ReferencedSeriesSequence" not in row
    b = ex.batch
    assert set(b.nodes["Patient"]) == {"P1"} and set(b.nodes["Study"]) == {"1.2.3.4"}
    assert ("P1", "1.2.3.4") in b.rels[("HAS_STUDY", "Patient", "Study")]
    assert ("1.2.3.4.5", "1.2.3.4.1") in b.rels[("HAS_INSTANCE", "Series", "Instance")]
    refs = b.rels[("REFERENCES", "Instance", "Instance")]
    assert ("1.2.3.4.1", "9.9.9.1", "ReferencedSeriesSequence>ReferencedInstanceSequence") in refs
    assert ("1.2.3.4.1", "9.9.9", "ReferencedSeriesSequence") in b.rels[("REFERENCES", "Instance", "Series")]
    assert "9.9.9.1" in b.stubs["Instance"]


def test_invalid_values_kept_as_text_and_counted():
    ds = make_ds()
    for tag, vr, text in ((0x00180050, "DS", b"abc "), (0x00100030, "DA", b"2001")):
        # as a file holds them: raw bytes, decoded only by the extractor
        ds._dict[BaseTag(tag)] = RawDataElement(BaseTag(tag), vr, len(text), text, 0, False, True)
    ex = dataset_to_batch(ds, source="file")
    row = instance(ex)
    assert "SliceThickness" not in row and "PatientBirthDate" not in row
    assert "SliceThickness=abc" in row["invalid_values"]
    assert "PatientBirthDate=2001" in row["invalid_values"]
    assert len(ex.problems) >= 2


def test_unidentified_patient_is_per_study():
    ds = make_ds()
    del ds.PatientID
    ex = dataset_to_batch(ds, source="file")
    assert ex.patient_key == "unidentified:1.2.3.4"
    assert ex.batch.nodes["Patient"]["unidentified:1.2.3.4"]["unidentified"] is True


def test_no_sop_instance_uid_is_an_error():
    ds = make_ds()
    del ds.SOPInstanceUID
    with pytest.raises(ExtractError):
        dataset_to_batch(ds, source="file")


def test_pseudonymize_stable_and_removes_identifiers():
    p = Pseudonymizer("secret")
    a = dataset_to_batch(make_ds(), source="file", pseudonymizer=p)
    b = dataset_to_batch(make_ds(), source="file", pseudonymizer=Pseudonymizer("secret"))
    row = instance(a)
    assert row["PatientID"] == instance(b)["PatientID"] != "P1"
    assert row["PatientName"] != "Doe^Jane"
    assert "PatientBirthDate" not in row and "InstitutionName" not in row
    assert row["StudyInstanceUID"] == "1.2.3.4"  # UIDs kept: pointers still resolve
    assert "Doe^Jane" not in repr(a.batch.nodes) and "P1" not in a.batch.nodes["Patient"]
    other = dataset_to_batch(make_ds(), source="file", pseudonymizer=Pseudonymizer("other"))
    assert instance(other)["PatientID"] != row["PatientID"]


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian])
def test_content_hash_independent_of_transfer_syntax(tmp_path, syntax):
    def save(ts, name):
        ds = make_ds()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ts
        ds.file_meta.MediaStorageSOPClassUID = CT
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = tmp_path / name
        ds.save_as(path, enforce_file_format=True)
        return sources.read_file(str(path))[1][0]

    a = dataset_to_batch(save(ExplicitVRLittleEndian, "a.dcm"), source="file")
    b = dataset_to_batch(save(syntax, "b.dcm"), source="file")
    assert a.content_hash == b.content_hash
    assert dataset_to_batch(make_ds(Rows=256), source="file").content_hash != a.content_hash


def test_normalized_instance_gets_no_context():
    ds = make_ds(SOPClassUID=ModalityPerformedProcedureStep)
    ex = dataset_to_batch(ds, source="json")
    assert ex.normalized and "Patient" not in ex.batch.nodes and "Study" not in ex.batch.nodes
    assert ("REFERENCES", "Instance", "Instance") in ex.batch.rels


def test_sniff():
    assert sources.sniff(b"\0" * 128 + b"DICM") == "part10"
    with pytest.raises(sources.NotDicom, match="gzip"):
        sources.sniff(b"\x1f\x8b\x08\x00" + b"\0" * 200)
    with pytest.raises(sources.NotDicom):
        sources.sniff(b"hello world, this is text" * 10)
    with pytest.raises(sources.NotDicom, match="JSON"):
        sources.sniff(b'{"00080016": {}}' + b" " * 200, "x.dcm")
    assert sources.sniff(b'[{"00080016": {}}]', "x.json") == "json"
    assert sources.sniff(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" + b"\0" * 200) == "dataset"


def test_conformance_check():
    reqs = conformance.requirements_from_rows([
        {"sop_class_uid": CT, "module": "General Series", "usage": "M", "type": "1", "keyword": "Modality"},
        {"sop_class_uid": CT, "module": "General Series", "usage": "M", "type": "1",
         "keyword": "SeriesInstanceUID"},
        {"sop_class_uid": CT, "module": "General Series", "usage": "M", "type": "2",
         "keyword": "SeriesNumber"},
        {"sop_class_uid": CT, "module": "CT Image", "usage": "M", "type": "1", "keyword": "KVP"},
        {"sop_class_uid": CT, "module": "Contrast/Bolus", "usage": "C", "type": "2",
         "keyword": "ContrastBolusAgent"},
    ])
    ex = dataset_to_batch(make_ds(Modality=""), source="file", requirements=reqs)
    row = instance(ex)
    assert row["modules_present"] == ["General Series"]
    assert row["modules_missing"] == ["CT Image"]
    assert row["type1_empty"] == ["General Series>Modality"]
    assert row["type2_missing"] == ["General Series>SeriesNumber"]
    assert row["conformant"] is False


def test_normalized_sop_classes_by_uid_and_by_family():
    assert is_normalized(ModalityPerformedProcedureStep)
    assert is_normalized(BasicFilmBox) and is_normalized(UnifiedProcedureStepPull)  # print, UPS families
    assert not is_normalized(CT) and not is_normalized(None)


def test_uids_from_outside_the_dataset_when_it_has_none():
    ds = make_ds()
    del ds.SOPInstanceUID, ds.SOPClassUID
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.9"
    ds.file_meta.MediaStorageSOPClassUID = CT
    ex = dataset_to_batch(ds, source="file")
    assert (ex.sop_instance_uid, ex.sop_class_uid) == ("1.2.3.4.9", CT)
    assert instance(ex)["SOPInstanceUID"] == "1.2.3.4.9"
    # the network's command set wins over the file meta, the dataset's own UIDs over both
    ex = dataset_to_batch(ds, source="network", sop_instance_uid="1.2.3.4.8",
                          sop_class_uid=ModalityPerformedProcedureStep)
    assert ex.sop_instance_uid == "1.2.3.4.8" and ex.normalized and ex.study_uid is None
    assert dataset_to_batch(make_ds(), source="network", sop_instance_uid="1.2.3.4.8").sop_instance_uid == "1.2.3.4.1"


def test_basic_profile_file_is_cited_and_keeps_uids_and_patient_identity():
    rows = basic_profile.rows()
    assert len(rows) == 621  # every row of PS3.15 (2024b) Table E.1-1, cited in ps3.15-PROVENANCE.md
    assert all(row.id == f"{tag_for_keyword(row.keyword):08x}" for row in rows if row.keyword and "x" not in row.id)
    assert {"InstitutionName", "PatientBirthDate", "IssuerOfPatientID"} <= REMOVED_KEYWORDS
    assert not {"PatientID", "PatientName"} & REMOVED_KEYWORDS  # pseudonymized, not removed
    uid_rows = [row.keyword for row in rows if row.action == "U"]
    assert uid_rows and not set(uid_rows) & REMOVED_KEYWORDS  # UIDs kept: pointers still resolve


def test_basic_profile_row_that_contradicts_the_dictionary_is_refused():
    def row(id_: str, action: str) -> dict[str, str]:
        return {"id": id_, "keyword": "PatientAge", "name": "Patient's Age", "basicProfile": action}
    with pytest.raises(ValueError, match="not the keyword"):
        basic_profile._checked("row 2", row("00101040", "X"))
    with pytest.raises(ValueError, match="action"):
        basic_profile._checked("row 2", row("00101010", "K"))
    with pytest.raises(ValueError, match="not a tag"):
        basic_profile._checked("row 2", row("(0010,1010)", "X"))


@pytest.mark.parametrize("order", [1, -1])
def test_a_module_included_twice_is_as_required_as_its_strongest_inclusion(order: int):
    """An edition's IOD table can list a module twice; which row the engine returns first must not decide
    whether the module is required."""
    rows = [{"sop_class_uid": CT, "module": "CT Image", "usage": usage, "type": "1", "keyword": "KVP"}
            for usage in ("U", "M", "C")][::order]
    (module,) = conformance.requirements_from_rows(rows)[CT].modules
    assert module.usage == "M"
    (module,) = conformance.requirements_from_rows([r for r in rows if r["usage"] != "M"])[CT].modules
    assert module.usage == "C"
