"""The DIMSE statuses the listener answers with, and the refusal that carries one out of a handler.

pynetdicom names only a handful of codes (`pynetdicom.status.Status`: SUCCESS, CANCEL, PENDING, ...) and
pydicom none; pynetdicom's tables (`GENERAL_STATUS`, `STORAGE_SERVICE_CLASS_STATUS`) hold the rest as bare
numbers with their descriptions. So each code we answer with is named here once, after the standard's
table, and tests/test_listener_status.py checks every name against pynetdicom's description of its number.
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pynetdicom.status import Status

SUCCESS = int(Status.SUCCESS)

# PS3.7 Annex C: general failures, used by every DIMSE-N service here
INVALID_ATTRIBUTE_VALUE = 0x0106
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111
NO_SUCH_SOP_INSTANCE = 0x0112
INVALID_ARGUMENT_VALUE = 0x0115
NO_SUCH_SOP_CLASS = 0x0118
CLASS_INSTANCE_CONFLICT = 0x0119
MISSING_ATTRIBUTE = 0x0120
NO_SUCH_ACTION = 0x0123
DUPLICATE_INVOCATION = 0x0210
RESOURCE_LIMITATION = 0x0213

# PS3.4 B.2.3: C-STORE failures (the first code of each range)
OUT_OF_RESOURCES = 0xA700
DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000

# PS3.4 F.7.2.2.2: an Error ID sent with PROCESSING_FAILURE, not a status of its own
MPPS_MAY_NO_LONGER_BE_UPDATED = 0xA710


def status(code: int, comment: str | None = None, error_id: int | None = None) -> Dataset:
    """A status dataset; the comment is cut to Error Comment's 64 characters (LO)."""
    result = Dataset()
    result.Status = code
    if comment:
        result.ErrorComment = comment[:64]
    if error_id is not None:
        result.ErrorID = error_id
    return result


class Refused(Exception):
    """Raised by a service handler that refuses a request: the handler guard turns it into the answer.

    Raising, rather than returning a status, lets the checks live in small helpers however deep they sit;
    `note` is for the log only (the Error Comment is `why`).
    """

    def __init__(self, uid: str, code: int, why: str, *, error_id: int | None = None, note: str = "") -> None:
        super().__init__(why)
        self.uid, self.code, self.why, self.error_id, self.note = uid, code, why, error_id, note
