"""`listen --pseudonymize`: what a modality sends reaches the graph as `ingest --pseudonymize` would put it
(PS3.15 Table E.1-1 applied, Patient ID and Name as keyed HMACs), and a missing key is one line, not a
listener that stores identities in clear."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from dicom_graph.loader.dataset.pseudonymize import ENV_KEY, Pseudonymizer

from .listener_peers import cli, listening

KEY = "listener-test-key"


def test_a_stored_instance_is_pseudonymized(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV_KEY, KEY)
    path = Path(get_testdata_file("CT_small.dcm"))
    original = dcmread(path, stop_before_pixels=True)
    assert original.PatientName and original.PatientID
    expected = Pseudonymizer(KEY)
    wanted = [{"pid": expected.patient_id(str(original.PatientID), None),
               "name": expected.patient_name(str(original.PatientName)),
               "ipid": expected.patient_id(str(original.PatientID), None),
               "uid": str(original.SOPInstanceUID)}]  # UIDs are kept, so pointers resolve
    with listening(engine, tmp_path, "--pseudonymize", "--any-called-ae") as listener:
        run = listener.send("storescu", "MODALITY", str(path), timeout=120)
        assert run.returncode == 0, run.stderr
        rows = listener.eventually(  # within the listener's stated delay
            "MATCH (p:Patient)-[:HAS_STUDY]->(:Study)-[:HAS_SERIES]->(:Series)-[:HAS_INSTANCE]->(i:Instance) "
            "RETURN p.PatientID AS pid, i.PatientName AS name, i.PatientID AS ipid, i.SOPInstanceUID AS uid",
            wanted)
    assert rows == wanted


def test_pseudonymize_without_a_key_refuses_to_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    out = subprocess.run(cli() + ["listen", "--pseudonymize", "--port", "0", "--db", str(tmp_path / "g.db")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and ENV_KEY in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
