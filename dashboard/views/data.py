"""Data: patients -> studies -> series -> instances, with filters; one instance's attributes grouped by the
modules of its IOD, its conformance flags and its pointers in and out."""

import datetime as dt

import pandas as pd
import streamlit as st

from dicom_graph.dashboard import graph
from dicom_graph.model import schema
from dicom_graph.model.store import StoreError
from dicom_graph.model.queries import browse

st.title("Data")
if graph.empty_notice():
    st.stop()

ANY = "(any)"
choices = graph.cached("filter_choices").records()


def options(kind: str) -> dict[str, str]:
    """label -> value for one filter, sorted by label."""
    rows = sorted((r for r in choices if r["filter"] == kind), key=lambda r: str(r["label"]))
    return {ANY: "", **{str(r["label"]): r["value"] for r in rows}}


# --- filters -----------------------------------------------------------------------------------------
with st.expander("Filters", expanded=True):
    c1, c2, c3 = st.columns(3)
    modalities, sop_classes, makers = options("modality"), options("sop_class"), options("manufacturer")
    modality = modalities[c1.selectbox("Modality", list(modalities), key="f_modality")]
    sop_class = sop_classes[c2.selectbox("SOP class", list(sop_classes), key="f_sop")]
    manufacturer = makers[c3.selectbox("Manufacturer", list(makers), key="f_maker")]
    d1, d2, d3, d4 = st.columns([1, 2, 2, 3])
    use_dates = d1.checkbox("Study dates", key="f_dates")
    date_from = d2.date_input("from", value=dt.date(2000, 1, 1), min_value=dt.date(1900, 1, 1),
                              disabled=not use_dates, key="f_from")
    date_to = d3.date_input("to", value=dt.date.today(), min_value=dt.date(1900, 1, 1),
                            disabled=not use_dates, key="f_to")
    attr = d4.text_input("Any attribute: Keyword=value", key="f_attr",
                         placeholder="e.g. SliceThickness=2.5, BodyPartExamined=CHEST, ImageType=AXIAL")

filters = {"modality": modality, "sop_class": sop_class, "manufacturer": manufacturer, "dates": use_dates,
           "date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "uids": []}

if attr.strip():
    keyword, _, raw = attr.partition("=")
    keyword, raw = keyword.strip(), raw.strip()
    try:
        query_name = browse.attribute_filter(keyword)
        type_ = schema.keyword_type(keyword) or schema.node("Instance").props[keyword]
        value = schema.coerce(raw, schema.LIST_ELEMENT_TYPE.get(type_, type_))
        uids = graph.run(query_name, value=value, limit=5000).column("sop_instance_uid")
        filters["uids"] = uids or ["(none)"]
        st.caption(f"{len(uids):,} instances have {keyword} matching {raw!r}"
                   + (" (the first 5,000 are used)" if len(uids) >= 5000 else ""))
    except (ValueError, KeyError) as exc:
        st.warning(f"Attribute filter ignored: {exc}")
    except StoreError as exc:  # the engine has no such property yet: no instance carries it
        st.warning(f"No instance has {keyword} ({str(exc).splitlines()[0][:160]})")
        filters["uids"] = ["(none)"]


def _text(value) -> str:
    """Values of many types in one column: as text (Arrow wants one type per column)."""
    value = graph._cell(value)
    return "" if value is None else str(value)


def pick(df: pd.DataFrame, label: str, column: str, caption, key: str):
    """A selectbox over a table's rows; returns the chosen row's `column` value (or None)."""
    if df.empty:
        return None
    values = df[column].tolist()
    labels = {v: caption(row) for v, (_, row) in zip(values, df.iterrows(), strict=True)}
    return st.selectbox(label, values, format_func=lambda v: labels.get(v, str(v)), key=key)


# --- the hierarchy -----------------------------------------------------------------------------------
unfiltered = not (modality or sop_class or manufacturer or use_dates or filters["uids"])
patients = graph.frame(graph.cached("browse_patients_unfiltered", limit=500) if unfiltered
                       else graph.cached("browse_patients", **filters, limit=500))
st.subheader(f"Patients ({len(patients):,}{'+' if len(patients) >= 500 else ''})")
without_id = int(patients["patient_id"].isna().sum()) if not patients.empty else 0
if without_id:  # why this list is longer than the Overview's figure, which counts Patient IDs
    st.caption(f"{without_id:,} of them have no Patient ID: each is one study's patient, never merged with "
               "another on a guess, and the Overview's patient count (by Patient ID) leaves them out.")
if patients.empty:
    st.info("No instance matches these filters.")
    st.stop()
st.dataframe(patients.drop(columns=["patient_key"]), hide_index=True, width="stretch", height=220)
patient = pick(patients, "Patient", "patient_key",
               lambda r: f"{r['patient_id'] or '(no ID)'} {r['patient_name'] or ''} · {r['studies']} studies",
               "d_patient")

studies = graph.frame(graph.cached("browse_studies", **filters, patient=patient))
st.subheader("Studies")
st.dataframe(studies, hide_index=True, width="stretch", height=180)
study = pick(studies, "Study", "study_uid",
             lambda r: f"{r['study_date'] or '(no date)'} {r['description'] or ''} · {graph.short_uid(r['study_uid'])}",
             "d_study")

if study:  # attributes its instances disagree on: the node keeps one value, these are all of them
    study_conflicts = graph.frame(graph.run("study_entity_conflicts", study=study))
    if not study_conflicts.empty:
        st.warning(f"{len(study_conflicts)} attributes differ between this study's instances "
                   "(the entity keeps the value in `kept`):")
        st.dataframe(study_conflicts, hide_index=True, width="stretch")

series = graph.frame(graph.run("browse_series", **filters, study=study or ""))
st.subheader("Series")
st.dataframe(series, hide_index=True, width="stretch", height=180)
one_series = pick(series, "Series", "series_uid",
                  lambda r: f"#{r['number'] if pd.notna(r['number']) else '?'} {r['modality'] or ''} "
                            f"{r['description'] or ''} · {r['instances']} instances", "d_series")

instances = graph.frame(graph.run("browse_instances", **filters, series=one_series or ""))
st.subheader("Instances")
st.dataframe(instances, hide_index=True, width="stretch", height=180)
uid = pick(instances, "Instance", "sop_instance_uid",
           lambda r: f"#{r['number'] if pd.notna(r['number']) else '?'} {graph.short_uid(r['sop_instance_uid'], 24)}",
           "d_instance")

# --- one instance --------------------------------------------------------------------------------------
if uid:
    rows = graph.run("instance_properties", uid=uid).records()
    if rows:
        row = rows[0]
        node = row["i"]
        st.header(f"Instance {uid}")
        st.markdown(f"SOP class **{row['sop_class'] or node.get('SOPClassUID')}** · IOD **{row['iod'] or '—'}**")
        flags = graph.run("instance_conformance", uid=uid).records()
        f = flags[0] if flags else {}
        if f.get("conformant") is None:
            st.info("Conformance not checked (the standard was not loaded when this instance was ingested).")
        elif f.get("conformant"):
            st.success("Complete: every mandatory module present, no Type 1 / Type 2 attribute missing or empty.")
        else:
            st.warning("Not complete: " + "; ".join(
                f"{name.replace('_', ' ')}: {', '.join(f[name])}" for name in
                ("modules_missing", "type1_missing", "type1_empty", "type2_missing") if f.get(name)))
        if f.get("undecided"):
            st.caption("Not evaluated (a condition that cannot be told on this instance, never a failure): "
                       + ", ".join(f["undecided"]))
        if f.get("conformant") is not None and not f.get("conformant"):
            with st.expander("Findings: attribute, module, type, problem, and the condition that made it required"):
                graph.findings_table(graph.frame(graph.run("conformance_findings", sop_instance_uid=uid, limit=5000)))
        props = {k: v for k, v in node.items() if not k.startswith("_")}
        layout = graph.run("iod_module_keywords", sop_class=row["sop_class_uid"] or "").records()
        used: set[str] = set()
        groups: list[tuple[str, bool, pd.DataFrame]] = []
        by_module: dict[tuple[str, str, str], list[dict]] = {}
        for r in layout:
            by_module.setdefault((r["ie"] or "", r["module"], r["usage"] or ""), []).append(r)
        # present or absent as conformance decided it (sequences count there, and are not stored as values)
        checked = f.get("conformant") is not None
        present = set(f.get("modules_present") or [])
        for (ie, module, usage), attrs in by_module.items():
            found = [{"keyword": a["keyword"], "tag": a["tag"], "type": a["type"],
                      "value": _text(props.get(a["keyword"]))}
                     for a in attrs if a["keyword"] in props]
            used.update(a["keyword"] for a in attrs)
            if found or usage == "M" or module in present:
                state = ("" if module in present else " — absent") if checked else ""
                groups.append((f"{ie} · {module} ({usage}){state}", module in present, pd.DataFrame(found)))
        for title, is_present, df in groups:
            with st.expander(title, expanded=False):
                if not df.empty:
                    st.dataframe(df, hide_index=True, width="stretch")
                elif is_present:
                    st.caption("present, by what is not stored as a value here: a sequence (its pointers are "
                               "REFERENCES edges) or an empty attribute")
                else:
                    st.caption("absent" if checked else "no values stored (conformance not checked)")
        rest = {k: v for k, v in props.items() if k not in used and k[:1].isupper()}
        book = {k: v for k, v in props.items() if not k[:1].isupper()}
        with st.expander(f"Other attributes ({len(rest)})" if layout else f"Attributes ({len(rest)})",
                         expanded=not layout):
            st.dataframe(pd.DataFrame([{"keyword": k, "value": _text(v)} for k, v in sorted(rest.items())]),
                         hide_index=True, width="stretch")
        with st.expander(f"Bookkeeping ({len(book)})"):
            st.dataframe(pd.DataFrame([{"property": k, "value": _text(v)} for k, v in sorted(book.items())]),
                         hide_index=True, width="stretch")
        out = graph.frame(graph.run("instance_references", uid=uid))
        into = graph.frame(graph.run("instance_referenced_by", uid=uid))
        left, right = st.columns(2)
        left.subheader(f"Points at ({len(out)})")
        left.dataframe(out, hide_index=True, width="stretch")
        right.subheader(f"Pointed at by ({len(into)})")
        right.dataframe(into, hide_index=True, width="stretch")
