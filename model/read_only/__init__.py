"""What a read is, decided by the product before an engine sees the statement.

Neither engine's read-only mode is a read-only path (../shared/ENGINE-NOTES.md): a read-only LadybugDB
connection still runs CHECKPOINT, COPY TO, LOAD FROM a file, LOAD EXTENSION and INSTALL; a Neo4j READ
transaction still runs LOAD CSV and TERMINATE TRANSACTIONS. So `query` without --write, the dashboard and
the Python API accept a statement only when it is made of read clauses (both stores call `check_read` at
the top of `query`; the engines' read-only modes stay, as a second wall).

How (walk.py): string literals, backtick names and comments go first (a keyword inside them is no
clause); then each word is judged by where it stands. A property after `.`, a label after `:`, a map key
or variable before `:`, a parameter after `$` and an alias after AS are names. Where a (sub)query starts,
the word must be a read clause; right after a value (where an engine would start the next clause) it must
be a word this package knows (vocabulary.py); a refused keyword is refused anywhere else too. CALL must
open a subquery or name a procedure on the dialect's list. Doubt means refusal: a false refusal costs a
rewrite (or --write), a false acceptance the graph.
"""

from __future__ import annotations

from functools import lru_cache

from ..store.base import ReadOnlyError
from .tokens import Refused, tokenize
from .vocabulary import WHY
from .walk import Walk

__all__ = ["check_read", "refusal"]


def check_read(cypher: str, dialect: str, *, write: bool = False) -> None:
    """Raise ReadOnlyError with one line saying why, unless `cypher` only reads (or `write` is asked)."""
    if write:
        return
    reason = refusal(cypher, dialect)
    if reason:
        raise ReadOnlyError(reason)


@lru_cache(maxsize=1024)  # the dashboard and the loaders repeat the same named queries
def refusal(cypher: str, dialect: str) -> str | None:
    """Why `cypher` is not a read on this dialect ("embedded" or "neo4j"), or None when it is one."""
    try:
        Walk(tokenize(cypher), dialect).run()
    except Refused as exc:
        return WHY + str(exc)
    return None
