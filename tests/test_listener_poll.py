"""pynetdicom's poll delays follow the traffic (loader/network/pace.py, gate.BoundedSocket): short while PDUs
arrive, pynetdicom's 1 ms again once the association is idle, so that a burst of C-STOREs does not wait
up to 1 ms per message and per response while an idle association does not spin. A real pynetdicom
acceptor Association on a real loopback connection; nothing is sent through pynetdicom's reactor, only the
socket's `recv` and `ready` that the DUL calls are exercised.
"""

from __future__ import annotations

import socket
import time

from pynetdicom import AE
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.association import Association

import pynetdicom.association

from dicom_graph.loader.network import pace
from dicom_graph.loader.network.gate import BoundedSocket
from dicom_graph.loader.network.pace import BUSY_DELAY_S, BUSY_S, IDLE_DELAY_S, REACTOR_SLEEP_S


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """A connected loopback TCP pair (the socket gets TCP_NODELAY, which a Unix socket pair refuses)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        peer = socket.create_connection(server.getsockname())
        ours, _ = server.accept()
    return ours, peer


def test_poll_delay_is_short_while_pdus_arrive_and_back_to_idle_after() -> None:
    ours, peer = tcp_pair()
    try:
        assoc = Association(AE(), MODE_ACCEPTOR)
        sock = BoundedSocket(assoc, ours, b"", timeout=5.0)
        assoc.set_socket(sock)
        assert assoc.dul._run_loop_delay == IDLE_DELAY_S  # pynetdicom's own default until bytes come

        peer.sendall(b"\x04\x00\x00\x00\x00\x02ab")
        assert sock.ready and not sock.busy
        assert bytes(sock.recv(8)) == b"\x04\x00\x00\x00\x00\x02ab"
        assert assoc.dul._run_loop_delay == BUSY_DELAY_S and sock.busy
        assert not sock.ready  # nothing more to read, but the burst is recent: still polling fast
        assert assoc.dul._run_loop_delay == BUSY_DELAY_S

        deadline = time.monotonic() + 10 * BUSY_S + 5
        while assoc.dul._run_loop_delay != IDLE_DELAY_S and time.monotonic() < deadline:
            time.sleep(BUSY_S / 5)
            _ = sock.ready  # the DUL asks once per idle loop
        assert assoc.dul._run_loop_delay == IDLE_DELAY_S and not sock.busy
    finally:
        ours.close()
        peer.close()


def test_the_reactor_of_a_busy_association_sleeps_short_others_as_pynetdicom_does() -> None:
    pace.install()
    pace.install()  # idempotent
    assert pynetdicom.association.time.sleep is pace.paced_sleep
    assert pynetdicom.association.time.monotonic is time.monotonic  # the rest is the time module's
    ours, peer = tcp_pair()
    try:
        assoc = Association(AE(), MODE_ACCEPTOR)
        sock = BoundedSocket(assoc, ours, b"", timeout=5.0)
        assoc.set_socket(sock)
        delays: dict[str, list[float]] = {}

        def reactor(name: str) -> None:  # in the association's own thread, as its reactor runs
            delays[name] = [pace.paced(REACTOR_SLEEP_S), pace.paced(0.1)]

        assoc.run = lambda: reactor("idle")  # type: ignore[method-assign]
        assoc.start()
        assoc.join(10)
        peer.sendall(b"\x04\x00\x00\x00\x00\x00")
        sock.recv(6)
        busy = Association(AE(), MODE_ACCEPTOR)
        busy.dul = assoc.dul  # the same socket, now busy, seen from a second reactor thread
        busy.run = lambda: reactor("busy")  # type: ignore[method-assign]
        busy.start()
        busy.join(10)
        assert delays == {"idle": [REACTOR_SLEEP_S, 0.1], "busy": [BUSY_DELAY_S, 0.1]}
        assert pace.paced(REACTOR_SLEEP_S) == REACTOR_SLEEP_S  # not an association's thread
    finally:
        ours.close()
        peer.close()
