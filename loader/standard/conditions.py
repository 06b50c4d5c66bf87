"""The standard's condition texts ("Required if ...") as machine-readable expressions, or the reason not.

A "C" module or a 1C/2C attribute tells a user nothing unless its condition can be evaluated. This
parser turns the common forms into an expression a conformance check can evaluate on a data set, and
marks every other text not machine-decidable with a reason, so that a check can say "not evaluated"
instead of guessing. The forms are the ones dicom-validator's grammar recognises (presence, absence,
value equals / one of / other than / greater than, Value n of a multi-valued attribute, and / or,
"May be present otherwise", "Shall not be present otherwise", "if and only if"); the code is ours.

The expression (stored as compact JSON in `condition_expr`):

    {"required_if": PRED, "otherwise": "optional" | "absent" | "unstated"}

    PRED = {"op": "present" | "absent", "tag": "00280009", "keyword": "FrameIncrementPointer"}
         | {"op": "equals" | "not_equals", "tag": ..., "keyword": ..., "values": ["ORIGINAL", "MIXED"],
            "index": 1}                            # index: the 1-based Value n, absent = any value
         | {"op": "greater", "tag": ..., "keyword": ..., "values": [0]}
         | {"op": "module_present", "module": "palette-color-lookup-table"}
         | {"op": "iod_requires", "tag": ..., "keyword": ...}   # a mandatory module of the IOD types it 1 or 2
         | {"op": "macro_present", "macro": "pixel-measures"}
         | {"op": "member", "tag": ..., "keyword": ..., "values": [...], "not_values": [...],
            "vocabulary": "body_part_laterality.csv"}  # true in values, false in not_values, else undecided
         | {"op": "and" | "or", "args": [PRED, ...]} | {"op": "not", "args": [PRED]}

A text the grammar has no words for (a vocabulary such as "a paired structure", a place inside the
functional groups) is restated by a curated row as the expression itself, in JSON (attribute_conditions.csv
`parse_as`); its `vocabulary` names the curated table whose terms fill `values` / `not_values`.

A tag is looked up in the sequence item holding the conditioned attribute, then in the enclosing items
out to the top-level data set. `equals` and `greater` are false when the attribute is absent; AT values
(a tag as a value) are written as 8 hex digits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from pydicom.datadict import dictionary_description, dictionary_has_tag, dictionary_keyword

from .curated import slugify, table

_TAG = re.compile(r"\(([0-9A-Fa-f]{4}),\s*([0-9A-Fa-f]{4})\)")
_LEAD = re.compile(r"^(?:[–-]\s*)?(?:Required|Shall be present|Is required|Present)\s+"
                   r"(if and only if|only if|if|when)\s+(.*)$", re.I | re.S)
_OTHERWISE = [(re.compile(r"^May be present otherwise\.?$|^may be present otherwise\.?$", re.I), "optional"),
              (re.compile(r"^Shall not be present otherwise\.?$", re.I), "absent")]
_SEE = re.compile(r"^(?:See|see)\b.*$")
# where a functional group macro may go: read by functional_groups.py, not part of the predicate
PLACEMENT = re.compile(r"^(?:may|shall) not be used as a Shared Functional Group$", re.I)
_OPS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?:is|are|was|were) (?:present|used|sent)(?: in this Sequence Item)?$", re.I), "present"),
    (re.compile(r"^(?:is|are) (?:not present|absent)(?: in this Sequence Item)?$", re.I), "absent"),
    (re.compile(r"^(?:is present and )?(?:is not|equals other than|is other than|is not equal to|"
                r"does not equal|has a value other than|is present with a value other than) (?P<v>.+)$", re.I),
     "not_equals"),
    (re.compile(r"^(?:is present and )?(?:is|are|equals?|=|value is|is equal to|has a value of|has the value|has value|"
                r"is present with a value of|is present and (?:has a value of|the value is|equals)|"
                r"is present with value) (?P<v>.+)$", re.I), "equals"),
    (re.compile(r"^(?:is|has a value) greater than (?P<v>\d+)$", re.I), "greater"),
    (re.compile(r"^is non-?zero$", re.I), "nonzero"),
]
_VALUE = re.compile(r"^(?:[A-Z0-9_]+(?: [A-Z0-9_]+)*|\d+(?:\.\d+)+)$")  # enumerated terms, or UIDs
_NOT_REQUIRED = re.compile(r"^(?:the )?image does not require (.+)$", re.I)
_VALUE_N = re.compile(r"^Value (\d+) (.*)$", re.I)
_MODULE = re.compile(r"^(?:the )?(.+?) Module (is (?:not )?present|exists|is included|is not present)$", re.I)
_MACROS = re.compile(r"^(.+?) (?:Functional Group )?Macros? (?:are |is )?Present$", re.I)
_FG = re.compile(r"^(.+?) Functional Group(?: \((?:Section )?C\.[0-9.]+\))? is (not )?present$", re.I)
# "in the Enhanced CT Image Module"; DocBook text can lose the linked name and leave "in the equals"
_IN_MODULE = re.compile(r"\s+in the [\w /\-()]+? (?:Module|Functional Group)\b|\s+in the(?= (?:equals|is|has)\b)",
                        re.I)


@dataclass(frozen=True)
class Parsed:
    """One condition: the expression, or why it cannot be decided by a machine (exactly one is set)."""

    expr: dict[str, Any] | None
    reason: str | None

    @property
    def decidable(self) -> bool:
        return self.expr is not None

    def props(self) -> dict[str, Any]:
        """The relationship properties: condition_expr (compact JSON), decidable, undecidable_reason."""
        text = json.dumps(self.expr, separators=(",", ":"), sort_keys=True) if self.expr else None
        return {"condition_expr": text, "decidable": self.decidable, "undecidable_reason": self.reason}


class _Undecidable(Exception):
    pass


def _norm(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("\u200b", "").split())


@lru_cache(maxsize=None)
def _name(tag: str) -> str:
    value = int(tag, 16)
    return dictionary_description(value) if dictionary_has_tag(value) else ""


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"\.\s+(?=[A-Z])|;\s*|,\s+(?=may be present otherwise)", text) if s]


def parse(text: str | None, modules: Iterable[str] = (), macros: Iterable[str] = ()) -> Parsed:
    """Parse one condition text; `modules` / `macros` are the keys a named module or macro may resolve to."""
    if not text or not text.strip():
        return Parsed(None, "no condition text")
    if text.lstrip().startswith("{"):
        return Parsed(_vocabularies(json.loads(text)), None)
    try:
        return Parsed(_parse(_norm(text), frozenset(modules), frozenset(macros)), None)
    except _Undecidable as exc:
        return Parsed(None, str(exc))


def _vocabularies(expr: Any) -> Any:
    """A curated expression with each `vocabulary` named by a member test filled from its table."""
    if isinstance(expr, list):
        return [_vocabularies(e) for e in expr]
    if not isinstance(expr, dict):
        return expr
    out = {k: _vocabularies(v) for k, v in expr.items()}
    if out.get("op") == "member" and out.get("vocabulary"):
        rows = table(str(out["vocabulary"]))
        out["values"] = sorted(r["term"] for r in rows if r["paired"] == "yes")
        out["not_values"] = sorted(r["term"] for r in rows if r["paired"] == "no")
    return out


def _parse(text: str, modules: frozenset[str], macros: frozenset[str]) -> dict[str, Any]:
    text = re.split(r"\s+[UM] - ", text)[0]  # "...; U - Optional if ..." : a second usage, not this one's
    m = _LEAD.match(text)
    if not m:
        raise _Undecidable("not a 'Required if' statement")
    otherwise = "absent" if m.group(1).lower() == "if and only if" else "unstated"
    first, *rest = _sentences(m.group(2).strip())
    for sentence in rest:
        sentence = sentence.strip().rstrip(".")
        found = [o for pattern, o in _OTHERWISE if pattern.match(sentence)]
        if found:
            otherwise = found[0]
        elif not (_SEE.match(sentence) or PLACEMENT.match(sentence)):
            raise _Undecidable(f"a further statement the parser does not read: {sentence!r}")
    return {"required_if": _predicate(first.strip().rstrip("."), modules, macros), "otherwise": otherwise}


def _predicate(text: str, modules: frozenset[str], macros: frozenset[str]) -> dict[str, Any]:
    text = re.sub(r"\s*-?\s*See Section\s+\S+$", "", text)
    if not _TAG.search(text):
        return _presence_of_parts(text, modules, macros)
    required = _NOT_REQUIRED.match(text)
    if required:  # "image does not require Image Orientation (Patient) (0020,0037) and ...": the IOD's types
        if re.search(r"\bor\b", required.group(1)):
            raise _Undecidable("'does not require' of alternatives")
        leaves = [{"op": "iod_requires", "tag": tag, "keyword": dictionary_keyword(int(tag, 16))}
                  for tag in ((m.group(1) + m.group(2)).upper() for m in _TAG.finditer(required.group(1)))]
        return {"op": "not", "args": [leaves[0] if len(leaves) == 1 else {"op": "and", "args": leaves}]}
    if re.search(r"\bany (?:frame|of the|MR|value)\b|\bfor any frame\b|Classic Images|in the SOP Instance",
                 text, re.I):
        raise _Undecidable("refers to values across frames or source instances, not one data set's attributes")
    text = _IN_MODULE.sub("", text)
    clauses, joins = _split_clauses(text)
    if len(set(joins) - {"value"}) > 1 or ("value" in joins and joins[0] != "value"):
        raise _Undecidable("mixes 'and' and 'or' without saying which binds first")
    leaves = _leaves(clauses, joins)
    if len(leaves) == 1:
        return leaves[0]
    return {"op": joins[0], "args": leaves}


def _split_clauses(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """[(tag, text after the tag up to the next clause)], and the connectors ('and' / 'or') between them."""
    refs = list(_TAG.finditer(text))
    starts = [_clause_start(text[:ref.start()].rstrip(), _name((ref.group(1) + ref.group(2)).upper()))
              for ref in refs]
    if text[:starts[0]].strip().lower() not in ("", "the"):
        raise _Undecidable(f"the first clause does not start with an attribute: {text[:starts[0]]!r}")
    clauses, joins = [], []
    for i, ref in enumerate(refs):
        end = starts[i + 1] if i + 1 < len(refs) else len(text)
        body = text[ref.end():end].strip()
        if i + 1 < len(refs):
            j = re.search(r"(?:^|\s)(and|or)(?: if)?(?: the)?$", body)
            if not j and body.lower() not in ("is", "equals", "=", "is present and equals"):
                raise _Undecidable(f"a clause is not of a known form: {body!r}")
            if j:
                joins.append(j.group(1))
                body = body[:j.start()].strip()
            else:
                joins.append("value")
        clauses.append(((ref.group(1) + ref.group(2)).upper(), body))
    return clauses, joins


def _clause_start(before: str, name: str) -> int:
    """Where the clause naming an attribute begins: at its dictionary name, else after the last connector."""
    if name and before.lower().endswith(name.lower()):
        return len(before) - len(name)
    connectors = list(re.finditer(r"(?:^|\s)(?:and|or|if|is|the)\s", before))
    return connectors[-1].end() if connectors else 0


def _leaves(clauses: list[tuple[str, str]], joins: list[str]) -> list[dict[str, Any]]:
    if "value" in joins:  # "Frame Increment Pointer (0028,0009) is Frame Time (0018,1063) or ..." (AT values)
        (tag, body), values = clauses[0], [t for t, b in clauses[1:] if not b]
        if len(values) != len(clauses) - 1:
            raise _Undecidable("tags as values mixed with other clauses")
        return [_leaf(tag, "equals", values)]
    leaves: list[dict[str, Any] | None] = []
    for tag, body in clauses:
        leaves.append(_clause(tag, body) if body else None)
    last = next((x for x in reversed(leaves) if x is not None), None)
    if last is None:
        raise _Undecidable("no clause says what the attribute must be")
    # "A (t1) or B (t2) are present": the last operator applies to the bare clauses before it
    return [x if x is not None else {**last, "tag": t, "keyword": dictionary_keyword(int(t, 16))}
            for x, (t, _b) in zip(leaves, clauses, strict=True)]


def _leaf(tag: str, op: str, values: list[Any] | None = None, index: int | None = None) -> dict[str, Any]:
    if not _name(tag):  # a typo in the text ("(0048,ee08)" for (0048,0108) in PS3.3 of 2020): nothing to read
        raise _Undecidable(f"({tag[:4]},{tag[4:]}) is not in the data dictionary")
    out: dict[str, Any] = {"op": op, "tag": tag, "keyword": dictionary_keyword(int(tag, 16))}
    if values is not None:
        out["values"] = values
    if index is not None:
        out["index"] = index
    return out


def _clause(tag: str, body: str) -> dict[str, Any]:
    index = None
    m = _VALUE_N.match(body)
    if m:
        index, body = int(m.group(1)), m.group(2)
    for pattern, op in _OPS:
        found = pattern.match(body)
        if not found:
            continue
        if op in ("present", "absent", "nonzero"):
            return _leaf(tag, "greater", [0]) if op == "nonzero" else _leaf(tag, op)
        raw = found.group("v")
        if op == "greater":
            return _leaf(tag, op, [int(raw)], index)
        values = [v.strip(" .'\"“”") for v in re.split(r",\s*(?:or\s+)?|\s+or\s+", raw)]
        if not all(_VALUE.match(v) for v in values):
            raise _Undecidable(f"values that are not enumerated terms: {raw!r}")
        return _leaf(tag, op, values, index)
    raise _Undecidable(f"a clause is not of a known form: {body!r}")


def _presence_of_parts(text: str, modules: frozenset[str], macros: frozenset[str]) -> dict[str, Any]:
    """'the X Module is present', 'A or B Macros Present', 'X Functional Group (C.7...) is not present'."""
    m = _MODULE.match(text)
    if m:
        key = slugify(m.group(1))
        if key not in modules:
            raise _Undecidable(f"names a module this catalog does not define: {m.group(1)!r}")
        leaf = {"op": "module_present", "module": key}
        return {"op": "not", "args": [leaf]} if "not" in m.group(2).lower() else leaf
    m = _FG.match(text) or _MACROS.match(text)
    if m:
        names = [n for n in re.split(r"\s+or\s+(?:either\s+)?|,\s*", m.group(1)) if n]
        keys = [re.sub(r"[^a-z0-9]+", "-", re.sub(r"\s*\(C\.[0-9.]+\)", "", n).lower()).strip("-")
                for n in names]
        if not all(k in macros for k in keys):
            raise _Undecidable(f"names a functional group macro this catalog does not define: {m.group(1)!r}")
        leaves: list[dict[str, Any]] = [{"op": "macro_present", "macro": k} for k in keys]
        pred = leaves[0] if len(leaves) == 1 else {"op": "or", "args": leaves}
        negated = m.re is _FG and m.group(2)
        return {"op": "not", "args": [pred]} if negated else pred
    raise _Undecidable("refers to no attribute, module or macro: a fact about the acquisition, the "
                       "equipment or the intent that the data set does not record")
