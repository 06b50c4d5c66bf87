"""The pre-status check in its own process (loader/network/check_process.py): the same extraction and the same
refusals as in the listener's process, and a process that dies costs one refused dataset, not the listener."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from dicom_graph.loader.dataset.pseudonymize import Pseudonymizer
from dicom_graph.loader.network.check import check
from dicom_graph.loader.network.check_process import MAX_SENT_BYTES, CheckProcess
from dicom_graph.loader.network.status import CANNOT_UNDERSTAND, DATA_SET_DOES_NOT_MATCH_SOP_CLASS, Refused

from .listener_peers import good_body, part10

BAD_LENGTH = b"\x28\x00\x11\x00US\x03\x00\x01\x02\x03"  # Columns, 3 bytes long
SC = "1.2.840.10008.5.1.4.1.1.7"


def _ready(process: CheckProcess, data: bytes, uid: str, cls: str, final: Path | None) -> object:
    """The first answer the process gives (None while it starts), within 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = process.check(data, uid, cls, final)
        if answer is not None:
            return answer
        time.sleep(0.05)
    raise AssertionError("the check process did not start within 60 s")


def test_the_same_extraction_and_refusals_as_in_process(tmp_path: Path) -> None:
    path = get_testdata_file("CT_small.dcm")
    data = Path(path).read_bytes()
    uid, cls = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322", "1.2.840.10008.5.1.4.1.1.2"
    pseudonymizer = Pseudonymizer("a test key")
    process = CheckProcess(pseudonymizer, None, timeout_s=30)
    try:
        final = tmp_path / f"{uid}.dcm"
        there = _ready(process, data, uid, cls, final)
        here = check(data, uid, cls, final, pseudonymizer, None)
        for extracted in (there, here):  # the one value that differs: when each was extracted
            assert extracted.batch.nodes["Instance"][uid].pop("ingested_at") is not None
        assert there == here  # every other field, every row of its batch
        assert there.batch.nodes["Patient"] == here.batch.nodes["Patient"] != {}  # pseudonymized alike

        for body, wrong_uid, code in ((good_body("1.2.3.999.3") + BAD_LENGTH, "1.2.3.999.3", CANNOT_UNDERSTAND),
                                      (good_body("1.2.3.999.4"), "1.2.3.999.5", DATA_SET_DOES_NOT_MATCH_SOP_CLASS)):
            broken = part10(tmp_path / "broken.dcm", body, "1.2.3.999.3").read_bytes()
            with pytest.raises(Refused) as in_process:
                check(broken, wrong_uid, SC, None, None, None)
            with pytest.raises(Refused) as in_check_process:
                process.check(broken, wrong_uid, SC, None)
            assert in_check_process.value.code == in_process.value.code == code
            assert in_check_process.value.why == in_process.value.why
    finally:
        process.close()


def test_a_killed_process_refuses_that_dataset_and_is_replaced() -> None:
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    uid, cls = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322", "1.2.840.10008.5.1.4.1.1.2"
    process = CheckProcess(None, None, timeout_s=30)
    try:
        assert _ready(process, data, uid, cls, None) is not None
        assert process.check(data + b"\0" * MAX_SENT_BYTES, uid, cls, None) is None  # checked by the caller
        assert process._process is not None and process._process.pid is not None
        os.kill(process._process.pid, signal.SIGKILL)
        process._process.join(10)
        with pytest.raises(Refused) as refused:
            process.check(data, uid, cls, None)
        assert refused.value.code == CANNOT_UNDERSTAND and process.deaths == 1
        again = _ready(process, data, uid, cls, None)  # a new process takes the next one
        assert getattr(again, "sop_instance_uid", None) == uid
    finally:
        process.close()
    assert process._process is None
