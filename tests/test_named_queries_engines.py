"""Every read query, on both engines, over one graph: the standard, pydicom's test files, an MPPS that
points at one of them and a little network activity. The answers of the two engines must be equal.

Parametrized over the registry itself, so a query added tomorrow is run and compared without anyone
listing it here. Parameters come from the graph (a study that has pointers, a SOP class in use, its
IOD...), found through the named queries, so every query is asked something the data can answer.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Iterator

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # the constants are made at import
    ModalityPerformedProcedureStep, StorageCommitmentPushModel)

from dicom_graph.loader.standard.load import load_standard
from dicom_graph.model import queries
from dicom_graph.model.batch import GraphBatch
from dicom_graph.model.queries import browse
from dicom_graph.model.store import GraphStore
from dicom_graph.model.store.base import plain

from .conftest import ENGINES, make_store

from dicom_graph.loader.ingest import run_ingest

ANY_ATTRIBUTE = browse.attribute_filter("Modality")  # the data browser's per-keyword family, one member
READ_QUERIES = sorted(name for name, q in queries.all_queries().items() if not q.write)
EVERYTHING = 1_000_000  # as limit: the whole answer, so ties at a cut cannot make the engines differ
VOLATILE = {"elapsed_s", "files_per_s"}  # how long an ingest took: differs between any two runs
MPPS_UID = "1.2.826.0.1.3680043.8.498.777002"
COMMITMENT_UID = "1.2.826.0.1.3680043.8.498.777003"


def _ct_small() -> str:
    path = get_testdata_file("CT_small.dcm")
    assert isinstance(path, str), "pydicom's test files are not installed"
    return path


def _uid(value: str) -> dict:
    return {"vr": "UI", "Value": [value]}


def _mpps_json(folder: Path) -> Path:
    """A completed MPPS (DICOM JSON) whose performed series holds pydicom's CT_small."""
    ct = pydicom.dcmread(_ct_small(), stop_before_pixels=True)
    doc = {
        "00080016": _uid(ModalityPerformedProcedureStep), "00080018": _uid(MPPS_UID),
        "00400252": {"vr": "CS", "Value": ["COMPLETED"]},
        "00400270": {"vr": "SQ", "Value": [{"0020000D": _uid(ct.StudyInstanceUID)}]},
        "00400340": {"vr": "SQ", "Value": [{
            "0020000E": _uid(ct.SeriesInstanceUID),
            "00081140": {"vr": "SQ", "Value": [{"00081150": _uid(ct.SOPClassUID),
                                                "00081155": _uid(ct.SOPInstanceUID)}]}}]},
    }
    folder.mkdir()
    (folder / "mpps.json").write_text(json.dumps([doc]))
    return folder


def _network_activity(ct_uid: str) -> GraphBatch:
    """What the listener records for one association, and a storage commitment of CT_small."""
    started = dt.datetime(2026, 1, 2, 3, 4, 5)
    batch = GraphBatch()
    batch.add_node("ApplicationEntity", {"key": "MODALITY@127.0.0.1", "ae_title": "MODALITY", "address": "127.0.0.1"})
    batch.add_node("ApplicationEntity", {"key": "DICOMGRAPH@host:11112", "ae_title": "DICOMGRAPH", "port": 11112})
    batch.add_node("Association", {"key": "assoc-1", "started_at": started, "ended_at": started, "messages": 2,
                                   "calling_ae": "MODALITY", "called_ae": "DICOMGRAPH", "result": "accepted"})
    batch.add_rel("CALLING", "ApplicationEntity", "MODALITY@127.0.0.1", "Association", "assoc-1")
    batch.add_rel("CALLED", "Association", "assoc-1", "ApplicationEntity", "DICOMGRAPH@host:11112")
    batch.add_rel("PROPOSED", "Association", "assoc-1", "SOPClass", ModalityPerformedProcedureStep,
                  {"context_id": 1, "offered": [pydicom.uid.ExplicitVRLittleEndian], "result": "accepted",
                   "transfer_syntax": pydicom.uid.ExplicitVRLittleEndian, "accepted": True, "role": "SCU"})
    batch.add_node("Instance", {"SOPInstanceUID": COMMITMENT_UID, "SOPClassUID": StorageCommitmentPushModel,
                                "source": "network", "ingested_at": started, "stub": False})
    batch.add_rel("REFERENCES", "Instance", COMMITMENT_UID, "Instance", ct_uid,
                  {"via": "ReferencedSOPSequence", "outcome": "committed"})
    return batch


def _build(engine: str, tmp: Path, shared: Path) -> GraphStore:
    store = make_store(engine, tmp)
    load_standard(store)
    files = os.path.dirname(_ct_small())
    run_ingest(store, [files, str(shared / "mpps")], workers=1, progress=False,
               report_path=str(shared / "rejects.jsonl"))
    ct = pydicom.dcmread(_ct_small(), stop_before_pixels=True)
    store.write(_network_activity(ct.SOPInstanceUID))
    return store


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, GraphStore]]:
    """One graph per engine that is there (Neo4j when NEO4J_URI is set; CI requires it), built once."""
    shared = tmp_path_factory.mktemp("ingested")  # the same paths for both: they key the IngestRun
    _mpps_json(shared / "mpps")
    stores: dict[str, GraphStore] = {}
    for engine in ENGINES:
        try:
            stores[engine] = _build(engine, tmp_path_factory.mktemp(engine), shared)
        except pytest.skip.Exception:
            continue
    yield stores
    for store in stores.values():
        store.close()


def _first(store: GraphStore, name: str, column: str, **params: Any) -> Any:
    rows = store.run(name, **params).column(column)
    assert rows, f"{name} found nothing to take {column} from"
    return rows[0]


@pytest.fixture(scope="module")
def data(graphs: dict[str, GraphStore]) -> dict[str, Any]:
    """Parameter values found in the graph (the embedded one; both hold the same)."""
    g = graphs["embedded"]
    in_use = g.run("conformance_by_sop_class").records()
    failing = next(r["sop_class_uid"] for r in in_use if r["complete"] < r["instances"])
    iod_of = {r["sop_class_uid"]: next(iter(g.run("sop_class_iod", sop_class=r["sop_class_uid"]).column("iod_key")),
                                       None) for r in in_use}
    sop_class, iod = next((c, i) for c, i in iod_of.items() if i)
    study = _first(g, "studies_with_pointers", "study_uid")
    series = _first(g, "browse_series", "series_uid", study=study)
    pair = g.run("reference_pairs").records()[0]
    uid = pair["referencing"]
    return {
        "sop_class": sop_class, "failing_sop_class": failing, "iod": iod,
        "b": next(i for i in iod_of.values() if i and i != iod), "study": study, "series": series,
        "patient": _first(g, "browse_patients_unfiltered", "patient_key"),
        "uid": uid, "referenced": pair["referenced"],
        "module": _first(g, "iod_modules", "module_key", iod=iod),
        "keyword": _first(g, "iod_module_keywords", "keyword", sop_class=sop_class),
        "text": _first(g, "sop_class_iod", "sop_class", sop_class=sop_class),
        "service_class": next(k for k in g.run("iod_neighbourhood", iod=iod).column("service_class_key") if k),
        "key": _first(g, "ingest_runs", "key"),
        "path": _first(g, "browse_instances", "path", series=series),
        "modality": _first(g, "browse_series", "modality", study=study),
        "day": g.query("MATCH (s:Study) WHERE s.StudyDate IS NOT NULL RETURN s.StudyDate AS d "
                       "ORDER BY d LIMIT 1").scalar().isoformat(),
    }


def arguments(name: str, d: dict[str, Any]) -> dict[str, Any]:
    """The arguments for one query: each declared parameter from the data, by what the query means by it."""
    by_query = {  # where a parameter name means something else in one query
        "instance_referenced_by": {"uid": d["referenced"]},
        "conformance_by_module": {"sop_class": d["failing_sop_class"]},
        "conformance_failing": {"sop_class": d["failing_sop_class"]},
        "iod_compare": {"a": d["iod"], "b": d["b"]},
        "study_patients": {"uids": [d["study"]]},
        "source_files": {"keys": [d["path"]]},
        "entity_values": {"keys": [f"Study|{d['study']}"]},
        "attribute_reach": {"attribute": d["keyword"]},
        "attribute_usage": {"attribute": d["keyword"]},
        ANY_ATTRIBUTE: {"value": d["modality"]},
    }.get(name, {})
    out: dict[str, Any] = {}
    for p in queries.get(name).parameters:
        if p.name in by_query:
            out[p.name] = by_query[p.name]
        elif p.name == "limit":
            out[p.name] = EVERYTHING
        elif p.required:
            out[p.name] = [d["uid"]] if p.name == "uids" else d[p.name]
    return out


def normal(value: Any) -> Any:
    """A value as both engines can agree on it: dates ISO, floats rounded, lists and maps order-free,
    times of day an ingest ran masked, node ids and unset properties (a typed column's nulls) dropped."""
    value = plain(value)
    if isinstance(value, dt.datetime):
        return "<time>"
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 6)
    if isinstance(value, (list, tuple)):
        return sorted((normal(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()
                if v not in (None, []) and k not in ("_id", "_start", "_end")}
    return value


def answer(store: GraphStore, name: str, d: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{k: normal(v) for k, v in r.items() if k not in VOLATILE} for r in store.run(name, **arguments(name, d))]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


ANSWERS: dict[tuple[str, str], list[dict[str, Any]]] = {}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", READ_QUERIES)
def test_every_read_query_runs(name: str, engine: str, graphs: dict[str, GraphStore], data: dict[str, Any]) -> None:
    if engine not in graphs:
        pytest.skip(f"{engine}: no engine (NEO4J_URI unset)")
    ANSWERS[(engine, name)] = answer(graphs[engine], name, data)


@pytest.mark.parametrize("name", READ_QUERIES)
def test_both_engines_give_the_same_answer(name: str, graphs: dict[str, GraphStore], data: dict[str, Any]) -> None:
    if len(graphs) < 2:
        pytest.skip("needs both engines (NEO4J_URI unset)")
    got = {e: ANSWERS.get((e, name)) or answer(graphs[e], name, data) for e in graphs}
    assert got["embedded"] == got["neo4j"]


def test_most_queries_have_something_to_answer(graphs: dict[str, GraphStore], data: dict[str, Any]) -> None:
    """A query answering nothing tests nothing: the data must give (nearly) every one rows to return."""
    store = graphs["embedded"]
    empty = sorted(n for n in READ_QUERIES
                   if not (ANSWERS.get(("embedded", n)) or store.run(n, **arguments(n, data)).rows))
    assert len(empty) <= len(READ_QUERIES) // 10, f"no rows from {empty}"


def test_the_conformance_drill_down_agrees_with_its_summary_and_its_cuts(graphs: dict[str, GraphStore],
                                                                        data: dict[str, Any]) -> None:
    """A module's failing instances are the whole drill-down's rows that fail in it (with only its findings),
    as many as `conformance_by_module` counts, and a smaller limit gives the first rows of the answer:
    the queries pick their first $limit instances before anything else is joined or unwound."""
    sop = data["failing_sop_class"]
    for engine, store in graphs.items():
        every = store.run("conformance_failing", sop_class=sop, limit=EVERYTHING).records()
        counts = {r["module"]: r["instances"] for r in store.run("conformance_by_module", sop_class=sop)
                  if r["finding"] == "any"}
        assert counts and len(every) == len({r["sop_instance_uid"] for r in every}), engine
        for module, n in counts.items():
            def kept(f: str, module: str = module) -> bool:
                return f == module or f.startswith(module + ">")
            expected = [{**r, "findings": [f for f in r["findings"] if kept(f)]} for r in every
                        if any(kept(f) for f in r["findings"])]
            got = store.run("conformance_failing", sop_class=sop, module=module, limit=EVERYTHING).records()
            assert got == expected and len(got) == n, (engine, module)
            assert store.run("conformance_failing", sop_class=sop, module=module, limit=1).records() == got[:1]
        findings = store.run("conformance_findings", sop_class=sop, limit=EVERYTHING).records()
        first = store.run("conformance_findings", sop_class=sop, limit=2).records()
        key = [(r["sop_instance_uid"], r["path"], r["keyword"]) for r in findings]
        assert len(findings) > 2 and [(r["sop_instance_uid"], r["path"], r["keyword"]) for r in first] == key[:2]


def test_conformance_per_sop_class_and_module_counts_each_instance_from_its_own_lists(
        graphs: dict[str, GraphStore]) -> None:
    """The query groups instances by their finding lists before crossing them with their IOD's modules:
    its figures must be those of a count instance by instance, from each instance's lists, per engine."""
    for engine, store in graphs.items():
        modules: dict[str, list[tuple[str, str]]] = {}
        for r in store.query("MATCH (c:SOPClass)-[:USES_IOD]->(:IOD)-[inc:INCLUDES]->(m:Module) "
                             "RETURN c.uid AS uid, m.name AS module, inc.usage AS usage").records():
            modules.setdefault(r["uid"], []).append((r["module"], r["usage"]))
        expected: dict[tuple[str, str, str], list[int]] = {}
        checked = store.query("MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass) WHERE i.conformant IS NOT NULL "
                              "RETURN c.uid AS uid, i.modules_present AS present, i.modules_missing AS missing, "
                              "i.type1_missing AS t1m, i.type1_empty AS t1e, i.type2_missing AS t2m").records()
        for i in checked:
            for module, usage in modules.get(i["uid"], []):
                within = [sum(1 for f in i[k] or [] if f.startswith(module + ">")) for k in ("t1m", "t1e", "t2m")]
                row = expected.setdefault((i["uid"], module, usage), [0] * 9)
                for n, add in enumerate([1, module in (i["present"] or []), module in (i["missing"] or []),
                                         *(w > 0 for w in within), *within]):
                    row[n] += int(add)
        got = {(r["sop_class_uid"], r["module"], r["usage"]): [
                   r["instances_checked"], r["instances_with_module"], r["mandatory_missing"],
                   r["instances_type1_missing"], r["instances_type1_empty"], r["instances_type2_missing"],
                   r["type1_missing"], r["type1_empty"], r["type2_missing"]]
               for r in store.run("conformance_by_sop_class_module").records()}
        assert len(checked) > 10 and any(v[3] or v[5] for v in expected.values()), engine
        assert got == expected, engine


def test_conformance_requirements_read_apart_are_what_the_joined_rows_require(
        graphs: dict[str, GraphStore]) -> None:
    """load_requirements reads the modules each IOD includes and each module's attributes apart and parses
    a module once (3.7k + 10k rows for the whole standard): on each engine, each SOP class's modules must
    require what the one row per SOP class, module and attribute it replaced says, counted here from those
    rows: usage (M, else C, else U), the keywords that show the module, the Type 1 / 2 attributes at the top level
    and one sequence deep, minus a top-level one whose Type another module of the IOD overrides."""
    from dicom_graph.loader.dataset import conformance

    for engine, store in graphs.items():
        joined = store.query(
            "MATCH (c:SOPClass)-[:USES_IOD]->(:IOD)-[inc:INCLUDES]->(m:Module) "
            "OPTIONAL MATCH (m)-[ct:CONTAINS]->(a:Attribute) "
            "WHERE ct.path = '' OR (NOT ct.path CONTAINS '>' AND ct.type IN ['1', '1C', '2', '2C']) "
            "RETURN c.uid AS sop_class_uid, m.name AS module, m.key AS module_key, inc.usage AS usage, "
            "inc.condition_expr AS module_condition_expr, inc.decidable AS module_decidable, "
            "ct.type AS type, ct.path AS path, ct.condition AS condition, ct.condition_expr AS condition_expr, "
            "ct.decidable AS decidable, ct.overrides AS overrides, a.keyword AS keyword, a.tag AS tag").records()
        overriding = {(r["sop_class_uid"], r["keyword"]): r["module"] for r in joined
                      if r["overrides"] and not r["path"] and r["keyword"]}
        expected: dict[tuple[str, str], Any] = {}
        for r in joined:
            entry = expected.setdefault((r["sop_class_uid"], r["module"]), [None, set(), set()])
            usage, keywords, required = entry
            if usage is None or r["usage"] == "M" or (r["usage"] == "C" and usage == "U"):
                entry[0] = r["usage"] or "U"
            if r["keyword"] and not r["path"]:
                keywords.add(r["keyword"])
            if (r["keyword"] and r["type"] in ("1", "1C", "2", "2C") and ">" not in (r["path"] or "")
                    and (r["path"] or overriding.get((r["sop_class_uid"], r["keyword"]), r["module"]) == r["module"])):
                required.add((r["path"] or "", r["keyword"], r["type"], r["condition"] or ""))
        got = {(uid, m.name): [m.usage, set(m.keywords), {(a.path, a.keyword, a.type, a.condition) for a in m.attributes}]
               for uid, iod in conformance.load_requirements(store).items() for m in iod.modules}
        assert len(got) > 1000 and overriding, engine
        assert got == expected, engine
