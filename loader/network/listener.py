"""`dicom-graph listen`: a DICOM application entity that writes what it receives into the graph.

This module composes the services, one module each, and owns the server's life:

- pace.py: pynetdicom's polling loops, fast while PDUs flow, idle-paced otherwise;
- gate.py: what a connection goes through before it is an association (ARTIM timeout, per-address and
  pending limits, bounded PDU reads), and the recording of the connections it drops;
- association.py: the AE, its limits and allow-list, and the recording of every association;
- storage.py: Verification (C-ECHO) and every Storage SOP class (C-STORE: checked, spooled, answered);
- spool.py, writer.py: the durable spool of received datasets, and the one thread that writes them to
  the graph in micro-batches through the file ingest's resolve and write;
- mpps.py: Modality Performed Procedure Step (N-CREATE, N-SET) and Instance Availability Notification;
- commitment.py: Storage Commitment Push Model (N-ACTION, answered by an N-EVENT-REPORT);
- status.py: the statuses they answer with; context.py: the store, lock and counts they share.

Every DIMSE handler is guarded: whatever happens, it answers with a status and logs one line, and a bad
dataset never stops the listener. A C-STORE is answered once its dataset is checked and durable in the
spool; it is in the graph within `window_s` plus one batch write (writer.py), and a crash in between
loses nothing: `start()` replays what the spool still holds before it accepts anything. MPPS, Storage
Commitment and association records are written by their handlers, each message one transaction
committed before its response, after the C-STOREs received before them (`ServiceContext.settle`).

Stop: `Listener.stop()` (SIGTERM / Ctrl-C in the CLI) stops accepting, lets the associations in progress
finish (up to `grace_s`, then aborts them), waits for pending commitment reports, writes what is spooled,
and closes the store.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

from pynetdicom import evt
from pynetdicom.events import EventHandlerType

from dicom_graph.loader.dataset import conformance
from dicom_graph.loader.ingest.entities import entity_keywords

from . import commitment, mpps, pace, storage
from .association import Associations, build_ae, dropped_batch
from .commitment import Commitment
from .config import ListenerConfig
from .context import LOG, ServiceContext, calling
from .gate import Gate, GatedServer
from .mpps import ProcedureSteps
from .spool import Spool
from .status import CANNOT_UNDERSTAND, PROCESSING_FAILURE, Refused, status
from .storage import Storage
from .writer import MicroBatches

__all__ = ["Listener", "ListenerConfig"]


class Listener:
    """The AE, its handlers and the graph writes. `start()` returns at once; `stop()` ends cleanly."""

    def __init__(self, store: Any, config: ListenerConfig | None = None) -> None:
        self.store = store
        self.config = config or ListenerConfig()
        self._server: Any = None
        self.context = ServiceContext(store, self.config)
        self.associations = Associations(self.context, self.bound_port)
        self.spool = Spool(spool_folder(self.config))
        self.writer = MicroBatches(self.context, self.spool)
        self.context.settle = self.writer.flush
        pace.install()
        entity_keywords()  # loads the standard's tables (~1 s): now, not in the first write
        # checked as the file ingest checks them, so a received instance gets the same conformance rows
        self.storage = Storage(self.context, self.spool, self.writer, conformance.load_requirements(store) or None)
        self.steps = ProcedureSteps(self.context)
        # to send commitment results on a new association we need the SCP role of Storage Commitment
        self.ae = build_ae(self.config, supported=[*storage.SOP_CLASSES, *mpps.SOP_CLASSES, commitment.SOP_CLASS],
                           requested=[commitment.SOP_CLASS])
        self.commitment = Commitment(self.context, self.associations, self.ae)
        self.gate = Gate(self.config, self.context.write,
                         lambda drops: dropped_batch(drops, ae_title=self.config.ae_title,
                                                     local_port=self.bound_port()))

    @property
    def counts(self) -> dict[str, int]:
        """{"stored": instances written, "failed": messages refused}."""
        return self.context.counts

    def handlers(self) -> list[EventHandlerType]:
        return [
            *self.associations.handlers(),
            (evt.EVT_DIMSE_SENT, self.commitment.on_dimse_sent),
            (evt.EVT_C_ECHO, self._guard(self.storage.on_c_echo, CANNOT_UNDERSTAND)),
            (evt.EVT_C_STORE, self._guard(self.storage.on_c_store, CANNOT_UNDERSTAND)),
            (evt.EVT_N_CREATE, self._guard(self.steps.on_n_create, PROCESSING_FAILURE, pair=True)),
            (evt.EVT_N_SET, self._guard(self.steps.on_n_set, PROCESSING_FAILURE, pair=True)),
            (evt.EVT_N_ACTION, self._guard(self.commitment.on_n_action, PROCESSING_FAILURE, pair=True)),
        ]

    def _guard(self, handler: Callable, failure: int, pair: bool = False) -> Callable:
        """Whatever happens in a handler, answer with a status and keep listening.

        `pair`: DIMSE-N handlers answer (status, dataset); a refusal or failure has no dataset.
        """

        def guarded(event: Any) -> Any:
            self.associations.state(event.assoc).messages += 1
            try:
                return handler(event)
            except Refused as refused:
                answer = self.context.refusal(event, refused)
            except Exception as exc:  # noqa: BLE001 - the listener must survive anything
                LOG.exception("%s from %s failed: %s", event.event.name, calling(event.assoc), exc)
                self.context.counts["failed"] += 1
                answer = status(failure, f"{type(exc).__name__}")
            return (answer, None) if pair else answer

        guarded.__name__ = handler.__name__
        return guarded

    def start(self) -> None:
        """Replay the spool (written before anything new is accepted), then listen."""
        self.writer.start()
        replayed = self.storage.replay()
        if replayed:
            self.writer.flush()
            LOG.warning("replayed %d received instances that a previous run had not written to the graph",
                        replayed)
        # AE.start_server(block=False), with the gate as the server's request handler
        self._server = self.ae.make_server((self.config.host, self.config.port), evt_handlers=self.handlers(),
                                           server_class=GatedServer, gate=self.gate)
        self.ae._servers.append(self._server)  # as start_server does: server.shutdown() removes it
        threading.Thread(target=self._server.serve_forever, name="listener-accept", daemon=True).start()
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
        self.commitment.join(self.config.dimse_timeout)
        self.ae.shutdown()
        self.gate.close()
        self.writer.stop()
        self.spool.close()
        self.store.close()
        LOG.info("stopped: %d stored, %d refused", self.counts["stored"], self.counts["failed"])


def spool_folder(config: ListenerConfig) -> Path:
    """With --store-dir the spool is inside it, so that a committed entry becomes its file by a rename."""
    if config.store_dir:
        return Path(config.store_dir) / ".spool"
    if config.spool_dir is None:
        raise ValueError("the listener needs a spool folder (ListenerConfig.spool_dir) or a store_dir")
    return Path(config.spool_dir)
