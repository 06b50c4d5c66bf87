"""Conformance: per SOP class and module, the share of instances complete; drill down to the failing
instances and export them as CSV."""

import altair as alt
import pandas as pd
import streamlit as st

from dicom_graph.dashboard import graph

st.title("Conformance")
if graph.empty_notice():
    st.stop()

by_class = graph.frame(graph.cached("conformance_by_sop_class"))
if by_class.empty:
    st.info("No instance has been checked against its IOD yet: conformance is derived at ingest time from the "
            "standard's definitions. Run `dicom-graph standard load`, then `dicom-graph ingest PATH` again.")
    st.stop()

by_class["complete %"] = (100.0 * by_class["complete"] / by_class["instances"]).round(1)
st.caption("An instance is complete when no mandatory module is missing and no required Type 1 / Type 2 "
           "attribute is absent (Type 1 also: not empty). 1C / 2C and C modules count where their condition can "
           "be evaluated; an undecidable condition is not evaluated, never a failure (`conformance_findings`).")
st.altair_chart(alt.Chart(by_class.head(25)).mark_bar().encode(
    x=alt.X("complete %:Q", scale=alt.Scale(domain=[0, 100])),
    y=alt.Y("sop_class:N", sort="-x", title=None),
    color=alt.Color("complete %:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 100]), legend=None),
    tooltip=["sop_class", "sop_class_uid", "instances", "complete", "complete %"]), width="stretch")
st.dataframe(by_class, hide_index=True, width="stretch")

labels = {r["sop_class_uid"]: f"{r['sop_class']} · {r['instances']:,} instances, {r['complete %']} % complete"
          for _, r in by_class.iterrows()}
sop = st.selectbox("SOP class", list(labels), format_func=labels.__getitem__, key="conf_sop")
row = by_class.loc[by_class["sop_class_uid"] == sop].iloc[0]
checked = int(row["instances"])

findings = graph.frame(graph.cached("conformance_by_module", sop_class=sop))
info = graph.run("sop_class_iod", sop_class=sop).records()
iod_key = info[0]["iod_key"] if info else None
modules = graph.frame(graph.run("iod_modules", iod=iod_key)) if iod_key else pd.DataFrame()
if modules.empty:
    table = pd.DataFrame(columns=["module", "ie", "usage"])
else:
    table = modules[["module", "ie", "usage"]].drop_duplicates("module")
if not findings.empty:
    pivot = findings.pivot_table(index="module", columns="finding", values="instances", aggfunc="sum").fillna(0)
    table = table.merge(pivot.reset_index(), on="module", how="outer")
for col in ("any", "modules_missing", "type1_missing", "type1_empty", "type2_missing"):
    table[col] = table[col].fillna(0).astype(int) if col in table else 0
table = table.rename(columns={"any": "instances failing"})
table["complete %"] = (100.0 * (checked - table["instances failing"]) / max(checked, 1)).round(1)
table = table.sort_values(["complete %", "module"]).reset_index(drop=True)
st.subheader(f"{row['sop_class']}: per module ({checked:,} instances checked)")
st.dataframe(table, hide_index=True, width="stretch")

module_options = ["(any module)"] + [m for m in table.loc[table["instances failing"] > 0, "module"].tolist()]
module = st.selectbox("Failing instances in module", module_options, key="conf_module")
chosen = "" if module == "(any module)" else module
drill = graph.frame(graph.run("conformance_failing", sop_class=sop, module=chosen, limit=5000))
st.subheader(f"Failing instances ({len(drill):,}{'+' if len(drill) >= 5000 else ''})")
st.dataframe(drill, hide_index=True, width="stretch")
if not drill.empty:
    st.download_button("Download CSV", drill.to_csv(index=False).encode(), mime="text/csv",
                       file_name=f"conformance-{sop}-{chosen or 'all'}.csv".replace(" ", "_"), key="conf_csv")

found = graph.frame(graph.cached("conformance_findings", sop_class=sop, limit=5000))
st.subheader(f"Findings, one per instance and attribute ({len(found):,}{'+' if len(found) >= 5000 else ''})")
st.caption("path is the enclosing sequence ('' at the top level); condition is the text that made a 1C / 2C "
           "attribute required. A condition that cannot be evaluated gives no finding: it is not evaluated.")
graph.findings_table(found)
