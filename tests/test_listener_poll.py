"""The DUL's poll delay follows the traffic (loader/network/gate.py, BoundedSocket): short while PDUs
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

from dicom_graph.loader.network.gate import BUSY_DELAY_S, BUSY_S, IDLE_DELAY_S, BoundedSocket


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
        assert sock.ready
        assert bytes(sock.recv(8)) == b"\x04\x00\x00\x00\x00\x02ab"
        assert assoc.dul._run_loop_delay == BUSY_DELAY_S
        assert not sock.ready  # nothing more to read, but the burst is recent: still polling fast
        assert assoc.dul._run_loop_delay == BUSY_DELAY_S

        deadline = time.monotonic() + 10 * BUSY_S + 5
        while assoc.dul._run_loop_delay != IDLE_DELAY_S and time.monotonic() < deadline:
            time.sleep(BUSY_S / 5)
            _ = sock.ready  # the DUL asks once per idle loop
        assert assoc.dul._run_loop_delay == IDLE_DELAY_S
    finally:
        ours.close()
        peer.close()
