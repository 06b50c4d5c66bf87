"""Conformance findings memoised by what their evaluation reads: a series' files are evaluated once.

The files of one series have the same top-level tags, the same empty ones, the same values where the
conditions look and items of the same shape, so `conformance.check` gives them the same answer; evaluating
it again for each file was half a bare parse per file. `check` here answers from a memo whose key holds
everything the evaluation can read of the instance, and evaluates (`conformance.check`) on a miss.

What the evaluation reads is worked out per IOD from its condition expressions, generically (the `tag`,
`path` and `macro` fields, whatever the operator), never from a list of keywords:
- which top-level keywords are present and which are empty (`present`): module presence, the top-level
  Type 1 / 2 checks and which sequences' items are checked follow from it;
- every tag a condition names without a `path`: the element at the top level and in each item of the
  sequence its attribute is in, as absent, present (operators that only ask `present` / `absent`: the
  element is still converted, as the evaluation's lookup converts it, and one that cannot be is no key),
  or its value as pydicom converts it (any other operator, including ones this module does not know);
- a condition with a `path`: the same for that tag in every item the path reaches;
- `macro_present`: whether each functional group item has the macro's sequence;
- each sequence the IOD has attributes in, when the instance has it: per item, the state of each of
  those attributes as findings.py reads it.
An operator without a `tag` that this module does not know turns the memo off for its IOD; an instance
whose key cannot be read (a deferred value, an element pydicom cannot convert, a value that is itself a
sequence, more than MAX_ITEMS items on the way) is evaluated, and the evaluation meets it with its own
answer or error.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Hashable

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.valuerep import AMBIGUOUS_VR
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from . import conformance
from .findings import item_state, sequence_items
from .predicates import PER_FRAME_TAG, SHARED_TAG, items_at
from .tags import dict_vr

NO_READS = frozenset({"and", "or", "not", "module_present", "iod_requires"})  # iod_requires: the IOD's Types
PRESENCE = frozenset({"present", "absent"})
MAX_ENTRIES = 1024  # per IOD and process (~10 KB each): then the memo starts again
MAX_ITEMS = 64  # a longer sequence on the way (per-frame groups) is evaluated: its key would never repeat


class _Unkeyable(Exception):
    """Something the evaluation would read cannot be put in a key: evaluate instead."""


@dataclass
class KeyPlan:
    """What one IOD's evaluation reads, beyond `present`: built once per IOD and process."""

    top: dict[int, bool] = field(default_factory=dict)  # tag -> whether its value is read (else presence)
    nested: dict[str, tuple[list[tuple[str, int]], dict[int, bool]]] = field(default_factory=dict)
    # sequence -> (its attributes' keywords and tags, the tags their conditions read in its items)
    paths: dict[tuple[tuple[int, ...], int], bool] = field(default_factory=dict)
    macros: set[int] = field(default_factory=set)
    results: dict[Hashable, dict[str, Any]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0


_PLANS: dict[int, tuple[weakref.ref[conformance.IodRequirements], KeyPlan | None]] = {}
_CONVERTS: dict[Hashable, bool] = {}  # raw value key -> whether pydicom converts it


def check(iod: conformance.IodRequirements, present: dict[str, bool], ds: Any = None) -> dict[str, Any]:
    """conformance.check's answer, from the memo when an instance with the same key was evaluated."""
    plan = plan_for(iod)
    if plan is None or ds is None:
        return conformance.check(iod, present, ds)
    try:
        key = _key(plan, present, ds)
    except Exception:  # noqa: BLE001  (_Unkeyable, or an element the evaluation would fail on: it will)
        return conformance.check(iod, present, ds)
    found = plan.results.get(key)
    if found is not None:
        plan.hits += 1
        return _copy(found)
    plan.misses += 1
    result = conformance.check(iod, present, ds)
    if len(plan.results) >= MAX_ENTRIES:
        plan.results.clear()
    plan.results[key] = _copy(result)
    return result


def plan_for(iod: conformance.IodRequirements) -> KeyPlan | None:
    """The IOD's key plan (None: an operator it cannot account for, no memo), made once per IOD object."""
    entry = _PLANS.get(id(iod))
    if entry is not None and entry[0]() is iod:
        return entry[1]
    plan = KeyPlan()
    ok = True
    for module in iod.modules:
        ok = _collect(module.expr, [plan.top], plan, iod) and ok
        for attr in module.attributes:
            targets = [plan.top]
            if attr.path:
                attributes, tags = plan.nested.setdefault(attr.path, ([], {}))
                spot = (attr.keyword, tag_for_keyword(attr.keyword) or -1)  # (-1: never in an item)
                if spot not in attributes:
                    attributes.append(spot)
                targets.append(tags)
            ok = _collect(attr.expr, targets, plan, iod) and ok
    _PLANS[id(iod)] = (weakref.ref(iod), plan if ok else None)
    return plan if ok else None


def _collect(node: Any, targets: list[dict[int, bool]], plan: KeyPlan, iod: conformance.IodRequirements) -> bool:
    """Note what the predicates in `node` read; False when one reads what the plan cannot tell."""
    if isinstance(node, list):
        return all([_collect(v, targets, plan, iod) for v in node])
    if not isinstance(node, dict):
        return True
    op = node.get("op")
    if op == "macro_present":
        tag = iod.macro_tags.get(str(node.get("macro")))
        if tag is not None:  # else undecided, whatever the instance has
            plan.macros.add(tag)
    elif "tag" in node and op not in NO_READS:
        tag, path, value = _hex(node["tag"]), node.get("path"), op not in PRESENCE
        if tag is not None and path:  # (a bad tag is undecided before anything is read)
            where = (tuple(_hex(t) or 0 for t in path), tag)
            plan.paths[where] = plan.paths.get(where, False) or value
        elif tag is not None:
            for spot in targets:
                spot[tag] = spot.get(tag, False) or value
    elif op is not None and op not in NO_READS:
        return False
    return all([_collect(v, targets, plan, iod) for v in node.values()])


def _hex(text: Any) -> int | None:
    try:
        return int(str(text), 16)
    except ValueError:
        return None


def _key(plan: KeyPlan, present: dict[str, bool], ds: Any) -> Hashable:
    top = tuple(_element(ds, tag, value) for tag, value in plan.top.items())
    nested = frozenset((seq, tuple(_item(item, *plan.nested[seq]) for item in _bounded(_sequence_items(ds, seq))))
                       for seq in plan.nested.keys() & present.keys() if present[seq])
    paths = tuple(tuple(_element(item, tag, value) for item in _bounded(items_at(ds, list(path))))
                  for (path, tag), value in plan.paths.items())
    groups = _bounded(items_at(ds, [SHARED_TAG]) + items_at(ds, [PER_FRAME_TAG])) if plan.macros else []
    macros = tuple(tuple(tag in item for item in groups) for tag in plan.macros)
    return frozenset(present.items()), top, nested, paths, macros


def _item(item: Any, attributes: list[tuple[str, int]], tags: dict[int, bool]) -> Hashable:
    """One item of a checked sequence: the state of each of its attributes (findings.py's), and what the
    conditions read in it."""
    elements = item._dict
    return (tuple(None if tag not in elements else item_state(item, kw) for kw, tag in attributes),
            tuple(_element(item, tag, value) for tag, value in tags.items()))


def _sequence_items(ds: Any, keyword: str) -> list[Any]:
    """findings.sequence_items, without its lookups when the sequence is converted already (read_elements
    converts every top-level sequence it walks): the same list."""
    elem = ds._dict.get(tag_for_keyword(keyword))
    if isinstance(elem, DataElement) and elem.VR == "SQ":
        return list(elem.value or [])
    return sequence_items(ds, keyword)


def _bounded(items: list[Any]) -> list[Any]:
    if len(items) > MAX_ITEMS:
        raise _Unkeyable
    return items


def _element(container: Any, tag: int, value: bool) -> Hashable:
    """What a condition's lookup gets of `tag` in one item: None when absent, True when only its presence
    is asked, else its value. A raw value of a stated VR (read as implicit VR: the dictionary's, which is
    the one pydicom gives it) converts the same whatever item it is in, given its bytes, byte order and
    character set: then those are its key, and it is converted (once per distinct value and process) only
    to know that it converts, which is all `present` asks of it."""
    raw = container._dict.get(tag)
    if raw is None:
        return None
    if not isinstance(raw, RawDataElement):
        return (raw.VR, _canon(raw.value)) if value else True
    if raw.value is None and raw.length:
        raise _Unkeyable  # deferred: read from the file only if the evaluation asks
    vr = raw.VR if raw.VR is not None else dict_vr(tag)  # implicit VR: the dictionary's, as pydicom takes it
    if vr is None or vr == "UN" or vr in AMBIGUOUS_VR:  # its VR depends on the data set
        elem = _peek(container, tag)
        return (elem.VR, _canon(elem.value)) if value else True
    encoding = container.original_character_set or container._character_set
    key = (vr, raw.length, raw.value, raw.is_little_endian, raw.is_implicit_VR,
           encoding if isinstance(encoding, str) else tuple(encoding))
    if value:
        return key
    converts = _CONVERTS.get((tag, key))
    if converts is None:
        if len(_CONVERTS) >= MAX_ENTRIES * 16:
            _CONVERTS.clear()
        try:
            _peek(container, tag)
            converts = True
        except Exception:  # noqa: BLE001  (the evaluation's lookup will meet the same error)
            converts = False
        _CONVERTS[tag, key] = converts
    if not converts:
        raise _Unkeyable
    return True


def _peek(container: Any, tag: int) -> Any:
    """The element converted, as `container[tag]` gives it, without keeping the conversion: findings.py
    tells an item's raw padded value from a converted one, so the key must not convert what the
    evaluation would not."""
    raw = container._dict[tag]
    try:
        return container[tag]
    finally:
        container._dict[tag] = raw


def _canon(value: Any) -> Hashable:
    """A converted value as something hashable that two values share only when every way of reading
    them (str, repr, number, the text it was read from) agrees."""
    if isinstance(value, (Dataset, Sequence)):
        raise _Unkeyable
    if isinstance(value, (list, tuple, MultiValue)):
        return type(value), tuple(_canon(v) for v in value)
    return type(value), str(value), repr(value), getattr(value, "original_string", None)


def _copy(result: dict[str, Any]) -> dict[str, Any]:
    """Callers put the lists into their rows: each answer gets lists of its own."""
    return {k: list(v) if isinstance(v, list) else v for k, v in result.items()}
