"""The words of the read check, as data: what is refused and why, what a read may say, and the
side-effect-free procedures per dialect (keyed by the stores' dialect names)."""

from __future__ import annotations

CHANGES = "changes the graph"
REFUSED = {  # keyword -> why it is not a read
    **dict.fromkeys(["CREATE", "MERGE", "SET", "DELETE", "REMOVE", "DROP", "ALTER", "FOREACH", "INSERT",
                     "RENAME", "DETACH"], CHANGES),
    "COPY": "copies between the graph and files",
    "LOAD": "reads files, URLs or native extensions",
    "INSTALL": "downloads engine extensions", "UNINSTALL": "removes engine extensions",
    "CHECKPOINT": "rewrites the database files (and can destroy a graph that an ingest is writing)",
    "ATTACH": "opens another database", "USE": "switches databases",
    "EXPORT": "writes the database to files", "IMPORT": "reads a database from files",
    **dict.fromkeys(["BEGIN", "COMMIT", "ROLLBACK"], "controls transactions"),
    "TRANSACTIONS": "commits batches of its own", "PERIODIC": "commits batches of its own",
    "SHOW": "is a server command (the read procedures are CALLed)",
    "TERMINATE": "stops other users' transactions (an ingest, say)",
    "PROFILE": "runs the statement it profiles (EXPLAIN shows the plan without running it)",
    **dict.fromkeys(["GRANT", "DENY", "REVOKE", "ENABLE", "DEALLOCATE", "REALLOCATE"], "administers the server"),
}
WRITES = {word for word, why in REFUSED.items() if why == CHANGES} | {"COPY"}  # --write would run them
PAIRED = {"DETACH", "LOAD", "EXPORT", "IMPORT", "INSTALL"}  # named with the word that follows
READ_STARTS = {"MATCH", "OPTIONAL", "WITH", "UNWIND", "RETURN", "CALL"}
# the words that may follow a value: the read clauses, the operators and modifiers spelled as words, and
# the recursive-pattern words of LadybugDB ([* SHORTEST 1..3], [* ALL SHORTEST]) and Neo4j (SHORTEST 2 GROUPS)
CONTINUATIONS = READ_STARTS | {
    "WHERE", "ORDER", "SKIP", "LIMIT", "OFFSET", "UNION", "YIELD", "AS", "AND", "OR", "XOR", "NOT", "IN", "IS",
    "STARTS", "ENDS", "CONTAINS", "CASE", "WHEN", "THEN", "ELSE", "END", "ASC", "ASCENDING", "DESC",
    "DESCENDING", "NULLS", "ALL", "ANY", "SHORTEST", "WSHORTEST", "ACYCLIC", "TRAIL", "GROUPS"}
VALUE_WORDS = {"END", "ASC", "ASCENDING", "DESC", "DESCENDING"}  # a value ends with them
PREFIX_WORDS = {"NOT", "CASE", "WHEN", "DISTINCT"}  # keywords that still expect an operand after them
SPECIAL = {"CALL", "UNION", "ORDER", "STARTS", "ENDS", "OPTIONAL", "AS"}  # words Walk handles one by one
READ_PROCEDURES = {  # dialect -> procedures without side effects (compared in lower case)
    "neo4j": {"db.labels", "db.relationshipTypes", "db.propertyKeys", "dbms.components", "db.schema.visualization",
              "db.schema.nodeTypeProperties", "db.schema.relTypeProperties", "db.info"},
    "embedded": {"show_tables", "table_info", "show_connection", "show_indexes", "show_functions",
                 "show_sequences", "show_macros", "show_warnings", "db_version", "storage_version",
                 "current_setting"},
}
# namespaced functions that are the engines' own (a plugin's, such as apoc.cypher.run*, can run anything)
FUNCTION_NAMESPACES = {"date", "datetime", "localdatetime", "localtime", "time", "duration", "point",
                       "vector", "db"}
WHY = "refused on the read-only path: "
READS = ("a read is made of MATCH, OPTIONAL MATCH, WITH, UNWIND, WHERE, RETURN, ORDER BY, SKIP, LIMIT, "
         "UNION and CALL of a read procedure or subquery")
