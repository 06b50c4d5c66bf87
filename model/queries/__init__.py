"""Named queries: the only Cypher in dicom-graph.

Every reader (dashboard pages, the CLI, the analysts' example library) runs queries by name. A query is
written once in the Cypher subset both engines share; where the engines truly differ, `variants` holds
the text per dialect ("embedded" or "neo4j") and the contract tests compare the answers of both.
Modules in this package each register the queries of one domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NamedQuery:
    name: str
    title: str
    cypher: str
    params: dict[str, Any] = field(default_factory=dict)  # parameter -> example / default value
    description: str = ""
    variants: dict[str, str] = field(default_factory=dict)  # dialect -> text, where they differ
    example: bool = False  # offered in the dashboard's Cypher library
    write: bool = False  # a statement that changes the graph (loaders only)

    def text(self, dialect: str) -> str:
        return self.variants.get(dialect, self.cypher)


QUERIES: dict[str, NamedQuery] = {}


def has_label(var: str, label: str, dialect: str) -> str:
    """A label test on a node of a multi-label pattern: `label(t)` in ladybug (where `labels(t)` is a
    string), `t:Label` in Neo4j."""
    return f"label({var}) = '{label}'" if dialect == "embedded" else f"{var}:{label}"


def dialects(build: Any) -> dict[str, Any]:
    """`cypher` (Neo4j's text) and `variants` for a query built per dialect by `build(dialect)`."""
    return {"cypher": build("neo4j"), "variants": {"embedded": build("embedded")}}


def register(*queries: NamedQuery) -> None:
    for q in queries:
        if q.name in QUERIES:
            raise ValueError(f"named query {q.name!r} registered twice")
        QUERIES[q.name] = q


def get(name: str) -> NamedQuery:
    _load_all()
    try:
        return QUERIES[name]
    except KeyError:
        raise KeyError(f"no named query {name!r}") from None


def all_queries() -> dict[str, NamedQuery]:
    _load_all()
    return dict(QUERIES)


def _load_all() -> None:
    # imported for their registrations; each module owns one domain's queries
    from . import data, network, overview, standard  # noqa: F401
