"""GraphBatch: the rows one write puts into the graph, engine-neutral.

Loaders produce batches, stores consume them. A batch is plain data (picklable, so worker processes
can build them) and already typed: every property is coerced to the schema's type when added.

Three kinds of rows:
- nodes: upserted on their key; the given properties are set, properties not given (or None) are left
  as they are, and the node stops being a stub;
- stubs: nodes known only from a pointer; created with `stub: true` if missing, never overwriting;
- relationships: upserted on (from, to, identity properties). Both endpoints are stubbed by the batch
  itself, so an edge can never be lost to a node that is not (yet) in the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import schema

RelGroup = tuple[str, str, str]  # (type, from label, to label)


@dataclass
class GraphBatch:
    nodes: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    stubs: dict[str, set[Any]] = field(default_factory=dict)
    rels: dict[RelGroup, dict[tuple, dict[str, Any]]] = field(default_factory=dict)

    def add_node(self, label: str, props: dict[str, Any]) -> Any:
        """Upsert a node; rows for the same key within a batch are combined, later values winning."""
        node_type = schema.node(label)
        key = props.get(node_type.key)
        if key in (None, ""):
            raise ValueError(f"{label} row without its key {node_type.key!r}")
        typed = {k: v for k, v in schema.coerce_props(label, props).items() if v is not None}
        existing = self.nodes.setdefault(label, {}).get(key)
        if existing is None:
            self.nodes[label][key] = typed
        else:
            existing.update(typed)
        return key

    def add_stub(self, label: str, key: Any) -> None:
        schema.node(label)
        if key in (None, ""):
            raise ValueError(f"{label} stub without a key")
        self.stubs.setdefault(label, set()).add(key)

    def add_rel(self, rel_type: str, from_label: str, from_key: Any, to_label: str, to_key: Any,
                props: dict[str, Any] | None = None) -> None:
        definition = schema.rel(rel_type)
        if (from_label, to_label) not in definition.pairs:
            raise ValueError(f"{rel_type} does not go from {from_label} to {to_label}")
        typed = {k: schema.coerce(v, schema.rel_property_type(rel_type, k))
                 for k, v in (props or {}).items() if v is not None}
        missing = [p for p in definition.identity if p not in typed]
        if missing:  # MERGE cannot match on a null, so identity properties are required
            raise ValueError(f"{rel_type} row without its identity properties {missing}")
        identity = tuple(typed[p] for p in definition.identity)
        self.add_stub(from_label, from_key)
        self.add_stub(to_label, to_key)
        group = self.rels.setdefault((rel_type, from_label, to_label), {})
        row_key = (from_key, to_key, *identity)
        existing = group.get(row_key)
        if existing is None:
            group[row_key] = {"from": from_key, "to": to_key, **typed}
        else:
            existing.update(typed)

    def merge(self, other: "GraphBatch") -> None:
        """Fold another batch into this one (the writer combines the workers' batches)."""
        for label, rows in other.nodes.items():
            _fold(self.nodes.setdefault(label, {}), rows)
        for label, keys in other.stubs.items():
            self.stubs.setdefault(label, set()).update(keys)
        for group, rel_rows in other.rels.items():
            _fold(self.rels.setdefault(group, {}), rel_rows)

    def node_rows(self, label: str) -> list[dict[str, Any]]:
        return list(self.nodes.get(label, {}).values())

    def stub_keys(self, label: str) -> list[Any]:
        """Stub keys not already written as full nodes in this same batch."""
        full = self.nodes.get(label, {})
        return sorted(k for k in self.stubs.get(label, ()) if k not in full)

    def rel_rows(self, group: RelGroup) -> list[dict[str, Any]]:
        return list(self.rels.get(group, {}).values())

    def row_count(self) -> int:
        return (sum(len(r) for r in self.nodes.values()) + sum(len(s) for s in self.stubs.values())
                + sum(len(r) for r in self.rels.values()))

    def __bool__(self) -> bool:
        return self.row_count() > 0


def _fold(mine: dict[Any, dict[str, Any]], theirs: dict[Any, dict[str, Any]]) -> None:
    """Rows keyed alike: a row both have gets the other's properties on top; a new row is copied."""
    for key, props in theirs.items():
        if key in mine:
            mine[key].update(props)
        else:
            mine[key] = dict(props)
