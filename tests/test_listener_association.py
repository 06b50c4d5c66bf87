"""The listener's associations: the --allow list, and what the graph records of every call.

A calling AE title not on the list is rejected at association (permanent, service user, calling AE title
not recognised) and the rejection is recorded with its reason and its contexts (never negotiated).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # generated at import time

from dicom_graph.loader.network.association import parse_peers

from .listener_peers import listening, scu


def test_allow_list_rejects_and_every_association_is_recorded(engine: str, tmp_path: Path) -> None:
    with listening(engine, tmp_path, "--allow", "ECHOSCU,STORESCU,MODALITY") as listener:
        run = listener.send("echoscu", "ECHOSCU", timeout=60)
        assert run.returncode == 0, run.stderr
        run = listener.send("echoscu", "INTRUDER", timeout=60)
        assert run.returncode != 0
        intruder = scu("INTRUDER")
        intruder.add_requested_context(Verification)
        assoc = listener.associate(intruder)
        assert assoc.is_rejected
        rj = assoc.acceptor.primitive
        assert (rj.result, rj.result_source, rj.diagnostic) == (1, 1, 3)
        run = listener.send("echoscu", "ECHOSCU", timeout=60)
        assert run.returncode == 0, run.stderr

    with listener.reader() as store:
        aes = {r["ae_title"]: r for r in store.run("network_application_entities").records()}
        assert set(aes) == {"ECHOSCU", "INTRUDER", "DICOMGRAPH"}
        assert aes["DICOMGRAPH"]["called"] == 4 and aes["INTRUDER"]["rejected"] == 2
        assert aes["ECHOSCU"]["calling"] == 2 and aes["ECHOSCU"]["rejected"] == 0

        assocs = store.run("network_associations", limit=1000, ae="").records()
        assert len(assocs) == 4
        rejected = [a for a in assocs if a["result"] == "rejected"]
        assert len(rejected) == 2 and all("calling AE title not recognised" in a["reason"] for a in rejected)
        assert all(a["ended_at"] for a in assocs)
        accepted = [a for a in assocs if a["result"] == "accepted"]
        assert [a["messages"] for a in accepted] == [1, 1]  # one C-ECHO each

        contexts = store.run("network_contexts", association="", limit=5000).records()
        assert {c["result"] for c in contexts if c["association"] in {a["association"] for a in rejected}} == {
            "not-negotiated"}


def test_parse_peers() -> None:
    assert parse_peers(["PACS=10.0.0.5:104", " WS =ws.example:11112", "V6=::1:4242"]) == {
        "PACS": ("10.0.0.5", 104), "WS": ("ws.example", 11112), "V6": ("::1", 4242)}
    for bad in ("PACS", "PACS=host", "=host:104", "PACS=:104", "PACS=host:port"):
        with pytest.raises(ValueError, match="is not AE=HOST:PORT"):
            parse_peers([bad])
