"""The dashboard's one way to the graph: a cached read-only store, refreshed at most every few seconds.

Where the graph is comes from the command line (`dicom-graph dashboard --db PATH | --neo4j URI` passes it
as script arguments after `--`) or from the environment (DICOM_GRAPH_DB, NEO4J_URI and the other NEO4J_*
variables). Pages never see an engine: they call `run(name, **params)` with a named query of model/.

The embedded engine gives a read-only process a snapshot as of its open, renewed when a writer's
checkpoint rewrites the graph file; commits that are still in the WAL need a reopen, so `run()` calls
`store.refresh()` when the last refresh is older than REFRESH_S: what `ingest` or `listen` commit shows
up within seconds, without reopening on every query.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd
import streamlit as st

from dicom_graph.model import schema
from dicom_graph.model.store import GraphNotFound, GraphStore, QueryResult, StoreError, open_store
from dicom_graph.model.store.base import json_value

REFRESH_S = float(os.environ.get("DICOM_GRAPH_DASHBOARD_REFRESH_S", "5"))

RUN_HINT = ("`dicom-graph standard load` (the standard's definitions), then `dicom-graph ingest PATH` "
            "(your DICOM files), or `dicom-graph demo` for a sample")


@dataclass(frozen=True)
class Target:
    db: str | None
    neo4j: str | None

    def describe(self) -> str:
        if self.neo4j:
            return self.neo4j
        from dicom_graph.model.store import default_db_path

        return os.path.abspath(self.db or default_db_path())


def target() -> Target:
    """Where the graph is: script arguments after `--` win over the environment."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    parser.add_argument("--neo4j")
    args, _ = parser.parse_known_args(sys.argv[1:])
    neo4j = args.neo4j or (None if args.db else os.environ.get("NEO4J_URI")) or None
    db = args.db or (None if neo4j else os.environ.get("DICOM_GRAPH_DB")) or None
    return Target(db=db, neo4j=neo4j)


@dataclass
class Holder:
    store: GraphStore
    refreshed_at: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def maybe_refresh(self, force: bool = False) -> None:
        if self.store.dialect != "embedded":
            return  # a server sees every commit already
        with self.lock:
            if force or time.monotonic() - self.refreshed_at >= REFRESH_S:
                self.store.refresh()
                self.refreshed_at = time.monotonic()


@st.cache_resource(show_spinner=False)
def _holder(db: str | None, neo4j: str | None) -> Holder:
    graph = open_store(db, neo4j, read_only=True)
    graph.prewarm()  # the first views then read memory, not a cold disk (model/store/page_cache.py)
    return Holder(graph)


def holder() -> Holder:
    """The shared store, or a message saying what to run and a stop (the page shows nothing else)."""
    where = target()
    try:
        return _holder(where.db, where.neo4j)
    except GraphNotFound:
        st.warning(f"**There is no graph at `{where.describe()}` yet.**\n\n"
                   f"Create one with {RUN_HINT}; this page picks it up on the next reload.")
        st.stop()
    except StoreError as exc:
        st.error(f"Cannot open the graph: {exc}")
        st.stop()
    raise AssertionError("unreachable")


def store() -> GraphStore:
    h = holder()
    h.maybe_refresh()
    return h.store


def refresh_now() -> None:
    holder().maybe_refresh(force=True)
    st.cache_data.clear()


def run(name: str, **params: Any) -> QueryResult:
    """Run a named query; the store binds its declared defaults and refuses what it does not declare."""
    return store().run(name, **params)


@st.cache_data(ttl=REFRESH_S, show_spinner=False)
def _cached(where: Target, name: str, params: tuple) -> tuple[list[str], list[list[Any]]]:
    result = run(name, **{k: list(v) if isinstance(v, tuple) else v for k, v in params})
    return result.columns, result.rows


def cached(name: str, **params: Any) -> QueryResult:
    """Like run(), for the heavier aggregate queries: shared by every session for REFRESH_S seconds."""
    frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
    columns, rows = _cached(target(), name, frozen)
    return QueryResult(list(columns), [list(r) for r in rows])


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def frame(result: QueryResult, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A result as a DataFrame fit for st.dataframe: lists joined, nodes summarized."""
    rows = [[_cell(v) for v in row] for row in result.rows]
    df = pd.DataFrame(rows, columns=result.columns)
    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    return df


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        if "_label" in value:
            return f"({value['_label']} {node_caption(value)})"
        if "_type" in value:
            return f"[{value['_type']}]"
        return str(json_value(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_cell(v)) for v in value)
    return value


# where a node's key is a hash, a slug or a tag, people know it by another property
_CAPTIONS = {"Patient": "PatientID", "Equipment": "Manufacturer", "ApplicationEntity": "ae_title",
             "Attribute": "keyword"}


def caption_property(label: str) -> str | None:
    """The property a node of this label is shown by: an override above, else its name, else its key."""
    node_type = schema.NODES.get(label)
    if node_type is None:
        return None
    return _CAPTIONS.get(label) or ("name" if "name" in node_type.props else node_type.key)


def node_caption(node: dict[str, Any]) -> str:
    label = node.get("_label", "")
    node_type = schema.NODES.get(label)
    for prop in (caption_property(label), "name", node_type.key if node_type else None):
        if prop and node.get(prop) not in (None, ""):
            return str(node[prop])
    return str(node.get("_id", ""))


def short_uid(uid: str | None, keep: int = 14) -> str:
    if not uid:
        return ""
    return uid if len(uid) <= keep + 1 else "…" + uid[-keep:]


def counts() -> dict[str, int]:
    """Headline counts: data_counts (patients, studies, series, instances) and dashboard_status."""
    out: dict[str, int] = {}
    data = cached("data_counts")
    if data.rows:
        out.update({k: int(v or 0) for k, v in data.records()[0].items()})
    for row in cached("dashboard_status").records():
        out[row["what"]] = int(row["n"] or 0)
    return out


def empty_notice(what: str = "data") -> bool:
    """Say what to run when the graph holds no data (or no standard); True when it is empty."""
    c = counts()
    if what == "standard":
        if not c.get("iods"):
            st.info("The standard is not loaded in this graph yet. Run `dicom-graph standard load` "
                    "(no network needed), then reload.")
            return True
        return False
    if not c.get("instances"):
        st.info(f"**This graph holds no DICOM data yet.** Run {RUN_HINT}.")
        return True
    return False


def sidebar() -> None:
    """Where the graph is, and a refresh button."""
    where = target()
    with st.sidebar:
        st.caption(f"Graph: `{where.describe()}` ({'Neo4j' if where.neo4j else 'embedded'}, read-only)")
        if st.button("Refresh", help=f"Reopen the graph to see new commits (done automatically every "
                                     f"{REFRESH_S:g} s)", key="_refresh"):
            refresh_now()


# --- drawing graphs: networkx for layout, altair (vega-lite, bundled with Streamlit) for display -----

LABEL_CHARS = 34  # a caption longer than this is cut with an ellipsis on the chart (whole in the tooltip)
ROW_PX = 22  # vertical room per node of the fullest layer: an 11 px label and its gap


def graph_chart(nodes: dict[str, dict[str, Any]], edges: list[tuple[str, str, str]],
                layout: str = "spring", height: int = 520, layers: dict[str, int] | None = None):
    """An interactive (zoom, pan, tooltips) node-link chart that needs no network at run time.

    nodes: id -> {"label": caption, "kind": colour group, **tooltip fields}; edges: (src, dst, label).
    layout: "spring", or "layers" with `layers` mapping a kind to a column (PS3.3 Figure 6-1 style).
    Labels sit right of their point, so the layered x axis keeps room right of the last column for its
    labels, and the height grows with the fullest column: no label is clipped or drawn over another.
    """
    import altair as alt
    import networkx as nx

    g = nx.DiGraph()
    for node_id, attrs in nodes.items():
        g.add_node(node_id, **attrs)
    for src, dst, label in edges:
        if src in nodes and dst in nodes:
            g.add_edge(src, dst, label=label)
    if not g.number_of_nodes():
        return None
    x_domain = None
    if layout == "layers" and layers:
        pos, rows = _layered(g, layers)
        height = max(height, ROW_PX * rows + 60)
        last = max(x for x, _y in pos.values())
        x_domain = [-0.1, last + 1.25]  # a column's width again and a quarter for the last labels
    else:
        pos = nx.spring_layout(g, seed=7, k=1.2 / max(1, g.number_of_nodes()) ** 0.5)
    node_rows = [{"id": n, "x": float(pos[n][0]), "y": float(pos[n][1]),
                  **{k: ("" if v is None else str(v)) for k, v in attrs.items() if k != "layer"}}
                 for n, attrs in g.nodes(data=True)]
    for row in node_rows:
        text = row.get("label", "")
        row["caption"] = text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"
    edge_rows = [{"x": float(pos[a][0]), "y": float(pos[a][1]), "x2": float(pos[b][0]), "y2": float(pos[b][1]),
                  "label": d.get("label", "") or "", "from": g.nodes[a].get("label", a),
                  "to": g.nodes[b].get("label", b)} for a, b, d in g.edges(data=True)]
    tooltip_fields = sorted({k for r in node_rows for k in r} - {"x", "y", "id", "caption"})
    axis = alt.Axis(title=None, labels=False, ticks=False, grid=False, domain=False)
    x_scale = alt.Scale(domain=x_domain, zero=False, nice=False) if x_domain else \
        alt.Scale(zero=False, nice=False, padding=40)
    y_scale = alt.Scale(zero=False, nice=False, padding=20 if x_domain else 40)
    x, y = alt.X("x:Q", axis=axis, scale=x_scale), alt.Y("y:Q", axis=axis, scale=y_scale)
    edges_layer = alt.Chart(pd.DataFrame(edge_rows or [{"x": 0, "y": 0, "x2": 0, "y2": 0, "label": "",
                                                         "from": "", "to": ""}])).mark_rule(
        color="#9aa5b1", opacity=0.7).encode(x=x, y=y, x2="x2:Q", y2="y2:Q", tooltip=["from:N", "label:N", "to:N"])
    base = alt.Chart(pd.DataFrame(node_rows))
    points = base.mark_circle(size=180 if x_domain else 260, opacity=0.95, stroke="white", strokeWidth=1).encode(
        x=x, y=y, color=alt.Color("kind:N", legend=alt.Legend(title=None, orient="bottom")),
        tooltip=[f"{f}:N" for f in tooltip_fields])
    labels = base.mark_text(align="left", baseline="middle", dx=9, dy=0, fontSize=11).encode(
        x=x, y=y, text="caption:N", tooltip=[f"{f}:N" for f in tooltip_fields])
    chart = edges_layer + points + labels if len(node_rows) <= 40 or x_domain else edges_layer + points
    return chart.properties(height=height).interactive()


def _layered(g: Any, layers: dict[str, int]) -> tuple[dict[str, tuple[float, float]], int]:
    """Positions in columns by kind, each column spread over the same height and sorted by group, then
    caption; and the node count of the fullest column (what the height must make room for)."""
    by_layer: dict[int, list[str]] = {}
    for node_id, attrs in g.nodes(data=True):
        by_layer.setdefault(layers.get(attrs.get("kind", ""), max(layers.values()) + 1), []).append(node_id)
    pos: dict[str, tuple[float, float]] = {}
    for column, layer in enumerate(sorted(by_layer)):
        members = sorted(by_layer[layer], key=lambda n: (str(g.nodes[n].get("group", "")),
                                                       str(g.nodes[n].get("label", ""))))
        for rank, node_id in enumerate(members):
            pos[node_id] = (float(column), 0.5 if len(members) == 1 else 1 - rank / (len(members) - 1))
    return pos, max(len(ids) for ids in by_layer.values())


def findings_table(df: pd.DataFrame) -> None:
    """Findings (conformance_findings rows) with the condition that made each attribute required, and a
    link to the finding's module in the Standard page, which opens that module's attributes from `?module=`."""
    from urllib.parse import quote

    if not df.empty:
        df = df.assign(standard="./standard?module=" + df["module"].fillna("").map(quote))
    st.dataframe(df, hide_index=True, width="stretch", column_config={
        "standard": st.column_config.LinkColumn("module in the standard", display_text="open")})


def download_buttons(df: pd.DataFrame, stem: str, key: str) -> None:
    """CSV and JSON downloads of a table."""
    import json

    cols = st.columns(2)
    cols[0].download_button("Download CSV", df.to_csv(index=False).encode(), file_name=f"{stem}.csv",
                            mime="text/csv", key=f"{key}_csv")
    records = [{k: json_value(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
    cols[1].download_button("Download JSON", json.dumps(records, ensure_ascii=False, default=str).encode(),
                            file_name=f"{stem}.json", mime="application/json", key=f"{key}_json")
