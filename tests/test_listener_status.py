"""The statuses the listener answers with are the standard's: each name in loader/network/status.py is
checked against pynetdicom's own table of what its number means (PS3.7 Annex C, PS3.4 B.2.3)."""

from __future__ import annotations

from pynetdicom.status import GENERAL_STATUS, STATUS_FAILURE, STORAGE_SERVICE_CLASS_STATUS

from dicom_graph.loader.network import status

EXPECTED = {
    "INVALID_ATTRIBUTE_VALUE": "Invalid Attribute Value",
    "PROCESSING_FAILURE": "Processing Failure",
    "DUPLICATE_SOP_INSTANCE": "Duplication SOP Instance",
    "NO_SUCH_SOP_INSTANCE": "No Such SOP Instance",
    "INVALID_ARGUMENT_VALUE": "Invalid Argument Value",
    "NO_SUCH_SOP_CLASS": "No Such SOP Class",
    "CLASS_INSTANCE_CONFLICT": "Class-Instance Conflict",
    "MISSING_ATTRIBUTE": "Missing Attribute",
    "NO_SUCH_ACTION": "No Such Action",
    "DUPLICATE_INVOCATION": "Duplicate Invocation",
    "RESOURCE_LIMITATION": "Resource Limitation",
    "OUT_OF_RESOURCES": "Refused: Out of Resources",
    "DATA_SET_DOES_NOT_MATCH_SOP_CLASS": "Data Set Does Not Match SOP Class",
    "CANNOT_UNDERSTAND": "Cannot Understand",
}


def test_every_failure_status_means_what_its_name_says() -> None:
    named = {name for name, value in vars(status).items() if name.isupper() and isinstance(value, int)}
    assert named - set(EXPECTED) == {"SUCCESS", "MPPS_MAY_NO_LONGER_BE_UPDATED"}  # no name left unchecked
    for name, meaning in EXPECTED.items():
        code = getattr(status, name)
        assert STORAGE_SERVICE_CLASS_STATUS[code] == (STATUS_FAILURE, meaning), name
    assert status.SUCCESS == 0x0000 and GENERAL_STATUS[status.SUCCESS][1] == ""


def test_status_dataset_cuts_the_comment_to_its_vr() -> None:
    answer = status.status(status.PROCESSING_FAILURE, "x" * 100, status.MPPS_MAY_NO_LONGER_BE_UPDATED)
    assert (answer.Status, len(answer.ErrorComment), answer.ErrorID) == (0x0110, 64, 0xA710)
    assert "ErrorComment" not in status.status(status.SUCCESS)
