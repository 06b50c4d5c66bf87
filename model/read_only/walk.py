"""The walk over a statement's tokens that decides whether it only reads (see the package docstring)."""

from __future__ import annotations

from .tokens import Refused, Token
from .vocabulary import (CONTINUATIONS, FUNCTION_NAMESPACES, PAIRED, PREFIX_WORDS, READ_PROCEDURES, READ_STARTS,
                         READS, REFUSED, SPECIAL, VALUE_WORDS, WRITES)

START, OPERAND, VALUE = "start", "operand", "value"  # what the walk expects next
CLOSES = {")": "(", "]": "[", "}": "{"}


class Walk:
    """One pass over the tokens, keeping what the next token may be and which brackets are open."""

    def __init__(self, tokens: list[Token], dialect: str) -> None:
        self.tokens, self.dialect = tokens, dialect
        self.i = 0
        self.expect = START
        self.stack: list[str] = []  # "(", "[", "{map", "{query", "{"
        self.name_next: str | None = None  # the next word is a name: property | label | param | alias

    def run(self) -> None:
        if self._word_at(0) == "EXPLAIN":  # the plan of a read, never run
            self.i = 1
        while self.i < len(self.tokens):
            token = self.tokens[self.i]
            pending, self.name_next = self.name_next, None
            if token.kind in ("word", "name") and self._punct_at(self.i + 1) == "(" \
                    and self._punct_at(self.i - 1) == ".":
                self._check_function()
            if token.kind in ("word", "name") and pending:
                self.expect = VALUE  # a property, label, parameter or alias: a name however it is spelled
            elif token.kind == "word":
                self._word(token)
            elif token.kind == "punct":
                self._punct(token)
            else:  # a literal or a backtick name: a value, never a keyword
                self._require_not_start(token)
                self.expect = VALUE
            self.i += 1

    # --- words ----------------------------------------------------------------------------------
    def _word(self, token: Token) -> None:
        if self.expect != START and self._punct_at(self.i + 1) == ":" and self._punct_at(self.i + 2) != ":":
            self.expect = VALUE  # a map key or a pattern variable: `{create: 1}`, `(set:Label)`
            return
        word = token.text.upper()
        if word in REFUSED:
            raise Refused(self._refused(word))
        if self.expect == START and word not in READ_STARTS:
            raise Refused(f"{token.text} does not start a read ({READS})")
        special = getattr(self, "_kw_" + word.lower(), None) if word in SPECIAL else None
        if special is not None:
            special()
        elif self.expect == VALUE:
            if word not in CONTINUATIONS:
                raise Refused(f"{token.text} is not a read clause ({READS})")
            self.expect = VALUE if word in VALUE_WORDS else OPERAND
        elif self.expect == START or word in PREFIX_WORDS:
            self.expect = OPERAND
        else:  # a variable or a function name
            self.expect = VALUE

    def _refused(self, word: str) -> str:
        nxt = self._word_at(self.i + 1)
        clause = f"{word} {nxt}" if word in PAIRED and nxt else word
        if word == "DETACH" and nxt != "DELETE":  # LadybugDB's DETACH name, DETACH DATABASE
            return f"{clause} closes an attached database"
        hint = "; pass --write to change it" if word in WRITES else ""
        return f"{clause} {REFUSED[word]}{hint}"

    def _kw_call(self) -> None:
        after = self._punct_at(self.i + 1)
        if after == "{":
            self.i += 1
            self._open("{query")
        elif after == "(":  # CALL (x, y) { ... }: the variables it imports, then a subquery
            j = self.i + 2
            while j < len(self.tokens) and self.tokens[j].text != ")":
                if self.tokens[j].kind not in ("word", "name") and self.tokens[j].text not in (",", "*"):
                    raise Refused("CALL ( ... ) imports variables only")
                j += 1
            if self._punct_at(j + 1) != "{":
                raise Refused("CALL ( ... ) must open a subquery")
            self.i = j + 1
            self._open("{query")
        else:
            self._call_procedure()

    def _call_procedure(self) -> None:
        parts, j = [], self.i + 1
        while j < len(self.tokens) and self.tokens[j].kind in ("word", "name"):
            parts.append(self.tokens[j].text)
            if self._punct_at(j + 1) != ".":
                break
            j += 2
        name = ".".join(parts)
        allowed = READ_PROCEDURES.get(self.dialect, set())
        if not parts or name.lower() not in {p.lower() for p in allowed}:
            raise Refused(f"CALL {name or self._text_at(self.i + 1)} is not a read procedure of the "
                          f"{self.dialect} engine (those are: {', '.join(sorted(allowed))})")
        self.i = j
        self.expect = VALUE

    def _kw_union(self) -> None:
        if self._word_at(self.i + 1) == "ALL":
            self.i += 1
        self.expect = START

    def _kw_order(self) -> None:
        self._pair("ORDER", "BY")

    def _kw_starts(self) -> None:
        self._pair("STARTS", "WITH")

    def _kw_ends(self) -> None:
        self._pair("ENDS", "WITH")

    def _kw_optional(self) -> None:
        nxt = self._word_at(self.i + 1)
        if nxt not in ("MATCH", "CALL"):
            raise Refused(f"OPTIONAL {nxt or self._text_at(self.i + 1)} is not a read clause ({READS})")
        if nxt == "MATCH":
            self.i += 1
        self.expect = OPERAND

    def _kw_as(self) -> None:
        self.name_next = "alias"

    def _pair(self, first: str, second: str) -> None:
        if self._word_at(self.i + 1) != second:
            raise Refused(f"{first} without {second}")
        self.i += 1
        self.expect = OPERAND

    def _check_function(self) -> None:
        """A namespaced function: only the engines' own (a plugin's may run any statement)."""
        j = self.i
        while j >= 2 and self._punct_at(j - 1) == "." and self.tokens[j - 2].kind in ("word", "name"):
            j -= 2
        namespace = self.tokens[j].text
        if namespace.lower() not in FUNCTION_NAMESPACES:
            name = "".join(t.text for t in self.tokens[j:self.i + 1])
            raise Refused(f"function {name}() is not one of the engine's own (namespaces "
                          f"{', '.join(sorted(FUNCTION_NAMESPACES))})")

    # --- punctuation ------------------------------------------------------------------------------
    def _punct(self, token: Token) -> None:
        text = token.text
        if text == ";":
            if self.i + 1 < len(self.tokens):
                raise Refused("more than one statement (';' followed by another)")
            return
        self._require_not_start(token)
        if text in "([":
            self._open(text)
        elif text == "{":
            self._open(self._brace_kind())
        elif text in ")]}":
            if self.stack and self.stack[-1][0] == CLOSES[text]:
                self.stack.pop()
            self.expect = VALUE  # a stray bracket is the engine's syntax error to report
        elif text == "." and self._adjacent_word() and (
                self.expect == VALUE and self.tokens[self.i - 1].kind != "literal"
                or self.stack[-1:] == ["{map"] and self._text_at(self.i - 1) in ("{", ",")):
            self.name_next = "property"  # n.set, date.truncate, a map projection's {.set}
        elif text == ":":
            self._colon()
        elif text == "$" and self._adjacent_word():
            self.name_next = "param"
        elif text == "*":  # RETURN *, [*1..3], count(*) end a value; a * b does not
            self.expect = OPERAND if self.expect == VALUE else VALUE
        else:
            self.expect = OPERAND

    def _colon(self) -> None:
        before = self._text_at(self.i - 2)
        if self.stack and self.stack[-1] == "{map" and before in ("{", ","):
            self.expect = OPERAND  # the value of a map entry
        else:
            self.name_next = "label"  # a label, a relationship type, a type after ::

    def _brace_kind(self) -> str:
        """`{k: v}`, `{.name}`, `{}` are maps; `{ MATCH ...` a subquery; `{1,3}`, `{ (a)-->(b) }` neither."""
        first, second = self.tokens[self.i + 1:self.i + 2], self._text_at(self.i + 2)
        if not first or first[0].text in ("}", ".") or second in (":", ",", "}"):
            return "{map"
        return "{query" if first[0].kind == "word" else "{"

    def _open(self, kind: str) -> None:
        self.stack.append(kind)
        self.expect = START if kind == "{query" else OPERAND

    def _require_not_start(self, token: Token) -> None:
        if self.expect == START:
            raise Refused(f"{token.text!s} does not start a read ({READS})")

    # --- looking around ----------------------------------------------------------------------------
    def _text_at(self, j: int) -> str:
        return self.tokens[j].text if 0 <= j < len(self.tokens) else ""

    def _punct_at(self, j: int) -> str:
        return self._text_at(j) if 0 <= j < len(self.tokens) and self.tokens[j].kind == "punct" else ""

    def _word_at(self, j: int) -> str:
        return self._text_at(j).upper() if 0 <= j < len(self.tokens) and self.tokens[j].kind == "word" else ""

    def _adjacent_word(self) -> bool:
        nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
        return nxt is not None and nxt.kind in ("word", "name") and nxt.start == self.tokens[self.i].end

