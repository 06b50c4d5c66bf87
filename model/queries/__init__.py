"""Named queries: the only Cypher in dicom-graph, as data.

Every reader (dashboard pages, the CLI, the analysts' example library, the loaders' own look-ups) runs
queries by name. A query is written once in the Cypher subset both engines share; where the engines truly
differ, `variants` holds the text per dialect ("embedded" or "neo4j") and a test runs every read query on
both engines and compares the answers.

Like Datasette's canned queries, each query says who it is for (`visibility`) and declares its
parameters: a parameter is required, or has a default that means "no filter" or "a sensible cap" (never
a placeholder value). Registration refuses a query whose text uses a `$name` it does not declare, or
declares one its text does not use, so a caller can be told exactly what a query takes before the engine
sees it. Modules in this package each register the queries of one domain.
"""

from __future__ import annotations

import difflib
import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from .. import schema

if TYPE_CHECKING:
    from .errors import ParameterError


class Visibility(str, enum.Enum):
    """Who a query is for: what `dicom-graph queries` and the dashboard's Cypher page list, or not."""

    PUBLIC = "public"  # listed: a question users ask (counts, the standard, pointers, the network)
    EXAMPLE = "example"  # listed: the analysts' library, showing off the joined model
    INTERNAL = "internal"  # not listed: a loader's or the dashboard's plumbing (listed by `queries --all`)


class _Required:
    """The default of a parameter that has none (a sentinel, so None stays a possible default)."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Param:
    """A declared parameter. `example` only illustrates (listings, the Cypher editor); it is never bound."""

    name: str
    default: Any = REQUIRED
    example: Any = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def signature(self) -> str:
        return self.name if self.required else f"{self.name}={self.default!r}"


def required(**examples: Any) -> tuple[Param, ...]:
    """Required parameters, each with a value that illustrates it (None when nothing does)."""
    return tuple(Param(name, example=example) for name, example in examples.items())


def optional(**defaults: Any) -> tuple[Param, ...]:
    """Parameters with a default, bound whenever the caller leaves them out."""
    return tuple(Param(name, default=value) for name, value in defaults.items())


@dataclass(frozen=True)
class NamedQuery:
    name: str
    title: str
    cypher: str
    parameters: tuple[Param, ...] = ()
    description: str = ""
    variants: dict[str, str] = field(default_factory=dict)  # dialect -> text, where they differ
    visibility: Visibility = Visibility.PUBLIC
    write: bool = False  # a statement that changes the graph: loaders only, so always internal

    def text(self, dialect: str) -> str:
        return self.variants.get(dialect, self.cypher)

    def texts(self) -> dict[str, str]:
        return {"neo4j": self.cypher, **self.variants}

    @property
    def listed(self) -> bool:
        return self.visibility is not Visibility.INTERNAL

    def editor_values(self) -> dict[str, Any]:
        """Parameter -> a value to start from (its default, or the example of a required one): what the
        Cypher editor pre-fills; `bind` is what runs."""
        return {p.name: p.example if p.required else p.default for p in self.parameters}

    def signature(self) -> str:
        return ", ".join(p.signature() for p in self.parameters) or "no parameters"

    def bind(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters to send: the given ones plus the defaults of the others. Raises ParameterError
        naming what is unknown or missing, before any engine parses the text."""
        declared = {p.name: p for p in self.parameters}
        unknown = sorted(set(given) - set(declared))
        missing = [p.name for p in self.parameters if p.required and p.name not in given]
        if unknown or missing:
            problems = ([f"unknown parameter {', '.join(unknown)}"] if unknown else []) + (
                [f"missing parameter {', '.join(missing)}"] if missing else [])
            raise _parameter_error(f"{self.name}: {'; '.join(problems)}; it takes {self.signature()}")
        return {**{p.name: p.default for p in self.parameters if not p.required}, **given}


def _parameter_error(message: str) -> "ParameterError":
    from .errors import ParameterError  # errors needs the store package, which imports this one

    return ParameterError(message)


# string literals, quoted identifiers and comments: a `$` inside them is not a parameter
_NOT_CODE = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|//[^\n]*|/\*.*?\*/", re.S)
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def parameters_in(cypher: str) -> set[str]:
    """The `$names` a Cypher text uses (outside string literals, quoted identifiers and comments)."""
    return set(_PARAM.findall(_NOT_CODE.sub(" ", cypher)))


QUERIES: dict[str, NamedQuery] = {}


def register(*queries: NamedQuery) -> None:
    """Add queries to the registry, refusing any whose declared parameters are not what its text uses."""
    for q in queries:
        if q.name in QUERIES:
            raise ValueError(f"named query {q.name!r} registered twice")
        if q.write and q.visibility is not Visibility.INTERNAL:
            raise ValueError(f"named query {q.name!r} writes, so it must be internal")
        declared = [p.name for p in q.parameters]
        if len(set(declared)) != len(declared):
            raise ValueError(f"named query {q.name!r} declares a parameter twice: {declared}")
        for dialect, text in q.texts().items():
            used = parameters_in(text)
            if used != set(declared):
                raise ValueError(
                    f"named query {q.name!r} ({dialect}) uses {sorted(used)} but declares {sorted(declared)}")
        QUERIES[q.name] = q


def get(name: str) -> NamedQuery:
    """A query by name; an unknown name raises UnknownQuery (a KeyError) suggesting the nearest names."""
    _load_all()
    try:
        return QUERIES[name]
    except KeyError:
        from .errors import UnknownQuery

        raise UnknownQuery(unknown_message(name)) from None


def unknown_message(name: str) -> str:
    near = difflib.get_close_matches(name, list(QUERIES), n=3)
    hint = f"did you mean {' or '.join(near)}?" if near else "`dicom-graph queries` lists them"
    return f"no named query {name}; {hint}"


def all_queries() -> dict[str, NamedQuery]:
    _load_all()
    return dict(QUERIES)


def listed() -> dict[str, NamedQuery]:
    """The queries shown to users (public and example), by name."""
    return {n: q for n, q in all_queries().items() if q.listed}


# --- helpers the domain modules share ----------------------------------------------------------------

def has_label(var: str, label: str, dialect: str) -> str:
    """A label test on a node of a multi-label pattern: `label(t)` in ladybug (where `labels(t)` is a
    string), `t:Label` in Neo4j."""
    return f"label({var}) = '{label}'" if dialect == "embedded" else f"{var}:{label}"


def dialects(build: Callable[[str], str]) -> dict[str, Any]:
    """`cypher` (Neo4j's text) and `variants` for a query built per dialect by `build(dialect)`."""
    return {"cypher": build("neo4j"), "variants": {"embedded": build("embedded")}}


def union_all(branches: Iterable[str]) -> str:
    return "\nUNION ALL\n".join(branches)


def reference_targets() -> tuple[tuple[str, str], ...]:
    """(label, key) of every kind of node a REFERENCES edge can point at, as the schema declares them."""
    return tuple((target, schema.node(target).key) for _source, target in schema.rel("REFERENCES").pairs)


def _load_all() -> None:
    # imported for their registrations; each module owns one domain's queries
    from . import (browse, conformance, entities, examples, ingest, network, overview,  # noqa: F401
                   pointers, standard)
