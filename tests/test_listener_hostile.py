"""The listener survives hostile peers, and records them (loader/network/gate.py).

Bounded hostile traffic, on loopback only, beside real dcmtk peers: bare connect + close, garbage bytes,
slow senders that trickle a byte a second before any A-ASSOCIATE-RQ, one address opening more
connections than it may hold, an association that goes silent and one that trickles a PDU. Each hostile
peer comes from its own loopback address (127.0.0.2 and up: Linux routes all of 127/8 to lo), so that the
per-address cap is seen at work and the legitimate peers (127.0.0.1) are not confused with them.
Every legitimate association must succeed within a few seconds of the hostile ones starting; every
hostile connection must be closed within its timeout and be in the graph with its address and reason.
The listener runs with short timeouts (ARTIM 2 s, idle 3 s) to keep the test well under a minute.
"""

from __future__ import annotations

import datetime as dt
import select
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Callable

from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # generated at import time

from dicom_graph.loader.network.association import build_ae
from dicom_graph.loader.network.config import ListenerConfig
from dicom_graph.loader.network.gate import FLUSH_S, Gate
from dicom_graph.model.batch import GraphBatch

from .listener_peers import HOST, Listening, images, listening, scu

ARTIM, IDLE = 2.0, 3.0
ARGS = ("--request-timeout", str(ARTIM), "--idle-timeout", str(IDLE), "--timeout", "10",
        "--max-associations", "8", "--max-per-address", "4", "--grace", "10")
BARE, GARBAGE, SLOW, SLOW_ADDRESSES, OVER = "127.0.0.2", "127.0.0.3", 16, 4, "127.0.0.8"
STALL, SILENT = "127.0.0.9", "127.0.0.10"
GARBAGE_BYTES = (
    b"GET / HTTP/1.1\r\nHost: pacs\r\n\r\n",  # a web client on the DICOM port
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32),  # a TLS ClientHello
    b"\x07\x00\x00\x00\x00\x04\x00\x00\x00\x00",  # an A-ABORT before any association
    b"\x01\x00\xff\xff\xff\xff",  # an A-ASSOCIATE-RQ header claiming 4 GiB
    b"\x01\x00\x00\x00\x00\x10" + b"\xee" * 16,  # an A-ASSOCIATE-RQ whose body is junk
)
GARBAGE_COUNT = 100


def connect(listener: Listening, source: str) -> socket.socket:
    return socket.create_connection((HOST, listener.port), timeout=5, source_address=(source, 0))


def closed_after(sock: socket.socket, limit: float, trickle: bool = False, since: float | None = None) -> float:
    """Seconds from `since` (default: now) until the listener closes `sock` (after `limit`: inf); with
    `trickle`, one byte a second is sent meanwhile, as a slow-loris peer does."""
    start = time.monotonic() if since is None else since
    try:
        while time.monotonic() - start < limit:
            readable, _, _ = select.select([sock], [], [], 1.0)
            if readable and not sock.recv(4096):
                return time.monotonic() - start
            if trickle and not readable:
                sock.send(b"\x00")
        return float("inf")
    except OSError:  # reset, or a broken pipe on the trickle: closed too
        return time.monotonic() - start
    finally:
        sock.close()


def bare(listener: Listening) -> list[float]:
    for _ in range(20):
        connect(listener, BARE).close()
    return []


def garbage(listener: Listening) -> list[float]:
    times = []
    for i in range(GARBAGE_COUNT):
        sock = connect(listener, GARBAGE)
        sock.sendall(GARBAGE_BYTES[i % len(GARBAGE_BYTES)])
        times.append(closed_after(sock, 5))
    return times


def slow(listener: Listening, source: str) -> list[float]:
    sock = connect(listener, source)
    sock.sendall(b"\x01")  # the first byte of an A-ASSOCIATE-RQ, and then a byte a second
    return [closed_after(sock, 10, trickle=True)]


def over(listener: Listening) -> list[float]:
    """Six silent connections from one address at once: two more than it may hold."""
    socks = [(connect(listener, OVER), time.monotonic()) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        return sorted(pool.map(lambda s: closed_after(s[0], 10, since=s[1]), socks))


def stalled(listener: Listening, source: str, pdu: bool) -> list[float]:
    """An association that goes silent, or that starts a P-DATA-TF PDU and trickles it."""
    ae = scu("STALLER")
    ae.add_requested_context(Verification)
    assoc = ae.associate(HOST, listener.port, ae_title="DICOMGRAPH", bind_address=(source, 0))
    assert assoc.is_established
    start = time.monotonic()
    assert assoc.dul.socket is not None and assoc.dul.socket.socket is not None
    raw = assoc.dul.socket.socket
    if pdu:
        raw.sendall(b"\x04\x00\x00\x00\x01\x00")
    while assoc.is_alive() and assoc.is_established and time.monotonic() - start < 10:
        if pdu:
            try:
                raw.send(b"\x00")
            except OSError:
                break
        time.sleep(0.5)  # the pace of the trickle, not a wait for the listener
    gone = time.monotonic() - start
    assoc.abort()
    return [gone]


def legitimate(listener: Listening, files: list[Path], started: float) -> list[float]:
    """echoscu, storescu (5 MR images), echoscu again: seconds from the hostile start to each success."""
    done = []
    for tool, title, args in (("echoscu", "ECHOSCU", []), ("storescu", "STORESCU", [str(f) for f in files[:5]]),
                              ("echoscu", "ECHOSCU", [])):
        run = listener.send(tool, title, *args, timeout=60)
        assert run.returncode == 0, run.stderr + listener.log()
        done.append(time.monotonic() - started)
    return done


def test_hostile_peers_do_not_starve_real_ones_and_are_recorded(engine: str, corpus: Path, tmp_path: Path) -> None:
    files, _ = images(corpus)
    with listening(engine, tmp_path, *ARGS) as listener:
        loads: dict[str, Callable[[], list[float]]] = {
            "bare": lambda: bare(listener), "garbage": lambda: garbage(listener), "over": lambda: over(listener),
            "stall": lambda: stalled(listener, STALL, pdu=True),
            "silent": lambda: stalled(listener, SILENT, pdu=False)}
        for i in range(SLOW):
            loads[f"slow{i}"] = partial(slow, listener, f"127.0.0.{4 + i % SLOW_ADDRESSES}")
        started = time.monotonic()
        with ThreadPoolExecutor(len(loads)) as pool:
            futures = {name: pool.submit(load) for name, load in loads.items()}
            legit = legitimate(listener, files, started)
            results = {name: future.result(timeout=40) for name, future in futures.items()}
        print(f"legitimate associations done at {', '.join(f'{t:.2f}' for t in legit)} s "
              f"after the hostile ones started; hostile closes: "
              f"garbage max {max(results['garbage']):.2f} s, slow max "
              f"{max(max(results[n]) for n in results if n.startswith('slow')):.2f} s, "
              f"over {results['over']}, stall {results['stall']}, silent {results['silent']}")
        assert all(t < 8 for t in legit), legit  # ARTIM 2 s + the storescu itself, on 2 busy cores
        # garbage, and the connections over the per-address limit, close at once: before the ARTIM timer
        # could have closed them (its earliest, ARTIM - 0.5, is the slow peers' lower bound below)
        assert max(results["garbage"]) < ARTIM - 0.5, results["garbage"]
        assert all(ARTIM - 0.5 < t[0] < ARTIM + 3 for n, t in results.items() if n.startswith("slow")), results
        assert max(results["over"][:2]) < ARTIM - 0.5 and all(ARTIM - 0.5 < t < ARTIM + 3 for t in results["over"][2:])
        assert all(IDLE - 0.5 < results[n][0] < IDLE + 4 for n in ("stall", "silent")), results

    with listener.reader() as store:
        rows = store.query("MATCH (p:ApplicationEntity)-[:CALLING]->(a:Association)-[:CALLED]->(l:ApplicationEntity) "
                           "RETURN p.address AS address, p.ae_title AS title, a.result AS result, "
                           "a.reason AS reason, a.ended_at AS ended_at, l.ae_title AS listener").records()
    by_address: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_address.setdefault(row["address"], []).append(row)
        assert row["ended_at"] is not None and row["listener"] == "DICOMGRAPH", row

    def reasons(address: str) -> Counter[str]:
        return Counter(f"{r['result']}: {r['reason']}" for r in by_address.get(address, []))

    # every bare connection is dropped and recorded; one that comes while the listener has not yet seen
    # the previous ones close (busy associations beside it poll fast: pace.py) meets the per-address limit
    bare_reasons = reasons(BARE)
    assert sum(bare_reasons.values()) == 20, bare_reasons
    assert bare_reasons["dropped: connection closed before A-ASSOCIATE-RQ, 0 bytes received"] >= 10, bare_reasons
    assert set(bare_reasons) <= {"dropped: connection closed before A-ASSOCIATE-RQ, 0 bytes received",
                                 f"dropped: per-address limit: {BARE} already holds 4 connections"}, bare_reasons
    junk = reasons(GARBAGE)  # a peer that waits for each close never meets its per-address limit
    undecodable = {k: junk.pop(k) for k in list(junk) if k.startswith("dropped: undecodable A-ASSOCIATE-RQ: ")}
    assert (sum(undecodable.values()), junk) == (GARBAGE_COUNT // len(GARBAGE_BYTES), {
        "dropped: not an A-ASSOCIATE-RQ: first byte 0x47": 20, "dropped: not an A-ASSOCIATE-RQ: first byte 0x16": 20,
        "dropped: not an A-ASSOCIATE-RQ: A-ABORT": 20,
        f"dropped: A-ASSOCIATE-RQ of {0xFFFFFFFF} bytes is over the 262144 accepted": 20}), (undecodable, junk)
    artim = f"dropped: no A-ASSOCIATE-RQ within {ARTIM:g} s (ARTIM timeout), "
    for i in range(SLOW_ADDRESSES):  # a byte a second: 1 to 3 bytes in before the 2 s are up
        slow_reasons = reasons(f"127.0.0.{4 + i}")
        assert sum(slow_reasons.values()) == SLOW // SLOW_ADDRESSES, slow_reasons
        assert all(r.startswith(artim) for r in slow_reasons), slow_reasons
    assert reasons(OVER) == {f"dropped: per-address limit: {OVER} already holds 4 connections": 2,
                             f"{artim}0 bytes received": 4}
    for address in (STALL, SILENT):
        [row] = by_address[address]
        assert row["title"] == "STALLER" and row["result"] == "accepted"
        assert row["reason"].startswith("network timeout: "), row
    assert reasons(SILENT) == {f"accepted: network timeout: idle for {IDLE:g} s": 1}
    assert reasons(HOST) == {"accepted: None": 3}
    assert all(r["title"] == "" for a in (BARE, GARBAGE, OVER) for r in by_address[a])


def test_wrong_called_ae_title_is_rejected_and_recorded(engine: str, tmp_path: Path) -> None:
    with listening(engine, tmp_path, "--request-timeout", str(ARTIM)) as listener:
        run = listener.send("echoscu", "ECHOSCU", timeout=60, called="NOTDICOMGRAPH")
        assert run.returncode != 0
        assert listener.send("echoscu", "ECHOSCU", timeout=60).returncode == 0
    with listener.reader() as store:
        assocs = store.run("network_associations", limit=100, ae="").records()
    outcome = sorted((a["called_ae"], a["result"], a["reason"]) for a in assocs)
    assert outcome == [("DICOMGRAPH", "accepted", None),
                       ("NOTDICOMGRAPH", "rejected",
                        "rejected-permanent by service-user: called AE title not recognised")]


def test_any_called_ae_is_the_only_way_to_accept_another_title() -> None:
    assert build_ae(ListenerConfig(), [Verification], []).require_called_aet is True
    assert build_ae(ListenerConfig(any_called_ae=True), [Verification], []).require_called_aet is False
    assert ListenerConfig().host == "127.0.0.1"



def test_a_close_while_the_recorder_gathers_drops_ends_it_with_every_drop_written() -> None:
    """close() arriving while the recorder sleeps to gather a flood: the recorder writes what it took and
    ends, rather than clearing close()'s wake-up and waiting for one that never comes (the listener's
    shutdown then sat out the join's whole timeout)."""
    written: list[list[dict[str, Any]]] = []

    def batch(drops: list[dict[str, Any]]) -> GraphBatch:
        written.append(drops)
        return GraphBatch()

    gate = Gate(ListenerConfig(), lambda batch: None, batch)
    ours, theirs = socket.socketpair()
    gate.drop(ours, "127.0.0.2", dt.datetime.now(dt.timezone.utc), "a test")
    time.sleep(FLUSH_S / 2)  # the recorder has woken and sleeps; not a wait for a result
    gate.close(timeout=5)
    theirs.close()
    assert not gate._recorder.is_alive()
    assert [[d["reason"] for d in drops] for drops in written] == [["a test"]]
