"""StandardCatalog: the DICOM Information Model as plain data, ready to become one GraphBatch.

Node rows are dicts of schema properties (each with its `source`); relationships are keyed maps.
Builders: packages.build_offline_catalog() (installed packages + curated tables) and
docbook.apply_docbook() (NEMA DocBook parts, overriding what they define).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ...model import schema
from ...model.batch import GraphBatch
from . import curated

RelRow = tuple[Any, Any, "dict[str, Any] | None"]  # (from key, to key, properties)

# label -> catalog attribute holding its rows (key -> props), in the order `standard load` reports them
NODE_TABLES = {
    "Attribute": "attributes",
    "SOPClass": "sop_classes",
    "TransferSyntax": "transfer_syntaxes",
    "IOD": "iods",
    "InformationEntity": "entities",
    "Module": "modules",
    "FunctionalGroupMacro": "macros",
    "ServiceClass": "service_classes",
    "DIMSEService": "dimse_services",
}
if set(NODE_TABLES) != set(schema.DEFINITION_LABELS):
    raise ImportError(f"the catalog holds {sorted(NODE_TABLES)}, "
                      f"the schema defines {sorted(schema.DEFINITION_LABELS)}")


@dataclass
class StandardCatalog:
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # tag -> props
    sop_classes: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> props
    transfer_syntaxes: dict[str, dict[str, Any]] = field(default_factory=dict)
    iods: dict[str, dict[str, Any]] = field(default_factory=dict)  # slug -> props
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    macros: dict[str, dict[str, Any]] = field(default_factory=dict)  # functional group macros
    service_classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    dimse_services: dict[str, dict[str, Any]] = field(default_factory=dict)
    defines: dict[str, str] = field(default_factory=dict)  # SOP class uid -> service class key
    uses_iod: dict[str, str] = field(default_factory=dict)  # SOP class uid -> IOD key
    has_entity: set[tuple[str, str]] = field(default_factory=set)  # (IOD key, IE key)
    includes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (iod, module)
    contains: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # (module, tag, path)
    uses_macro: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (iod, macro)
    supports: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (uid, DIMSE name)
    service_class_dimse: dict[str, set[str]] = field(default_factory=dict)  # pynetdicom: what the SCP handles
    sources: dict[str, str] = field(default_factory=dict)  # domain -> where it came from
    keyword_tags: dict[str, str] = field(default_factory=dict)  # keyword -> tag (for module tables)
    reports: dict[str, Any] = field(default_factory=dict)  # how vendored tables matched (for the summary)

    # --- building helpers ---------------------------------------------------------------------------
    def add_entity(self, name: str, source: str) -> str:
        key = curated.slugify(name)
        self.entities.setdefault(key, {"key": key, "name": name, "source": source})
        return key

    def add_module(self, key: str, name: str | None, source: str, section: str | None = None) -> str:
        row = self.modules.get(key)
        if row is None:
            row = self.modules[key] = {"key": key, "name": name or curated.display_name("Module", key),
                                       "source": source}
        if section:
            row["section"] = section
        return key

    def include(self, iod: str, module: str, usage: str, ie: str, source: str,
                condition: str | None = None) -> None:
        ie_key = self.add_entity(ie, source)
        self.has_entity.add((iod, ie_key))
        self.includes[(iod, module)] = {"usage": usage, "ie": ie, "condition": condition or None}

    def clear_module_contents(self, module: str) -> None:
        for k in [k for k in self.contains if k[0] == module]:
            del self.contains[k]

    def clear_iod(self, iod: str) -> None:
        for k in [k for k in self.includes if k[0] == iod]:
            del self.includes[k]
        self.has_entity = {p for p in self.has_entity if p[0] != iod}

    # --- reading ------------------------------------------------------------------------------------
    def keys(self, label: str) -> set[str]:
        return set(getattr(self, NODE_TABLES[label]))

    def rel_rows(self, rel_type: str) -> list[RelRow]:
        """The rows of one relationship type between definitions; its endpoints are the schema's."""
        return _REL_ROWS[rel_type](self)

    def rel_keys(self, rel_type: str) -> set[tuple]:
        """(from, to, identity values...) per row: what tells an edge a reload keeps from a stale one."""
        identity = schema.rel(rel_type).identity
        return {(a, b, *((props or {}).get(p) for p in identity)) for a, b, props in self.rel_rows(rel_type)}

    def counts(self) -> dict[str, int]:
        out = {label: len(getattr(self, attr)) for label, attr in NODE_TABLES.items()}
        out.update({rel_type: len(self.rel_rows(rel_type)) for rel_type in schema.DEFINITION_RELS})
        return out

    def iod_kind_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.iods.values():
            out[row["kind"]] = out.get(row["kind"], 0) + 1
        return out

    def prune(self) -> None:
        """Drop relationships whose endpoints the catalog does not define (after partial overrides)."""
        self.defines = {u: s for u, s in self.defines.items()
                        if u in self.sop_classes and s in self.service_classes}
        self.uses_iod = {u: i for u, i in self.uses_iod.items() if u in self.sop_classes and i in self.iods}
        self.includes = {k: v for k, v in self.includes.items() if k[0] in self.iods and k[1] in self.modules}
        self.has_entity = {p for p in self.has_entity if p[0] in self.iods and p[1] in self.entities}
        self.contains = {k: v for k, v in self.contains.items()
                         if k[0] in self.modules and k[1] in self.attributes}
        self.supports = {k: v for k, v in self.supports.items()
                         if k[0] in self.sop_classes and k[1] in self.dimse_services}
        self.uses_macro = {k: v for k, v in self.uses_macro.items() if k[0] in self.iods and k[1] in self.macros}

    # --- to the graph -------------------------------------------------------------------------------
    def batches(self, max_rows: int = 20000) -> Iterator[GraphBatch]:
        """The whole catalog as GraphBatches: nodes first, then relationships, in slices."""
        batch = GraphBatch()

        def full() -> bool:
            return batch.row_count() >= max_rows

        for label, attr in NODE_TABLES.items():
            for props in getattr(self, attr).values():
                batch.add_node(label, props)
                if full():
                    yield batch
                    batch = GraphBatch()
        for rel_type in schema.DEFINITION_RELS:
            from_label, to_label = schema.rel(rel_type).pairs[0]
            for from_key, to_key, props in self.rel_rows(rel_type):
                batch.add_rel(rel_type, from_label, from_key, to_label, to_key, props)
                if full():
                    yield batch
                    batch = GraphBatch()
        if batch:
            yield batch

    def to_batch(self) -> GraphBatch:
        out = GraphBatch()
        for b in self.batches(max_rows=10 ** 9):
            out.merge(b)
        return out


# relationship type -> its rows, for every relationship type between definitions the schema has
_REL_ROWS: dict[str, Callable[[StandardCatalog], list[RelRow]]] = {
    "DEFINES": lambda c: [(s, u, None) for u, s in sorted(c.defines.items())],
    "USES_IOD": lambda c: [(u, i, None) for u, i in sorted(c.uses_iod.items())],
    "HAS_ENTITY": lambda c: [(i, e, None) for i, e in sorted(c.has_entity)],
    "INCLUDES": lambda c: [(i, m, p) for (i, m), p in sorted(c.includes.items())],
    "CONTAINS": lambda c: [(m, t, {"path": path, **p}) for (m, t, path), p in sorted(c.contains.items())],
    "SUPPORTS": lambda c: [(u, d, p) for (u, d), p in sorted(c.supports.items())],
    "USES_MACRO": lambda c: [(i, m, p) for (i, m), p in sorted(c.uses_macro.items())],
}
if set(_REL_ROWS) != set(schema.DEFINITION_RELS):
    raise ImportError(f"the catalog holds {sorted(_REL_ROWS)}, "
                      f"the schema defines {sorted(schema.DEFINITION_RELS)}")
