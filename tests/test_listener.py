"""`dicom-graph listen` against real peers, on both engines.

The listener runs as a subprocess (`dicom-graph listen`) on a free port. dcmtk's echoscu and storescu
(Debian package dcmtk; .ci/run installs it) send ../shared/corpus files; a pynetdicom SCU creates and
completes an MPPS pointing at them and asks for storage commitment of them plus one instance that is not
there. Then the listener is stopped with SIGTERM and the graph is checked. Without dcmtk the tests skip
(in CI, CI=true, they fail). Note that pynetdicom installs console scripts named `storescu` / `echoscu`
too: the dcmtk binaries are recognised by their `--version` text.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomFileLike
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, _config, evt

from dicom_graph.model.store import open_store

from .conftest import make_store, neo4j_uri

MPPS = "1.2.840.10008.3.1.2.3.3"
COMMITMENT = "1.2.840.10008.1.20.1"
COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
VERIFICATION = "1.2.840.10008.1.1"
SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7"
IMAGES = ("ihe-iheos-toolkit2", "IDS-DEPT002-a", "images")  # 36 MR images, two series


def dcmtk(tool: str) -> str:
    """Path of a dcmtk tool (not pynetdicom's namesake); skip, or fail in CI, when there is none."""
    candidates = [f"/usr/bin/{tool}", shutil.which(tool)]
    for path in candidates:
        if path and os.path.exists(path):
            try:
                out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if "dcmtk" in (out.stdout + out.stderr).lower():
                return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but dcmtk's {tool} is not installed (.ci/run installs the dcmtk package)")
    pytest.skip(f"needs dcmtk's {tool} (apt-get install dcmtk)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli() -> list[str]:
    return [sys.executable, "-c", "from dicom_graph.app import main; main()"]


class Listening:
    """`dicom-graph listen` as a subprocess; `stop()` sends SIGTERM and returns the exit status."""

    def __init__(self, graph_args: list[str], port: int, extra: list[str], env: dict[str, str]) -> None:
        self.port = port
        self.graph_args = graph_args
        self.env = env
        self.proc = subprocess.Popen(
            cli() + ["listen", "--port", str(port), "--host", "127.0.0.1", *extra, *graph_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        ready = threading.Event()

        def pump(stream, sink, flag) -> None:
            for line in stream:
                sink.append(line)
                if flag and line.startswith("listening on"):
                    ready.set()

        threading.Thread(target=pump, args=(self.proc.stdout, self.stdout, True), daemon=True).start()
        threading.Thread(target=pump, args=(self.proc.stderr, self.stderr, False), daemon=True).start()
        deadline = time.monotonic() + 60
        while not ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"listener did not start:\n{''.join(self.stderr)}")

    def query(self, cypher: str) -> list[dict]:
        out = subprocess.run(cli() + ["query", cypher, "-f", "json", *self.graph_args], capture_output=True,
                             text=True, env=self.env, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("listener did not stop on SIGTERM")

    def log(self) -> str:
        return "".join(self.stderr)


@pytest.fixture
def graph(engine: str, tmp_path: Path) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Arguments naming an empty graph of the engine, and the environment for the subprocesses."""
    env = dict(os.environ)
    if engine == "embedded":
        env.pop("NEO4J_URI", None)
        yield ["--db", str(tmp_path / "listen.db")], env
    else:
        make_store(engine, tmp_path).close()  # empties the shared Neo4j
        yield ["--neo4j", neo4j_uri()], env


def reader(engine: str, graph_args: list[str]):
    if engine == "embedded":
        return open_store(db=graph_args[1], read_only=True)
    return open_store(neo4j=graph_args[1], read_only=True)


def scu(title: str) -> AE:
    ae = AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    return ae


def mpps_create(patient_id: str, study_uid: str) -> Dataset:
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
    ds.PerformedProcedureStepStatus = "IN PROGRESS"
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
        refs = []
        for m in members:
            ref = Dataset()
            ref.ReferencedSOPClassUID = m.SOPClassUID
            ref.ReferencedSOPInstanceUID = m.SOPInstanceUID
            refs.append(ref)
        item.ReferencedImageSequence = refs
        item.ReferencedNonImageCompositeSOPInstanceSequence = []
        items.append(item)
    ds.PerformedSeriesSequence = items
    return ds


def part10(path: Path, body: bytes, sop_uid: str) -> Path:
    """A Part 10 file with the given (possibly broken) dataset bytes, explicit VR little endian."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SC_IMAGE
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    buffer.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(DicomFileLike(buffer), meta)
    buffer.write(body)
    path.write_bytes(buffer.getvalue())
    return path


def good_body(sop_uid: str) -> bytes:
    ds = Dataset()
    ds.SOPClassUID = SC_IMAGE
    ds.SOPInstanceUID = sop_uid
    ds.PatientID = "BROKEN"
    ds.StudyInstanceUID = "1.2.3.999.1"
    ds.SeriesInstanceUID = "1.2.3.999.1.1"
    ds.Modality = "OT"
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=False, little_endian=True, enforce_file_format=False)
    return buffer.getvalue()


def test_listen_end_to_end(engine: str, graph, corpus: Path, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    echoscu, storescu = dcmtk("echoscu"), dcmtk("storescu")
    graph_args, env = graph
    files = sorted(corpus.joinpath(*IMAGES).glob("*.dcm"))
    assert len(files) == 36
    images = [dcmread(f, stop_before_pixels=True) for f in files]
    port = free_port()
    store_dir = tmp_path / "received"
    listener = Listening(graph_args, port, ["--allow", "ECHOSCU,STORESCU,MODALITY", "--store-dir",
                                            str(store_dir), "--timeout", "30", "--grace", "20"], env)
    try:
        # dcmtk peers: C-ECHO, then all the images over one association
        run = subprocess.run([echoscu, "-aet", "ECHOSCU", "-aec", "DICOMGRAPH", "127.0.0.1", str(port)],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        run = subprocess.run([storescu, "-aet", "STORESCU", "-aec", "DICOMGRAPH", "127.0.0.1", str(port),
                              *map(str, files)], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr + listener.log()

        # while it runs, `dicom-graph query` (another process) sees what it stored
        rows = listener.query("MATCH (i:Instance) WHERE i.source = 'network' AND i.stub = false "
                              "RETURN count(*) AS n")
        assert rows == [{"n": 36}]

        # a disallowed AE title is rejected at association (permanent, service user, calling AE title)
        run = subprocess.run([echoscu, "-aet", "INTRUDER", "-aec", "DICOMGRAPH", "127.0.0.1", str(port)],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode != 0
        intruder = scu("INTRUDER")
        intruder.add_requested_context(VERIFICATION)
        assoc = intruder.associate("127.0.0.1", port, ae_title="DICOMGRAPH")
        assert assoc.is_rejected
        rj = assoc.acceptor.primitive
        assert (rj.result, rj.result_source, rj.diagnostic) == (1, 1, 3)

        # the modality: MPPS N-CREATE, N-SET COMPLETED; state errors of PS3.4 F.7.2
        modality = scu("MODALITY")
        modality.add_requested_context(MPPS)
        modality.add_requested_context(COMMITMENT)
        modality.add_requested_context(SC_IMAGE, ExplicitVRLittleEndian)
        modality.add_requested_context(VERIFICATION)
        reports: list[tuple[int, Dataset]] = []
        got_report = threading.Event()

        def on_report(event) -> int:
            reports.append((event.request.EventTypeID, event.event_information))
            got_report.set()
            return 0x0000, None

        assoc = modality.associate("127.0.0.1", port, ae_title="DICOMGRAPH",
                                   evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)])
        assert assoc.is_established
        mpps_uid = generate_uid()
        status, _ = assoc.send_n_create(mpps_create(str(images[0].PatientID), str(images[0].StudyInstanceUID)),
                                        MPPS, mpps_uid)
        assert status.Status == 0x0000
        status, _ = assoc.send_n_create(mpps_create("X", "1.2.3"), MPPS, mpps_uid)
        assert status.Status == 0x0111  # duplicate SOP instance
        status, _ = assoc.send_n_set(mpps_complete(images), MPPS, mpps_uid)
        assert status.Status == 0x0000
        status, _ = assoc.send_n_set(mpps_complete(images), MPPS, mpps_uid)
        assert status.Status == 0x0110  # processing failure ...
        assert status.ErrorID == 0xA710  # ... Performed Procedure Step Object may no longer be updated
        status, _ = assoc.send_n_set(mpps_complete(images), MPPS, generate_uid())
        assert status.Status == 0x0112  # no such object instance

        # storage commitment for the 36 images and one that is not there, answered on this association
        missing = generate_uid()
        request = Dataset()
        request.TransactionUID = transaction = generate_uid()
        refs = []
        for uid_cls in [(str(i.SOPClassUID), str(i.SOPInstanceUID)) for i in images] + [(SC_IMAGE, missing)]:
            ref = Dataset()
            ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = uid_cls
            refs.append(ref)
        request.ReferencedSOPSequence = refs
        status, _ = assoc.send_n_action(request, 1, COMMITMENT, COMMITMENT_INSTANCE)
        assert status.Status == 0x0000
        assert got_report.wait(30), listener.log()
        event_type, info = reports[0]
        assert event_type == 2
        assert info.TransactionUID == transaction
        assert len(info.ReferencedSOPSequence) == 36
        assert [(i.ReferencedSOPInstanceUID, i.FailureReason) for i in info.FailedSOPSequence] == [
            (missing, 0x0112)]

        # broken datasets: an error status, nothing written, and the listener stays up
        monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)  # send the file's bytes as they are
        unterminated = good_body("1.2.3.999.2") + (
            b"\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\xff\xff\xff\xff"
            b"\x08\x00\x50\x11UI\x04\x001.2\x00")  # a sequence and an item that never end
        bad_length = good_body("1.2.3.999.3") + b"\x28\x00\x11\x00US\x03\x00\x01\x02\x03"
        for name, body, uid in (("unterminated.dcm", unterminated, "1.2.3.999.2"),
                                ("bad-length.dcm", bad_length, "1.2.3.999.3")):
            status = assoc.send_c_store(part10(tmp_path / name, body, uid))
            assert status and (status.Status & 0xF000) in (0xA000, 0xC000), (name, status)
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()

        # a new association still works after all that
        run = subprocess.run([echoscu, "-aet", "ECHOSCU", "-aec", "DICOMGRAPH", "127.0.0.1", str(port)],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0
    finally:
        code = listener.stop()
    assert code == 0, listener.log()
    assert len(list(store_dir.glob("*.dcm"))) == 36
    assert not list(store_dir.glob(".*.part"))

    with reader(engine, graph_args) as store:
        stored = store.query("MATCH (s:Series)-[:HAS_INSTANCE]->(i:Instance) WHERE i.source = 'network' "
                             "RETURN i.SOPInstanceUID AS uid, i.path AS path ORDER BY uid").records()
        assert sorted(r["uid"] for r in stored) == sorted(str(i.SOPInstanceUID) for i in images)
        assert all(r["path"] and r["path"].startswith(str(store_dir)) for r in stored)
        assert store.query("MATCH (i:Instance) WHERE i.SOPInstanceUID STARTS WITH '1.2.3.999.' "
                           "RETURN count(*) AS n").scalar() == 0  # the broken ones left nothing
        assert store.query("MATCH (s:Study {StudyInstanceUID: '1.2.3.999.1'}) RETURN count(*) AS n").scalar() == 0

        [mpps] = store.run("network_mpps").records()
        assert mpps["mpps_uid"] == mpps_uid and mpps["status"] == "COMPLETED"
        assert (mpps["images"], mpps["images_received"], mpps["series"]) == (36, 36, 2)
        edges = store.query("MATCH (m:Instance {SOPInstanceUID: $u})-[r:REFERENCES]->(i:Instance) "
                            "RETURN r.via AS via, count(*) AS n", {"u": mpps_uid}).records()
        assert edges == [{"via": "PerformedSeriesSequence>ReferencedImageSequence", "n": 36}]

        outcomes = store.run("network_commitments").records()
        assert len(outcomes) == 37 and {r["transaction_uid"] for r in outcomes} == {transaction}
        assert sum(r["outcome"] == "committed" for r in outcomes) == 36
        [failed] = [r for r in outcomes if r["outcome"] == "failed"]
        assert failed["instance_uid"] == missing and failed["failure_reason"].startswith("0x0112")
        assert failed["in_graph"] is False

        aes = {r["ae_title"]: r for r in store.run("network_application_entities").records()}
        assert {"ECHOSCU", "STORESCU", "MODALITY", "INTRUDER", "DICOMGRAPH"} <= set(aes)
        assert aes["DICOMGRAPH"]["called"] >= 5 and aes["INTRUDER"]["rejected"] == 2

        assocs = store.run("network_associations", limit=1000, ae="").records()
        rejected = [a for a in assocs if a["result"] == "rejected"]
        assert len(rejected) == 2 and all("calling AE title not recognised" in a["reason"] for a in rejected)
        assert all(a["ended_at"] for a in assocs)
        [store_assoc] = [a for a in assocs if a["calling_ae"] == "STORESCU"]
        assert store_assoc["messages"] == 36 and store_assoc["implementation_version"].startswith("OFFIS")

        contexts = store.run("network_contexts", association="", limit=5000).records()
        mr = [c for c in contexts if c["calling_ae"] == "STORESCU" and c["sop_class_uid"] == str(images[0].SOPClassUID)
              and c["accepted"]]
        assert mr and all(c["role"] == "SCU" and c["transfer_syntax"] in c["offered"] for c in mr)
        modality_cx = {c["sop_class_uid"]: c for c in contexts if c["calling_ae"] == "MODALITY"}
        assert modality_cx[MPPS]["accepted"] and modality_cx[MPPS]["role"] == "SCU"
        assert modality_cx[COMMITMENT]["accepted"] and modality_cx[COMMITMENT]["result"] == "accepted"
        assert {c["result"] for c in contexts if c["association"] in {a["association"] for a in rejected}} == {
            "not-negotiated"}


def test_commitment_report_on_a_new_association(engine: str, graph, corpus: Path) -> None:
    """The requester closes its association at once: the report comes on a new one (--peer)."""
    dcmtk("storescu")
    graph_args, env = graph
    files = sorted(corpus.joinpath(*IMAGES).glob("*.dcm"))[:2]
    image = dcmread(files[0], stop_before_pixels=True)
    port, back = free_port(), free_port()
    reports: list[tuple[int, Dataset, str]] = []
    got = threading.Event()

    def on_report(event) -> int:
        reports.append((event.request.EventTypeID, event.event_information, event.assoc.requestor.ae_title))
        got.set()
        return 0x0000, None

    requester = scu("PACSCLIENT")
    requester.add_supported_context(COMMITMENT, scu_role=True, scp_role=True)
    server = requester.start_server(("127.0.0.1", back), block=False,
                                    evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)])
    listener = Listening(graph_args, port, ["--peer", f"PACSCLIENT=127.0.0.1:{back}"], env)
    try:
        run = subprocess.run([dcmtk("storescu"), "-aet", "PACSCLIENT", "-aec", "DICOMGRAPH", "127.0.0.1",
                              str(port), str(files[0])], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        requester.add_requested_context(COMMITMENT)
        assoc = requester.associate("127.0.0.1", port, ae_title="DICOMGRAPH")
        request = Dataset()
        request.TransactionUID = generate_uid()
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = image.SOPClassUID, image.SOPInstanceUID
        request.ReferencedSOPSequence = [ref]
        status, _ = assoc.send_n_action(request, 1, COMMITMENT, COMMITMENT_INSTANCE)
        assert status.Status == 0x0000
        assoc.release()  # before the report can come
        assert got.wait(60), listener.log()
        event_type, info, title = reports[0]
        assert event_type == 1 and title == "DICOMGRAPH"
        assert [i.ReferencedSOPInstanceUID for i in info.ReferencedSOPSequence] == [image.SOPInstanceUID]
    finally:
        code = listener.stop()
        server.shutdown()
    assert code == 0, listener.log()
    with reader(engine, graph_args) as store:
        outgoing = [a for a in store.run("network_associations", limit=1000, ae="").records() if a["calling_ae"] == "DICOMGRAPH"]
        assert len(outgoing) == 1 and outgoing[0]["called_ae"] == "PACSCLIENT"
        [cx] = [c for c in store.run("network_contexts", association="", limit=5000).records() if c["association"] == outgoing[0]["association"]]
        assert cx["sop_class_uid"] == COMMITMENT and cx["accepted"] and cx["role"] == "SCP"
