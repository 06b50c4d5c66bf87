"""The command line contract (DESIGN.md): exit codes, one-line errors, output formats."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from dicom_graph.model import schema

from .conftest import console_script


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([console_script(), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_stats_on_a_missing_graph_is_an_error(tmp_path: Path):
    out = cli("stats", "--json", "--db", str(tmp_path / "nothing-here"))
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("dicom-graph: no graph at") and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nothing-here").exists(), "a reader must not create the graph"


def test_stats_json_on_a_new_graph_lists_every_label(tmp_path: Path):
    assert cli("query", "RETURN 1 AS one", "--write", "--db", str(tmp_path / "x")).returncode == 0
    out = cli("stats", "--json", "--db", str(tmp_path / "x"))
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    assert set(counts["nodes"]) == {n.label for n in schema.NODE_TYPES if not n.bookkeeping}
    assert set(counts["relationships"]) == set(schema.RELS)
    assert not any(counts["nodes"].values())


def test_query_is_read_only_unless_write(tmp_path: Path):
    db = str(tmp_path / "x")
    create = "CREATE (n:Patient {key: 'x', PatientID: 'x'})"
    refused = cli("query", create, "--db", db)
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1 and refused.stderr.startswith("dicom-graph: ")
    assert cli("query", create, "--db", db, "--write").returncode == 0
    again = cli("query", create.replace("'x'", "'y'"), "--db", db)
    assert again.returncode != 0 and "read-only" in again.stderr
    rows = json.loads(cli("query", "MATCH (p:Patient) RETURN p.PatientID AS id", "--db", db, "-f", "json").stdout)
    assert rows == [{"id": "x"}]


def test_query_formats_and_parameters(tmp_path: Path):
    db = str(tmp_path / "x")
    cli("query", "CREATE (s:Study {StudyInstanceUID: '1.2', StudyDate: date('2024-02-29')})", "--db", db, "--write")
    q = "MATCH (s:Study) WHERE s.StudyInstanceUID = $uid RETURN s.StudyInstanceUID AS uid, s.StudyDate AS d"
    as_json = json.loads(cli("query", q, "-p", "uid=1.2", "-f", "json", "--db", db).stdout)
    assert as_json == [{"uid": "1.2", "d": "2024-02-29"}]
    as_csv = cli("query", q, "-p", "uid=1.2", "-f", "csv", "--db", db).stdout.splitlines()
    assert as_csv == ["uid,d", "1.2,2024-02-29"]


def test_errors_are_one_line_and_non_zero(tmp_path: Path):
    missing = cli("query", "MATCH (n) RETURN n", "--db", str(tmp_path / "nothing-here"))
    assert missing.returncode != 0 and "no graph at" in missing.stderr
    db = str(tmp_path / "x")
    cli("query", "CREATE (n:Patient {key: 'x'})", "--db", db, "--write")
    bad = cli("query", "MATCH (n:Patient RETURN n", "--db", db)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    unreachable = cli("stats", "--neo4j", "bolt://127.0.0.1:1")
    assert unreachable.returncode != 0 and "cannot reach Neo4j" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1


def test_ingest_refuses_a_batch_of_nothing_before_touching_the_graph(tmp_path: Path):
    db = tmp_path / "x"
    out = cli("ingest", str(tmp_path), "--batch", "0", "--db", str(db))
    assert out.returncode == 2 and "--batch" in out.stderr
    assert not db.exists()


def test_dashboard_refuses_to_leave_localhost_without_a_login(tmp_path: Path):
    out = cli("dashboard", "--db", str(tmp_path / "x"), "--server.address", "0.0.0.0",
              env={"DICOM_GRAPH_DASHBOARD_PASSWORD": ""})
    assert out.returncode == 2 and "without a login" in out.stderr


def test_every_command_teaches_with_an_example():
    for command in (["demo"], ["standard", "load"], ["ingest"], ["listen"], ["query"], ["stats"], ["dashboard"]):
        out = cli(*command, "--help")
        assert out.returncode == 0, command
        assert "dicom-graph" in out.stdout and ("Example" in out.stdout or "example" in out.stdout), command


def test_named_query_by_name_with_checked_parameters(tmp_path: Path):
    db = str(tmp_path / "x")
    cli("query", "CREATE (s:Series {SeriesInstanceUID: '1', Modality: 'CT'})", "--db", db, "--write")
    assert cli("query", "data_counts", "--db", db, "-f", "json").returncode == 0
    typo = cli("query", "attribute_usage", "-p", "tag=00100020", "--db", db)
    assert typo.returncode == 2 and "takes attribute" in typo.stderr


def test_named_query_usage_errors_exit_2_naming_what_it_takes(tmp_path: Path):
    db = str(tmp_path / "x")
    cli("query", "CREATE (s:Series {SeriesInstanceUID: '1', Modality: 'CT'})", "--db", db, "--write")
    missing = cli("query", "instance_references", "--db", db)
    assert missing.returncode == 2 and "missing parameter uid" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    typo = cli("query", "data_count", "--db", db)
    assert typo.returncode == 2 and "no named query data_count; did you mean data_counts?" in typo.stderr
    unbound = cli("query", "MATCH (s:Series) WHERE s.Modality = $m RETURN s.Modality AS m", "--db", db)
    assert unbound.returncode == 2 and "$m" in unbound.stderr
    assert len(unbound.stderr.strip().splitlines()) == 1
    bound = cli("query", "MATCH (s:Series) WHERE s.Modality = $m RETURN s.Modality AS m", "-p", "m=CT",
                "--db", db, "-f", "json")
    assert json.loads(bound.stdout) == [{"m": "CT"}]


def test_queries_lists_public_and_examples_and_all_adds_the_internal_ones():
    listed = cli("queries").stdout
    assert "data_counts" in listed and "example_studies_per_modality" in listed
    assert "instance_hashes" not in listed and "[internal]" not in listed
    everything = cli("queries", "--all").stdout.splitlines()
    assert any(line.startswith("instance_hashes ") and "[internal]" in line for line in everything)
    as_json = {q["name"]: q for q in json.loads(cli("queries", "--json").stdout)}
    assert as_json["instance_references"]["params"] == [{"name": "uid", "required": True}]
    assert as_json["data_counts"]["visibility"] == "public"


def test_a_result_at_its_limit_says_it_may_be_cut(tmp_path):
    from dicom_graph.model.store import open_store

    db = str(tmp_path / "g.db")
    open_store(db=db, read_only=False, create=True).close()
    query = "UNWIND range(1, 5) AS x RETURN x LIMIT $limit"
    cut = cli("query", query, "-p", "limit=2", "--db", db)
    assert cut.returncode == 0 and "2 rows, the query's limit: there may be more" in cut.stderr
    whole = cli("query", query, "-p", "limit=10", "--db", db)
    assert whole.returncode == 0 and "limit" not in whole.stderr
