"""The attribute findings of one instance: which required attribute is missing or empty, and where.

A finding is (keyword, tag, module, type 1/1C/2/2C, problem missing/empty, path, condition text): the
attribute's keyword path of enclosing sequences ('' at the top level, else the sequence's keyword; one
level inside sequence items is checked, once per attribute however many items lack it).

They are stored on the Instance as parallel lists, one per column (`finding_keyword`, `finding_tag`, ...),
not as Finding nodes: a list per column is written with the Instance row in the same bulk write (no extra
table, no edges to match), is replaced whole when a changed copy of the instance is re-ingested (nodes
would outlive it), and the named query `conformance_findings` expands it into one row per finding.

Requiredness: Type 1 and 2 always (in a checked module, in an item that exists); 1C and 2C when their
parsed condition holds; a 1C/2C whose condition is undecidable, or cannot be read on this data set, is
not evaluated (counted, never a finding).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from pydicom.dataelem import RawDataElement
from pydicom.datadict import tag_for_keyword

from dicom_graph.model.schema import FINDING_COLUMNS

from .convert import is_empty
from .predicates import Scope, Undecided, holds
from .tags import BINARY_VRS

if TYPE_CHECKING:
    from .conformance import AttributeRequirement

_SUMMARY = {"type1_missing": (("1", "1C"), "missing"), "type1_empty": (("1", "1C"), "empty"),
            "type2_missing": (("2", "2C"), "missing")}


class Evaluation:
    """One instance's evaluation in progress: what it has, and the findings so far."""

    def __init__(self, ds: Any, present: dict[str, bool], modules_present: Callable[[str], bool],
                 macro_tags: dict[str, int], iod_types: dict[str, str] | None = None) -> None:
        self.ds, self.present = ds, present
        self.modules_present, self.macro_tags, self.iod_types = modules_present, macro_tags, iod_types
        self.findings: list[tuple[str, str, str, str, str, str, str]] = []
        self.seen: set[tuple[str, str]] = set()
        self.not_evaluated = 0
        # which, where a machine-readable condition could not be told on this instance ('Module>Keyword',
        # nested 'Module>Path>Keyword', or a C module's name); a condition the standard states in prose is
        # undecided on every instance and is found on the standard's side (decidable = false), not here
        self.undecided: list[str] = []
        self.items: dict[str, list[Any]] = {}  # top-level sequence keyword -> its items
        self.filled = frozenset(k for k, v in present.items() if v)  # top-level keywords with a value

    def scope(self, chain: list[Any]) -> Scope:
        return Scope(chain, self.ds, self.modules_present, self.macro_tags, self.iod_types)

    def summary(self) -> dict[str, list[str]]:
        """The finding columns, and the top-level 'Module>Keyword' lists the dashboard aggregates."""
        out: dict[str, list[str]] = {col: [f[i] for f in self.findings] for i, col in enumerate(FINDING_COLUMNS)}
        for name, (types, problem) in _SUMMARY.items():
            out[name] = [f"{f[2]}>{f[0]}" for f in self.findings if f[5] == "" and f[3] in types and f[4] == problem]
        return out


def holds_or_none(expr: dict[str, Any], ev: Evaluation, chain: list[Any] | None = None) -> bool | None:
    """Whether a parsed condition's requirement applies; None when it cannot be decided here."""
    if ev.ds is None:
        return None
    try:
        return holds(expr["required_if"], ev.scope(chain if chain is not None else [ev.ds]))
    except Undecided:
        return None


def item_state(item: Any, keyword: str) -> bool | None:
    """None when absent, else whether the value is non-empty (an unreadable value has bytes: non-empty)."""
    tag = tag_for_keyword(keyword)
    elements = getattr(item, "_dict", None)
    if tag is None or (tag not in elements if elements is not None else tag not in item):
        return None  # (asked of the item's elements directly: Dataset.__contains__ converts every tag)
    raw = elements.get(tag) if elements is not None else None
    if isinstance(raw, RawDataElement) and raw.VR != "SQ" and raw.length not in (None, 0xFFFFFFFF):
        if raw.length > 2:  # more than padding: a value, without converting it
            return True
        if raw.length == 0:
            return False
        if raw.VR in BINARY_VRS or (raw.value is not None and raw.value.isalnum()):
            return True  # a number, or characters that are neither padding nor a separator ("LN", "99")
    try:
        return not is_empty(item[tag].value)
    except Exception:  # noqa: BLE001  (present, with a value pydicom cannot convert)
        return True


def _places(attr: AttributeRequirement, ev: Evaluation) -> list[tuple[bool | None, list[Any]]]:
    """(state, item chain) of every place the attribute should be: the top level, or each item of its
    top-level sequence."""
    if attr.path == "":
        return [(ev.present.get(attr.keyword), [ev.ds] if ev.ds is not None else [])]
    if not ev.present.get(attr.path):  # the sequence is absent or has no items (most are: skip pydicom)
        return []
    if attr.path not in ev.items:  # once per sequence, not once per attribute of its items
        ev.items[attr.path] = sequence_items(ev.ds, attr.path)
    return [(item_state(item, attr.keyword), [item, ev.ds]) for item in ev.items[attr.path]]


def sequence_items(ds: Any, keyword: str) -> list[Any]:
    """The items of a top-level sequence ([] when absent, not a sequence, or unreadable: elements.py
    reports that). Public, with item_state, because memo.py keys an instance on exactly what they read."""
    seq = tag_for_keyword(keyword)
    if ds is None or seq is None or seq not in ds:
        return []
    try:
        return list(ds[seq].value or []) if ds[seq].VR == "SQ" else []
    except Exception:  # noqa: BLE001  (an unreadable sequence: elements.py reports it)
        return []


def _problem(attr: AttributeRequirement, state: bool | None) -> str | None:
    if state is None:
        return "missing"
    if not state and attr.type.startswith("1"):
        return "empty"
    return None


class Plan:
    """Where a module's attributes are, worked out once per process (conformance.ModuleRequirement.plan):
    the top-level ones by keyword, the nested ones by their sequence, each as its place in the module's list."""

    def __init__(self, attributes: tuple[AttributeRequirement, ...]) -> None:
        self.top: dict[str, list[int]] = {}
        self.nested: dict[str, list[int]] = {}
        for i, attr in enumerate(attributes):
            (self.nested.setdefault(attr.path, []) if attr.path else self.top.setdefault(attr.keyword, [])).append(i)
        self.top_keywords = frozenset(self.top)


def evaluate_module(module: str, attributes: tuple[AttributeRequirement, ...], plan: Plan, ev: Evaluation) -> None:
    """Add the findings of one checked module's attributes.

    Only the attributes that can have a finding are visited, in the module's order: top-level ones that
    have no value (a set difference), and nested ones whose sequence the instance has. Visiting every
    attribute of every checked module, most of them present or in absent sequences, was most of the
    evaluation's time."""
    present = ev.present
    todo = [i for kw in plan.top_keywords.difference(ev.filled) for i in plan.top[kw]]
    for path, indices in plan.nested.items():
        if present.get(path):
            todo.extend(indices)
    todo.sort()
    for i in todo:
        attr = attributes[i]
        if not attr.path and present.get(attr.keyword) is False and attr.type.startswith("2"):
            continue  # a Type 2 attribute may be empty
        if (attr.path, attr.keyword) in ev.seen:
            continue
        undecided = False
        for state, chain in _places(attr, ev):
            problem = _problem(attr, state)
            if problem is None:
                continue
            if attr.type.endswith("C") and not (attr.type == "1C" and problem == "empty"):
                # a 1C attribute that is there is held to Type 1 whatever its condition: PS3.5 7.4.2 gives it
                # Type 1's requirements under the condition and has it left out otherwise
                applies = holds_or_none(attr.expr, ev, chain) if attr.expr else None
                if applies is None:
                    undecided = True
                    continue
                if not applies:
                    continue
            ev.seen.add((attr.path, attr.keyword))
            ev.findings.append((attr.keyword, attr.tag, module, attr.type, problem, attr.path,
                                attr.condition if attr.type.endswith("C") else ""))
            break
        if undecided and (attr.path, attr.keyword) not in ev.seen:
            ev.not_evaluated += 1
            if attr.expr:
                ev.undecided.append(">".join(p for p in (module, attr.path, attr.keyword) if p))
