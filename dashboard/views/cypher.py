"""Cypher: an editor for analysts, with a library of the named queries marked as examples, parameters, a
row and a time limit, results as a table and as a graph, and CSV / JSON downloads.

Read-only twice over: the store only accepts statements made of read clauses (model/read_only, decided
before the engine sees them, since a read-only engine still runs CHECKPOINT, COPY TO, LOAD and LOAD
EXTENSION), and it is opened read-only."""

import json
from typing import Any

import pandas as pd
import streamlit as st

from dicom_graph.dashboard import graph
from dicom_graph.model import queries
from dicom_graph.model.store import QueryError, ReadOnlyError, StoreError
from dicom_graph.model.store.base import json_value

st.title("Cypher")
store = graph.store()
st.caption(f"Read-only on the {'embedded (LadybugDB)' if store.dialect == 'embedded' else 'Neo4j'} engine: "
           "only reads (MATCH, WITH, UNWIND, WHERE, RETURN, ... and the read procedures) are accepted. "
           "Property names are DICOM keywords "
           "(`Series.Modality`, `Instance.SliceThickness`). The example library runs on both engines.")

library = {q.name: q for q in sorted(queries.listed().values(), key=lambda q: q.title)}
NONE = "(write your own)"


def load_example() -> None:
    name = st.session_state["cy_example"]
    if name in library:
        q = library[name]
        st.session_state["cy_text"] = q.text(store.dialect)
        st.session_state["cy_params"] = json.dumps(q.editor_values(), default=str)


st.selectbox("Example library", [NONE, *library], key="cy_example", on_change=load_example,
             format_func=lambda n: n if n == NONE else f"{library[n].title} ({n})")
if st.session_state.get("cy_example") in library:
    st.caption(library[st.session_state["cy_example"]].description)
st.session_state.setdefault("cy_text", queries.get("example_studies_per_modality").text(store.dialect))
st.session_state.setdefault("cy_params", "{}")
text = st.text_area("Query", key="cy_text", height=160)
c1, c2, c3 = st.columns([3, 1, 1])
params_text = c1.text_input("Parameters (JSON object)", key="cy_params")
row_limit = c2.number_input("Row limit", min_value=1, max_value=100_000, value=1000, step=100, key="cy_rows")
time_limit = c3.number_input("Time limit (s)", min_value=1, max_value=600, value=30, key="cy_time")

if st.button("Run", type="primary", key="cy_run"):
    try:
        params = json.loads(params_text or "{}")
        if not isinstance(params, dict):
            raise ValueError("parameters must be a JSON object")
    except ValueError as exc:
        st.error(f"Parameters are not a JSON object: {exc}")
        st.stop()
    try:
        result = store.query(text, params, timeout_s=float(time_limit))
    except ReadOnlyError as exc:
        reason = str(exc).replace("; pass --write to change it", "")  # the dashboard has no --write
        st.error(f"{reason[:1].upper()}{reason[1:]}: the dashboard only reads (changes go through "
                 "`dicom-graph query --write`).")
        st.stop()
    except QueryError as exc:
        st.error(f"The engine rejected the query: {exc}")
        st.stop()
    except StoreError as exc:
        st.error(f"Query failed: {exc}")
        st.stop()
    st.session_state["cy_result"] = (result.columns, result.rows[: int(row_limit)], len(result.rows))

if "cy_result" in st.session_state:
    columns, rows, total = st.session_state["cy_result"]
    from dicom_graph.model.store import QueryResult

    result = QueryResult(list(columns), rows)
    st.caption(f"{total:,} rows" + (f", showing the first {len(rows):,}" if total > len(rows) else ""))
    nodes: dict = {}
    edges: list[tuple[Any, Any, str]] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict) and "_label" in value:
            nodes.setdefault(value["_id"], {"label": graph.node_caption(value), "kind": value["_label"]})
        elif isinstance(value, dict) and "_type" in value:
            edges.append((value["_start"], value["_end"], value["_type"]))
        elif isinstance(value, dict) and "nodes" in value and "relationships" in value:
            for item in value["nodes"] + value["relationships"]:
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for row in rows:
        for value in row:
            collect(value)
    table_tab, graph_tab = st.tabs(["Table", f"Graph ({len(nodes)} nodes)"])
    with table_tab:
        st.dataframe(graph.frame(result), hide_index=True, width="stretch")
    with graph_tab:
        chart = graph.graph_chart(nodes, edges) if nodes else None
        if chart is None:
            st.caption("Return nodes and relationships (e.g. `RETURN s, r, t`) to see them as a graph.")
        else:
            st.altair_chart(chart, width="stretch")
    df = pd.DataFrame([[json_value(v) for v in row] for row in rows], columns=list(columns))
    graph.download_buttons(df, "query", "cy_dl")
