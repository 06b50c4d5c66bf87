"""The listener's settings, in a module of their own so that the AE builder and every service can read
them without importing the listener that composes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ListenerConfig:
    port: int = 11112
    ae_title: str = "DICOMGRAPH"
    host: str = "127.0.0.1"  # loopback unless asked: a listener writes whatever reaches it into the graph
    allow: tuple[str, ...] = ()  # calling AE titles accepted; empty: any
    any_called_ae: bool = False  # accept a request whatever AE title it calls (else only ours)
    store_dir: Path | None = None
    spool_dir: Path | None = None  # where received datasets wait for the graph; with store_dir, inside it
    batch: int = 300  # instances per graph write, at most
    window_s: float = 1.0  # a received instance waits at most this long for its graph write to start
    max_pdu: int = 262_144  # the largest P-DATA PDU we accept
    request_timeout: float = 5.0  # ARTIM: a connection has this long to send its whole A-ASSOCIATE-RQ
    acse_timeout: float = 30.0
    dimse_timeout: float = 60.0
    network_timeout: float = 120.0  # an idle association is aborted after this; also bounds each PDU read
    max_associations: int = 32
    max_per_address: int = 4  # connections (awaiting their request, or associated) one address may hold
    max_pending: int = 64  # connections awaiting their A-ASSOCIATE-RQ, from all addresses
    max_commitment_items: int = 10_000
    peers: dict[str, tuple[str, int]] = field(default_factory=dict)  # AE title -> (host, port)
    grace_s: float = 30.0  # on stop: how long associations in progress may take to finish
    report_delay_s: float = 0.2  # after the N-ACTION response, before the N-EVENT-REPORT
    pseudonymizer: Any = None  # a dataset.pseudonymize.Pseudonymizer: what reaches the graph is pseudonymized
