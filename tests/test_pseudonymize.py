"""Pseudonymization units: the table-driven removal, the patient key's issuer, invalid values, private
pointers, paths. The store-level PHI scan is test_phi_scan.py."""

from __future__ import annotations

import os

from pydicom.dataset import Dataset

from dicom_graph.loader.dataset import basic_profile
from dicom_graph.loader.dataset.extract import dataset_to_batch
from dicom_graph.loader.dataset.pseudonymize import REMOVED_KEYWORDS, Pseudonymizer

P = Pseudonymizer("unit-key")


def ct(patient_id: str | list[str] = "MRN1", issuer: str | None = None) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3.4", "1.2.3.4.5"
    ds.add_new(0x00100020, "LO", patient_id)
    if issuer is not None:
        ds.IssuerOfPatientID = issuer
    return ds


def test_table_drives_removal_of_what_the_hand_list_missed():
    # found stored in clear before (issue 15): all are Table E.1-1 rows or untabled PN keywords
    for kw in ("ContainerIdentifier", "ClinicalTrialCoordinatingCenterName", "StructureSetLabel",
               "RTPlanLabel", "RTPlanDate", "ScheduledProcedureStepID", "DateOfLastCalibration",
               "ConsultingPhysicianName", "EvaluatorName", "PatientTelecomInformation",
               "PlacerOrderNumberImagingServiceRequest", "FillerOrderNumberImagingServiceRequest",
               "ReasonForTheRequestedProcedure", "OverlayComments", "CurveData"):
        assert kw in REMOVED_KEYWORDS, kw
    assert basic_profile.untabled_person_names() == {"DocumentAuthorTrial", "EvaluatorName",
                                                      "SecondaryReviewerName"}
    assert {"StudyInstanceUID", "SOPInstanceUID", "ReferencedSOPInstanceUID"}.isdisjoint(REMOVED_KEYWORDS)


def test_same_patient_id_under_two_issuers_is_two_patients():
    keys = {dataset_to_batch(ct(issuer=i), source="file", pseudonymizer=P).patient_key for i in ("A", "B")}
    assert len(keys) == 2 and keys == {P.patient_id("MRN1", "A"), P.patient_id("MRN1", "B")}
    ex = dataset_to_batch(ct(issuer="A"), source="file", pseudonymizer=P)
    assert "IssuerOfPatientID" not in ex.batch.nodes["Patient"][ex.patient_key]  # used, not stored


def test_invalid_patient_id_is_stored_as_its_pseudonym():
    ex = dataset_to_batch(ct(["MRN1", "MRN2"], issuer="A"), source="file", pseudonymizer=P)
    row = ex.batch.nodes["Instance"]["1.2.3.4.1"]
    assert row["invalid_values"] == ["PatientID=" + P.patient_id("MRN1\\MRN2", "A")]
    assert "MRN" not in repr(ex.batch.nodes) and ex.problems == ["PatientID: not a valid string"]
    plain = dataset_to_batch(ct(["MRN1", "MRN2"]), source="file")
    assert plain.batch.nodes["Instance"]["1.2.3.4.1"]["invalid_values"] == ["PatientID=MRN1\\MRN2"]


def test_pointers_inside_private_sequences_are_dropped():
    ds = ct()
    block = ds.private_block(0x0029, "ACME", create=True)
    hidden, shown = Dataset(), Dataset()
    hidden.ReferencedSOPInstanceUID, shown.ReferencedSOPInstanceUID = "1.2.3.9.1", "1.2.3.9.2"
    block.add_new(0x10, "SQ", [hidden])
    ds.ReferencedImageSequence = [shown]
    rels = dataset_to_batch(ds, source="file", pseudonymizer=P).batch.rels
    assert "1.2.3.9.2" in repr(rels) and "1.2.3.9.1" not in repr(rels)
    assert "1.2.3.9.1" in repr(dataset_to_batch(ds, source="file").batch.rels)  # stored without --pseudonymize


def test_paths_become_keyed_hashes_and_stay_findable():
    path = "/data/SMITH^JANE_MRN778899/1.dcm"
    ex = dataset_to_batch(ct(), source="file", path=path, pseudonymizer=P)
    stored = ex.batch.nodes["Instance"]["1.2.3.4.1"]["path"]
    assert stored == P.path(path) == Pseudonymizer("unit-key").path(path) != Pseudonymizer("other").path(path)
    assert "SMITH" not in stored and P.path(os.path.relpath(path)) == stored  # re-hash any spelling of it
    message = P.scrub(f"[Errno 13] Permission denied: '{path}' (1.dcm)", path)
    assert "SMITH" not in message and "1.dcm" not in message and stored in message
