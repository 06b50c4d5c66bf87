"""The offline default: the standard as the installed (pinned) packages and our curated tables know it.

- pydicom: data dictionary -> Attribute; UID registry -> SOPClass, TransferSyntax
- highdicom (private tables, via highdicom_standard): composite IODs, their modules by IE with usage,
  module attribute trees with types and sequence paths, SOP class -> IOD
- pynetdicom: SOP class -> service class, and which DIMSE messages each service class's SCP handles
- curated tables (curated.py): service classes, normalized IODs, normalized SOP classes' IODs and
  DIMSE service groups, rules for composite SOP classes' groups, display names
"""

from __future__ import annotations

import inspect
import re
from functools import lru_cache

import pydicom
import pynetdicom
from pydicom.datadict import DicomDictionary, RepeatersDictionary
from pydicom.uid import UID_dictionary

from . import curated, functional_groups, attribute_conditions, highdicom_standard
from .catalog import StandardCatalog

_USAGE_RANK = {"M": 2, "U": 1, "": 0}


def package_sources() -> dict[str, str]:
    return {
        "pydicom": f"pydicom {pydicom.__version__}",
        "highdicom": f"highdicom {highdicom_standard.version()}",
        "pynetdicom": f"pynetdicom {pynetdicom.__version__}",
        "curated": "dicom-graph curated tables",
    }


def _camel_words(keyword: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", keyword)


def _strongest(a: str, b: str) -> str:
    return a if _USAGE_RANK.get(a, 0) >= _USAGE_RANK.get(b, 0) else b


# --- pynetdicom ----------------------------------------------------------------------------------

_DIMSE_RE = re.compile(r"\b([CN])_(STORE|FIND|GET|MOVE|ECHO|EVENT_REPORT|SET|ACTION|CREATE|DELETE)\b")


def _handled_messages(cls: type) -> set[str]:
    """The DIMSE messages a pynetdicom service class's SCP() dispatches (read from its source)."""
    found: set[str] = set()
    for klass in cls.__mro__:
        scp = klass.__dict__.get("SCP")
        if scp is None:
            continue
        try:
            source = inspect.getsource(scp)
        except (OSError, TypeError):
            continue
        found |= {f"{m.group(1)}-{m.group(2).replace('_', '-')}" for m in _DIMSE_RE.finditer(source)}
        if klass.__name__ == "QueryRetrieveServiceClass":  # SCP dispatches on the _QR alias
            found |= {"C-FIND", "C-GET", "C-MOVE"}
        break
    return found


@lru_cache(maxsize=1)
def pynetdicom_service_classes() -> tuple[dict[str, str], dict[str, type]]:
    """(SOP class uid -> pynetdicom service class name, class name -> class) for every known UID."""
    from pynetdicom import sop_class as sc
    from pynetdicom.service_class import ServiceClass

    by_uid: dict[str, str] = {}
    classes: dict[str, type] = {}
    for value in vars(sc).values():
        if isinstance(value, sc.SOPClass):
            cls = sc.uid_to_service_class(value)
            if cls is not ServiceClass:
                by_uid[str(value)] = cls.__name__
                classes[cls.__name__] = cls
    return by_uid, classes


def _pynetdicom_keywords() -> dict[str, str]:
    from pynetdicom import sop_class as sc

    return {str(v): k for k, v in vars(sc).items() if isinstance(v, sc.SOPClass)}


# --- the catalog ---------------------------------------------------------------------------------

def build_offline_catalog() -> StandardCatalog:
    src = package_sources()
    cat = StandardCatalog(sources={"attributes": src["pydicom"], "uids": src["pydicom"],
                                   "iods": src["highdicom"], "modules": src["highdicom"],
                                   "dimse": src["curated"], "service_classes": src["pynetdicom"]})
    _add_dimse_and_service_classes(cat, src)
    _add_attributes(cat, src["pydicom"])
    _add_uids(cat, src)
    _add_highdicom(cat, src["highdicom"])
    _add_normalized_iods(cat, src["curated"])
    cat.reports["innolitics"] = functional_groups.apply(cat)  # first: it places the macros' attributes
    cat.reports["attribute_conditions"] = attribute_conditions.apply(cat)
    assign_sop_class_facts(cat, src)
    cat.prune()
    functional_groups.annotate(cat)
    return cat


def _add_dimse_and_service_classes(cat: StandardCatalog, src: dict[str, str]) -> None:
    for r in curated.table("dimse_services.csv"):
        cat.dimse_services[r["name"]] = {"name": r["name"], "group": r["group"], "kind": r["kind"],
                                         "source": src["curated"]}
    _, classes = pynetdicom_service_classes()
    for r in curated.table("service_classes.csv"):
        cat.service_classes[r["key"]] = {"key": r["key"], "name": r["name"], "section": r["section"],
                                         "source": src["curated"]}
        cls = classes.get(r["pynetdicom_class"])
        if cls is not None:
            cat.service_class_dimse[r["key"]] = _handled_messages(cls)


def _tag(key: int | str) -> str:
    return f"{key:08X}" if isinstance(key, int) else key.upper()


def _add_attributes(cat: StandardCatalog, source: str) -> None:
    for table in (DicomDictionary, RepeatersDictionary):
        for key, (vr, vm, name, retired, keyword) in table.items():
            tag = _tag(key)
            cat.attributes[tag] = {"tag": tag, "keyword": keyword or None, "name": name, "vr": vr, "vm": vm,
                                   "retired": bool(retired), "source": source}
            if keyword:
                cat.keyword_tags.setdefault(keyword, tag)


def _add_uids(cat: StandardCatalog, src: dict[str, str]) -> None:
    for uid, (name, kind, _info, retired, keyword) in UID_dictionary.items():
        if kind in ("SOP Class", "Meta SOP Class"):
            cat.sop_classes[uid] = {"uid": uid, "name": name, "keyword": keyword or None,
                                    "retired": bool(retired), "source": src["pydicom"],
                                    "kind": "other" if kind == "Meta SOP Class" else None}
        elif kind == "Transfer Syntax":
            cat.transfer_syntaxes[uid] = {"uid": uid, "name": name, "retired": bool(retired),
                                          "source": src["pydicom"]}
    # SOP classes pynetdicom knows and this pydicom does not (newer editions)
    by_uid, _ = pynetdicom_service_classes()
    keywords = _pynetdicom_keywords()
    for uid in by_uid:
        if uid not in cat.sop_classes:
            known = keywords.get(uid)
            cat.sop_classes[uid] = {"uid": uid, "name": _camel_words(known or uid), "keyword": known,
                                    "retired": False, "source": src["pynetdicom"], "kind": None}


def _add_highdicom(cat: StandardCatalog, source: str) -> None:
    std = highdicom_standard.load()
    for module, rows in std.module_attributes.items():
        cat.add_module(module, None, source)
        for row in rows:
            tag = cat.keyword_tags.get(row["keyword"])
            if tag is None:
                continue
            path = ">".join(row.get("path") or ())
            type_ = row.get("type")
            cat.contains[(module, tag, path)] = {"type": None if type_ in (None, "None") else type_}
    entities = {(r["iod"], r["module"]): r["ie"] for r in curated.table("ie_overrides.csv")}
    for iod, rows in std.iod_modules.items():
        cat.iods[iod] = {"key": iod, "name": curated.display_name("IOD", iod), "kind": "composite",
                         "source": source}
        for row in rows:
            cat.add_module(row["key"], None, source)
            cat.include(iod, row["key"], row["usage"], entities.get((iod, row["key"]), row["ie"]), source)
    cat.uses_iod.update({uid: iod for uid, iod in std.sop_class_iods.items() if iod in cat.iods})


def _add_normalized_iods(cat: StandardCatalog, source: str) -> None:
    for r in curated.table("normalized_iods.csv"):
        cat.iods.setdefault(r["iod"], {"key": r["iod"], "name": r["iod_name"], "kind": "normalized",
                                       "section": r["section"], "source": source})
        cat.add_module(r["module"], None, cat.modules.get(r["module"], {}).get("source", source))
        cat.include(r["iod"], r["module"], r["usage"], r["ie"], source)


def _fill_name(row: dict, fact: dict[str, str]) -> None:
    """A curated name where the dictionary has none (PS3.6 lists some retired UIDs without a name)."""
    if fact.get("name") and not row["name"]:
        row["name"] = fact["name"]


def assign_sop_class_facts(cat: StandardCatalog, src: dict[str, str],
                           keep_defines: bool = False, keep_supports: bool = False) -> None:
    """Service class, IOD, DIMSE service group and kind of every SOP class in the catalog.

    Precedence: curated rows, then what is already in the catalog (DocBook PS3.4 when keep_* is set),
    then pynetdicom, then the name rules.
    """
    by_uid, _ = pynetdicom_service_classes()
    class_keys = {r["pynetdicom_class"]: r["key"] for r in curated.table("service_classes.csv")
                  if r["pynetdicom_class"]}
    facts = {r["uid"]: r for r in curated.table("sop_classes.csv")}
    groups: dict[str, dict[str, tuple[str, str]]] = {}
    for r in curated.table("dimse_groups.csv"):
        groups.setdefault(r["uid"], {})[r["dimse"]] = (r["scu"], r["scp"])
    members: dict[str, list[str]] = {}
    for r in curated.table("meta_sop_classes.csv"):
        members.setdefault(r["meta_uid"], []).append(r["member_uid"])
    rules = curated.dimse_rules()
    existing_supports: dict[str, dict[str, tuple[str, str]]] = {}
    if keep_supports:
        for (uid, dimse), p in cat.supports.items():
            existing_supports.setdefault(uid, {})[dimse] = (p["scu"], p["scp"])
    if not keep_defines:
        cat.defines.clear()
    cat.supports.clear()

    def group_of(uid: str) -> dict[str, tuple[str, str]]:
        fact = facts.get(uid, {})
        if fact.get("dimse") in ("none", "retired"):  # none: no DIMSE at all; retired: not in current PS3.4
            return {}
        if uid in existing_supports:
            return existing_supports[uid]
        if uid in groups:
            return groups[uid]
        if uid in members:
            union: dict[str, tuple[str, str]] = {}
            for member in members[uid]:
                for dimse, (scu, scp) in groups.get(member, {}).items():
                    old = union.get(dimse, ("", ""))
                    union[dimse] = (_strongest(old[0], scu), _strongest(old[1], scp))
            return union
        name = cat.sop_classes[uid]["name"]
        for pattern, dimse, scu, scp in rules:
            if pattern.search(name):
                return {dimse: (scu, scp)}
        return {}

    for uid, row in cat.sop_classes.items():
        fact = facts.get(uid, {})
        if fact.get("retired") == "true":
            row["retired"] = True
        _fill_name(row, fact)
        # service class
        service = fact.get("service_class") or (cat.defines.get(uid) if keep_defines else None) \
            or class_keys.get(by_uid.get(uid, ""))
        if not service and re.search(r"\bStorage\b", row["name"]) and "Commitment" not in row["name"]:
            service = "storage"
        if service:
            cat.defines[uid] = service
        # IOD
        if fact.get("iod"):
            cat.uses_iod[uid] = fact["iod"]
        # DIMSE service group
        group = group_of(uid)
        for dimse, (scu, scp) in group.items():
            cat.supports[(uid, dimse)] = {"scu": scu, "scp": scp}
        # kind
        kind = fact.get("kind") or row.get("kind")
        if not kind:
            iod = cat.iods.get(cat.uses_iod.get(uid, ""))
            if iod is not None:
                kind = iod["kind"]
            elif "C-STORE" in group:
                kind = "composite"
            elif group and all(d.startswith("N-") for d in group) or any(d.startswith("N-") for d in group):
                kind = "normalized"
            else:
                kind = "other"
        row["kind"] = kind
