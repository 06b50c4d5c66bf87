"""The analysts' Python API: the graph from a notebook, as pandas and networkx.

    import dicom_graph as dg
    g = dg.connect()                                   # same --db / NEO4J_* / DICOM_GRAPH_DB rules as the CLI
    g.query("example_derived_objects")                 # a named query, or any Cypher: a DataFrame
    g.query("example_thin_ct", max_thickness=1.0)      # parameters as keywords (`dicom-graph queries`)
    g.subgraph("pointers_graph_of_study", study=uid)   # nodes and relationships a query returns: a MultiDiGraph

It is a thin layer over the store the commands use, so a notebook, `dicom-graph query` and the dashboard
give the same answers: the same named queries, the same read path (read-only unless `connect(write=True)`;
what a read is is decided before the engine sees the statement). pandas and networkx are imported here
only, and this module only when `dicom_graph.connect` is first touched: `dicom-graph --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional

from dicom_graph.model.store import open_store
from dicom_graph.statement import resolve

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

    from dicom_graph.model.store import GraphStore, QueryResult

__all__ = ["Graph", "connect"]


def connect(db: Optional[str] = None, neo4j: Optional[str] = None, *, write: bool = False) -> "Graph":
    """Open the graph the CLI would open with the same --db / --neo4j (else NEO4J_URI, else DICOM_GRAPH_DB,
    else ./dicom-graph.db). Read-only unless write=True: a notebook must not change an archive by accident,
    and a read-only open never creates an empty graph from a mistyped path."""
    return Graph(open_store(str(db) if db else None, neo4j, read_only=not write, create=write), write=write)


class Graph:
    """One open graph. Close it (or use `with dg.connect() as g:`) to release the embedded file's lock."""

    def __init__(self, store: "GraphStore", *, write: bool = False) -> None:
        self.store = store
        self.write = write

    def __repr__(self) -> str:
        return f"<dicom_graph.Graph {self.store.describe()}{' (writable)' if self.write else ''}>"

    def __enter__(self) -> "Graph":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    def result(self, cypher_or_name: str, /, **params: Any) -> "QueryResult":
        """The engine's answer as rows (what `dicom-graph query` renders): a named query with its declared
        defaults, or Cypher given every `$name` it uses."""
        text, bound = resolve(cypher_or_name, params)
        return self.store.query(text(self.store.dialect), bound, write=self.write)

    def query(self, cypher_or_name: str, /, **params: Any) -> "pd.DataFrame":
        """A DataFrame of the rows, one column per RETURN column, typed (see `frame`)."""
        return frame(self.result(cypher_or_name, **params))

    def stats(self) -> dict[str, dict[str, int]]:
        """Node and relationship counts per label and type (`dicom-graph stats --json`)."""
        return self.store.stats()

    def subgraph(self, cypher_or_name: str, /, **params: Any) -> "nx.MultiDiGraph":
        """The nodes, relationships and paths a query returns, as a MultiDiGraph (see `to_networkx`)."""
        result = self.result(cypher_or_name, **params)
        return to_networkx(result.records())

    def to_networkx(self, rows: "pd.DataFrame | Iterable[dict[str, Any]]") -> "nx.MultiDiGraph":
        """Rows already fetched (a `query` DataFrame whose cells are nodes and relationships) as a graph."""
        return to_networkx(rows)


def frame(result: "QueryResult") -> "pd.DataFrame":
    """Rows to a DataFrame whose columns carry their types: dates as dates (an Arrow date column whose
    values are datetime.date), date-times as datetime64, integers as Int64 (nullable: a missing value
    stays missing, not 0 or NaN-as-float), booleans as boolean, text as string; lists stay lists and
    nodes stay dicts (object columns), so nothing is flattened or guessed."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for i, name in enumerate(result.columns):
        columns[name] = _typed([row[i] for row in result.rows])
    return pd.DataFrame(columns, columns=result.columns, index=pd.RangeIndex(len(result.rows)))


# one Python type in a column -> its pandas dtype; any other column stays object (lists, nodes, mixed)
_DTYPES = {dt.datetime: "datetime64[us]", bool: "boolean", int: "Int64", float: "float64", str: "string"}


def _typed(values: list[Any]) -> "pd.Series":
    import pandas as pd

    kinds = {type(v) for v in values if v is not None}
    if kinds == {int, float}:  # a numeric column some of whose rows are whole numbers
        kinds = {float}
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind is dt.date:
        import pyarrow as pa

        return pd.Series(values, dtype=pd.ArrowDtype(pa.date32()))
    return pd.Series(values, dtype=_DTYPES.get(kind, object) if kind else object)


def to_networkx(rows: "pd.DataFrame | Iterable[dict[str, Any]]") -> "nx.MultiDiGraph":
    """Every node, relationship and path found in the rows' cells (at any depth of lists), deduplicated by
    the engine's id: node attributes are its label (`label`) and properties, edge attributes its type
    (`label` too, as Gephi and Cytoscape read it: `type` is a property of CONTAINS) and properties, keyed
    by the relationship's id (parallel pointers stay parallel). An edge
    whose endpoints were not returned still gets them, as nodes without properties."""
    import networkx as nx
    import pandas as pd

    graph = nx.MultiDiGraph()
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else rows
    edges = []
    for record in records:
        for value in _entities(record.values()):
            if "_type" in value:
                edges.append(value)
            else:
                graph.add_node(value["_id"], label=value["_label"], **_props(value))
    for edge in edges:
        graph.add_edge(edge["_start"], edge["_end"], key=edge["_id"], label=edge["_type"], **_props(edge))
    return graph


def _entities(values: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Nodes and relationships (dicts the stores mark with `_id`) in a row's cells; paths are their parts."""
    for value in values:
        if isinstance(value, dict) and "_id" in value:
            yield value
        elif isinstance(value, dict) and set(value) == {"nodes", "relationships"}:
            yield from _entities(value["nodes"])
            yield from _entities(value["relationships"])
        elif isinstance(value, (list, tuple)):
            yield from _entities(value)


def _props(entity: dict[str, Any]) -> dict[str, Any]:
    """Properties only (the stores' `_label`, `_id`, ... markers left out; no schema property or DICOM
    keyword is named `label`); missing ones are not set at all, as in the graph."""
    return {k: v for k, v in entity.items() if not k.startswith("_") and v is not None}
