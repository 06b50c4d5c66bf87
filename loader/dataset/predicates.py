"""Evaluate a parsed condition (loader/standard/conditions.py) on one data set.

A condition is decided only when everything it asks about can be read: an element whose value pydicom
cannot convert, or an operator this module does not know, raises `Undecided`, and the caller reports the
attribute as not evaluated rather than guessing (a wrong finding is worse than none).

Tag lookup follows the expression's contract: without `path`, the item holding the conditioned attribute,
then each enclosing item out to the top-level data set; with `path`, any item of that sequence path from
the top level (e.g. 52009229 Shared, 52009230 Per-frame Functional Groups Sequence). equals / not_equals /
greater are false when the attribute is absent.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from pydicom.tag import BaseTag

from .convert import is_empty, plain

SHARED_TAG, PER_FRAME_TAG = 0x52009229, 0x52009230


class Undecided(Exception):
    """The condition cannot be decided on this data set."""


class Scope:
    """Where a condition is evaluated: the chain of items from the conditioned attribute's item out to the
    data set (innermost first), and which of the IOD's modules are present (for module_present)."""

    def __init__(self, chain: Sequence[Any], top: Any, modules_present: Callable[[str], bool],
                 macro_tags: dict[str, int], iod_types: dict[str, str] | None = None) -> None:
        self.chain, self.top = chain, top
        self.modules_present, self.macro_tags = modules_present, macro_tags
        self.iod_types = iod_types or {}  # top-level keyword -> its Type in the IOD's mandatory modules


def holds(pred: dict[str, Any], scope: Scope) -> bool:
    """Whether `pred` holds; raises Undecided when it cannot be told."""
    op = pred.get("op")
    if op in ("and", "or"):
        return _connective(op == "and", pred.get("args") or [], scope)
    if op == "not":
        return not holds((pred.get("args") or [{}])[0], scope)
    if op == "iod_requires":
        if scope.iod_types.get(str(pred.get("keyword"))) in ("1", "2"):
            return True
        if "PerFrameFunctionalGroupsSequence" in scope.iod_types:  # an enhanced IOD: a macro may require it
            raise Undecided(f"{pred.get('keyword')} may be required by a functional group macro")
        return False
    if op == "module_present":
        return scope.modules_present(str(pred.get("module")))
    if op == "macro_present":
        tag = scope.macro_tags.get(str(pred.get("macro")))
        if tag is None:
            raise Undecided(f"macro {pred.get('macro')} has no known sequence")
        return any(tag in item for item in items_at(scope.top, [SHARED_TAG]) + items_at(scope.top, [PER_FRAME_TAG]))
    elems = _lookup(pred, scope)
    if op == "present":
        return bool(elems)
    if op == "absent":
        return not elems
    if op in ("equals", "not_equals", "greater"):
        return any(_compare(op, elem, pred) for elem in elems)
    if op == "member":
        return _member(elems, pred)
    raise Undecided(f"unknown operator {op!r}")


def _connective(conjunction: bool, args: list[dict[str, Any]], scope: Scope) -> bool:
    """and / or over three values: one false conjunct (one true disjunct) decides, whatever the others;
    otherwise an undecided argument leaves the whole undecided."""
    undecided: Undecided | None = None
    for arg in args:
        try:
            if holds(arg, scope) is not conjunction:
                return not conjunction
        except Undecided as exc:
            undecided = exc
    if undecided is not None:
        raise undecided
    return conjunction


def _member(elems: list[Any], pred: dict[str, Any]) -> bool:
    """A value in the vocabulary's terms: true; every value among its other terms: false; a value in
    neither list, or none at all, cannot be told (e.g. Body Part Examined absent: paired or not?)."""
    values = [str(v).strip() for elem in elems for v in _values(elem)]
    if not values:
        raise Undecided(f"{pred.get('keyword')} has no value")
    if any(v in (pred.get("values") or []) for v in values):
        return True
    if all(v in (pred.get("not_values") or []) for v in values):
        return False
    raise Undecided(f"{pred.get('keyword')} {values} is in neither list of {pred.get('vocabulary')}")


def _tag(pred: dict[str, Any]) -> int:
    try:
        return int(str(pred["tag"]), 16)
    except (KeyError, ValueError) as exc:
        raise Undecided(f"no tag in {pred}") from exc


def items_at(top: Any, path: list[int]) -> list[Any]:
    """Every item reached by following the sequence path from the top level."""
    items = [top]
    for tag in path:
        nxt: list[Any] = []
        for item in items:
            elem = item.get(tag) if tag in item else None
            if elem is not None and elem.VR == "SQ":
                nxt.extend(elem.value or [])
        items = nxt
    return items


def _lookup(pred: dict[str, Any], scope: Scope) -> list[Any]:
    """The elements the predicate is about: the first item of the chain that has the tag, or every item of
    the path that has it."""
    tag = _tag(pred)
    if pred.get("path"):
        items = items_at(scope.top, [int(str(t), 16) for t in pred["path"]])
        return [item[tag] for item in items if tag in item]
    for item in scope.chain:
        if tag in item:
            return [item[tag]]
    return []


def _values(elem: Any) -> list[Any]:
    try:
        value = elem.value
    except Exception as exc:  # noqa: BLE001  (pydicom raises many kinds on a bad value)
        raise Undecided(f"unreadable value of {elem.tag}") from exc
    if is_empty(value):
        return []
    if isinstance(value, bytes):
        raise Undecided(f"binary value of {elem.tag}")
    values = value if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
    return [f"{int(v):08X}" if isinstance(v, BaseTag) else plain(v) for v in values]


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, str):
        actual = actual.strip()
    if isinstance(actual, (int, float)) or isinstance(wanted, (int, float)):
        try:
            return float(actual) == float(wanted)
        except (TypeError, ValueError):
            return False
    return str(actual) == str(wanted)


def _compare(op: str, elem: Any, pred: dict[str, Any]) -> bool:
    values = _values(elem)
    index = pred.get("index")
    if index is not None:
        values = values[int(index) - 1:int(index)]
    if not values:
        return False
    wanted = pred.get("values") or []
    if op == "greater":
        try:
            return any(float(v) > float(wanted[0]) for v in values)
        except (TypeError, ValueError, IndexError) as exc:
            raise Undecided(f"not a number: {values}") from exc
    matched = any(_same(v, w) for v in values for w in wanted)
    return matched if op == "equals" else not matched
