"""Modality Performed Procedure Step (N-CREATE, N-SET) and Instance Availability Notification (N-CREATE).

MPPS follows the state rules of PS3.4 F.7: N-CREATE must say IN PROGRESS (else 0x0106), an existing UID is
0x0111; N-SET on an unknown instance is 0x0112, on a COMPLETED / DISCONTINUED one 0x0110 with Error ID
0xA710. The state lives in the graph (Instance.PerformedProcedureStepStatus), so it survives restarts.

N-CREATE attribute lists and N-SET modification lists go through `dataset_to_batch`, the file ingest's
function, with the SOP instance / class UIDs from the command set. An N-SET updates the same node
(properties given are set, others kept); when it replaces a sequence, REFERENCES edges that came from the
old sequence and are not in the new one are removed after the write.
"""

from __future__ import annotations

from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # generated at import time
    InstanceAvailabilityNotification, ModalityPerformedProcedureStep)

from dicom_graph.loader.dataset.extract import dataset_to_batch
from dicom_graph.model.batch import GraphBatch

from .context import LOG, ServiceContext, calling, decoded
from .status import (DUPLICATE_SOP_INSTANCE, INVALID_ATTRIBUTE_VALUE, MPPS_MAY_NO_LONGER_BE_UPDATED,
                     NO_SUCH_SOP_CLASS, NO_SUCH_SOP_INSTANCE, PROCESSING_FAILURE, SUCCESS, Refused, status)

SOP_CLASSES = (ModalityPerformedProcedureStep, InstanceAvailabilityNotification)
MPPS_STATES = ("IN PROGRESS", "COMPLETED", "DISCONTINUED")


class ProcedureSteps:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def on_n_create(self, event: Any) -> tuple[Dataset, Dataset]:
        req = event.request
        cls = str(req.AffectedSOPClassUID)
        uid = str(req.AffectedSOPInstanceUID) if req.AffectedSOPInstanceUID else None
        ds = decoded(event, "attribute_list", uid or "")
        generated = uid is None
        if uid is None:
            uid = generate_uid()
        self.context.settle()  # after the C-STOREs received before it, as a file ingest in order would
        with self.context.lock:
            existing = self.context.instances([uid]).get(uid)
            if existing is not None and not existing["stub"]:
                raise Refused(uid, DUPLICATE_SOP_INSTANCE, "duplicate SOP instance")
            if cls == ModalityPerformedProcedureStep:
                state = str(ds.get("PerformedProcedureStepStatus", "") or "").strip()
                if state != "IN PROGRESS":
                    raise Refused(uid, INVALID_ATTRIBUTE_VALUE,
                                  f"PerformedProcedureStepStatus must be IN PROGRESS, not {state!r}")
            extracted = dataset_to_batch(ds, source="network", sop_instance_uid=uid, sop_class_uid=cls,
                                         pseudonymizer=self.context.config.pseudonymizer)
            self.context.store.write(extracted.batch)
        self.context.counts["stored"] += 1
        LOG.info("N-CREATE %s (%s) from %s", uid, pydicom.uid.UID(cls).name, calling(event.assoc))
        reply = Dataset()
        reply.update(ds)
        if generated:
            reply.AffectedSOPInstanceUID = uid
        return status(SUCCESS), reply

    def on_n_set(self, event: Any) -> tuple[Dataset, Dataset]:
        req = event.request
        cls, uid = str(req.RequestedSOPClassUID), str(req.RequestedSOPInstanceUID)
        mods = decoded(event, "modification_list", uid)
        if cls != ModalityPerformedProcedureStep:
            raise Refused(uid, NO_SUCH_SOP_CLASS, "N-SET is only supported for MPPS")
        self.context.settle()
        with self.context.lock:
            self._check_transition(uid, cls, mods)
            extracted = dataset_to_batch(mods, source="network", sop_instance_uid=uid, sop_class_uid=cls,
                                         pseudonymizer=self.context.config.pseudonymizer)
            # the hash and pointer count of a modification list are not the instance's
            extracted.batch.nodes["Instance"][uid].pop("content_hash", None)
            extracted.batch.nodes["Instance"][uid].pop("pointer_count", None)
            self.context.store.write(extracted.batch)
            self._drop_replaced_references(uid, mods, extracted.batch)
            self.context.store.run("recount_pointers", uids=[uid])
        LOG.info("N-SET %s (%s) from %s: %s", uid, pydicom.uid.UID(cls).name, calling(event.assoc),
                 mods.get("PerformedProcedureStepStatus", "attributes updated"))
        return status(SUCCESS), mods

    def _check_transition(self, uid: str, cls: str, mods: Dataset) -> None:
        """Refuse an N-SET that PS3.4 F.7.2.2 does not allow; called under the lock, before the write."""
        existing = self.context.instances([uid]).get(uid)
        if existing is None or existing["stub"] or existing["sop_class_uid"] != ModalityPerformedProcedureStep:
            raise Refused(uid, NO_SUCH_SOP_INSTANCE, "no such MPPS instance")
        if existing["status"] != "IN PROGRESS":
            raise Refused(uid, PROCESSING_FAILURE, "Performed Procedure Step Object may no longer be updated",
                          error_id=MPPS_MAY_NO_LONGER_BE_UPDATED, note=f" (the MPPS is {existing['status']})")
        if "PerformedProcedureStepStatus" in mods:
            state = str(mods.PerformedProcedureStepStatus or "").strip()
            if state not in MPPS_STATES:
                raise Refused(uid, INVALID_ATTRIBUTE_VALUE,
                              f"PerformedProcedureStepStatus {state!r} is not a valid state")
        for forbidden, value in (("SOPInstanceUID", uid), ("SOPClassUID", cls)):
            if forbidden in mods and str(mods[forbidden].value) != value:
                raise Refused(uid, INVALID_ATTRIBUTE_VALUE, f"{forbidden} cannot change")

    def _drop_replaced_references(self, uid: str, mods: Dataset, batch: GraphBatch) -> None:
        """An N-SET replaces whole sequences: drop edges that came from the old value of one it sets."""
        replaced = {elem.keyword for elem in mods if elem.VR == "SQ" and elem.keyword}
        if not replaced:
            return
        keep = {(row["to"], row.get("via")) for row in batch.rel_rows(("REFERENCES", "Instance", "Instance"))}
        for row in self.context.store.run("listener_references", uid=uid).records():
            root = (row["via"] or "").split(">")[0]
            if root in replaced and (row["target"], row["via"]) not in keep:
                try:
                    self.context.store.run("listener_drop_reference", uid=uid, target=row["target"],
                                           via=row["via"])
                except Exception as exc:  # noqa: BLE001
                    LOG.error("N-SET %s: could not drop the replaced reference to %s: %s",
                              uid, row["target"], exc)
