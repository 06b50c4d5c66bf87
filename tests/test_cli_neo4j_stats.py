"""`dicom-graph stats` on Neo4j says its counts and nothing else: the driver's warnings about labels and
types a database has not seen yet ("relationship type does not exist") no longer flood stderr. Reads
only, so it can share a server with other tests."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dicom_graph.model.store import open_store

from .conftest import neo4j_uri

pytestmark = pytest.mark.neo4j
UNSEEN = "NEVER_WRITTEN_BY_ANY_TEST"  # a type no database of this suite holds: the server warns about it


def test_counts_over_the_schema_log_no_notification(caplog: pytest.LogCaptureFixture) -> None:
    with open_store(neo4j=neo4j_uri()) as store:
        with caplog.at_level(logging.INFO, logger="neo4j"):
            assert store.count_rels(UNSEEN) == 0 and store.count_nodes(UNSEEN.title()) == 0
        assert not [r for r in caplog.records if "does not exist" in r.getMessage()]
        # the same statement as a user's query still gets the server's word (so the check above can fail)
        with caplog.at_level(logging.INFO, logger="neo4j"):
            store.query(f"MATCH ()-[r:{UNSEEN}]->() RETURN count(r)")
        assert [r for r in caplog.records if "does not exist" in r.getMessage()]


def test_stats_prints_counts_and_no_warnings() -> None:
    exe = Path(sys.executable).with_name("dicom-graph")
    done = subprocess.run([str(exe), "stats", "--json", "--neo4j", neo4j_uri()],
                          env={k: v for k, v in os.environ.items() if k != "DICOM_GRAPH_DB"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"nodes", "relationships", "bookkeeping"}
    assert done.stderr == ""
