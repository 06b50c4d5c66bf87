"""The listener's Verification and Storage SCP against dcmtk's echoscu and storescu (tests/listener_peers.py).

A stored instance is in the graph, with its Part 10 file kept in --store-dir, within the listener's stated
delay after storescu has its response; a broken dataset gets an error status, leaves nothing behind, and
the listener goes on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage
from pynetdicom import _config
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # generated at import time

from dicom_graph.loader.network.storage import broken_elements

from .listener_peers import good_body, images, listening, part10, scu, store_all

UNTERMINATED = (b"\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\xff\xff\xff\xff"
                b"\x08\x00\x50\x11UI\x04\x001.2\x00")  # a sequence and an item that never end
BAD_LENGTH = b"\x28\x00\x11\x00US\x03\x00\x01\x02\x03"  # Columns, 3 bytes long


def test_store_from_dcmtk_and_refuse_broken_datasets(engine: str, corpus: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    files, datasets = images(corpus)
    store_dir = tmp_path / "received"
    with listening(engine, tmp_path, "--allow", "ECHOSCU,STORESCU,MODALITY", "--store-dir", str(store_dir),
                   "--timeout", "30", "--grace", "20") as listener:
        run = listener.send("echoscu", "ECHOSCU", timeout=60)
        assert run.returncode == 0, run.stderr
        store_all(listener, files)

        # while it runs, `dicom-graph query` (another process) sees what it stored, within the bound
        rows = listener.eventually("MATCH (i:Instance) WHERE i.source = 'network' AND i.stub = false "
                                   "RETURN count(*) AS n", [{"n": 36}])
        assert rows == [{"n": 36}]

        # broken datasets: an error status, nothing written, and the listener stays up
        monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)  # send the file's bytes as they are
        modality = scu("MODALITY")
        modality.add_requested_context(SecondaryCaptureImageStorage, ExplicitVRLittleEndian)
        modality.add_requested_context(Verification)
        assoc = listener.associate(modality)
        assert assoc.is_established
        for name, body, uid in (("unterminated.dcm", good_body("1.2.3.999.2") + UNTERMINATED, "1.2.3.999.2"),
                                ("bad-length.dcm", good_body("1.2.3.999.3") + BAD_LENGTH, "1.2.3.999.3")):
            status = assoc.send_c_store(part10(tmp_path / name, body, uid))
            assert status and (status.Status & 0xF000) in (0xA000, 0xC000), (name, status)
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()

        # a new association still works after all that
        run = listener.send("echoscu", "ECHOSCU", timeout=60)
        assert run.returncode == 0

    assert len(list(store_dir.glob("*.dcm"))) == 36
    assert not list(store_dir.glob(".*.part"))
    with listener.reader() as store:
        stored = store.query("MATCH (s:Series)-[:HAS_INSTANCE]->(i:Instance) WHERE i.source = 'network' "
                             "RETURN i.SOPInstanceUID AS uid, i.path AS path ORDER BY uid").records()
        assert sorted(r["uid"] for r in stored) == sorted(str(i.SOPInstanceUID) for i in datasets)
        assert all(r["path"] and r["path"].startswith(str(store_dir)) for r in stored)
        assert store.query("MATCH (i:Instance) WHERE i.SOPInstanceUID STARTS WITH '1.2.3.999.' "
                           "RETURN count(*) AS n").scalar() == 0  # the broken ones left nothing
        assert store.query("MATCH (s:Study {StudyInstanceUID: '1.2.3.999.1'}) RETURN count(*) AS n").scalar() == 0

        aes = {r["ae_title"]: r for r in store.run("network_application_entities").records()}
        assert set(aes) == {"ECHOSCU", "STORESCU", "MODALITY", "DICOMGRAPH"}
        assert aes["DICOMGRAPH"]["called"] == 4 and aes["ECHOSCU"]["calling"] == 2
        assocs = store.run("network_associations", limit=1000, ae="").records()
        assert len(assocs) == 4 and all(a["ended_at"] and a["result"] == "accepted" for a in assocs)
        [store_assoc] = [a for a in assocs if a["calling_ae"] == "STORESCU"]
        assert store_assoc["messages"] == 36 and store_assoc["implementation_version"].startswith("OFFIS")
        contexts = store.run("network_contexts", association="", limit=5000).records()
        mr = [c for c in contexts if c["calling_ae"] == "STORESCU"
              and c["sop_class_uid"] == str(datasets[0].SOPClassUID) and c["accepted"]]
        assert mr and all(c["role"] == "SCU" and c["transfer_syntax"] in c["offered"] for c in mr)


def test_broken_elements_are_decoding_failures_not_invalid_values() -> None:
    problems = ["Columns: ValueError", "unreadable sequence ReferencedImageSequence: ValueError: bad item",
                "PatientAge: not a valid AS", "StudyDate: not a valid DA"]
    assert broken_elements(problems) == problems[:2]
