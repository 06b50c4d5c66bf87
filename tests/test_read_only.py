"""The read check itself (model/read_only): hostile statements refused, with the clause named; reads,
every named read query and the README's examples accepted. Pure: no engine is opened here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dicom_graph.model import queries
from dicom_graph.model.read_only import check_read, refusal
from dicom_graph.model.store import ReadOnlyError

REPO = Path(__file__).resolve().parents[1]
DIALECTS = ["embedded", "neo4j"]

# (statement, the word the one-line reason must name)
HOSTILE = [
    ("CREATE (n:Patient {key: 'x'})", "CREATE"),
    ("create (n:Patient {key: 'x'})", "CREATE"),
    ("MATCH (n) SET n.PatientName = 'x'", "SET"),
    ("MATCH (n) sEt n.x = 1", "SET"),
    ("MERGE (n:Patient {key: 'x'})", "MERGE"),
    ("MATCH (n) DELETE n", "DELETE"),
    ("MATCH (n) DETACH DELETE n", "DETACH DELETE"),
    ("MATCH (n) REMOVE n.PatientName", "REMOVE"),
    ("MATCH (n) REMOVE n:Patient", "REMOVE"),
    ("DROP TABLE Patient", "DROP"),
    ("ALTER TABLE Patient ADD x INT64", "ALTER"),
    ("MATCH (n) FOREACH (x IN [1] | SET n.a = x)", "FOREACH"),
    ("MATCH (n) INSERT (m:Patient {key: 'x'})", "INSERT"),
    ("CREATE INDEX i FOR (n:Patient) ON (n.key)", "CREATE"),
    ("CREATE CONSTRAINT c FOR (n:Patient) REQUIRE n.key IS UNIQUE", "CREATE"),
    ("CREATE NODE TABLE T(k STRING, PRIMARY KEY(k))", "CREATE"),
    ("DROP INDEX i", "DROP"),
    ("CHECKPOINT", "CHECKPOINT"),
    ("checkpoint", "CHECKPOINT"),
    ("  \n\tCheckPoint  ", "CHECKPOINT"),
    ("/* harmless */ CHECKPOINT", "CHECKPOINT"),
    ("CHECKPOINT;", "CHECKPOINT"),
    ("CHECKPOINT // done", "CHECKPOINT"),
    ("COPY (MATCH (n) RETURN n.key) TO '/tmp/x.csv'", "COPY"),
    ("copy (match (n) return n.key) to '/tmp/x.parquet'", "COPY"),
    ("COPY Patient FROM '/tmp/x.csv'", "COPY"),
    ("LOAD FROM '/etc/passwd' RETURN *", "LOAD FROM"),
    ("LOAD WITH HEADERS (a STRING) FROM '/etc/passwd' RETURN *", "LOAD WITH"),
    ("LOAD EXTENSION '/tmp/lib.so'", "LOAD EXTENSION"),
    ("load extension json", "LOAD EXTENSION"),
    ("LOAD/**/EXTENSION '/tmp/lib.so'", "LOAD EXTENSION"),
    ("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", "LOAD CSV"),
    ("LOAD CSV WITH HEADERS FROM 'http://example.org/x.csv' AS row RETURN row", "LOAD CSV"),
    ("MATCH (n) WITH n LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", "LOAD CSV"),
    ("INSTALL json FROM 'http://example.org/'", "INSTALL"),
    ("INSTALL json", "INSTALL"),
    ("UNINSTALL json", "UNINSTALL"),
    ("ATTACH '/tmp/other.db' AS other (dbtype lbug)", "ATTACH"),
    ("DETACH other", "DETACH"),
    ("DETACH DATABASE other", "DETACH DATABASE"),
    ("USE other MATCH (n) RETURN n", "USE"),
    ("EXPORT DATABASE '/tmp/out'", "EXPORT DATABASE"),
    ("IMPORT DATABASE '/tmp/out'", "IMPORT DATABASE"),
    ("BEGIN TRANSACTION", "BEGIN"),
    ("BEGIN TRANSACTION READ ONLY", "BEGIN"),
    ("COMMIT", "COMMIT"),
    ("ROLLBACK", "ROLLBACK"),
    ("SHOW TRANSACTIONS", "SHOW"),
    ("SHOW DATABASES", "SHOW"),
    ("TERMINATE TRANSACTIONS 'neo4j-transaction-1'", "TERMINATE"),
    ("terminate transactions 'neo4j-transaction-1'", "TERMINATE"),
    ("PROFILE MATCH (n) RETURN n", "PROFILE"),
    ("EXPLAIN PROFILE MATCH (n) RETURN n", "PROFILE"),
    ("EXPLAIN CREATE (n:Patient {key: 'x'})", "CREATE"),
    ("GRANT ROLE admin TO bob", "GRANT"),
    ("CALL apoc.load.json('file:///etc/passwd')", "apoc.load.json"),
    ("CALL dbms.killQuery('x')", "dbms.killQuery"),
    ("CALL db.clearQueryCaches()", "db.clearQueryCaches"),
    ("CALL threads=1", "threads"),
    ("CALL clear_warnings()", "clear_warnings"),
    ("CALL READ_PARQUET('/etc/passwd') RETURN *", "READ_PARQUET"),
    ("CALL `apoc`.`load`.`json`('x')", "apoc.load.json"),
    ("MATCH (n) RETURN apoc.cypher.runFirstColumnSingle('CREATE (m) RETURN m', {})", "apoc.cypher"),
    ("MATCH (n) RETURN apoc . cypher . run('x')", "apoc.cypher.run"),
    ("CALL { CREATE (n:Patient {key: 'x'}) }", "CREATE"),
    ("MATCH (n) CALL { WITH n SET n.x = 1 } RETURN n", "SET"),
    ("MATCH (n) CALL (n) { SET n.x = 1 } RETURN n", "SET"),
    ("CALL { MATCH (n) RETURN n } IN TRANSACTIONS RETURN n", "TRANSACTIONS"),
    ("MATCH (n) WHERE EXISTS { MATCH (n) SET n.x = 1 } RETURN n", "SET"),
    ("MATCH (n) RETURN COUNT { CREATE (m) } AS c", "CREATE"),
    ("MATCH (n) RETURN COLLECT { MATCH (m) DELETE m RETURN m } AS c", "DELETE"),
    ("MATCH (n) RETURN n UNION CREATE (m) RETURN m", "CREATE"),
    ("MATCH (n) RETURN n UNION ALL CHECKPOINT", "CHECKPOINT"),
    ("MATCH (n) RETURN n; CREATE (m:Patient {key: 'x'})", "more than one statement"),
    ("MATCH (n) RETURN n ;MATCH (m) RETURN m", "more than one statement"),
    ("MATCH (n) RETURN n; /* c */ CHECKPOINT", "more than one statement"),
    ("RETURN 1;;", "more than one statement"),
    ("MATCH (n) RETURN n // comment\nCREATE (m)", "CREATE"),
    ("MATCH (n) RETURN n // comment\rCREATE (m)", "CREATE"),
    ("MATCH (n) RETURN n // comment\u2028CREATE (m)", "CREATE"),
    ("MATCH (n) /* a */ CREATE /* b */ (m)", "CREATE"),
    ("MATCH (n)\tCREATE\n(m)", "CREATE"),
    ("MATCH (n) RETURN 'it''s' CREATE (m)", "CREATE"),
    ('MATCH (n) RETURN "a\\"" CREATE (m)', "CREATE"),
    ("MATCH (n) RETURN 'a\\\\' CREATE (m)", "CREATE"),
    ("MATCH (n) RETURN `x` CREATE (m)", "CREATE"),
    ("MATCH (n) RETURN `a``b` CREATE (m)", "CREATE"),
    ("MATCH (n) RETURN n.\nCREATE (m)", "CREATE"),
    ("MATCH (n) RETURN n AS x DELETE n", "DELETE"),
    ("MATCH (n) RETURN n.x AS set DELETE n", "DELETE"),
    ("MATCH (n) WHERE n.x = 1 DELETE n", "DELETE"),
    ("MATCH (n) WITH n ORDER BY n.x DESC DELETE n", "DELETE"),
    ("UNWIND [1] AS x CREATE (:Patient {key: x})", "CREATE"),
    ("MATCH (n) RETURN CASE WHEN true THEN 1 END AS c SET n.x = 1", "SET"),
    ("MATCH (n {k: 1}) CREATE (m)", "CREATE"),
    ("MATCH (n) RETURN {a: 1} AS m CREATE (m)", "CREATE"),
    ("MATCH (n) RETURN n LIMIT 1 CHECKPOINT", "CHECKPOINT"),
    ("MATCH (n) WITH n LIMIT 1CREATE (m:Patient {key: 'x'})", "CREATE"),
    ("MATCH (n) WITH n LIMIT 1e5CREATE (m)", "CREATE"),
    ("MATCH (n) WITH n LIMIT 0x1fCREATE (m)", "REATE"),
    ("MATCH (n) WITH n, 'a'CREATE (m)", "CREATE"),
    ("MATCH (n) WITH n, `a`DELETE n", "DELETE"),
    ("MATCH (n) RETURN n FINISH", "FINISH"),
    ("CYPHER runtime=slotted MATCH (n) RETURN n", "CYPHER"),
    ("WHEN true THEN RETURN 1 AS x", "WHEN"),
    ("(n)", "does not start a read"),
    ("{ MATCH (n) RETURN n }", "does not start a read"),
    ("MATCH (n) RETURN 'unterminated", "unterminated string"),
    ("MATCH (n) RETURN n /* unterminated", "unterminated comment"),
    ("MATCH (n) RETURN `unterminated", "unterminated backtick"),
    ("MATCH (n RETURN n CREATE (m)", "CREATE"),
    ("MATCH (n)) RETURN n CREATE (m)", "CREATE"),
]

READS = [
    "MATCH (n) RETURN n.set AS s, n.create AS c, {create: 1, delete: 2, checkpoint: 3} AS m",
    "MATCH (n) WHERE n.name = 'CREATE (m); CHECKPOINT' RETURN n",
    'MATCH (n) WHERE n.name = "LOAD EXTENSION \'x\'" RETURN n',
    "MATCH (n) RETURN n // CREATE (m)",
    "MATCH (n) /* CHECKPOINT; */ RETURN n",
    "MATCH (n) RETURN n;",
    "MATCH (n) RETURN n; // done",
    "MATCH (n) RETURN n ; /* done */ \n",
    "MATCH (n:`SET`) RETURN n.`delete` AS `create`",
    "match (s:Series) return s.Modality as modality, count(*) as n order by n desc skip 1 limit 5",
    "OPTIONAL MATCH (n) RETURN n",
    "MATCH (a) RETURN a.x AS x UNION MATCH (b) RETURN b.x AS x",
    "MATCH (a) RETURN a.x AS x UNION ALL MATCH (b) RETURN b.x AS x",
    "UNWIND [1, 2, 3] AS x WITH x WHERE x > 1 RETURN x",
    "EXPLAIN MATCH (n) RETURN n",
    "MATCH (n) WHERE EXISTS { MATCH (n)-->(m) } RETURN n",
    "MATCH (n) WHERE NOT EXISTS { (n)-->() } RETURN n",
    "MATCH (n) RETURN COUNT { (n)-->() } AS c",
    "CALL { MATCH (n) RETURN n } RETURN n",
    "MATCH (n) CALL (n) { MATCH (n)-->(m) RETURN m } RETURN m",
    "MATCH (n) WHERE n.name STARTS WITH 'a' AND n.name ENDS WITH 'b' OR n.name CONTAINS 'c' RETURN n",
    "MATCH (n) WHERE n.name STARTS WITH prefix RETURN n",
    "MATCH (n) WHERE n.x IS NOT NULL RETURN CASE WHEN n.x > 1 THEN 'big' ELSE 'small' END AS size",
    "MATCH (n) RETURN CASE n.x WHEN 1 THEN 'one' END AS word",
    "MATCH (n) RETURN n {.name, .set} AS m",
    "MATCH (n) RETURN n ORDER BY n.x DESC, n.y ASC",
    "MATCH p = (a)-[*1..3]->(b) RETURN length(p) AS hops",
    "MATCH (a)-[e* SHORTEST 1..3]->(b) RETURN e",
    "MATCH (a)-[e* ALL SHORTEST 1..3]->(b) RETURN e",
    "MATCH p = shortestPath((a)-[*..10]->(b)) RETURN p",
    "MATCH (n) RETURN [x IN n.list WHERE x > 1 | x * 2] AS l",
    "MATCH (n) RETURN date.truncate('month', n.d) AS m",
    "RETURN 2 * 3 AS six, 2 * x AS y, 1e5 AS big, 1.5e-3 AS small, 0x1F AS hex",
    "MATCH (n) WITH * RETURN count(*) AS n",
    "MATCH (n) RETURN count(DISTINCT n) AS n",
    "MATCH (n) WHERE n:Patient OR n:Study RETURN labels(n) AS l",
    "MATCH (s:Study) WHERE s.StudyDate >= date('2015-01-01') RETURN count(s) AS n",
    "MATCH (n) RETURN n.x AS x SKIP $s LIMIT $l",
    "MATCH (n) RETURN $set AS s",
    "MATCH (a:Attribute {keyword: $kw})<-[ct:CONTAINS]-(m:Module) RETURN m.name AS module",
    "MATCH (n) RETURN CAST(n.x AS STRING) AS s",
    "MATCH (n) RETURN n.x =~ 'a.*' AS matches",
]
NEO4J_READS = [
    "CALL db.labels() YIELD label RETURN label",
    "CALL db.labels",
    "CALL db.schema.visualization()",
    "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType",
    "CALL dbms.components() YIELD name, versions, edition RETURN name, versions[0] AS version, edition",
]
EMBEDDED_READS = ["CALL show_tables() RETURN *", "CALL table_info('Patient') RETURN name",
                  "call SHOW_TABLES() return *"]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("statement,named", HOSTILE, ids=[s for s, _ in HOSTILE])
def test_hostile_statement_refused_with_one_line(statement: str, named: str, dialect: str):
    with pytest.raises(ReadOnlyError) as caught:
        check_read(statement, dialect)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("refused on the read-only path: ")
    assert named.lower() in message.lower()


@pytest.mark.parametrize("statement", ["CREATE (n)", "MATCH (n) SET n.x = 1", "MATCH (n) DETACH DELETE n",
                                       "COPY Patient FROM 'x.csv'"])
def test_writes_say_that_write_exists(statement: str):
    assert "--write" in (refusal(statement, "embedded") or "")


@pytest.mark.parametrize("statement", ["CHECKPOINT", "LOAD EXTENSION 'x.so'", "TERMINATE TRANSACTIONS 'x'"])
def test_what_write_cannot_help_does_not_offer_it(statement: str):
    assert "--write" not in (refusal(statement, "neo4j") or "--write")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("statement", READS)
def test_reads_accepted(statement: str, dialect: str):
    check_read(statement, dialect)


@pytest.mark.parametrize("statement", NEO4J_READS)
def test_neo4j_read_procedures_accepted_there_only(statement: str):
    check_read(statement, "neo4j")
    assert refusal(statement, "embedded")


@pytest.mark.parametrize("statement", EMBEDDED_READS)
def test_embedded_read_procedures_accepted_there_only(statement: str):
    check_read(statement, "embedded")
    assert refusal(statement, "neo4j")


@pytest.mark.parametrize("statement", ["MATCH (n:Patient RETURN n", "MATCH (n)) RETURN n", "RETURN"])
def test_syntax_errors_are_left_to_the_engine(statement: str):
    """Every token was still checked: the engine says what is wrong (a QueryError, not a refusal)."""
    check_read(statement, "embedded")


def test_write_flag_skips_the_check():
    check_read("CHECKPOINT", "embedded", write=True)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_named_read_query_passes(dialect: str):
    named = [q for q in queries.all_queries().values() if not q.write]
    assert named
    refused = {q.name: refusal(q.text(dialect), dialect) for q in named}
    assert {name: why for name, why in refused.items() if why} == {}


def readme_queries() -> list[str]:
    """The Cypher the README passes to `dicom-graph query "..."` (names of named queries are tested above)."""
    text = (REPO / "README.md").read_text()
    return [" ".join(m.split()) for m in re.findall(r'dicom-graph query "((?:[^"\\]|\\.)*)"', text, re.S)]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_readme_examples_pass(dialect: str):
    examples = readme_queries()
    assert examples
    for example in examples:
        check_read(example.replace("\\$", "$"), dialect)
