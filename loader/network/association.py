"""The application entity and its associations: who may call, and what the graph records of each call.

Every association is recorded (ApplicationEntity x2, Association, CALLING, CALLED, one PROPOSED per
presentation context), accepted or rejected, and finished (ended_at, messages) when it is released,
aborted or closed. --allow restricts calling AE titles: others get A-ASSOCIATE-RJ permanent / service-user
/ calling AE title not recognised; a request calling another AE title than ours gets called AE title not
recognised (unless --any-called-ae); each rejection is recorded with its reason. PDU size, ACSE / DIMSE /
network timeouts and the number of concurrent associations are bounded; an association aborted for a
network timeout (idle, or a PDU that does not complete) is recorded with that reason. A connection the
gate (gate.py) drops before it is an association is recorded too, as an Association whose result is
'dropped', called by the peer's address only (it sent no AE title). Recording never stops an
association: a failed write is logged and the association goes on.

The reason and context-result texts below are the graph's vocabulary (the network_* queries and the
dashboard read them), so they are ours, not pynetdicom's display strings.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.events import EventHandlerType

from dicom_graph.model.batch import GraphBatch

from .config import ListenerConfig
from .context import LOG, ServiceContext, calling, now

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


def build_ae(config: ListenerConfig, supported: Iterable[str], requested: Iterable[str]) -> AE:
    """The AE with the listener's limits and allow-list; `supported` SOP classes in any transfer syntax
    pynetdicom knows (pixel data is never decoded, so compressed syntaxes cost nothing)."""
    ae = AE(ae_title=config.ae_title)
    ae.maximum_pdu_size = config.max_pdu
    ae.acse_timeout = config.acse_timeout
    ae.dimse_timeout = config.dimse_timeout
    ae.network_timeout = config.network_timeout
    ae.maximum_associations = config.max_associations
    if config.allow:
        ae.require_calling_aet = list(config.allow)
    ae.require_called_aet = not config.any_called_ae
    syntaxes = list(ALL_TRANSFER_SYNTAXES)
    for uid in supported:
        ae.add_supported_context(uid, syntaxes)
    for uid in requested:
        ae.add_requested_context(uid)
    return ae


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


def new_key(started: dt.datetime) -> str:
    """An Association key that sorts by time and cannot collide across listeners."""
    return f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"


@dataclass
class AssociationState:
    key: str
    started_at: dt.datetime
    accepted: bool = False
    ended: bool = False
    messages: int = 0
    action_rsp_sent: threading.Event = field(default_factory=threading.Event)  # see commitment.py


class Associations:
    """The association event handlers and the state they keep per association, until it closes."""

    def __init__(self, context: ServiceContext, local_port: Callable[[], int]) -> None:
        self.context = context
        self.local_port = local_port
        self._states: dict[Any, AssociationState] = {}
        self._lock = threading.Lock()

    def handlers(self) -> list[EventHandlerType]:
        return [
            (evt.EVT_REQUESTED, self.on_requested),
            (evt.EVT_ACCEPTED, self.on_accepted),
            (evt.EVT_REJECTED, self.on_rejected),
            (evt.EVT_RELEASED, self.on_ended),
            (evt.EVT_ABORTED, self.on_ended),
            (evt.EVT_CONN_CLOSE, self.on_conn_close),
        ]

    def state(self, assoc: Any) -> AssociationState:
        with self._lock:
            state = self._states.get(assoc)
            if state is None:
                started = now()
                state = self._states[assoc] = AssociationState(key=new_key(started), started_at=started)
            return state

    def on_requested(self, event: Any) -> None:
        self.state(event.assoc)

    def on_accepted(self, event: Any) -> None:
        state = self.state(event.assoc)
        state.accepted = True
        self.record(event.assoc, state.key, state.started_at, "accepted", None)

    def on_rejected(self, event: Any) -> None:
        state = self.state(event.assoc)
        reason = None
        primitive = getattr(event.assoc.acceptor, "primitive", None)
        if primitive is not None and primitive.result is not None:
            reason = (f"{REJECT_RESULT.get(primitive.result, primitive.result)} by "
                      f"{REJECT_SOURCE.get(primitive.result_source, primitive.result_source)}: "
                      f"{REJECT_REASON.get((primitive.result_source, primitive.diagnostic), primitive.diagnostic)}")
        LOG.warning("association from %s rejected: %s", calling(event.assoc), reason)
        state.ended = True
        self.record(event.assoc, state.key, state.started_at, "rejected", reason, ended=True)

    def on_ended(self, event: Any) -> None:
        state = self.state(event.assoc)
        if state.ended or not state.accepted:
            return
        state.ended = True
        reason = (timed_out(event.assoc) or "aborted") if event.event == evt.EVT_ABORTED else None
        self.finish(state.key, state.messages, reason)

    def on_conn_close(self, event: Any) -> None:
        with self._lock:
            state = self._states.pop(event.assoc, None)
        if state is not None and state.accepted and not state.ended:
            state.ended = True
            self.finish(state.key, state.messages, timed_out(event.assoc) or "connection closed")

    def record(self, assoc: Any, key: str, started_at: dt.datetime, result: str, reason: str | None,
               *, outgoing: bool = False, ended: bool = False) -> None:
        try:
            self.context.write(association_batch(assoc, key, started_at, result, reason,
                                                 local_port=self.local_port(), outgoing=outgoing, ended=ended))
        except Exception as exc:  # noqa: BLE001 - never let recording stop the association
            LOG.error("could not record association %s: %s", key, exc)

    def finish(self, key: str, messages: int, reason: str | None) -> None:
        row: dict[str, Any] = {"key": key, "ended_at": now(), "messages": messages}
        if reason:
            row["reason"] = reason
        batch = GraphBatch()
        batch.add_node("Association", row)
        try:
            self.context.write(batch)
        except Exception as exc:  # noqa: BLE001
            LOG.error("could not record the end of association %s: %s", key, exc)


def timed_out(assoc: Any) -> str | None:
    """Why an association ended on a network timeout, or None: idle too long (pynetdicom's idle timer
    aborts it), or a PDU that did not complete in time (the gate's BoundedSocket shut it)."""
    try:
        stalled = getattr(assoc.dul.socket, "stalled", None)
        if stalled:
            return str(stalled)
        if assoc.dul.idle_timer_expired():
            return f"network timeout: idle for {assoc.network_timeout:g} s"
    except Exception:  # noqa: BLE001 - used on the way out: never fails
        pass
    return None


def dropped_batch(drops: list[dict[str, Any]], *, ae_title: str, local_port: int) -> GraphBatch:
    """Connections dropped before an A-ASSOCIATE-RQ ({address, started_at, ended_at, reason} each): an
    Association with result 'dropped' and no AE titles, CALLING from the peer known only by its address
    (key `@address`), CALLED to the listener itself."""
    host = socket.gethostname()
    batch = GraphBatch()
    listener = _add_ae(batch, f"{ae_title}@{host}:{local_port}", ae_title, host, port=local_port)
    for drop in drops:
        key = new_key(drop["started_at"])
        peer = _add_ae(batch, f"@{drop['address']}", "", drop["address"])
        batch.add_node("Association", {"key": key, "started_at": drop["started_at"], "ended_at": drop["ended_at"],
                                       "result": "dropped", "reason": drop["reason"], "messages": 0})
        batch.add_rel("CALLING", "ApplicationEntity", peer, "Association", key)
        batch.add_rel("CALLED", "Association", key, "ApplicationEntity", listener)
    return batch


def association_batch(assoc: Any, key: str, started_at: dt.datetime, result: str, reason: str | None,
                      *, local_port: int, outgoing: bool = False, ended: bool = False) -> GraphBatch:
    """ApplicationEntity x2, Association, CALLING, CALLED and one PROPOSED per presentation context.

    AE keys: the listener is `TITLE@host:port` (its own listening port); a peer is `TITLE@address`
    (a caller's port is ephemeral, so it is not part of its identity; a peer we call has its port set).
    `called_ae` is the title the caller asked for, which is not ours when it was rejected for that (or
    accepted with --any-called-ae); CALLED still points at the listener, the AE that answered.
    """
    requestor, acceptor = assoc.requestor, assoc.acceptor
    calling_title = (requestor.ae_title or "").strip()
    called_title = (acceptor.ae_title or "").strip()
    host = socket.gethostname()
    batch = GraphBatch()
    if outgoing:
        calling_key = _add_ae(batch, f"{calling_title}@{host}:{local_port}", calling_title, host, port=local_port)
        called_key = _add_ae(batch, f"{called_title}@{acceptor.address}", called_title, acceptor.address,
                             port=acceptor.port)
    else:
        calling_key = _add_ae(batch, f"{calling_title}@{requestor.address}", calling_title, requestor.address)
        called_key = _add_ae(batch, f"{called_title}@{host}:{local_port}", called_title, host, port=local_port)
        asked = getattr(requestor.primitive, "called_ae_title", None)
        called_title = str(asked).strip() if asked else called_title
    row: dict[str, Any] = {"key": key, "started_at": started_at, "calling_ae": calling_title,
                           "called_ae": called_title, "result": result, "reason": reason}
    if ended:
        row["ended_at"] = now()
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
    _add_proposed(batch, assoc, key, outgoing)
    return batch


def _add_ae(batch: GraphBatch, key: str, title: str, address: str, **port: int) -> str:
    """One ApplicationEntity node. No `port` at all for a caller, so that the port of a peer we once
    called is not overwritten with nothing when it calls us."""
    batch.add_node("ApplicationEntity", {"key": key, "ae_title": title, "address": address, **port,
                                         "source": "network"})
    return key


def _add_proposed(batch: GraphBatch, assoc: Any, key: str, outgoing: bool) -> None:
    """One PROPOSED per requested presentation context; its role is the calling AE's for the SOP class."""
    roles = {}
    try:
        roles = {uid: (item.scu_role, item.scp_role) for uid, item in assoc.requestor.role_selection.items()}
    except Exception:  # noqa: BLE001
        pass
    accepted = {cx.context_id: cx for cx in assoc.accepted_contexts}
    rejected = {cx.context_id: cx for cx in assoc.rejected_contexts}
    for cx in assoc.requestor.requested_contexts:
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


def _role(scu: bool, scp: bool) -> str | None:
    if scu and scp:
        return "SCU/SCP"
    return "SCU" if scu else "SCP" if scp else None
