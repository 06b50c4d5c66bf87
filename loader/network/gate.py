"""The listener's door: every TCP connection is vetted here before pynetdicom makes it an Association.

Why it exists (pynetdicom 3.0.4, read in its source):

- An accepted socket has no timeout: `socket.accept()` returns a blocking socket, and `server_bind`'s
  `settimeout(network_timeout)` is set on the listening socket only. The DUL reads a PDU as `recv(6)` then
  `recv(length)`, and `AssociationSocket.recv` loops until every byte is in. The ARTIM timer and the idle
  timer are looked at only between PDUs (`DULServiceProvider.run_reactor`, `Association._run_reactor`), so
  a peer that trickles a byte now and then holds the DUL thread in `recv()` for ever; `Association.kill()`
  waits for the DUL for ever too, and the association thread, and its slot, never end.
- `RequestHandler.handle` makes every connection an Association thread at once, and
  `maximum_associations` counts those threads (`ACSE._negotiate_as_acceptor`): half-open connections
  take the slots of real associations, which are then rejected (transient, local limit exceeded).
- A connection that closes, or sends garbage, before its A-ASSOCIATE-RQ takes the DUL back to Sta1
  (AA-5, or AA-1 then AR-5) but hands the Association thread nothing: it waits `acse_timeout` for an
  A-ASSOCIATE indication (`Association.run_reactor`) and holds its slot all that time.

So here the request handler reads the A-ASSOCIATE-RQ itself, within `request_timeout` (the ARTIM timer of
PS3.8 9.1.5, measured from the connection, not per byte); a connection whose first byte is not an
A-ASSOCIATE-RQ's is closed at once. Before that, an address may hold at most `max_per_address`
connections (pending or associated) and at most `max_pending` connections may be waiting for their
request. Only a whole, decodable A-ASSOCIATE-RQ becomes an Association, on a `BoundedSocket` that hands
the request's bytes to the DUL and bounds every later PDU read and write by the network timeout.
Every dropped connection is recorded (address, reason) by a background writer, in batches, so that a
flood of them costs the graph one transaction per flush, not one per connection.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import Counter
from copy import deepcopy
from datetime import datetime
from typing import Any, Callable

from pynetdicom import evt
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.association import Association
from pynetdicom.pdu import A_ASSOCIATE_RQ
from pynetdicom.transport import AssociationSocket, RequestHandler, ThreadedAssociationServer

from dicom_graph.model.batch import GraphBatch

from .config import ListenerConfig
from .context import LOG, now
from .pace import BUSY_DELAY_S, BUSY_S, IDLE_DELAY_S

# An A-ASSOCIATE-RQ is a few KiB (128 contexts of a dozen syntaxes each is ~40 KiB); a user identity item
# can add a token. A header claiming more is refused before a byte of it is read.
MAX_REQUEST = 1 << 18
PDU_NAMES = {0x02: "A-ASSOCIATE-AC", 0x03: "A-ASSOCIATE-RJ", 0x04: "P-DATA-TF", 0x05: "A-RELEASE-RQ",
             0x06: "A-RELEASE-RP", 0x07: "A-ABORT"}
FLUSH_S = 0.25  # how often the recorder writes the drops collected meanwhile


class Dropped(Exception):
    """A connection closed before it became an association; the message is the reason recorded."""


def read_request(sock: socket.socket, timeout: float) -> bytes:
    """The A-ASSOCIATE-RQ PDU, whole and decodable, read within `timeout` seconds of now; `Dropped` if not.

    Never reads past the PDU (nothing may follow it before our A-ASSOCIATE-AC, and what does is the DUL's).
    """
    deadline = time.monotonic() + timeout
    data, need = bytearray(), 6
    while len(data) < need:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Dropped(f"no A-ASSOCIATE-RQ within {timeout:g} s (ARTIM timeout), {len(data)} bytes received")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(65_536, need - len(data)))
        except TimeoutError:
            continue
        except OSError as exc:
            raise Dropped(f"connection error before A-ASSOCIATE-RQ: {exc}") from exc
        if not chunk:
            raise Dropped(f"connection closed before A-ASSOCIATE-RQ, {len(data)} bytes received")
        if not data and chunk[0] != 0x01:
            name = PDU_NAMES.get(chunk[0], f"first byte 0x{chunk[0]:02X}")
            raise Dropped(f"not an A-ASSOCIATE-RQ: {name}")
        data.extend(chunk)
        if need == 6 and len(data) == 6:
            length = struct.unpack(">L", data[2:6])[0]
            if length > MAX_REQUEST:
                raise Dropped(f"A-ASSOCIATE-RQ of {length} bytes is over the {MAX_REQUEST} accepted")
            need += length
    try:
        A_ASSOCIATE_RQ().decode(bytes(data))
    except Exception as exc:  # noqa: BLE001 - whatever the decoder trips on, the peer is not a DICOM AE
        raise Dropped(f"undecodable A-ASSOCIATE-RQ: {type(exc).__name__}: {exc}"[:200]) from exc
    return bytes(data)


class BoundedSocket(AssociationSocket):
    """pynetdicom's socket, given the request already read, with every PDU read and write bounded.

    `recv(n)` is one PDU part for the DUL: it must complete within `timeout` of its start, however the
    bytes trickle in; if not, the connection is shut and the short read makes the DUL see it closed
    (Evt17). `stalled` says so, for the association's record.
    """

    def __init__(self, assoc: Association, client_socket: socket.socket, prefix: bytes, timeout: float) -> None:
        super().__init__(assoc, client_socket=client_socket)
        # a DIMSE response is small and sent in parts: with Nagle on, each waits for the peer's delayed
        # ACK (~40 ms per message, measured with storescu: 20 files/s instead of hundreds)
        client_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._prefix = bytearray(prefix)
        self.timeout = timeout
        self.stalled: str | None = None
        self._busy_until = 0.0

    @property
    def busy(self) -> bool:
        """Bytes came in the last pace.BUSY_S: pynetdicom's loops poll fast (pace.py)."""
        return self._busy_until != 0.0

    @property
    def ready(self) -> bool:
        """Asked by the DUL once per idle loop: also where its poll delay goes back to idle (pace.py)."""
        if self._busy_until and time.monotonic() > self._busy_until:
            self._busy_until = 0.0
            self.assoc.dul._run_loop_delay = IDLE_DELAY_S
        return bool(self._prefix) or super().ready

    def recv(self, nr_bytes: int) -> bytearray:
        data = self._prefix[:nr_bytes]
        del self._prefix[:nr_bytes]
        deadline = time.monotonic() + self.timeout
        while len(data) < nr_bytes and self.socket is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stalled = f"network timeout: a PDU not complete within {self.timeout:g} s"
                self._shut()
                break
            self.socket.settimeout(remaining)
            try:
                chunk = self.socket.recv(min(4096, nr_bytes - len(data)))
            except TimeoutError:
                continue
            if not chunk:
                break
            data.extend(chunk)
        if data:
            if not self._busy_until:
                self.assoc.dul._run_loop_delay = BUSY_DELAY_S
            self._busy_until = time.monotonic() + BUSY_S
        return data

    def send(self, bytestream: bytes) -> None:
        if self.socket is not None:
            self.socket.settimeout(self.timeout)  # a peer that stops reading cannot hold a send for ever
        super().send(bytestream)

    def _shut(self) -> None:
        try:
            if self.socket is not None:
                self.socket.shutdown(socket.SHUT_RDWR)  # the association closes the descriptor as it ends
        except OSError:
            pass


class Gate:
    """Admission counts (pending connections per address) and the recorder of dropped connections."""

    def __init__(self, config: ListenerConfig, write: Callable[[GraphBatch], None],
                 batch: Callable[[list[dict[str, Any]]], GraphBatch]) -> None:
        self.config = config
        self._write, self._batch = write, batch
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()
        self._drops: list[dict[str, Any]] = []
        self._wake = threading.Event()
        self._closing = False
        self._recorder = threading.Thread(target=self._record, name="listener-drops", daemon=True)
        self._recorder.start()

    def admit(self, address: str, live: list[Association]) -> str | None:
        """Count the connection in, or say why it may not come in (`live`: the associations running)."""
        with self._lock:
            if sum(self._pending.values()) >= self.config.max_pending:
                return f"too many connections awaiting their A-ASSOCIATE-RQ ({self.config.max_pending})"
            held = self._pending[address] + sum(1 for a in live if _address(a) == address and a.is_alive())
            if held >= self.config.max_per_address:
                return f"per-address limit: {address} already holds {held} connections"
            self._pending[address] += 1
            return None

    def leave(self, address: str) -> None:
        with self._lock:
            self._pending[address] -= 1
            if self._pending[address] <= 0:
                del self._pending[address]

    def drop(self, sock: socket.socket, address: str, opened: datetime, reason: str) -> None:
        """Close the connection now; record it with the next flush."""
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        LOG.warning("connection from %s dropped: %s", address, reason)
        with self._lock:
            self._drops.append({"address": address, "started_at": opened, "ended_at": now(), "reason": reason})
        self._wake.set()

    def _record(self) -> None:
        """Write what was dropped since the last flush, as one batch; until `close()`, then once more."""
        while True:
            self._wake.wait()
            if not self._closing:
                time.sleep(FLUSH_S)  # let a flood gather into one transaction
            with self._lock:  # read with the take: a close() during the sleep must end this loop
                closing = self._closing
                drops, self._drops = self._drops, []
                self._wake.clear()
            if drops:
                try:
                    self._write(self._batch(drops))
                except Exception as exc:  # noqa: BLE001 - recording never stops the listener
                    LOG.error("could not record %d dropped connections: %s", len(drops), exc)
            if closing:
                return

    def close(self, timeout: float = 30.0) -> None:
        """Record every drop still pending; call before the store closes."""
        with self._lock:
            self._closing = True
        self._wake.set()
        self._recorder.join(timeout)


def _address(assoc: Association) -> str | None:
    try:
        return str(assoc.requestor.address)
    except Exception:  # noqa: BLE001 - an association not set up yet has no address
        return None


class GatedHandler(RequestHandler):
    """A connection: admitted, its A-ASSOCIATE-RQ read, and only then an Association (or dropped)."""

    server: GatedServer

    def handle(self) -> None:
        gate, address, opened = self.server.gate, str(self.client_address[0]), now()
        refusal = gate.admit(address, self.server.active_associations)
        if refusal is not None:
            gate.drop(self.request, address, opened, refusal)
            return
        counted = True
        try:
            try:
                prefix = read_request(self.request, gate.config.request_timeout)
            except Dropped as dropped:
                # counted out before the close: a peer that reconnects as soon as it sees the close
                # must not find this connection still held against its per-address limit
                gate.leave(address)
                counted = False
                gate.drop(self.request, address, opened, str(dropped))
                return
            assoc = self._associate(prefix)
            evt.trigger(assoc, evt.EVT_CONN_OPEN, {"address": self.client_address})
            assoc.start()  # counted live before it stops being counted pending
        finally:
            if counted:
                gate.leave(address)

    def _associate(self, prefix: bytes) -> Association:
        """`RequestHandler._create_association`, on a BoundedSocket: pynetdicom gives no hook for the
        socket class, and a socket cannot be swapped afterwards (its constructor queues the DUL's Evt5)."""
        assoc = Association(self.ae, MODE_ACCEPTOR)
        assoc._server = self.server
        assoc.name = f"AcceptorThread@{datetime.now():%Y%m%d%H%M%S}"
        assoc.set_socket(BoundedSocket(assoc, self.request, prefix, self.server.gate.config.network_timeout))
        acceptor = assoc.acceptor
        acceptor.maximum_length = self.ae.maximum_pdu_size
        acceptor.ae_title = self.server.ae_title
        acceptor.address_info = self.local
        acceptor.implementation_class_uid = self.ae.implementation_class_uid
        acceptor.implementation_version_name = self.ae.implementation_version_name
        acceptor.supported_contexts = deepcopy(self.server.contexts)
        assoc.requestor.address_info = self.remote
        for event, handlers in self.server._handlers.items():
            if event.is_intervention and handlers:
                assoc.bind(event, *handlers)
            elif isinstance(event, evt.NotificationEvent):
                for handler, args in handlers:  # type: ignore[misc]  # a notification's handlers are a list
                    assoc.bind(event, handler, args)
        return assoc


class GatedServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with the gate as its request handler.

    Its listen backlog is the kernel's largest, not socketserver's 5: with 5, a burst of connections
    overflows the accept queue and Linux makes the overflow wait for a SYN-ACK retransmission (1 s, 3 s,
    ...), so a legitimate peer arriving in a flood was delayed by the kernel before the gate saw it.
    """

    request_queue_size = socket.SOMAXCONN

    def __init__(self, ae: Any, address: tuple[str, int], ae_title: str, contexts: list[Any],
                 ssl_context: Any = None, evt_handlers: list[Any] | None = None, *, gate: Gate) -> None:
        self.gate = gate
        super().__init__(ae, address, ae_title, contexts, ssl_context, evt_handlers=evt_handlers,
                         request_handler=GatedHandler)
