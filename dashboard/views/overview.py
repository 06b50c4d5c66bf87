"""Overview: what the graph holds, charts of the data, recent ingest runs and associations."""

import altair as alt
import streamlit as st

from dicom_graph.dashboard import graph
from dicom_graph.model.queries.overview import left_out

st.title("Overview")
c = graph.counts()
cols = st.columns(5)
for col, (key, label) in zip(cols, [("patients", "Patients"), ("studies", "Studies"), ("series", "Series"),
                                    ("instances", "Instances"), ("sop_classes_in_use", "SOP classes in use")],
                                    strict=True):
    col.metric(label, f"{c.get(key, 0):,}")
note = left_out(c)
if note:  # the same words `dicom-graph demo` prints: the two must not seem to disagree
    st.caption(f"Patients are counted by Patient ID; {note}. `dicom-graph stats` counts every node.")

if not c.get("iods"):
    st.info("The standard is not loaded: run `dicom-graph standard load` to join the data with the "
            "standard's definitions (SOP classes, IODs, modules, conformance).")
if not graph.empty_notice():
    st.caption(f"{c.get('pointers', 0):,} pointers · {c.get('equipment', 0):,} pieces of equipment · "
               f"standard: {c.get('sop_classes_defined', 0):,} SOP classes, {c.get('iods', 0):,} IODs, "
               f"{c.get('modules', 0):,} modules, {c.get('attributes', 0):,} attributes")
    left, right = st.columns(2)
    with left:
        st.subheader("Instances by modality")
        df = graph.frame(graph.cached("instances_by_modality"))
        st.altair_chart(alt.Chart(df).mark_bar().encode(
            x=alt.X("instances:Q", title="instances"), y=alt.Y("modality:N", sort="-x", title=None),
            tooltip=["modality", "instances"]), width="stretch")
    with right:
        st.subheader("Instances by manufacturer")
        df = graph.frame(graph.cached("instances_by_manufacturer", limit=15))
        st.altair_chart(alt.Chart(df).mark_bar(color="#e45756").encode(
            x=alt.X("instances:Q", title="instances"), y=alt.Y("manufacturer:N", sort="-x", title=None),
            tooltip=["manufacturer", "instances"]), width="stretch")
    st.subheader("Instances by SOP class")
    df = graph.frame(graph.cached("sop_classes_in_use"))
    df["sop_class"] = df["name"].fillna(df["uid"])
    st.altair_chart(alt.Chart(df.head(25)).mark_bar(color="#54a24b").encode(
        x=alt.X("instances:Q", title="instances"), y=alt.Y("sop_class:N", sort="-x", title=None),
        tooltip=["sop_class", "uid", "instances"]), width="stretch")

conflicts = graph.frame(graph.cached("entity_conflicts"))
if not conflicts.empty:
    st.subheader(f"Entity conflicts ({len(conflicts):,})")
    st.caption("Attributes whose value differs between instances of one patient, study, series, piece of "
               "equipment or frame of reference; the entity keeps the smallest value (`kept`).")
    st.dataframe(conflicts, hide_index=True, width="stretch")

st.subheader("Recent ingest runs")
runs = graph.frame(graph.run("ingest_runs"))
if runs.empty:
    st.caption("No ingest run recorded yet: `dicom-graph ingest PATH` records one per run.")
else:
    st.dataframe(runs.head(10), hide_index=True, width="stretch")

st.subheader("Recent associations")
assoc = graph.frame(graph.run("network_associations", limit=10, ae=""))
if assoc.empty:
    st.caption("No association recorded: `dicom-graph listen` receives DICOM over the network and records "
               "every association.")
else:
    st.dataframe(assoc, hide_index=True, width="stretch")
