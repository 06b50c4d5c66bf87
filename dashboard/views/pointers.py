"""Pointers: the reference graph around a study or an instance (SEG / RTSTRUCT / SR / KOS / PR -> their
sources; MPPS -> performed series), dangling pointers, normalized instances and what they point at."""

import pandas as pd
import streamlit as st

from dicom_graph.dashboard import graph

st.title("Pointers")
if graph.empty_notice():
    st.stop()


def draw(edges_df: pd.DataFrame, focus: str) -> None:
    if edges_df.empty:
        st.info("Nothing points from or to here.")
        return
    nodes: dict = {}
    edges = []
    for _, r in edges_df.iterrows():
        src = f"Instance:{r['source']}"
        nodes.setdefault(src, {"label": f"{r['source_modality'] or 'Instance'} {graph.short_uid(r['source'], 10)}",
                               "kind": r["source_modality"] or "Instance", "uid": r["source"],
                               "sop_class": r["source_sop_class"]})
        dst = f"{r['target_label']}:{r['target']}"
        kind = "not in graph" if r["target_stub"] else r["target_label"]
        nodes.setdefault(dst, {"label": f"{r['target_label']} {graph.short_uid(r['target'], 10)}", "kind": kind,
                               "uid": r["target"]})
        edges.append((src, dst, r["via"]))
    if focus in nodes:
        nodes[focus]["kind"] = "focus"
    chart = graph.graph_chart(nodes, edges, height=480)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    st.dataframe(edges_df, hide_index=True, width="stretch", height=240)


def described(description: object) -> str:
    """A study's description for the picker: a missing one is NaN in the frame, which is truthy, so
    `description or ...` printed "nan"."""
    return "(no description)" if pd.isna(description) or not description else str(description)


tab = st.segmented_control("View", ["Around a study", "Around an instance", "Dangling", "Normalized"],
                           default="Around a study", key="ptr_view", label_visibility="collapsed") \
    or "Around a study"

if tab == "Around a study":
    studies = graph.frame(graph.cached("studies_with_pointers", limit=200))
    if studies.empty:
        st.info("No instance in this graph points at another: ingest derived objects (SEG, RTSTRUCT, SR, KOS, "
                "PR) or MPPS to see their pointers.")
    else:
        labels = {r["study_uid"]: f"{described(r['description'])} · {r['pointers']} pointers · "
                                  f"{graph.short_uid(r['study_uid'], 20)}" for _, r in studies.iterrows()}
        study = st.selectbox("Study", list(labels), format_func=labels.__getitem__, key="ptr_study")
        draw(graph.frame(graph.run("pointers_around_study", study=study, limit=500)), f"Study:{study}")

elif tab == "Around an instance":
    uid = st.text_input("SOP Instance UID", key="ptr_uid").strip()
    if uid:
        draw(graph.frame(graph.run("pointers_around_instance", uid=uid, limit=500)), f"Instance:{uid}")

elif tab == "Dangling":
    summary = graph.frame(graph.cached("dangling_summary"))
    if summary.empty:
        st.success("No dangling pointer: everything referenced is in the graph.")
    else:
        st.caption("Pointers to instances, series or studies known only from the pointer (stubs): a later ingest "
                   "of the referenced files fills them in.")
        st.dataframe(summary, hide_index=True, width="stretch")
        df = graph.frame(graph.run("dangling_pointers", limit=5000))
        st.dataframe(df, hide_index=True, width="stretch")
        graph.download_buttons(df, "dangling-pointers", "dangling")

else:
    df = graph.frame(graph.run("normalized_instances", limit=1000))
    if df.empty:
        st.info("No normalized instance (MPPS, Storage Commitment, print, UPS, ...) yet: `dicom-graph listen` "
                "records them as they arrive, and `dicom-graph ingest` reads DICOM JSON / Part 10 copies.")
    else:
        st.dataframe(df, hide_index=True, width="stretch")
        labels = {r["sop_instance_uid"]: f"{r['sop_class']} · {graph.short_uid(r['sop_instance_uid'], 20)}"
                  for _, r in df.iterrows()}
        chosen = st.selectbox("Normalized instance", list(labels), format_func=labels.__getitem__, key="ptr_norm")
        draw(graph.frame(graph.run("pointers_around_instance", uid=chosen, limit=500)), f"Instance:{chosen}")
