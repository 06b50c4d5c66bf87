"""What every service handler of the listener shares: the store behind one lock, the counts, the refusal.

The listener is the graph's one writer, but pynetdicom runs each association in its own thread: the lock
makes each read-check-write sequence (an MPPS state transition, a duplicate check, a micro-batch of
C-STOREs) atomic across associations. `settle()` returns once every C-STORE answered so far is in the
graph: what a service calls before it reads the graph about instances (writer.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from typing import Any, Callable

from pydicom.dataset import Dataset

from dicom_graph.model.batch import GraphBatch

from .config import ListenerConfig
from .status import PROCESSING_FAILURE, Refused, status

LOG = logging.getLogger("dicom_graph.listen")

# shape only (digits and dots, at most 64): a key the graph can hold, lenient on leading zeros that real
# modalities send
_UID = re.compile(r"^[0-9][0-9.]{0,63}$")


def now() -> dt.datetime:
    """UTC, naive: the graph's datetime convention on both engines."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def is_uid(text: str) -> bool:
    return bool(_UID.match(text))


def calling(assoc: Any) -> str:
    """`TITLE@address` of the requestor, for log lines; never fails, as it is used in error paths."""
    try:
        return f"{(assoc.requestor.ae_title or '').strip()}@{assoc.requestor.address}"
    except Exception:  # noqa: BLE001
        return "?"


def decoded(event: Any, attribute: str, uid: str) -> Dataset:
    """The event's dataset with every element decoded now, so that a broken encoding is refused here and
    not met halfway through a graph write."""
    try:
        ds = getattr(event, attribute)
        for elem in ds.iterall():
            _ = elem.value
    except Exception as exc:  # noqa: BLE001
        raise Refused(uid, PROCESSING_FAILURE, f"cannot decode: {exc}") from exc
    return ds


class ServiceContext:
    """One per listener, handed to each service, so that none of them reaches into another's state."""

    def __init__(self, store: Any, config: ListenerConfig) -> None:
        self.store = store
        self.config = config
        self.lock = threading.RLock()
        self.counts = {"stored": 0, "failed": 0}
        self.settle: Callable[[], object] = lambda: True  # the listener sets its writer's flush

    def write(self, batch: GraphBatch) -> None:
        with self.lock:
            self.store.write(batch)

    def instances(self, uids: list[str]) -> dict[str, dict[str, Any]]:
        """uid -> {uid, stub, sop_class_uid, status} of the Instance nodes that exist (stubs included)."""
        return {r["uid"]: r for r in self.store.run("listener_instances", uids=uids).records()}

    def refusal(self, event: Any, refused: Refused) -> Dataset:
        """The status that answers a refused request, logged and counted."""
        error_id = f" / Error ID 0x{refused.error_id:04X}" if refused.error_id is not None else ""
        LOG.error("%s %s from %s refused (0x%04X%s): %s%s", event.event.name.replace("EVT_", ""), refused.uid,
                  calling(event.assoc), refused.code, error_id, refused.why, refused.note)
        self.counts["failed"] += 1
        return status(refused.code, refused.why, refused.error_id)
