"""Network: application entities, associations over time, negotiated SOP classes and transfer syntaxes,
SCU / SCP roles, MPPS and storage commitment."""

import altair as alt
import pandas as pd
import streamlit as st

from dicom_graph.dashboard import graph

st.title("Network")
aes = graph.frame(graph.run("network_application_entities"))
assoc = graph.frame(graph.run("network_associations", limit=5000, ae=""))
if aes.empty and assoc.empty:
    st.info("No DICOM network activity recorded yet. Run `dicom-graph listen` (a Storage / MPPS / Storage "
            "Commitment SCP) and send to it, e.g. `python -m pynetdicom storescu 127.0.0.1 11112 FILE`.")
    st.stop()

cols = st.columns(4)
cols[0].metric("Application entities", len(aes))
cols[1].metric("Associations", len(assoc))
cols[2].metric("Rejected", int((assoc["result"] == "rejected").sum()) if not assoc.empty else 0)
cols[3].metric("DIMSE messages", int(assoc["messages"].fillna(0).sum()) if not assoc.empty else 0)

st.subheader("Application entities")
st.dataframe(aes, hide_index=True, width="stretch")

if not assoc.empty:
    st.subheader("Associations over time")
    over = assoc.copy()
    over["started_at"] = pd.to_datetime(over["started_at"])
    span = (over["started_at"].max() - over["started_at"].min()) if len(over) > 1 else pd.Timedelta(0)
    unit = "yearmonthdatehoursminutes" if span < pd.Timedelta(hours=6) else (
        "yearmonthdatehours" if span < pd.Timedelta(days=4) else "yearmonthdate")
    st.altair_chart(alt.Chart(over).mark_bar().encode(
        x=alt.X(f"{unit}(started_at):T", title=None), y=alt.Y("count():Q", title="associations"),
        color=alt.Color("result:N", scale=alt.Scale(domain=["accepted", "rejected"], range=["#4c78a8", "#e45756"])),
        tooltip=[alt.Tooltip(f"{unit}(started_at):T", title="time"), "result:N", "count():Q"]), width="stretch")
    st.dataframe(assoc, hide_index=True, width="stretch", height=260)

negotiated = graph.frame(graph.run("network_negotiated"))
st.subheader("Negotiated SOP classes and transfer syntaxes")
if negotiated.empty:
    st.caption("No presentation context accepted yet.")
else:
    left, right = st.columns(2)
    with left:
        st.altair_chart(alt.Chart(negotiated).mark_bar().encode(
            x=alt.X("sum(associations):Q", title="associations"),
            y=alt.Y("sop_class:N", sort="-x", title=None), color=alt.Color("role:N", title="calling AE role"),
            tooltip=["sop_class", "sop_class_uid", "role", "sum(associations)"]), width="stretch")
    with right:
        st.altair_chart(alt.Chart(negotiated).mark_bar().encode(
            x=alt.X("sum(associations):Q", title="associations"),
            y=alt.Y("transfer_syntax:N", sort="-x", title=None),
            tooltip=["transfer_syntax", "sum(associations)"]), width="stretch")
    st.dataframe(negotiated, hide_index=True, width="stretch")

with st.expander("Every proposed presentation context"):
    st.dataframe(graph.frame(graph.run("network_contexts", association="", limit=2000)), hide_index=True,
                 width="stretch")

MPPS_SHOWN = 500
mpps = graph.frame(graph.run("network_mpps", limit=MPPS_SHOWN))
st.subheader("Modality Performed Procedure Steps "
             + (f"(the newest {MPPS_SHOWN})" if len(mpps) >= MPPS_SHOWN else f"({len(mpps)})"))
if not mpps.empty:
    st.dataframe(mpps, hide_index=True, width="stretch")
commit = graph.frame(graph.run("network_commitments"))
st.subheader(f"Storage commitment ({len(commit)} instances)")
if not commit.empty:
    st.dataframe(commit, hide_index=True, width="stretch")
