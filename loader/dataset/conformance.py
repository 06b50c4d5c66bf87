"""Conformance of an instance to its SOP class's IOD: the requirements, and the check per instance.

The requirements come from the graph (the standard layer loaded by `dicom-graph standard load`): for each
SOP class, each module its IOD includes (usage M/C/U and, for C, its parsed condition) with the module's
attributes at the top level and one level inside sequences (type, condition text, parsed condition).
`load_requirements(store)` reads them once per ingest with the named queries `conformance_iod_modules`,
`conformance_module_attributes` and `conformance_macros`; workers get the resulting plain objects and
call `check()` per instance.

Which modules are checked (findings.py does the attributes):
- M modules always: an absent mandatory module is reported as missing *and* each of its Type 1 / 2
  attributes as missing (that is what a validator such as dciodvfy reports, attribute by attribute);
- C modules whose decidable condition holds, as if mandatory; C and U modules that are present, since a
  present module's Type 1 / 2 attributes are required. A C or U module is present when an attribute of its
  own is there, one no other module of the IOD has (`_own`);
- a C module that is absent and whose condition is undecidable is not evaluated: its attributes are not
  required. What was not evaluated is counted (`conditions_not_evaluated`), and named where the
  condition is machine-readable but could not be told on this instance (`conditions_undecided`, e.g.
  Laterality where Body Part Examined is absent), so that "not evaluated" is never read as "conformant"; a
  condition stated in prose is undecided on every instance and is found on the standard's side
  (`decidable = false`), not stored again with each instance.

The Instance keeps the summary lists the dashboard aggregates (modules_present, modules_missing,
type1_missing / type1_empty / type2_missing as 'Module>Keyword' at the top level, 1C counted with 1 and 2C
with 2) and one finding per attribute as parallel lists `finding_*` (see findings.py for why lists).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Hashable

from pydicom.datadict import tag_for_keyword

from dicom_graph.model import graph_version
from dicom_graph.model.store import StoreError

from .findings import FINDING_COLUMNS, Evaluation, Plan, evaluate_module, holds_or_none

NO_STANDARD_HINT = ("conformance not checked: the standard is not loaded in this graph "
                    "(run `dicom-graph standard load` first, then ingest the same files again without --resume)")
# a module an IOD includes twice (an edition's DocBook can say so) is as required as its strongest inclusion
_USAGE_RANK = {"M": 2, "C": 1}
LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttributeRequirement:
    keyword: str
    tag: str
    type: str  # 1, 1C, 2, 2C (Type 3 is never required)
    path: str  # '' at the top level, else the keyword of the enclosing sequence
    condition: str  # the standard's text, for C types
    expr: dict[str, Any] | None  # the parsed condition when decidable


@dataclass(frozen=True)
class ModuleRequirement:
    name: str
    usage: str  # M, C or U
    keywords: frozenset[str]  # every top-level keyword of the module: what makes it present
    attributes: tuple[AttributeRequirement, ...] = ()
    expr: dict[str, Any] | None = None  # the module's parsed condition when usage C and decidable
    key: str = ""

    @cached_property
    def plan(self) -> Plan:
        return Plan(self.attributes)


@dataclass(frozen=True)
class IodRequirements:
    modules: tuple[ModuleRequirement, ...]
    macro_tags: dict[str, int]  # macro key -> its Sequence's tag, for macro_present

    @cached_property
    def types(self) -> dict[str, str]:
        """Top-level keyword -> its Type in the mandatory modules (the strongest): what 'if the image does not
        require Image Orientation (Patient)' asks about (PS3.3 C.7.6.1, Patient Orientation)."""
        out: dict[str, str] = {}
        for module in self.modules:
            for a in module.attributes if module.usage == "M" else ():
                if a.path == "" and (a.keyword not in out or a.type in ("1", "2")):
                    out[a.keyword] = a.type
        return out

    @cached_property
    def own(self) -> tuple[tuple[ModuleRequirement, frozenset[str]], ...]:
        """Each module with the keywords that show it is present (`_own`), worked out once per IOD and
        process rather than once per instance (a difference over every other module, for each module)."""
        return tuple((m, _own(m, self)) for m in self.modules)

    @cached_property
    def order(self) -> dict[str, int]:
        """Module name -> its first place in the IOD: the order modules_present is listed in."""
        out: dict[str, int] = {}
        for i, m in enumerate(self.modules):
            out.setdefault(m.name, i)
        return out


Requirements = dict[str, IodRequirements]  # SOP Class UID -> what its IOD requires


def _expr(row: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    """The parsed condition when it is decidable, else None (not evaluated)."""
    text = row.get(f"{prefix}condition_expr")
    if not text or not row.get(f"{prefix}decidable"):
        return None
    parsed = json.loads(text)
    return parsed if isinstance(parsed, dict) and "required_if" in parsed else None


def _attribute(row: dict[str, Any]) -> AttributeRequirement | None:
    keyword, type_, path = row.get("keyword"), (row.get("type") or "").strip(), row.get("path") or ""
    if not keyword or type_ not in ("1", "1C", "2", "2C") or ">" in path:
        return None
    return AttributeRequirement(keyword, row.get("tag") or "", type_, path, row.get("condition") or "",
                                _expr(row, "") if type_.endswith("C") else None)


def requirements_from_rows(rows: list[dict[str, Any]],
                           macros: list[dict[str, Any]] | None = None) -> Requirements:
    """Build requirements from joined rows, one per SOP class, module and attribute (sop_class_uid, module,
    usage, type, keyword, and optionally tag, path, condition, condition_expr, decidable, overrides,
    module_key, module_condition_expr, module_decidable): the form a hand-written requirement takes."""
    contents: dict[Hashable, list[dict[str, Any]]] = {}
    includes: dict[tuple[Any, ...], dict[str, Any]] = {}  # one per way a module is included
    for row in rows:
        key = (row["sop_class_uid"], row["module"])
        contents.setdefault(key, []).append(row)
        includes.setdefault((key, row.get("usage"), row.get("module_condition_expr")), {**row, "contents": key})
    return requirements_from_tables(list(includes.values()), contents, macros)


def requirements_from_tables(includes: list[dict[str, Any]], contents: dict[Hashable, list[dict[str, Any]]],
                             macros: list[dict[str, Any]] | None = None) -> Requirements:
    """Build requirements from `conformance_iod_modules` rows (sop_class_uid, module, usage, module_key,
    module_condition_expr, module_decidable; `contents`, when there, names the module's rows in `contents`,
    else module_key does) and each module's `conformance_module_attributes` rows (type, keyword, tag, path,
    condition, condition_expr, decidable, overrides), and `conformance_macros` rows (key, sequence).
    Modules of one name in an IOD are one module, included as the strongest of its inclusions (M, then C
    with its condition, then U; the first of equals), whatever order the rows come in. A top-level
    attribute one module `overrides` is required only by that module's Type. A module's attributes are parsed once, however many IODs include it."""
    parsed = {key: _parsed(rows) for key, rows in contents.items()}
    by_class: dict[str, dict[str, list[_Contents]]] = {}
    strongest: dict[tuple[str, str], dict[str, Any]] = {}
    for include in includes:
        uid, module = include["sop_class_uid"], include["module"]
        if not uid or not module:
            continue
        mine = parsed.get(include.get("contents", include.get("module_key")), _NOTHING)
        by_class.setdefault(uid, {}).setdefault(module, []).append(mine)
        usage = include.get("usage") or "U"
        chosen = strongest.get((uid, module))
        if chosen is None or _USAGE_RANK.get(usage, 0) > _USAGE_RANK.get(chosen["usage"], 0):
            strongest[uid, module] = {**include, "usage": usage}
    macro_tags = {str(m["key"]): tag for m in macros or [] if m.get("sequence")
                  and (tag := tag_for_keyword(m["sequence"])) is not None}
    memo: dict[tuple[Any, ...], ModuleRequirement] = {}
    out: Requirements = {}
    for uid, modules in by_class.items():
        overridden = {kw: name for name, parts in modules.items() for part in parts for kw in part.overrides}
        built = [_module(name, strongest[uid, name], parts, overridden, memo) for name, parts in sorted(modules.items())]
        out[uid] = IodRequirements(tuple(built), macro_tags)
    return out


@dataclass(frozen=True)
class _Contents:
    """One module's attribute rows, parsed: (path, keyword, requirement or None when not required) each,
    its top-level keywords, and those whose Type it overrides for the whole IOD."""
    attributes: tuple[tuple[str, str, AttributeRequirement | None], ...]
    keywords: frozenset[str]
    overrides: tuple[str, ...]


_NOTHING = _Contents((), frozenset(), ())


def _parsed(rows: list[dict[str, Any]]) -> _Contents:
    attributes = tuple((row.get("path") or "", row["keyword"], _attribute(row)) for row in rows if row.get("keyword"))
    return _Contents(attributes, frozenset(kw for path, kw, _ in attributes if not path),
                     tuple(row["keyword"] for row in rows
                           if row.get("overrides") and not row.get("path") and row.get("keyword")))


def _module(name: str, include: dict[str, Any], parts: list[_Contents], overridden: dict[str, str],
            memo: dict[tuple[Any, ...], ModuleRequirement]) -> ModuleRequirement:
    """One module's requirement, shared by every IOD that includes it alike: the requirements are pickled
    to each worker, and a module repeated per SOP class made them 5x larger (8.9 MB, now 1.6 MB)."""
    required: dict[tuple[str, str], AttributeRequirement] = {}
    for part in parts:
        for path, keyword, attr in part.attributes:
            if attr is not None and (path or overridden.get(keyword, name) == name):  # else another module of
                required.setdefault((path, keyword), attr)  # the IOD sets this attribute's Type
    keywords = frozenset().union(*(part.keywords for part in parts))
    usage = include["usage"]
    key = (name, usage, include.get("module_key"), include.get("module_condition_expr"), tuple(sorted(required)),
           tuple(sorted(keywords)))
    if key not in memo:
        memo[key] = ModuleRequirement(name, usage, keywords, tuple(required[k] for k in sorted(required)),
                                      _expr(include, "module_") if usage == "C" else None,
                                      include.get("module_key") or "")
    return memo[key]


def load_requirements(store: Any) -> Requirements:
    """Requirements for every SOP class in the graph; empty when the standard is not loaded."""
    contents: dict[Hashable, list[dict[str, Any]]] = {}
    for row in store.run("conformance_module_attributes").records():
        contents.setdefault(row["module_key"], []).append(row)
    if contents:
        _say_if_older(store)
    return requirements_from_tables(store.run("conformance_iod_modules").records(), contents,
                                    store.run("conformance_macros").records())


def _say_if_older(store: Any) -> None:
    """One line when the standard in the graph was loaded by a dicom-graph whose standard load wrote
    Types or conditions since corrected (graph_version.STANDARD_REVISION): its findings may include ones the
    standard does not make, until `standard load` runs again."""
    try:
        revision = store.run("standard_revision").scalar()
    except StoreError:  # an embedded graph no writer has opened since the revision was recorded
        revision = None
    if revision is None or int(revision) < graph_version.STANDARD_REVISION:
        LOG.warning("the standard in this graph was loaded by an older dicom-graph (standard revision %s, this "
                    "one writes %d): Types and conditions corrected since then, such as functional group "
                    "Sequences typed stricter than their macros' tables, read as findings; run `dicom-graph "
                    "standard load` on this graph again (it updates in place)",
                    "none recorded" if revision is None else revision, graph_version.STANDARD_REVISION)


def _own(module: ModuleRequirement, iod: IodRequirements) -> frozenset[str]:
    """The keywords whose presence shows the module is there: all of a mandatory module's; of a C or U
    module, those no other module of the IOD has (Pixel Spacing in a Secondary Capture image is the SC
    Image module's, no evidence of an Image Plane module; Rows is no evidence of Floating Point Image Pixel)."""
    if module.usage == "M":
        return module.keywords
    return module.keywords.difference(*(m.keywords for m in iod.modules if m is not module))


def check(iod: IodRequirements, present: dict[str, bool], ds: Any = None) -> dict[str, Any]:
    """Check one instance. `present` maps each top-level keyword it has to whether its value is non-empty
    (elements.py: bulk data counts as present); `ds` is the data set, for conditions and sequence items
    (without it, only the top level and no condition is evaluated)."""
    present_names = {m.name for m, own in iod.own if not own.isdisjoint(present)}
    present_keys = {m.key for m in iod.modules if m.name in present_names}
    ev = Evaluation(ds, present, present_keys.__contains__, iod.macro_tags, iod.types)
    modules_missing: list[str] = []
    for module in iod.modules:
        here = module.name in present_names
        if module.usage == "M":
            required: bool | None = True
        elif module.usage == "C" and not here:
            required = holds_or_none(module.expr, ev) if module.expr else None
        else:
            required = here
        if required is None:
            ev.not_evaluated += 1
            if module.expr:
                ev.undecided.append(module.name)
            continue
        if not required:
            continue
        if not here and any(a.path == "" and a.type in ("1", "2") for a in module.attributes):
            modules_missing.append(module.name)
        evaluate_module(module.name, module.attributes, module.plan, ev)
    summary = ev.summary()
    return {
        "modules_present": sorted(present_names, key=iod.order.__getitem__),
        "modules_missing": modules_missing,
        **summary,
        "conditions_not_evaluated": ev.not_evaluated,
        "conditions_undecided": ev.undecided,
        "conformant": not (modules_missing or summary[FINDING_COLUMNS[0]]),
    }
