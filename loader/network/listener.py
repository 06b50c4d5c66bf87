"""`dicom-graph listen`: a DICOM application entity that writes what it receives into the graph.

SCP for (PS3.4):
- Verification (C-ECHO);
- every Storage SOP class pynetdicom knows (the catalog's source for storage classes), any transfer syntax
  pynetdicom knows (pixel data is never decoded, so compressed syntaxes cost nothing). A C-STORE dataset is
  read exactly as a file is (`pydicom.dcmread(stop_before_pixels=True, defer_size=sources.DEFER_SIZE)`)
  and goes through `extract.dataset_to_batch`, the same function the file ingest uses; with --store-dir
  the Part 10 file is kept there (`<SOPInstanceUID>.dcm`) and is the instance's `path`;
- Modality Performed Procedure Step (N-CREATE, N-SET) with the state rules of PS3.4 F.7: N-CREATE must
  say IN PROGRESS (else 0x0106), an existing UID is 0x0111; N-SET on an unknown instance is 0x0112, on a
  COMPLETED / DISCONTINUED one 0x0110 with Error ID 0xA710. The state lives in the graph
  (Instance.PerformedProcedureStepStatus), so it survives restarts;
- Storage Commitment Push Model (N-ACTION, event type 1): each referenced instance is committed when it is
  an Instance of the graph (not a stub) of the SOP class named, else failed (0x0112 no such object
  instance, 0x0119 class-instance conflict). The result goes back as an N-EVENT-REPORT (event type 1 all
  committed, 2 some failed) on the same association when the requester keeps it open, else on a new
  association to the address given for that AE title by `--peer AE=HOST:PORT` (SCP/SCU role selection:
  we ask for the SCP role of Storage Commitment). The request is an Instance of SOP class
  1.2.840.10008.1.20.1 keyed by its Transaction UID (the Push Model SOP Instance UID is the well-known
  1.2.840.10008.1.20.1.1 and cannot tell requests apart), with one REFERENCES edge per instance carrying
  `outcome` ('committed' / 'failed') and `failure_reason`;
- Instance Availability Notification (N-CREATE).

Normalized datasets (N-CREATE attribute lists, N-SET modification lists, N-ACTION information) also go
through `dataset_to_batch`, with the SOP instance / class UIDs from the command set. An N-SET updates
the same node (properties given are set, others kept); when it replaces a sequence, REFERENCES edges
that came from the old sequence and are not in the new one are removed after the write.

Every association is recorded (ApplicationEntity, Association, CALLING, CALLED, PROPOSED per presentation
context), accepted or rejected, and finished (ended_at, messages) when it is released, aborted or closed.

Safety: --allow restricts calling AE titles (others get A-ASSOCIATE-RJ permanent / service-user /
calling AE title not recognised, and the rejection is recorded); PDU size, ACSE / DIMSE / network
timeouts and the number of concurrent associations are bounded; every handler catches everything,
answers with an error status and logs one line: a bad dataset never stops the listener. Each message is
one GraphBatch, i.e. one transaction on either engine: it is written whole or not at all, and committed
before the response is sent, so `dicom-graph query` sees it at once.

Stop: `Listener.stop()` (SIGTERM / Ctrl-C in the CLI) stops accepting, lets the associations in progress
finish (up to `grace_s`, then aborts them), waits for pending commitment reports, and closes the store.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import socket
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, build_role, evt

from dicom_graph.model.batch import GraphBatch
from dicom_graph.model.queries.network import IAN_SOP_CLASS, MPPS_SOP_CLASS, STORAGE_COMMITMENT_SOP_CLASS

from dicom_graph.loader.dataset.extract import ExtractError, dataset_to_batch
from dicom_graph.loader.ingest.resolve import add_study_patient_keys
from dicom_graph.loader.ingest.sources import DEFER_SIZE

LOG = logging.getLogger("dicom_graph.listen")

VERIFICATION = "1.2.840.10008.1.1"
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
MPPS_STATES = ("IN PROGRESS", "COMPLETED", "DISCONTINUED")

# statuses (PS3.7 Annex C, PS3.4 B.2.3, F.7.2, J.3.2)
SUCCESS = 0x0000
STORE_OUT_OF_RESOURCES = 0xA700
STORE_DOES_NOT_MATCH = 0xA900
STORE_CANNOT_UNDERSTAND = 0xC000
PROCESSING_FAILURE = 0x0110
DUPLICATE_INSTANCE = 0x0111
NO_SUCH_INSTANCE = 0x0112
INVALID_ARGUMENT = 0x0115
INVALID_ATTRIBUTE_VALUE = 0x0106
MISSING_ATTRIBUTE = 0x0120
NO_SUCH_ACTION = 0x0123
RESOURCE_LIMITATION = 0x0213
CLASS_INSTANCE_CONFLICT = 0x0119
MPPS_MAY_NO_LONGER_BE_UPDATED = 0xA710  # Error ID, PS3.4 F.7.2.2.2

REJECT_RESULT = {1: "rejected-permanent", 2: "rejected-transient"}
REJECT_SOURCE = {1: "service-user", 2: "service-provider (ACSE)", 3: "service-provider (presentation)"}
REJECT_REASON = {
    (1, 1): "no reason given", (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognised", (1, 7): "called AE title not recognised",
    (2, 1): "no reason given", (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion", (3, 2): "local limit exceeded",
}
CONTEXT_RESULT = {0: "accepted", 1: "user-rejected", 2: "no-reason", 3: "abstract-syntax-not-supported",
                  4: "transfer-syntaxes-not-supported"}
_UID = re.compile(r"^[0-9][0-9.]{0,63}$")


@dataclass
class ListenerConfig:
    port: int = 11112
    ae_title: str = "DICOMGRAPH"
    host: str = "0.0.0.0"
    allow: tuple[str, ...] = ()  # calling AE titles accepted; empty: any
    store_dir: Path | None = None
    max_pdu: int = 262_144  # the largest P-DATA PDU we accept
    acse_timeout: float = 30.0
    dimse_timeout: float = 60.0
    network_timeout: float = 120.0  # an idle association is closed after this
    max_associations: int = 16
    max_commitment_items: int = 10_000
    peers: dict[str, tuple[str, int]] = field(default_factory=dict)  # AE title -> (host, port)
    grace_s: float = 30.0  # on stop: how long associations in progress may take to finish
    report_delay_s: float = 0.2  # after the N-ACTION response, before the N-EVENT-REPORT


@dataclass
class _AssocState:
    key: str
    started_at: dt.datetime
    accepted: bool = False
    ended: bool = False
    messages: int = 0
    action_rsp_sent: threading.Event = field(default_factory=threading.Event)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _status(code: int, comment: str | None = None, error_id: int | None = None) -> Dataset:
    status = Dataset()
    status.Status = code
    if comment:
        status.ErrorComment = comment[:64]
    if error_id is not None:
        status.ErrorID = error_id
    return status


def _read_dataset(data: bytes) -> Dataset:
    """A received Part 10 byte string read exactly as `sources.read_dataset` reads a file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, defer_size=DEFER_SIZE)


class Listener:
    """The AE, its handlers and the graph writes. `start()` returns at once; `stop()` ends cleanly."""

    def __init__(self, store: Any, config: ListenerConfig | None = None) -> None:
        self.store = store
        self.config = config or ListenerConfig()
        self._write_lock = threading.RLock()  # read-check-write sequences (MPPS state, patient keys)
        self._assocs: dict[Any, _AssocState] = {}
        self._study_patients: dict[str, set[str]] = {}  # Study.patient_keys as written (one writer)
        self._assocs_lock = threading.Lock()
        self._reports: list[threading.Thread] = []
        self._server: Any = None
        self.ae = self._build_ae()
        self.counts = {"stored": 0, "failed": 0}

    # --- setup ----------------------------------------------------------------------------------
    def _build_ae(self) -> AE:
        c = self.config
        ae = AE(ae_title=c.ae_title)
        ae.maximum_pdu_size = c.max_pdu
        ae.acse_timeout = c.acse_timeout
        ae.dimse_timeout = c.dimse_timeout
        ae.network_timeout = c.network_timeout
        ae.maximum_associations = c.max_associations
        if c.allow:
            ae.require_calling_aet = list(c.allow)
        syntaxes = list(ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(VERIFICATION, syntaxes)
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax, syntaxes)
        for uid in (MPPS_SOP_CLASS, STORAGE_COMMITMENT_SOP_CLASS, IAN_SOP_CLASS):
            ae.add_supported_context(uid, syntaxes)
        # to send commitment results on a new association we need the SCP role of Storage Commitment
        ae.add_requested_context(STORAGE_COMMITMENT_SOP_CLASS)
        return ae

    def handlers(self) -> list[tuple[Any, Callable]]:
        return [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_RELEASED, self._on_ended),
            (evt.EVT_ABORTED, self._on_ended),
            (evt.EVT_CONN_CLOSE, self._on_conn_close),
            (evt.EVT_DIMSE_SENT, self._on_dimse_sent),
            (evt.EVT_C_ECHO, self._guard(self._on_c_echo, 0xC000)),
            (evt.EVT_C_STORE, self._guard(self._on_c_store, STORE_CANNOT_UNDERSTAND)),
            (evt.EVT_N_CREATE, self._guard(self._on_n_create, PROCESSING_FAILURE, pair=True)),
            (evt.EVT_N_SET, self._guard(self._on_n_set, PROCESSING_FAILURE, pair=True)),
            (evt.EVT_N_ACTION, self._guard(self._on_n_action, PROCESSING_FAILURE, pair=True)),
        ]

    def start(self) -> None:
        if self.config.store_dir:
            Path(self.config.store_dir).mkdir(parents=True, exist_ok=True)
        self._server = self.ae.start_server((self.config.host, self.config.port), block=False,
                                            evt_handlers=self.handlers())
        LOG.info("listening on %s:%d as %s", self.config.host, self.bound_port(), self.config.ae_title)

    def bound_port(self) -> int:
        return self._server.server_address[1] if self._server else self.config.port

    def stop(self) -> None:
        """Stop accepting; let associations in progress finish; wait for reports; close the store."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()  # closes the listening socket; running associations go on
            deadline = time.monotonic() + self.config.grace_s
            while time.monotonic() < deadline:
                active = [a for a in server.active_associations if a.is_alive()]
                if not active:
                    break
                time.sleep(0.05)
            for assoc in [a for a in server.active_associations if a.is_alive()]:
                LOG.warning("aborting association from %s still open after %.0f s",
                            assoc.requestor.ae_title, self.config.grace_s)
                assoc.abort()
                assoc.join(5)
        for thread in list(self._reports):
            thread.join(self.config.dimse_timeout)
        self.ae.shutdown()
        self.store.close()
        LOG.info("stopped: %d stored, %d refused", self.counts["stored"], self.counts["failed"])

    # --- handler plumbing -----------------------------------------------------------------------
    def _guard(self, handler: Callable, failure: int, pair: bool = False) -> Callable:
        """Whatever happens in a handler, answer with a status and keep listening."""

        def guarded(event: Any) -> Any:
            state = self._state(event.assoc)
            state.messages += 1
            try:
                return handler(event)
            except Exception as exc:  # noqa: BLE001 - the listener must survive anything
                LOG.exception("%s from %s failed: %s", event.event.name, _calling(event.assoc), exc)
                self.counts["failed"] += 1
                status = _status(failure, f"{type(exc).__name__}")
                return (status, None) if pair else status

        guarded.__name__ = handler.__name__
        return guarded

    def _state(self, assoc: Any) -> _AssocState:
        with self._assocs_lock:
            state = self._assocs.get(assoc)
            if state is None:
                state = self._assocs[assoc] = _AssocState(
                    key=f"{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}", started_at=_now())
            return state

    def _write(self, batch: GraphBatch) -> None:
        with self._write_lock:
            self.store.write(batch)

    # --- association recording -----------------------------------------------------------------
    def _on_requested(self, event: Any) -> None:
        self._state(event.assoc)

    def _on_accepted(self, event: Any) -> None:
        state = self._state(event.assoc)
        state.accepted = True
        self._record_association(event.assoc, state, "accepted", None)

    def _on_rejected(self, event: Any) -> None:
        state = self._state(event.assoc)
        reason = None
        primitive = getattr(event.assoc.acceptor, "primitive", None)
        if primitive is not None and primitive.result is not None:
            reason = (f"{REJECT_RESULT.get(primitive.result, primitive.result)} by "
                      f"{REJECT_SOURCE.get(primitive.result_source, primitive.result_source)}: "
                      f"{REJECT_REASON.get((primitive.result_source, primitive.diagnostic), primitive.diagnostic)}")
        LOG.warning("association from %s rejected: %s", _calling(event.assoc), reason)
        state.ended = True
        self._record_association(event.assoc, state, "rejected", reason, ended=True)

    def _on_ended(self, event: Any) -> None:
        state = self._state(event.assoc)
        if state.ended or not state.accepted:
            return
        state.ended = True
        reason = "aborted" if event.event == evt.EVT_ABORTED else None
        self._finish_association(state, reason)

    def _on_conn_close(self, event: Any) -> None:
        with self._assocs_lock:
            state = self._assocs.pop(event.assoc, None)
        if state is not None and state.accepted and not state.ended:
            state.ended = True
            self._finish_association(state, "connection closed")

    def _finish_association(self, state: _AssocState, reason: str | None) -> None:
        batch = GraphBatch()
        row = {"key": state.key, "ended_at": _now(), "messages": state.messages}
        if reason:
            row["reason"] = reason
        batch.add_node("Association", row)
        try:
            self._write(batch)
        except Exception as exc:  # noqa: BLE001
            LOG.error("could not record the end of association %s: %s", state.key, exc)

    def _record_association(self, assoc: Any, state: _AssocState, result: str, reason: str | None,
                            ended: bool = False) -> None:
        try:
            self._write(association_batch(assoc, state.key, state.started_at, result, reason,
                                          local_port=self.bound_port(), ended=ended))
        except Exception as exc:  # noqa: BLE001 - never let recording stop the association
            LOG.error("could not record association %s: %s", state.key, exc)

    # --- C-ECHO -------------------------------------------------------------------------------
    def _on_c_echo(self, event: Any) -> int:
        LOG.info("C-ECHO from %s", _calling(event.assoc))
        return SUCCESS

    # --- C-STORE ------------------------------------------------------------------------------
    def _on_c_store(self, event: Any) -> Any:
        req = event.request
        uid, cls = str(req.AffectedSOPInstanceUID or ""), str(req.AffectedSOPClassUID or "")
        started = time.perf_counter()
        try:
            data = event.encoded_dataset()
            ds = _read_dataset(data)
        except Exception as exc:  # noqa: BLE001
            return self._refuse(event, uid, STORE_CANNOT_UNDERSTAND, f"cannot decode the dataset: {exc}")
        ds_uid = str(ds.get("SOPInstanceUID", "") or "").strip()
        ds_cls = str(ds.get("SOPClassUID", "") or "").strip()
        if ds_uid != uid or ds_cls != cls:
            return self._refuse(event, uid, STORE_DOES_NOT_MATCH,
                                f"dataset UIDs ({ds_cls} / {ds_uid}) differ from the command's ({cls} / {uid})")
        if not _UID.match(uid):
            return self._refuse(event, uid, STORE_DOES_NOT_MATCH, f"invalid SOP Instance UID {uid[:80]!r}")
        final = tmp = None
        if self.config.store_dir:
            final = Path(self.config.store_dir) / f"{uid}.dcm"
            tmp = final.with_name(f".{uid}.{uuid.uuid4().hex[:8]}.part")
            tmp.write_bytes(data)
        try:
            try:
                extracted = dataset_to_batch(ds, source="network", path=str(final) if final else None,
                                             file_size=len(data) if final else None,
                                             sop_instance_uid=uid, sop_class_uid=cls)
            except ExtractError as exc:
                return self._refuse(event, uid, STORE_CANNOT_UNDERSTAND, str(exc))
            except Exception as exc:  # noqa: BLE001
                return self._refuse(event, uid, STORE_CANNOT_UNDERSTAND, f"{type(exc).__name__}: {exc}")
            broken = broken_elements(extracted.problems)
            if broken:
                return self._refuse(event, uid, STORE_CANNOT_UNDERSTAND, "; ".join(broken))
            try:
                with self._write_lock:
                    merged = add_study_patient_keys(self.store, extracted.batch, [extracted],
                                                    known=self._study_patients)
                    self.store.write(extracted.batch)
                    self._study_patients.update(merged)  # cached only once written
            except Exception as exc:  # noqa: BLE001
                return self._refuse(event, uid, STORE_OUT_OF_RESOURCES, f"graph write failed: {exc}")
            if tmp is not None:
                os.replace(tmp, final)
                tmp = None
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        self.counts["stored"] += 1
        if extracted.problems:
            LOG.warning("C-STORE %s from %s stored with problems: %s", uid, _calling(event.assoc),
                        "; ".join(extracted.problems)[:300])
        LOG.info("C-STORE %s (%s) from %s stored in %.1f ms", uid, pydicom.uid.UID(cls).name,
                 _calling(event.assoc), (time.perf_counter() - started) * 1000)
        return SUCCESS

    def _refuse(self, event: Any, uid: str, code: int, why: str) -> Dataset:
        LOG.error("%s %s from %s refused (0x%04X): %s", event.event.name.replace("EVT_", ""), uid,
                  _calling(event.assoc), code, why)
        self.counts["failed"] += 1
        return _status(code, why)

    # --- N-CREATE: MPPS, Instance Availability Notification -----------------------------------
    def _on_n_create(self, event: Any) -> tuple[Any, Any]:
        req = event.request
        cls = str(req.AffectedSOPClassUID)
        uid = str(req.AffectedSOPInstanceUID) if req.AffectedSOPInstanceUID else None
        try:
            ds = event.attribute_list
            for elem in ds.iterall():
                _ = elem.value
        except Exception as exc:  # noqa: BLE001
            return self._refuse(event, uid or "", PROCESSING_FAILURE, f"cannot decode: {exc}"), None
        generated = uid is None
        if generated:
            uid = generate_uid()
        with self._write_lock:
            existing = self._instances([uid]).get(uid)
            if existing is not None and not existing["stub"]:
                return self._refuse(event, uid, DUPLICATE_INSTANCE, "duplicate SOP instance"), None
            if cls == MPPS_SOP_CLASS:
                state = str(ds.get("PerformedProcedureStepStatus", "") or "").strip()
                if state != "IN PROGRESS":
                    return self._refuse(event, uid, INVALID_ATTRIBUTE_VALUE,
                                        f"PerformedProcedureStepStatus must be IN PROGRESS, not {state!r}"), None
            extracted = dataset_to_batch(ds, source="network", sop_instance_uid=uid, sop_class_uid=cls)
            self.store.write(extracted.batch)
        self.counts["stored"] += 1
        LOG.info("N-CREATE %s (%s) from %s", uid, pydicom.uid.UID(cls).name, _calling(event.assoc))
        reply = Dataset()
        reply.update(ds)
        if generated:
            reply.AffectedSOPInstanceUID = uid
        return _status(SUCCESS), reply

    # --- N-SET: MPPS --------------------------------------------------------------------------
    def _on_n_set(self, event: Any) -> tuple[Any, Any]:
        req = event.request
        cls, uid = str(req.RequestedSOPClassUID), str(req.RequestedSOPInstanceUID)
        try:
            mods = event.modification_list
            for elem in mods.iterall():
                _ = elem.value
        except Exception as exc:  # noqa: BLE001
            return self._refuse(event, uid, PROCESSING_FAILURE, f"cannot decode: {exc}"), None
        if cls != MPPS_SOP_CLASS:
            return self._refuse(event, uid, 0x0118, "N-SET is only supported for MPPS"), None
        with self._write_lock:
            existing = self._instances([uid]).get(uid)
            if existing is None or existing["stub"] or existing["sop_class_uid"] != MPPS_SOP_CLASS:
                return self._refuse(event, uid, NO_SUCH_INSTANCE, "no such MPPS instance"), None
            if existing["status"] != "IN PROGRESS":
                LOG.error("N-SET %s from %s refused (0x0110 / Error ID 0xA710): the MPPS is %s",
                          uid, _calling(event.assoc), existing["status"])
                self.counts["failed"] += 1
                return _status(PROCESSING_FAILURE, "Performed Procedure Step Object may no longer be updated",
                               MPPS_MAY_NO_LONGER_BE_UPDATED), None
            if "PerformedProcedureStepStatus" in mods:
                state = str(mods.PerformedProcedureStepStatus or "").strip()
                if state not in MPPS_STATES:
                    return self._refuse(event, uid, INVALID_ATTRIBUTE_VALUE,
                                        f"PerformedProcedureStepStatus {state!r} is not a valid state"), None
            for forbidden in ("SOPInstanceUID", "SOPClassUID"):
                if forbidden in mods and str(mods[forbidden].value) != (uid if forbidden == "SOPInstanceUID" else cls):
                    return self._refuse(event, uid, INVALID_ATTRIBUTE_VALUE, f"{forbidden} cannot change"), None
            extracted = dataset_to_batch(mods, source="network", sop_instance_uid=uid, sop_class_uid=cls)
            # the hash and pointer count of a modification list are not the instance's
            extracted.batch.nodes["Instance"][uid].pop("content_hash", None)
            extracted.batch.nodes["Instance"][uid].pop("pointer_count", None)
            self.store.write(extracted.batch)
            self._drop_replaced_references(uid, mods, extracted.batch)
            self.store.run("recount_pointers", uids=[uid])
        LOG.info("N-SET %s (%s) from %s: %s", uid, pydicom.uid.UID(cls).name, _calling(event.assoc),
                 mods.get("PerformedProcedureStepStatus", "attributes updated"))
        return _status(SUCCESS), mods

    def _drop_replaced_references(self, uid: str, mods: Dataset, batch: GraphBatch) -> None:
        """An N-SET replaces whole sequences: drop edges that came from the old value of one it sets."""
        replaced = {elem.keyword for elem in mods if elem.VR == "SQ" and elem.keyword}
        if not replaced:
            return
        keep = {(row["to"], row.get("via")) for row in batch.rel_rows(("REFERENCES", "Instance", "Instance"))}
        for row in self.store.run("listener_references", uid=uid).records():
            root = (row["via"] or "").split(">")[0]
            if root in replaced and (row["target"], row["via"]) not in keep:
                try:
                    self.store.run("listener_drop_reference", uid=uid, target=row["target"], via=row["via"])
                except Exception as exc:  # noqa: BLE001
                    LOG.error("N-SET %s: could not drop the replaced reference to %s: %s",
                              uid, row["target"], exc)

    def _instances(self, uids: list[str]) -> dict[str, dict[str, Any]]:
        return {r["uid"]: r for r in self.store.run("listener_instances", uids=uids).records()}

    # --- N-ACTION: Storage Commitment ---------------------------------------------------------
    def _on_n_action(self, event: Any) -> tuple[Any, Any]:
        req = event.request
        cls = str(req.RequestedSOPClassUID)
        if cls != STORAGE_COMMITMENT_SOP_CLASS:
            return self._refuse(event, "", 0x0118, "N-ACTION is only supported for Storage Commitment"), None
        if req.ActionTypeID != 1:
            return self._refuse(event, "", NO_SUCH_ACTION, f"no action type {req.ActionTypeID}"), None
        try:
            info = event.action_information
            for elem in info.iterall():
                _ = elem.value
        except Exception as exc:  # noqa: BLE001
            return self._refuse(event, "", PROCESSING_FAILURE, f"cannot decode: {exc}"), None
        transaction = str(info.get("TransactionUID", "") or "").strip()
        if not transaction or not _UID.match(transaction):
            return self._refuse(event, "", MISSING_ATTRIBUTE, "no valid Transaction UID"), None
        items = info.get("ReferencedSOPSequence") or []
        if len(items) > self.config.max_commitment_items:
            return self._refuse(event, transaction, RESOURCE_LIMITATION,
                                f"more than {self.config.max_commitment_items} instances"), None
        refs: list[tuple[str, str]] = []
        for item in items:
            ref_cls = str(item.get("ReferencedSOPClassUID", "") or "").strip()
            ref_uid = str(item.get("ReferencedSOPInstanceUID", "") or "").strip()
            if not ref_uid:
                return self._refuse(event, transaction, INVALID_ARGUMENT,
                                    "a Referenced SOP Sequence item without an instance UID"), None
            refs.append((ref_cls, ref_uid))
        with self._write_lock:
            existing = self._instances([transaction]).get(transaction)
            if existing is not None and not existing["stub"]:
                return self._refuse(event, transaction, 0x0210, "duplicate Transaction UID"), None
            known = self._instances(sorted({u for _, u in refs}))
            outcomes = []
            for ref_cls, ref_uid in refs:
                row = known.get(ref_uid)
                if row is None or row["stub"]:
                    outcomes.append((ref_cls, ref_uid, f"0x{NO_SUCH_INSTANCE:04X} no such object instance"))
                elif ref_cls and row["sop_class_uid"] and row["sop_class_uid"] != ref_cls:
                    outcomes.append((ref_cls, ref_uid,
                                     f"0x{CLASS_INSTANCE_CONFLICT:04X} class-instance conflict"))
                else:
                    outcomes.append((ref_cls, ref_uid, None))
            extracted = dataset_to_batch(info, source="network", sop_instance_uid=transaction,
                                         sop_class_uid=STORAGE_COMMITMENT_SOP_CLASS)
            for ref_cls, ref_uid, failure in outcomes:
                extracted.batch.add_rel("REFERENCES", "Instance", transaction, "Instance", ref_uid,
                                        {"via": "ReferencedSOPSequence",
                                         "outcome": "failed" if failure else "committed",
                                         "failure_reason": failure})
            self.store.write(extracted.batch)
        failed = sum(1 for o in outcomes if o[2])
        LOG.info("N-ACTION storage commitment %s from %s: %d committed, %d failed", transaction,
                 _calling(event.assoc), len(outcomes) - failed, failed)
        state = self._state(event.assoc)
        state.action_rsp_sent.clear()
        thread = threading.Thread(target=self._send_report, name=f"commitment-{transaction[-12:]}",
                                  args=(event.assoc, state, transaction, outcomes), daemon=True)
        self._reports = [t for t in self._reports if t.is_alive()] + [thread]
        thread.start()
        return _status(SUCCESS), None

    def _on_dimse_sent(self, event: Any) -> None:
        if type(event.message).__name__ == "N_ACTION_RSP":
            self._state(event.assoc).action_rsp_sent.set()

    def _send_report(self, assoc: Any, state: _AssocState, transaction: str,
                     outcomes: list[tuple[str, str, str | None]]) -> None:
        """N-EVENT-REPORT after the N-ACTION response: same association if still open, else a new one."""
        info = commitment_report(transaction, outcomes)
        event_type = 2 if any(o[2] for o in outcomes) else 1
        state.action_rsp_sent.wait(self.config.dimse_timeout)
        time.sleep(self.config.report_delay_s)  # the response is queued right after EVT_DIMSE_SENT
        title = (assoc.requestor.ae_title or "").strip()
        if assoc.is_established:
            try:
                # a peer that is releasing never answers: do not hold the report for a whole DIMSE timeout
                assoc.dimse_timeout = min(self.config.dimse_timeout, 10.0)
                status, _ = assoc.send_n_event_report(info, event_type, STORAGE_COMMITMENT_SOP_CLASS,
                                                      STORAGE_COMMITMENT_INSTANCE)
                if status and status.Status == SUCCESS:
                    LOG.info("storage commitment %s reported to %s (event type %d, same association)",
                             transaction, title, event_type)
                    return
                LOG.warning("storage commitment %s: %s answered the report with %s", transaction, title,
                            f"0x{status.Status:04X}" if status else "nothing")
            except Exception as exc:  # noqa: BLE001
                LOG.info("storage commitment %s: same association unusable (%s)", transaction, exc)
        peer = self.config.peers.get(title)
        if peer is None:
            LOG.warning("storage commitment %s: %s closed the association and has no --peer address; "
                        "the outcome is in the graph only", transaction, title)
            return
        self._report_on_new_association(title, peer, transaction, info, event_type)

    def _report_on_new_association(self, title: str, peer: tuple[str, int], transaction: str,
                                   info: Dataset, event_type: int) -> None:
        started = _now()
        key = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
        role = build_role(STORAGE_COMMITMENT_SOP_CLASS, scp_role=True, scu_role=False)
        assoc = self.ae.associate(peer[0], peer[1], ae_title=title, ext_neg=[role])
        result = "accepted" if assoc.is_established else "rejected"
        try:
            self._write(association_batch(assoc, key, started, result, None, local_port=self.bound_port(),
                                          outgoing=True, ended=not assoc.is_established))
        except Exception as exc:  # noqa: BLE001
            LOG.error("could not record association %s: %s", key, exc)
        if not assoc.is_established:
            LOG.error("storage commitment %s: association to %s at %s:%d failed", transaction, title, *peer)
            return
        try:
            status, _ = assoc.send_n_event_report(info, event_type, STORAGE_COMMITMENT_SOP_CLASS,
                                                  STORAGE_COMMITMENT_INSTANCE)
            LOG.info("storage commitment %s reported to %s on a new association: %s", transaction, title,
                     f"0x{status.Status:04X}" if status else "no answer")
        finally:
            assoc.release()
            batch = GraphBatch()
            batch.add_node("Association", {"key": key, "ended_at": _now(), "messages": 1})
            try:
                self._write(batch)
            except Exception as exc:  # noqa: BLE001
                LOG.error("could not record the end of association %s: %s", key, exc)


# --- graph rows for the network ------------------------------------------------------------------

def broken_elements(problems: list[str]) -> list[str]:
    """The extraction problems that mean the encoding is broken, not merely a value that does not parse.

    `dataset_to_batch` reports a value it could not decode (wrong length for its VR, unreadable sequence,
    nesting too deep) as `Keyword: ExceptionName` / `unreadable sequence ...`, and a value that decoded
    but is not of its type as `Keyword: not a valid TYPE`. The first kind is refused over the network
    (0xC000 cannot understand, nothing written: the sender can fix it and send again); the second is
    stored with `invalid_values`, exactly as the file ingest stores it (real modalities send such values).
    """
    return [p for p in problems if ": not a valid " not in p]


def _calling(assoc: Any) -> str:
    try:
        return f"{(assoc.requestor.ae_title or '').strip()}@{assoc.requestor.address}"
    except Exception:  # noqa: BLE001
        return "?"


def _local_host() -> str:
    return socket.gethostname()


def association_batch(assoc: Any, key: str, started_at: dt.datetime, result: str, reason: str | None,
                      *, local_port: int, outgoing: bool = False, ended: bool = False) -> GraphBatch:
    """ApplicationEntity x2, Association, CALLING, CALLED and one PROPOSED per presentation context.

    AE keys: the listener is `TITLE@host:port` (its own listening port); a peer is `TITLE@address`
    (a caller's port is ephemeral, so it is not part of its identity; a peer we call has its port set).
    PROPOSED.role is the calling AE's role for the SOP class.
    """
    requestor, acceptor = assoc.requestor, assoc.acceptor
    calling_title = (requestor.ae_title or "").strip()
    called_title = (acceptor.ae_title or "").strip()
    batch = GraphBatch()
    if outgoing:
        calling_key = f"{calling_title}@{_local_host()}:{local_port}"
        batch.add_node("ApplicationEntity", {"key": calling_key, "ae_title": calling_title,
                                             "address": _local_host(), "port": local_port, "source": "network"})
        called_key = f"{called_title}@{acceptor.address}"
        batch.add_node("ApplicationEntity", {"key": called_key, "ae_title": called_title,
                                             "address": acceptor.address, "port": acceptor.port,
                                             "source": "network"})
    else:
        calling_key = f"{calling_title}@{requestor.address}"
        batch.add_node("ApplicationEntity", {"key": calling_key, "ae_title": calling_title,
                                             "address": requestor.address, "source": "network"})
        called_key = f"{called_title}@{_local_host()}:{local_port}"
        batch.add_node("ApplicationEntity", {"key": called_key, "ae_title": called_title,
                                             "address": _local_host(), "port": local_port, "source": "network"})
    row: dict[str, Any] = {"key": key, "started_at": started_at, "calling_ae": calling_title,
                           "called_ae": called_title, "result": result, "reason": reason}
    if ended:
        row["ended_at"] = _now()
        row["messages"] = 0
    peer = acceptor if outgoing else requestor
    try:
        row["max_pdu"] = int(peer.maximum_length)
    except Exception:  # noqa: BLE001
        pass
    row["implementation_uid"] = str(peer.implementation_class_uid or "") or None
    row["implementation_version"] = (peer.implementation_version_name or None)
    batch.add_node("Association", row)
    batch.add_rel("CALLING", "ApplicationEntity", calling_key, "Association", key)
    batch.add_rel("CALLED", "Association", key, "ApplicationEntity", called_key)

    roles = {}
    try:
        roles = {uid: (item.scu_role, item.scp_role) for uid, item in requestor.role_selection.items()}
    except Exception:  # noqa: BLE001
        pass
    accepted = {cx.context_id: cx for cx in assoc.accepted_contexts}
    rejected = {cx.context_id: cx for cx in assoc.rejected_contexts}
    for cx in requestor.requested_contexts:
        uid = str(cx.abstract_syntax)
        props: dict[str, Any] = {"context_id": cx.context_id,
                                 "offered": [str(ts) for ts in cx.transfer_syntax]}
        if cx.context_id in accepted:
            acx = accepted[cx.context_id]
            scu, scp = (acx.as_scu, acx.as_scp) if outgoing else (acx.as_scp, acx.as_scu)
            props.update(transfer_syntax=str(acx.transfer_syntax[0]), result="accepted", accepted=True,
                         role=_role(bool(scu), bool(scp)))
        else:
            rcx = rejected.get(cx.context_id)
            props.update(accepted=False,
                         result=CONTEXT_RESULT.get(rcx.result, str(rcx.result)) if rcx is not None
                         else "not-negotiated")
            scu, scp = roles.get(uid, (None, None))
            props["role"] = _role(scu is not False, bool(scp))
        batch.add_rel("PROPOSED", "Association", key, "SOPClass", uid, props)
    return batch


def _role(scu: bool, scp: bool) -> str | None:
    if scu and scp:
        return "SCU/SCP"
    return "SCU" if scu else "SCP" if scp else None


def commitment_report(transaction: str, outcomes: list[tuple[str, str, str | None]]) -> Dataset:
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


def parse_peers(values: list[str]) -> dict[str, tuple[str, int]]:
    """`AE=HOST:PORT` strings to {AE: (host, port)}."""
    peers = {}
    for value in values:
        title, _, address = value.partition("=")
        host, _, port = address.rpartition(":")
        if not title or not host or not port.isdigit():
            raise ValueError(f"--peer {value!r} is not AE=HOST:PORT")
        peers[title.strip()] = (host, int(port))
    return peers
