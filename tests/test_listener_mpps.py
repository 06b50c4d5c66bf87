"""The listener's MPPS SCP: a pynetdicom modality creates and completes a step pointing at images that a
dcmtk storescu sent first; the state rules of PS3.4 F.7.2 hold, and the graph has the step's pointers."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom.sop_class import ModalityPerformedProcedureStep  # type: ignore[attr-defined]  # generated

from .listener_peers import images, listening, references, scu, store_all

MPPS = ModalityPerformedProcedureStep


def mpps_create(patient_id: str, study_uid: str, state: str = "IN PROGRESS") -> Dataset:
    ds = Dataset()
    step = Dataset()
    step.StudyInstanceUID = study_uid
    step.AccessionNumber = "ACC-1"
    step.RequestedProcedureID = "RP-1"
    step.ScheduledProcedureStepID = "SPS-1"
    step.ReferencedStudySequence = []
    ds.ScheduledStepAttributesSequence = [step]
    ds.PatientName = "Graph^Test"
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.PerformedProcedureStepID = "PPS-1"
    ds.PerformedStationAETitle = "MODALITY"
    ds.PerformedProcedureStepStartDate = "20260101"
    ds.PerformedProcedureStepStartTime = "101500"
    ds.PerformedProcedureStepStatus = state
    ds.PerformedProcedureStepDescription = "MR brain"
    ds.Modality = "MR"
    ds.PerformedSeriesSequence = []
    return ds


def mpps_complete(images: list[Dataset]) -> Dataset:
    ds = Dataset()
    ds.PerformedProcedureStepStatus = "COMPLETED"
    ds.PerformedProcedureStepEndDate = "20260101"
    ds.PerformedProcedureStepEndTime = "103000"
    series: dict[str, list[Dataset]] = {}
    for image in images:
        series.setdefault(str(image.SeriesInstanceUID), []).append(image)
    items = []
    for series_uid, members in sorted(series.items()):
        item = Dataset()
        item.SeriesInstanceUID = series_uid
        item.PerformingPhysicianName = ""
        item.OperatorsName = ""
        item.ProtocolName = "brain"
        item.RetrieveAETitle = ""
        item.SeriesDescription = str(members[0].get("SeriesDescription", ""))
        item.ReferencedImageSequence = references([(m.SOPClassUID, m.SOPInstanceUID) for m in members])
        item.ReferencedNonImageCompositeSOPInstanceSequence = []
        items.append(item)
    ds.PerformedSeriesSequence = items
    return ds


def test_mpps_create_and_complete_with_the_state_rules(engine: str, corpus: Path, tmp_path: Path) -> None:
    files, datasets = images(corpus)
    patient, study = str(datasets[0].PatientID), str(datasets[0].StudyInstanceUID)
    with listening(engine, tmp_path, "--allow", "STORESCU,MODALITY", "--timeout", "30") as listener:
        store_all(listener, files)
        modality = scu("MODALITY")
        modality.add_requested_context(MPPS)
        assoc = listener.associate(modality)
        assert assoc.is_established
        mpps_uid = generate_uid()
        status, _ = assoc.send_n_create(mpps_create("X", "1.2.3", state="COMPLETED"), MPPS, mpps_uid)
        assert status.Status == 0x0106  # invalid attribute value: a step is created IN PROGRESS
        status, _ = assoc.send_n_create(mpps_create(patient, study), MPPS, mpps_uid)
        assert status.Status == 0x0000
        status, _ = assoc.send_n_create(mpps_create("X", "1.2.3"), MPPS, mpps_uid)
        assert status.Status == 0x0111  # duplicate SOP instance
        status, _ = assoc.send_n_set(mpps_complete(datasets), MPPS, mpps_uid)
        assert status.Status == 0x0000
        status, _ = assoc.send_n_set(mpps_complete(datasets), MPPS, mpps_uid)
        assert status.Status == 0x0110  # processing failure ...
        assert status.ErrorID == 0xA710  # ... Performed Procedure Step Object may no longer be updated
        status, _ = assoc.send_n_set(mpps_complete(datasets), MPPS, generate_uid())
        assert status.Status == 0x0112  # no such object instance
        assoc.release()

    with listener.reader() as store:
        [mpps] = store.run("network_mpps").records()
        assert mpps["mpps_uid"] == mpps_uid and mpps["status"] == "COMPLETED"
        assert (mpps["images"], mpps["images_received"], mpps["series"]) == (36, 36, 2)
        edges = store.query("MATCH (m:Instance {SOPInstanceUID: $u})-[r:REFERENCES]->(i:Instance) "
                            "RETURN r.via AS via, count(*) AS n", {"u": mpps_uid}).records()
        assert edges == [{"via": "PerformedSeriesSequence>ReferencedImageSequence", "n": 36}]
        contexts = store.run("network_contexts", association="", limit=5000).records()
        modality_cx = {c["sop_class_uid"]: c for c in contexts if c["calling_ae"] == "MODALITY"}
        assert modality_cx[MPPS]["accepted"] and modality_cx[MPPS]["role"] == "SCU"
