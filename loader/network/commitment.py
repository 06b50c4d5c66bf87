"""Storage Commitment Push Model SCP: N-ACTION (event type 1) answered by an N-EVENT-REPORT.

Each referenced instance is committed when it is an Instance of the graph (not a stub) of the SOP class
named, else failed (0x0112 no such object instance, 0x0119 class-instance conflict). The result goes back
as an N-EVENT-REPORT (event type 1 all committed, 2 some failed) on the same association when the
requester keeps it open, else on a new association to the address given for that AE title by
`--peer AE=HOST:PORT` (SCP/SCU role selection: we ask for the SCP role of Storage Commitment).

The request is an Instance of the Storage Commitment Push Model SOP class keyed by its Transaction UID:
the Push Model SOP Instance UID is the well-known `StorageCommitmentPushModelInstance` and cannot tell
requests apart. It has one REFERENCES edge per instance carrying `outcome` ('committed' / 'failed') and
`failure_reason`. The report is sent from its own thread, after the N-ACTION response has gone out (a
report that overtook the response would be refused by most requesters).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, build_role
from pynetdicom.dimse_messages import N_ACTION_RSP
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # generated at import time
    StorageCommitmentPushModel, StorageCommitmentPushModelInstance)

from dicom_graph.loader.dataset.extract import dataset_to_batch

from .association import Associations, AssociationState, new_key
from .context import LOG, ServiceContext, calling, decoded, is_uid, now
from .status import (CLASS_INSTANCE_CONFLICT, DUPLICATE_INVOCATION, INVALID_ARGUMENT_VALUE, MISSING_ATTRIBUTE,
                     NO_SUCH_ACTION, NO_SUCH_SOP_CLASS, NO_SUCH_SOP_INSTANCE, RESOURCE_LIMITATION, SUCCESS,
                     Refused, status)

SOP_CLASS = StorageCommitmentPushModel
REQUEST_STORAGE_COMMITMENT = 1  # Action Type ID, PS3.4 J.3.2
ALL_COMMITTED, SOME_FAILED = 1, 2  # Event Type IDs, PS3.4 J.3.3

Outcome = tuple[str, str, str | None]  # (SOP class, SOP instance, failure reason or None)


class Commitment:
    def __init__(self, context: ServiceContext, associations: Associations, ae: AE) -> None:
        self.context = context
        self.associations = associations
        self.ae = ae
        self._reports: list[threading.Thread] = []

    def on_n_action(self, event: Any) -> tuple[Dataset, None]:
        req = event.request
        if str(req.RequestedSOPClassUID) != SOP_CLASS:
            raise Refused("", NO_SUCH_SOP_CLASS, "N-ACTION is only supported for Storage Commitment")
        if req.ActionTypeID != REQUEST_STORAGE_COMMITMENT:
            raise Refused("", NO_SUCH_ACTION, f"no action type {req.ActionTypeID}")
        info = decoded(event, "action_information", "")
        transaction = str(info.get("TransactionUID", "") or "").strip()
        if not transaction or not is_uid(transaction):
            raise Refused("", MISSING_ATTRIBUTE, "no valid Transaction UID")
        refs = self._references(info, transaction)
        self.context.settle()  # every instance answered before the request is in the graph, or failed
        with self.context.lock:
            existing = self.context.instances([transaction]).get(transaction)
            if existing is not None and not existing["stub"]:
                raise Refused(transaction, DUPLICATE_INVOCATION, "duplicate Transaction UID")
            outcomes = self._outcomes(refs)
            extracted = dataset_to_batch(info, source="network", sop_instance_uid=transaction,
                                         sop_class_uid=SOP_CLASS,
                                         pseudonymizer=self.context.config.pseudonymizer)
            for _cls, ref_uid, failure in outcomes:
                extracted.batch.add_rel("REFERENCES", "Instance", transaction, "Instance", ref_uid,
                                        {"via": "ReferencedSOPSequence",
                                         "outcome": "failed" if failure else "committed",
                                         "failure_reason": failure})
            self.context.store.write(extracted.batch)
        failed = sum(1 for o in outcomes if o[2])
        LOG.info("N-ACTION storage commitment %s from %s: %d committed, %d failed", transaction,
                 calling(event.assoc), len(outcomes) - failed, failed)
        self._schedule_report(event.assoc, transaction, outcomes)
        return status(SUCCESS), None

    def _references(self, info: Dataset, transaction: str) -> list[tuple[str, str]]:
        """(SOP class, SOP instance) of each Referenced SOP Sequence item, bounded in number."""
        items = info.get("ReferencedSOPSequence") or []
        limit = self.context.config.max_commitment_items
        if len(items) > limit:
            raise Refused(transaction, RESOURCE_LIMITATION, f"more than {limit} instances")
        refs: list[tuple[str, str]] = []
        for item in items:
            ref_cls = str(item.get("ReferencedSOPClassUID", "") or "").strip()
            ref_uid = str(item.get("ReferencedSOPInstanceUID", "") or "").strip()
            if not ref_uid:
                raise Refused(transaction, INVALID_ARGUMENT_VALUE,
                              "a Referenced SOP Sequence item without an instance UID")
            refs.append((ref_cls, ref_uid))
        return refs

    def _outcomes(self, refs: list[tuple[str, str]]) -> list[Outcome]:
        known = self.context.instances(sorted({u for _, u in refs}))
        outcomes: list[Outcome] = []
        for ref_cls, ref_uid in refs:
            row = known.get(ref_uid)
            if row is None or row["stub"]:
                outcomes.append((ref_cls, ref_uid, f"0x{NO_SUCH_SOP_INSTANCE:04X} no such object instance"))
            elif ref_cls and row["sop_class_uid"] and row["sop_class_uid"] != ref_cls:
                outcomes.append((ref_cls, ref_uid, f"0x{CLASS_INSTANCE_CONFLICT:04X} class-instance conflict"))
            else:
                outcomes.append((ref_cls, ref_uid, None))
        return outcomes

    def _schedule_report(self, assoc: Any, transaction: str, outcomes: list[Outcome]) -> None:
        state = self.associations.state(assoc)
        state.action_rsp_sent.clear()
        thread = threading.Thread(target=self._send_report, name=f"commitment-{transaction[-12:]}",
                                  args=(assoc, state, transaction, outcomes), daemon=True)
        self._reports = [t for t in self._reports if t.is_alive()] + [thread]
        thread.start()

    def on_dimse_sent(self, event: Any) -> None:
        """Release the report waiting for this association's N-ACTION response."""
        if isinstance(event.message, N_ACTION_RSP):
            self.associations.state(event.assoc).action_rsp_sent.set()

    def join(self, timeout: float) -> None:
        """Wait for the reports still being sent (on stop)."""
        for thread in list(self._reports):
            thread.join(timeout)

    def _send_report(self, assoc: Any, state: AssociationState, transaction: str,
                     outcomes: list[Outcome]) -> None:
        """N-EVENT-REPORT after the N-ACTION response: same association if still open, else a new one."""
        info = commitment_report(transaction, outcomes)
        event_type = SOME_FAILED if any(o[2] for o in outcomes) else ALL_COMMITTED
        dimse_timeout = self.context.config.dimse_timeout
        state.action_rsp_sent.wait(dimse_timeout)
        time.sleep(self.context.config.report_delay_s)  # the response is queued right after EVT_DIMSE_SENT
        title = (assoc.requestor.ae_title or "").strip()
        if assoc.is_established:
            try:
                # a peer that is releasing never answers: do not hold the report for a whole DIMSE timeout
                assoc.dimse_timeout = min(dimse_timeout, 10.0)
                answer, _ = assoc.send_n_event_report(info, event_type, SOP_CLASS,
                                                      StorageCommitmentPushModelInstance)
                if answer and answer.Status == SUCCESS:
                    LOG.info("storage commitment %s reported to %s (event type %d, same association)",
                             transaction, title, event_type)
                    return
                LOG.warning("storage commitment %s: %s answered the report with %s", transaction, title,
                            f"0x{answer.Status:04X}" if answer else "nothing")
            except Exception as exc:  # noqa: BLE001
                LOG.info("storage commitment %s: same association unusable (%s)", transaction, exc)
        peer = self.context.config.peers.get(title)
        if peer is None:
            LOG.warning("storage commitment %s: %s closed the association and has no --peer address; "
                        "the outcome is in the graph only", transaction, title)
            return
        self._report_on_new_association(title, peer, transaction, info, event_type)

    def _report_on_new_association(self, title: str, peer: tuple[str, int], transaction: str,
                                   info: Dataset, event_type: int) -> None:
        started = now()
        key = new_key(started)
        role = build_role(SOP_CLASS, scp_role=True, scu_role=False)
        assoc = self.ae.associate(peer[0], peer[1], ae_title=title, ext_neg=[role])
        self.associations.record(assoc, key, started, "accepted" if assoc.is_established else "rejected", None,
                                 outgoing=True, ended=not assoc.is_established)
        if not assoc.is_established:
            LOG.error("storage commitment %s: association to %s at %s:%d failed", transaction, title, *peer)
            return
        try:
            answer, _ = assoc.send_n_event_report(info, event_type, SOP_CLASS, StorageCommitmentPushModelInstance)
            LOG.info("storage commitment %s reported to %s on a new association: %s", transaction, title,
                     f"0x{answer.Status:04X}" if answer else "no answer")
        finally:
            assoc.release()
            self.associations.finish(key, 1, None)


def commitment_report(transaction: str, outcomes: list[Outcome]) -> Dataset:
    """The N-EVENT-REPORT Event Information of PS3.4 J.3.3.1."""
    info = Dataset()
    info.TransactionUID = transaction
    ok, bad = [], []
    for cls, uid, failure in outcomes:
        item = Dataset()
        item.ReferencedSOPClassUID = cls
        item.ReferencedSOPInstanceUID = uid
        if failure:
            item.FailureReason = int(failure.split()[0], 16)
            bad.append(item)
        else:
            ok.append(item)
    if ok:
        info.ReferencedSOPSequence = ok
    if bad:
        info.FailedSOPSequence = bad
    return info
