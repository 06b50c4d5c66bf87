"""The listener answers C-STORE once a dataset is spooled and writes the graph in micro-batches
(loader/network/spool.py, writer.py): every stored instance reaches the graph within the stated delay,
with the graph the file ingest makes of the same files; a kill -9 between the status and the graph write
loses nothing (the next start replays the spool); a commitment request right after a burst finds every
instance stored. Real peers: dcmtk's storescu, a pynetdicom SCU that records every status; synthetic
files made here, so nothing needs ../shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # generated at import time
    StorageCommitmentPushModel, StorageCommitmentPushModelInstance)

from .listener_peers import Listening, cli, listening, references, scu

FILES = 300
COUNT = "MATCH (i:Instance) WHERE i.source = 'network' AND i.stub = false RETURN count(*) AS n"
ENTITIES = ("Patient", "Study", "Series", "Equipment", "Instance", "EntityValues")


def synthetic(folder: Path, n: int = FILES) -> list[Path]:
    """n CT headers (no pixels) of 3 patients, 6 studies, 12 series, Part 10, explicit VR little endian."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, f"1.2.826.0.1.3680043.8.498.7.{i + 1}"
        ds.PatientID, ds.PatientName = f"SPOOL{i % 3}", f"Spool^{i % 3}"
        ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.5.{i % 6}"
        ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.6.{i % 12}"
        ds.StudyDate, ds.Modality, ds.Manufacturer = "20240301", "CT", "Spool Systems"
        ds.InstanceNumber, ds.SliceThickness, ds.Rows, ds.Columns = i + 1, "2.5", 512, 512
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = CTImageStorage, ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"{i:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def stats(graph_args: list[str]) -> dict:
    out = subprocess.run(cli() + ["stats", "--json", *graph_args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_burst_is_in_the_graph_within_the_delay_as_ingest_would_write_it(tmp_path: Path) -> None:
    files = synthetic(tmp_path / "files")
    with listening("embedded", tmp_path, "--timeout", "30") as listener:
        run = listener.send("storescu", "STORESCU", "-R", *map(str, files), timeout=300)
        assert run.returncode == 0, run.stderr + listener.log()
        assert listener.eventually(COUNT, [{"n": FILES}]) == [{"n": FILES}], listener.log()
    ingested = ["--db", str(tmp_path / "ingested.db")]
    out = subprocess.run(cli() + ["ingest", str(tmp_path / "files"), "--workers", "1", *ingested],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    received, reference = stats(listener.graph_args), stats(ingested)
    for label in ENTITIES:
        assert received["nodes"].get(label) == reference["nodes"].get(label), label
    for rel in ("HAS_STUDY", "HAS_SERIES", "HAS_INSTANCE", "ACQUIRED_ON", "INSTANCE_OF"):
        assert received["relationships"].get(rel) == reference["relationships"].get(rel), rel
    assert not list(Path(f"{tmp_path / 'listen.db'}.spool").glob("segment-*.spool"))  # all written, compacted


def test_kill_9_during_a_transfer_loses_no_instance_that_got_a_success_status(tmp_path: Path) -> None:
    files = synthetic(tmp_path / "files")
    graph_args = ["--db", str(tmp_path / "listen.db")]
    env = {k: v for k, v in os.environ.items() if k != "NEO4J_URI"}
    listener = Listening("embedded", graph_args, ["--timeout", "30"], env)
    answered: list[str] = []
    enough = threading.Event()

    def modality() -> None:
        ae = scu("MODALITY")
        ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
        assoc = listener.associate(ae)
        assert assoc.is_established
        try:
            for path in files:
                status = assoc.send_c_store(path)
                if not status or status.Status != 0x0000:
                    break  # the listener is gone: from here on nothing was answered
                answered.append(path.stem)
                if len(answered) == FILES // 2:
                    enough.set()
        finally:
            enough.set()
            assoc.abort()

    sender = threading.Thread(target=modality)
    sender.start()
    assert enough.wait(120)
    listener.proc.kill()  # kill -9, mid-transfer, well inside the write window of the last answers
    listener.proc.wait(30)
    sender.join(60)
    assert len(answered) >= FILES // 2

    again = Listening("embedded", graph_args, ["--timeout", "30"], env)
    try:
        uids = [row["uid"] for row in again.query(
            "MATCH (i:Instance) WHERE i.source = 'network' AND i.stub = false RETURN i.SOPInstanceUID AS uid")]
    finally:
        assert again.stop() == 0
    missing = {f"1.2.826.0.1.3680043.8.498.7.{int(stem) + 1}" for stem in answered} - set(uids)
    assert not missing, f"{len(missing)} answered instances lost"
    assert "replayed " in again.log(), again.log()  # the kill did land between a status and its write


def test_commitment_right_after_a_burst_reports_every_instance_stored(tmp_path: Path) -> None:
    files = synthetic(tmp_path / "files")
    reports: list[tuple[int, Dataset]] = []
    got = threading.Event()

    def on_report(event: evt.Event) -> tuple[int, None]:
        reports.append((event.request.EventTypeID, event.event_information))
        got.set()
        return 0x0000, None

    with listening("embedded", tmp_path, "--timeout", "30") as listener:
        run = listener.send("storescu", "STORESCU", "-R", *map(str, files), timeout=300)
        assert run.returncode == 0, run.stderr + listener.log()
        ae = scu("MODALITY")
        ae.add_requested_context(StorageCommitmentPushModel)
        assoc = listener.associate(ae, evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)])
        assert assoc.is_established
        request = Dataset()
        request.TransactionUID = generate_uid()
        request.ReferencedSOPSequence = references(
            [(CTImageStorage, f"1.2.826.0.1.3680043.8.498.7.{i + 1}") for i in range(FILES)])
        status, _ = assoc.send_n_action(request, 1, StorageCommitmentPushModel,
                                        StorageCommitmentPushModelInstance)
        assert status.Status == 0x0000
        assert got.wait(60), listener.log()
        assoc.release()
    event_type, info = reports[0]
    assert event_type == 1, "some instances were reported failed"
    assert len(info.ReferencedSOPSequence) == FILES and "FailedSOPSequence" not in info
