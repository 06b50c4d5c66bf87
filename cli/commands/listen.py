"""`dicom-graph listen`: a DICOM SCP that writes what it receives into the graph as it happens."""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dicom_graph.common import DbOption, Neo4jOption, fail, guarded, open_for


def listen(
    port: Annotated[int, typer.Option(help="TCP port to listen on (0: any free port, printed).")] = 11112,
    ae_title: Annotated[str, typer.Option("--ae-title", help="Our AE title.")] = "DICOMGRAPH",
    allow: Annotated[Optional[str], typer.Option(
        help="Comma-separated calling AE titles to accept; others are rejected (calling AE title not "
             "recognised) and the rejection is recorded. Default: any.")] = None,
    store_dir: Annotated[Optional[Path], typer.Option(
        "--store-dir", help="Also keep each received instance as a Part 10 file <SOPInstanceUID>.dcm here.")] = None,
    spool_dir: Annotated[Optional[Path], typer.Option(
        "--spool-dir", help="Where received datasets are kept until they are in the graph (replayed at the "
                            "next start after a crash). Default: next to the graph (<db>.spool), for "
                            "Neo4j in $XDG_DATA_HOME/dicom-graph/spool/; with --store-dir, inside it.")] = None,
    pseudonymize: Annotated[bool, typer.Option(
        "--pseudonymize", help="As `ingest --pseudonymize`: PS3.15 Table E.1-1 applied to what reaches the "
                               "graph, Patient ID and Name as keyed HMACs (key from "
                               "DICOM_GRAPH_PSEUDONYM_KEY). --store-dir files, and the spool until each "
                               "instance is written, stay as received.")] = False,
    host: Annotated[str, typer.Option(
        help="Address to bind. Default: loopback only, like the dashboard; 0.0.0.0 (or one interface's "
             "address) to take calls from other machines.")] = "127.0.0.1",
    any_called_ae: Annotated[bool, typer.Option(
        "--any-called-ae", help="Accept a request whatever AE title it calls. Default: a request that "
                                "does not call --ae-title is rejected (called AE title not recognised) "
                                "and recorded.")] = False,
    peer: Annotated[Optional[list[str]], typer.Option(
        help="AE=HOST:PORT (repeatable): where to send a storage commitment result when the requester "
             "has closed its association.")] = None,
    max_pdu: Annotated[int, typer.Option("--max-pdu", help="Largest PDU accepted, bytes.")] = 262_144,
    max_associations: Annotated[int, typer.Option("--max-associations", help="Concurrent associations.")] = 32,
    max_per_address: Annotated[int, typer.Option(
        "--max-per-address", help="Connections one address may hold at once (associated or awaiting "
                                  "their request); more are closed at once and recorded.")] = 4,
    request_timeout: Annotated[float, typer.Option(
        "--request-timeout", help="Seconds a connection has to send its A-ASSOCIATE-RQ (the ARTIM timer); "
                                  "then it is closed and recorded. Bytes that are not a request close it "
                                  "at once.")] = 5.0,
    timeout: Annotated[float, typer.Option(help="DIMSE timeout, seconds (ACSE: half of it).")] = 60.0,
    idle_timeout: Annotated[Optional[float], typer.Option(
        "--idle-timeout", help="Seconds an association may stay silent, or take over one PDU, before it is "
                               "aborted and recorded as timed out. Default: twice --timeout.")] = None,
    grace: Annotated[float, typer.Option(help="On SIGTERM / Ctrl-C, seconds associations in progress may "
                                              "take to finish.")] = 30.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings and errors only.")] = False,
    db: DbOption = None, neo4j: Neo4jOption = None,
) -> None:
    """Be a DICOM application entity that puts everything it receives into the graph, as it happens.

    Example:

      dicom-graph listen --port 11112 --ae-title DICOMGRAPH --allow CT1,MR2 --store-dir ./received

      storescu -aec DICOMGRAPH localhost 11112 image.dcm          (dcmtk, from another shell)

      dicom-graph query network_associations -f json              (what it recorded; works while it runs)

    SCP for Verification (C-ECHO), every Storage SOP class (C-STORE; the dataset is ingested exactly like
    a file), Modality Performed Procedure Step (N-CREATE / N-SET, with PS3.4 F.7 state rules),
    Storage Commitment Push Model (N-ACTION, answered by an N-EVENT-REPORT) and Instance Availability
    Notification (N-CREATE). Every association is recorded: both AEs, when, the result, and each proposed
    presentation context (SOP class, transfer syntaxes offered and accepted, SCU/SCP role).

    Hostile or broken peers: a connection must send its A-ASSOCIATE-RQ within --request-timeout, one
    address holds at most --max-per-address connections, and a silent or trickling association is
    aborted after --idle-timeout; every connection dropped, association rejected, aborted or timed out
    is recorded with the peer's address and the reason (result 'dropped' when no request came).

    A C-STORE is answered once its dataset is checked and durable in the spool (--spool-dir, or
    --store-dir); the graph is written in batches of up to 300 instances or 1 s after the oldest waiting
    one, whichever comes first, through the ingest's own writer. `dicom-graph query` (another process)
    sees a stored instance within 1 s plus one batch write (0.2-0.7 s measured on the embedded engine),
    as long as the writer keeps up with the senders (bench/README.md).
    A crash in between loses nothing: the next start writes what the spool still holds first. MPPS and
    Storage Commitment see every instance stored before them. SIGTERM or Ctrl-C stops cleanly: no new
    associations, the ones in progress finish, the spool is written, the graph is closed. One line per
    message is logged on stderr.
    """
    from dicom_graph.loader.network.association import parse_peers
    from dicom_graph.loader.network.listener import Listener, ListenerConfig

    allowed = tuple(a.strip() for a in (allow or "").split(",") if a.strip())
    try:
        peers = parse_peers(peer or [])
    except ValueError as exc:
        fail(str(exc), 2)
    if not 0 <= port <= 65535:
        fail(f"--port {port} is not a TCP port", 2)
    if not ae_title.strip() or len(ae_title) > 16:
        fail("--ae-title must be 1 to 16 characters", 2)
    if min(max_associations, max_per_address) < 1 or request_timeout <= 0 or (idle_timeout or 1) <= 0:
        fail("--max-associations and --max-per-address must be at least 1, timeouts above 0", 2)

    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.ERROR if quiet else logging.WARNING)

    def body() -> None:
        from dicom_graph.loader.dataset.pseudonymize import Pseudonymizer

        pseudonymizer = Pseudonymizer.from_env() if pseudonymize else None  # no key: one line, before binding
        stop = threading.Event()
        store = open_for(db, neo4j, write=True)
        spool = spool_dir or default_spool(db, store)
        config = ListenerConfig(port=port, ae_title=ae_title.strip(), host=host, allow=allowed,
                                any_called_ae=any_called_ae, store_dir=store_dir, spool_dir=spool,
                                max_pdu=max_pdu,
                                request_timeout=request_timeout, dimse_timeout=timeout,
                                acse_timeout=timeout / 2, network_timeout=idle_timeout or timeout * 2,
                                max_associations=max_associations, max_per_address=max_per_address,
                                peers=peers, grace_s=grace, pseudonymizer=pseudonymizer)
        try:  # a spool folder that cannot be made, a replay that fails: the graph is closed cleanly
            listener = Listener(store, config)
            listener.start()
        except Exception:
            store.close()
            raise
        previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
        typer.echo(f"listening on {host}:{listener.bound_port()} as {config.ae_title}, writing to "
                   f"{store.describe()} (Ctrl-C to stop)")
        sys.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            typer.echo("stopping: finishing the associations in progress", err=True)
            listener.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
        typer.echo(f"stopped: {listener.counts['stored']} instances written, "
                   f"{listener.counts['failed']} messages refused")

    guarded(body)


def default_spool(db: Optional[Path], store: Any) -> Path:
    """Next to the embedded graph it feeds; a Neo4j server has no folder here, so the user's data folder."""
    if store.dialect == "embedded":
        from dicom_graph.model.store import default_db_path

        return Path(f"{db or default_db_path()}.spool")
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "dicom-graph" / "spool" / re.sub(r"[^A-Za-z0-9.-]+", "-", store.describe()).strip("-")


def register(app: typer.Typer) -> None:
    app.command()(listen)
