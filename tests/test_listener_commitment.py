"""The listener's Storage Commitment SCP: the N-EVENT-REPORT comes on the requester's association while it
is open, else on a new association to its --peer address; every outcome is in the graph."""

from __future__ import annotations

import threading
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import SecondaryCaptureImageStorage, generate_uid
from pynetdicom import evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # generated at import time
    StorageCommitmentPushModel, StorageCommitmentPushModelInstance)

from dicom_graph.loader.network.commitment import commitment_report

from .listener_peers import HOST, dcmtk, free_port, images, listening, references, scu, store_all

COMMITMENT = StorageCommitmentPushModel


def request(pairs: list[tuple[str, str]]) -> Dataset:
    ds = Dataset()
    ds.TransactionUID = generate_uid()
    ds.ReferencedSOPSequence = references(pairs)
    return ds


def test_commitment_report_on_the_same_association(engine: str, corpus: Path, tmp_path: Path) -> None:
    """36 images stored and one that is not there: event type 2, the missing one failed with 0x0112."""
    files, datasets = images(corpus)
    missing = generate_uid()
    reports: list[tuple[int, Dataset]] = []
    got_report = threading.Event()

    def on_report(event) -> tuple[int, None]:
        reports.append((event.request.EventTypeID, event.event_information))
        got_report.set()
        return 0x0000, None

    with listening(engine, tmp_path, "--allow", "STORESCU,MODALITY", "--timeout", "30") as listener:
        store_all(listener, files)
        modality = scu("MODALITY")
        modality.add_requested_context(COMMITMENT)
        assoc = listener.associate(modality, evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)])
        assert assoc.is_established
        sent = request([(str(i.SOPClassUID), str(i.SOPInstanceUID)) for i in datasets]
                       + [(SecondaryCaptureImageStorage, missing)])
        status, _ = assoc.send_n_action(sent, 1, COMMITMENT, StorageCommitmentPushModelInstance)
        assert status.Status == 0x0000
        assert got_report.wait(30), listener.log()
        assoc.release()
    event_type, info = reports[0]
    assert event_type == 2
    assert info.TransactionUID == sent.TransactionUID
    assert len(info.ReferencedSOPSequence) == 36
    assert [(i.ReferencedSOPInstanceUID, i.FailureReason) for i in info.FailedSOPSequence] == [(missing, 0x0112)]

    with listener.reader() as store:
        outcomes = store.run("network_commitments").records()
        assert len(outcomes) == 37 and {r["transaction_uid"] for r in outcomes} == {sent.TransactionUID}
        assert sum(r["outcome"] == "committed" for r in outcomes) == 36
        [failed] = [r for r in outcomes if r["outcome"] == "failed"]
        assert failed["instance_uid"] == missing and failed["failure_reason"].startswith("0x0112")
        assert failed["in_graph"] is False
        contexts = store.run("network_contexts", association="", limit=5000).records()
        modality_cx = {c["sop_class_uid"]: c for c in contexts if c["calling_ae"] == "MODALITY"}
        assert modality_cx[COMMITMENT]["accepted"] and modality_cx[COMMITMENT]["result"] == "accepted"


def test_commitment_report_on_a_new_association(engine: str, corpus: Path, tmp_path: Path) -> None:
    """The requester closes its association at once: the report comes on a new one (--peer)."""
    dcmtk("storescu")
    files, datasets = images(corpus)
    back = free_port()
    reports: list[tuple[int, Dataset, str]] = []
    got = threading.Event()

    def on_report(event) -> tuple[int, None]:
        reports.append((event.request.EventTypeID, event.event_information, event.assoc.requestor.ae_title))
        got.set()
        return 0x0000, None

    requester = scu("PACSCLIENT")
    requester.add_supported_context(COMMITMENT, scu_role=True, scp_role=True)
    server = requester.start_server((HOST, back), block=False, evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)])
    assert server is not None  # block=False returns the running server
    try:
        with listening(engine, tmp_path, "--peer", f"PACSCLIENT={HOST}:{back}") as listener:
            run = listener.send("storescu", "PACSCLIENT", str(files[0]), timeout=120)
            assert run.returncode == 0, run.stderr
            requester.add_requested_context(COMMITMENT)
            assoc = listener.associate(requester)
            sent = request([(datasets[0].SOPClassUID, datasets[0].SOPInstanceUID)])
            status, _ = assoc.send_n_action(sent, 1, COMMITMENT, StorageCommitmentPushModelInstance)
            assert status.Status == 0x0000
            assoc.release()  # before the report can come
            assert got.wait(60), listener.log()
    finally:
        server.shutdown()
    event_type, info, title = reports[0]
    assert event_type == 1 and title == "DICOMGRAPH"
    assert [i.ReferencedSOPInstanceUID for i in info.ReferencedSOPSequence] == [datasets[0].SOPInstanceUID]
    with listener.reader() as store:
        outgoing = [a for a in store.run("network_associations", limit=1000, ae="").records()
                    if a["calling_ae"] == "DICOMGRAPH"]
        assert len(outgoing) == 1 and outgoing[0]["called_ae"] == "PACSCLIENT"
        [cx] = [c for c in store.run("network_contexts", association="", limit=5000).records()
                if c["association"] == outgoing[0]["association"]]
        assert cx["sop_class_uid"] == COMMITMENT and cx["accepted"] and cx["role"] == "SCP"


def test_commitment_report_lists_committed_and_failed_apart() -> None:
    info = commitment_report("1.2.3", [("1.2.840.1", "1.2.3.1", None),
                                       ("1.2.840.1", "1.2.3.2", "0x0112 no such object instance"),
                                       ("1.2.840.2", "1.2.3.3", "0x0119 class-instance conflict")])
    assert info.TransactionUID == "1.2.3"
    assert [i.ReferencedSOPInstanceUID for i in info.ReferencedSOPSequence] == ["1.2.3.1"]
    assert [(i.ReferencedSOPInstanceUID, i.FailureReason) for i in info.FailedSOPSequence] == [
        ("1.2.3.2", 0x0112), ("1.2.3.3", 0x0119)]
    assert "FailedSOPSequence" not in commitment_report("1.2.4", [("1.2.840.1", "1.2.3.1", None)])
