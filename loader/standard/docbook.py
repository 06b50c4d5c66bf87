"""NEMA's DocBook XML of the standard (any edition) over a catalog: part03.xml, part04.xml, part06.xml,
each read by its own module (docbook_part03/04/06.py, on the helpers of docbook_xml.py):

- PS3.6: tables 6-1 (data elements), 7-1 (file meta), 8-1 (directory), with or without the Keyword
  column, and A-1 (UIDs) -> Attribute, SOPClass, TransferSyntax.
- PS3.3: the IOD module tables of Annex A (composite) and B (normalized) with IE, usage and conditions;
  the module attribute tables they reference, `>` nesting, and `Include` rows of macros (expanded in
  place, with their sequence paths).
- PS3.4: the service classes (annexes), the SOP class UID tables in each, and the DIMSE Service Group
  tables (SOP class taken from the enclosing section or the table's caption).

`apply_docbook(catalog, dir)` overlays what the directory holds on a catalog built from the packages:
a part replaces the domain it defines (PS3.6: the data dictionary and the UID registry; PS3.3: each
IOD and module it has a table for; PS3.4: the DIMSE groups and service classes it states); what the
directory lacks stays as the packages and curated tables have it. NEMA's zero-width spaces are removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import curated, functional_groups
from .catalog import StandardCatalog
from .docbook_part03 import read_part03
from .docbook_part04 import read_part04
from .docbook_part06 import read_part06


def apply_docbook(catalog: StandardCatalog, directory: Path,
                  progress: Callable[[str], None] | None = None) -> list[str]:
    """Overlay the DocBook parts found in `directory` on the catalog; return the parts found."""
    from .packages import assign_sop_class_facts, package_sources

    say = progress or (lambda _m: None)
    directory = Path(directory)
    found: list[str] = []
    part06_path, part03_path, part04_path = (directory / f"part0{n}.xml" for n in (6, 3, 4))
    if part06_path.exists():
        p6 = read_part06(part06_path)
        found.append(p6.edition)
        referenced = {t for (_m, t, _p) in catalog.contains}
        kept = {t: r for t, r in catalog.attributes.items() if t in referenced and t not in p6.attributes}
        catalog.attributes = {**p6.attributes, **kept}
        catalog.keyword_tags = {}
        for tag, row in catalog.attributes.items():
            if row.get("keyword"):
                catalog.keyword_tags.setdefault(row["keyword"], tag)
        sops = {u: r for u, r in p6.uids.items() if r["type"] in ("SOP Class", "Meta SOP Class")}
        old = catalog.sop_classes
        catalog.sop_classes = {}
        for uid, r in sops.items():
            prior = old.get(uid, {})
            catalog.sop_classes[uid] = {"uid": uid, "name": r["name"],
                                        "keyword": r["keyword"] or prior.get("keyword"),
                                        "retired": r["retired"], "source": p6.edition,
                                        "kind": "other" if r["type"] == "Meta SOP Class" else None}
        catalog.transfer_syntaxes = {u: {"uid": u, "name": r["name"], "retired": r["retired"],
                                         "source": p6.edition}
                                     for u, r in p6.uids.items() if r["type"] == "Transfer Syntax"}
        catalog.sources["attributes"] = catalog.sources["uids"] = p6.edition
        say(f"{p6.edition}: {len(p6.attributes):,} data elements, {len(sops)} SOP classes, "
            f"{len(catalog.transfer_syntaxes)} transfer syntaxes")
    if part03_path.exists():
        def keyword_of(tag: str) -> tuple[str | None, str | None]:
            row = catalog.attributes.get(tag)
            return (row.get("keyword"), row.get("vr")) if row else (None, None)

        p3 = read_part03(part03_path, keyword_of)
        found.append(p3.edition)
        for key, entry in p3.modules.items():
            if not entry["rows"]:
                continue
            catalog.add_module(key, entry["name"], p3.edition, entry["section"])
            catalog.modules[key].update({"name": entry["name"], "source": p3.edition})
            catalog.clear_module_contents(key)
            for path, tag, type_, cond in entry["rows"]:
                catalog.contains[(key, tag, path)] = {"type": type_, "condition": cond}
        for key, iod in p3.iods.items():
            catalog.clear_iod(key)
            catalog.iods[key] = {"key": key, "name": iod.name, "kind": iod.kind, "section": iod.section,
                                 "source": p3.edition}
            for row in iod.modules:
                catalog.add_module(row["module"], row["name"], p3.edition)
                catalog.include(key, row["module"], row["usage"], row["ie"], p3.edition, row["condition"])
        catalog.sources["iods"] = catalog.sources["modules"] = f"{p3.edition} (where it has tables)"
        say(f"{p3.edition}: {len(p3.iods)} IOD module tables, "
            f"{sum(1 for e in p3.modules.values() if e['rows'])} module attribute tables")
    keep = False
    if part04_path.exists():
        p4 = read_part04(part04_path, {u: r["name"] for u, r in catalog.sop_classes.items()},
                         catalog.dimse_services)
        found.append(p4.edition)
        by_section = {r["section"]: k for k, r in catalog.service_classes.items()}
        annex_key: dict[str, str] = {}
        for label, sc in p4.service_classes.items():
            key = by_section.get(sc["section"]) or curated.slugify(sc["name"])
            annex_key[label] = key
            catalog.service_classes[key] = {"key": key, "name": sc["name"], "section": sc["section"],
                                            "source": p4.edition}
        for uid, label in p4.sop_class_annex.items():
            if uid in catalog.sop_classes and label in annex_key:
                catalog.defines[uid] = annex_key[label]
        for uid, group in p4.groups.items():
            for k in [k for k in catalog.supports if k[0] == uid]:
                del catalog.supports[k]
            for dimse, (scu, scp) in group.items():
                catalog.supports[(uid, dimse)] = {"scu": scu, "scp": scp}
        catalog.sources["dimse"] = f"{p4.edition} DIMSE Service Group tables, else curated"
        catalog.sources["service_classes"] = f"{p4.edition}, else pynetdicom"
        keep = True
        say(f"{p4.edition}: {len(p4.service_classes)} service classes, {len(p4.sop_class_annex)} SOP class "
            f"UIDs placed, {len(p4.groups)} DIMSE service groups")
    if found:
        assign_sop_class_facts(catalog, package_sources(), keep_defines=keep, keep_supports=keep)
        catalog.prune()
        functional_groups.annotate(catalog)
    return found
