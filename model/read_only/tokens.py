"""Cypher cut into tokens for the read check: comments dropped, string contents blanked.

Where this scanner and an engine's could disagree, it errs towards seeing more: a `//` comment ends at any
line break an engine might honour, a `/* */` comment at its first `*/`, and an unterminated string,
comment or backtick name is refused rather than guessed at. Strings take backslash escapes, as both
engines' lexers do (openCypher); `` inside a backtick name is one backtick.
"""

from __future__ import annotations

import re
from typing import NamedTuple

LINE_ENDS = "\n\r\u2028\u2029\x0b\x0c\x85"
WORD = re.compile(r"[^\W\d]\w*")  # Unicode letters, as the engines' identifiers
# a number as the engines' lexers end it, never with the letters after it: they cut `LIMIT 1CREATE (n)` into
# LIMIT 1 CREATE (n). (A float is three tokens, 1 . 5, which the walk reads as well.)
NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|\d+(?:[eE][+-]?\d+)?")


class Refused(Exception):
    """The reason a statement is not a read (one line)."""


class Token(NamedTuple):
    kind: str  # word | name (backticks) | literal (string, number) | punct
    text: str
    start: int
    end: int


def tokenize(cypher: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(cypher)
    while i < n:
        c = cypher[i]
        if c.isspace():
            i += 1
        elif cypher.startswith("//", i):
            ends = [j for j in (cypher.find(e, i) for e in LINE_ENDS) if j >= 0]
            i = min(ends) if ends else n
        elif cypher.startswith("/*", i):
            i = _after(cypher, "*/", i + 2, "comment")
        elif c in "'\"":
            j = _string_end(cypher, i)
            out.append(Token("literal", "''", i, j))
            i = j
        elif c == "`":
            j = _name_end(cypher, i)
            out.append(Token("name", cypher[i + 1:j - 1].replace("``", "`"), i, j))
            i = j
        else:
            m = WORD.match(cypher, i) or NUMBER.match(cypher, i)
            kind = "punct" if m is None else "word" if m.re is WORD else "literal"
            j = m.end() if m else i + 1
            out.append(Token(kind, cypher[i:j], i, j))
            i = j
    return out


def _after(text: str, end: str, start: int, what: str) -> int:
    j = text.find(end, start)
    if j < 0:
        raise Refused(f"an unterminated {what}")
    return j + len(end)


def _string_end(text: str, i: int) -> int:
    quote, j = text[i], i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == quote:
            return j + 1
        else:
            j += 1
    raise Refused("an unterminated string")


def _name_end(text: str, i: int) -> int:
    j = i + 1
    while True:
        j = _after(text, "`", j, "backtick name")
        if not text.startswith("`", j):
            return j
        j += 1
