"""Standard: search the definitions; service class -> SOP classes -> IOD -> modules -> attributes; where an
attribute is used; a SOP class's DIMSE services; two IODs compared; an IOD's neighbourhood as a graph."""

import pandas as pd
import streamlit as st
from pydicom.uid import CTImageStorage
from pynetdicom.sop_class import ModalityPerformedProcedureStep  # type: ignore[attr-defined]  # made at import

from dicom_graph.dashboard import graph

st.title("Standard")
if graph.empty_notice("standard"):
    st.stop()

VIEWS = ["Search", "Browse", "IOD", "Attribute", "DIMSE", "Compare"]
view = st.segmented_control("View", VIEWS, default="Search", key="std_view", label_visibility="collapsed") \
    or "Search"


def iods() -> pd.DataFrame:
    return graph.frame(graph.cached("iod_list"))


def pick_iod(label: str, key: str, default: str = "CT Image") -> tuple[str, str]:
    df = iods()
    names = df["name"].tolist()
    index = names.index(default) if default in names else 0
    name = st.selectbox(label, names, index=index, key=key)
    return str(df.loc[df["name"] == name, "key"].iloc[0]), name


def module_table(iod_key: str) -> pd.DataFrame:
    df = graph.frame(graph.run("iod_modules", iod=iod_key))
    if df.empty:
        return df
    df["condition"] = df["condition"].fillna("")  # only C rows have one: the others are blank, not "None"
    return df[["ie", "module", "usage", "condition", "module_key"]]


def attribute_tree(module_key: str) -> None:
    df = graph.frame(graph.run("module_attributes", module=module_key))
    if df.empty:
        st.caption("No attributes recorded for this module.")
        return
    df["depth"] = df["path"].fillna("").map(lambda p: 0 if not p else p.count(">") + 1)
    df["attribute"] = [("› " * d) + f"{k or n}" for d, k, n in zip(df["depth"], df["keyword"], df["name"], strict=True)]
    df["within"] = df["path"].fillna("")
    st.dataframe(df[["attribute", "tag", "type", "condition", "vr", "vm", "name", "within"]], hide_index=True,
                 width="stretch", height=420)


linked = st.query_params.get("module")  # a finding's link (Conformance and Data pages)
if linked:
    st.subheader(f"{linked}: attributes")
    st.caption("The module a finding links to; Type and, for 1C / 2C, the condition that makes it required.")
    attribute_tree(linked)


def iod_graph(iod_key: str, iod_name: str) -> None:
    """PS3.3 Figure 6-1, for one IOD: service classes -> SOP classes -> IOD -> entities -> modules."""
    hood = graph.run("iod_neighbourhood", iod=iod_key).records()
    modules = graph.run("iod_modules", iod=iod_key).records()
    nodes: dict = {f"iod:{iod_key}": {"label": iod_name, "kind": "IOD"}}
    edges = []
    for row in hood:
        if row["sop_class_uid"]:
            sid = f"sop:{row['sop_class_uid']}"
            nodes[sid] = {"label": row["sop_class"], "kind": "SOP class", "uid": row["sop_class_uid"],
                          "instances": row["instances"]}
            edges.append((sid, f"iod:{iod_key}", "USES_IOD"))
            if row["service_class_key"]:
                cid = f"sc:{row['service_class_key']}"
                nodes[cid] = {"label": row["service_class"], "kind": "Service class"}
                edges.append((cid, sid, "DEFINES"))
    for row in modules:
        ie = row["ie"] or "(no entity)"
        eid = f"ie:{ie}"
        nodes[eid] = {"label": ie, "kind": "Information entity"}
        edges.append((f"iod:{iod_key}", eid, "HAS_ENTITY"))
        mid = f"mod:{row['module_key']}"
        nodes[mid] = {"label": f"{row['module']} ({row['usage']})", "kind": "Module", "usage": row["usage"],
                      "group": ie}
        edges.append((eid, mid, f"INCLUDES {row['usage']}"))
    layers = {"Service class": 0, "SOP class": 1, "IOD": 2, "Information entity": 3, "Module": 4}
    chart = graph.graph_chart(nodes, edges, layout="layers", layers=layers, height=420)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
        st.caption("Laid out like PS3.3 Figure 6-1: service class → SOP class → IOD → information entity → "
                   "module (usage M/C/U). Scroll to zoom, drag to pan, hover for details.")


if view == "Search":
    text = st.text_input("Search by name, keyword, tag or UID", key="std_search",
                         placeholder=f"e.g. Modality, (0010,0020), {CTImageStorage}, CT Image")
    if text.strip():
        df = graph.frame(graph.run("standard_search", text=text.strip()))
        if df.empty:
            st.info(f"Nothing in the standard matches {text!r}.")
        else:
            st.caption(f"{len(df)} definitions match")
            st.dataframe(df, hide_index=True, width="stretch")

elif view == "Browse":
    classes = graph.frame(graph.cached("service_classes"))
    classes = classes[classes["sop_classes"] > 0]
    names = classes["name"].tolist()
    default = names.index("Storage Service Class") if "Storage Service Class" in names else 0
    sc_name = st.selectbox("Service class", names, index=default, key="std_sc")
    sc_key = classes.loc[classes["name"] == sc_name, "key"].iloc[0]
    sops = graph.frame(graph.run("sop_classes_of_service_class", service_class=sc_key))
    sop_names = sops["sop_class"].tolist()
    sop_default = sop_names.index("CT Image Storage") if "CT Image Storage" in sop_names else 0
    sop_name = st.selectbox(f"SOP class ({len(sops)} defined by this service class)", sop_names,
                            index=sop_default, key="std_sop")
    sop = sops.loc[sops["sop_class"] == sop_name].iloc[0]
    info = graph.run("sop_class_iod", sop_class=sop["uid"]).records()
    iod_key = info[0]["iod_key"] if info else None
    st.markdown(f"**{sop_name}** `{sop['uid']}` uses IOD **{info[0]['iod'] if iod_key else '—'}**")
    if iod_key:
        table = module_table(iod_key)
        st.subheader("Modules by information entity")
        st.dataframe(table, hide_index=True, width="stretch")
        if not table.empty:
            module = st.selectbox("Module", table["module"].tolist(), key="std_module")
            st.subheader(f"{module}: attributes")
            attribute_tree(table.loc[table["module"] == module, "module_key"].iloc[0])

elif view == "IOD":
    iod_key, iod_name = pick_iod("IOD", "std_iod")
    table = module_table(iod_key)
    st.subheader(f"{iod_name}: module table")
    st.dataframe(table, hide_index=True, width="stretch")
    st.subheader("Neighbourhood")
    iod_graph(iod_key, iod_name)
    if not table.empty:
        module = st.selectbox("Module", table["module"].tolist(), key="std_iod_module")
        attribute_tree(table.loc[table["module"] == module, "module_key"].iloc[0])

elif view == "Attribute":
    attribute = st.text_input("Attribute keyword or tag (GGGGEEEE)", value="PatientID", key="std_attr")
    if attribute.strip():
        key = attribute.strip().replace("(", "").replace(")", "").replace(",", "").replace(" ", "")
        key = key.upper() if len(key) == 8 and all(ch in "0123456789abcdefABCDEF" for ch in key) else key
        df = graph.frame(graph.run("attribute_usage", attribute=key))
        if df.empty:
            st.info(f"No module of the standard contains {attribute!r} (try a keyword such as `Modality`).")
        else:
            reach = graph.run("attribute_reach", attribute=key).records()[0]
            cols = st.columns(4)
            # the standard's own spelling (str.capitalize made "Iods" and "Sop classes")
            labels = [("modules", "Modules"), ("iods", "IODs"), ("sop_classes", "SOP classes"),
                      ("service_classes", "Service classes")]
            for col, (name, label) in zip(cols, labels, strict=True):
                col.metric(label, reach[name])
            st.dataframe(df[["module", "path", "type", "iod", "usage", "sop_class", "service_class"]],
                         hide_index=True, width="stretch")

elif view == "DIMSE":
    text = st.text_input("SOP class (UID, name or keyword)", value="Modality Performed Procedure Step SOP Class",
                         key="std_dimse")
    df = graph.frame(graph.run("sop_class_dimse", sop_class=text.strip()))
    if df.empty:
        st.info("No DIMSE services recorded for that SOP class (try a UID such as "
                f"{ModalityPerformedProcedureStep}).")
    else:
        first = df.iloc[0]
        st.markdown(f"**{first['sop_class']}** ({first['kind']}) in *{first['service_class']}*, IOD "
                    f"**{first['iod'] or '—'}**: DIMSE group **{first['dimse_group']}**")
        st.dataframe(df[["dimse", "dimse_group", "scu", "scp"]], hide_index=True, width="stretch")

elif view == "Compare":
    left, right = st.columns(2)
    with left:
        a_key, a_name = pick_iod("IOD A", "std_cmp_a", "CT Image")
    with right:
        b_key, b_name = pick_iod("IOD B", "std_cmp_b", "MR Image")
    df = graph.frame(graph.run("iod_compare", a=a_key, b=b_key))
    if df.empty:
        st.info("Neither IOD has modules recorded.")
    else:
        counts = df["side"].value_counts()
        shared, only_a, only_b = st.columns(3)
        shared.metric("Shared modules", int(counts.get("shared", 0)))
        only_a.metric(f"Only in {a_name}", int(counts.get("only_a", 0)))
        only_b.metric(f"Only in {b_name}", int(counts.get("only_b", 0)))
        df = df.rename(columns={"usage_a": f"usage in {a_name}", "usage_b": f"usage in {b_name}"})
        st.dataframe(df.drop(columns=["module_key"]), hide_index=True, width="stretch")
