"""The standard's named queries: the facts they must show, and the same answers on both engines."""

from __future__ import annotations

import pytest

from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # the constants are made at import
    ModalityPerformedProcedureStep as MPPS, StorageCommitmentPushModel as COMMITMENT,
    StudyRootQueryRetrieveInformationModelFind as FIND, Verification)

from dicom_graph.loader.standard import load_standard
from dicom_graph.loader.standard.packages import build_offline_catalog
from dicom_graph.model import queries
from dicom_graph.model.store.base import plain
from tests.conftest import ENGINES, make_store

READ_QUERIES = ["standard_search", "iod_modules", "module_attributes", "attribute_usage", "attribute_reach",
                "sop_class_dimse", "iod_compare", "sop_classes_of_service_class", "standard_summary",
                "definition_keys"]
CASES: dict[str, list[dict[str, str]]] = {  # query -> parameter sets
    "standard_search": [{"text": "Patient ID"}, {"text": "(0010,0020)"}, {"text": Verification}],
    "iod_modules": [{"iod": "ct-image"}, {"iod": "Modality Performed Procedure Step"}],
    "module_attributes": [{"module": "general-series"}, {"module": "SOP Common"}],
    "attribute_usage": [{"attribute": "00100020"}, {"attribute": "Modality"}],
    "attribute_reach": [{"attribute": "PatientID"}],
    "sop_class_dimse": [{"sop_class": MPPS}, {"sop_class": "Verification SOP Class"},
                        {"sop_class": FIND}, {"sop_class": COMMITMENT}],
    "iod_compare": [{"a": "ct-image", "b": "mr-image"}],
    "sop_classes_of_service_class": [{"service_class": "storage-commitment"}, {"service_class": "query-retrieve"}],
    "standard_summary": [{}],
    "definition_keys": [{}],
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """One graph per engine with the offline standard (Neo4j only when NEO4J_URI is set)."""
    catalog = build_offline_catalog()
    stores = {}
    for engine in ENGINES:
        try:
            store = make_store(engine, tmp_path_factory.mktemp(engine))
        except pytest.skip.Exception:
            continue
        load_standard(store, catalog=catalog)
        stores[engine] = store
    yield stores
    for store in stores.values():
        store.close()


def answers(store, name: str, params: dict) -> list[list]:
    rows = [plain(r) for r in store.run(name, **params).rows]
    return sorted(rows, key=repr) if name == "definition_keys" else rows


@pytest.fixture(params=ENGINES)
def graph(request, loaded):
    if request.param not in loaded:
        pytest.skip(f"{request.param}: no engine (NEO4J_URI unset)")
    return loaded[request.param]


def test_every_query_is_registered_and_runs(graph) -> None:
    registered = queries.all_queries()
    for name in READ_QUERIES:
        assert name in registered and not registered[name].write
        for params in CASES[name]:
            graph.run(name, **params)


def test_both_engines_give_the_same_answers(loaded) -> None:
    if len(loaded) < 2:
        pytest.skip("needs both engines (NEO4J_URI unset)")
    for name in READ_QUERIES:
        for params in CASES[name]:
            assert answers(loaded["embedded"], name, params) == answers(loaded["neo4j"], name, params), \
                (name, params)


def test_search(graph) -> None:
    rows = graph.run("standard_search", text="Patient ID").records()
    assert {"label": "Attribute", "key": "00100020", "name": "Patient ID", "detail": "PatientID"} in rows
    by_tag = graph.run("standard_search", text="(0010,0020)").records()
    assert [r["key"] for r in by_tag] == ["00100020"]
    uid = graph.run("standard_search", text=ExplicitVRLittleEndian).records()
    assert [(r["label"], r["name"]) for r in uid] == [("TransferSyntax", "Explicit VR Little Endian")]


def test_iod_module_table(graph) -> None:
    rows = graph.run("iod_modules", iod="ct-image").records()
    table = {r["module"]: (r["usage"], r["ie"]) for r in rows}
    assert table["Patient"] == ("M", "Patient")
    assert table["General Series"] == ("M", "Series")
    assert table["Frame of Reference"] == ("M", "Frame of Reference")
    assert table["CT Image"] == ("M", "Image")
    assert rows[0]["ie"] == "Patient"


def test_module_attribute_tree(graph) -> None:
    rows = graph.run("module_attributes", module="General Series").records()
    modality = [r for r in rows if r["keyword"] == "Modality"]
    assert modality == [{**modality[0], "path": "", "type": "1", "tag": "00080060"}]
    assert any(r["path"] == "ReferencedPerformedProcedureStepSequence" for r in rows)


def test_reverse_lookup(graph) -> None:
    reach = plain(graph.run("attribute_reach", attribute="00100020").records()[0])
    assert reach["iods"] >= 150 and reach["sop_classes"] >= 150 and reach["service_classes"] >= 3
    rows = graph.run("attribute_usage", attribute="PatientID").records()
    assert any(r["module"] == "Patient" and r["iod"] == "CT Image" and r["sop_class"] == "CT Image Storage"
               and r["service_class"] == "Storage Service Class" for r in rows)


def test_dimse_service_groups(graph) -> None:
    def group(sop):
        return {(r["dimse"], r["scu"], r["scp"]) for r in graph.run("sop_class_dimse", sop_class=sop).records()}

    assert group(MPPS) == {("N-CREATE", "M", "M"), ("N-SET", "M", "M")}
    assert {d for d, _u, _p in group(COMMITMENT)} == {"N-ACTION", "N-EVENT-REPORT"}
    assert group("Verification SOP Class") == {("C-ECHO", "M", "M")}
    find = graph.run("sop_class_dimse", sop_class=FIND).records()
    assert [(r["dimse"], r["service_class"]) for r in find] == [("C-FIND", "Query/Retrieve Service Class")]
    mpps = graph.run("sop_class_dimse", sop_class=MPPS).records()
    assert mpps[0]["iod_kind"] == "normalized" and mpps[0]["dimse_group"] == "DIMSE-N"


def test_iod_compare_and_service_class(graph) -> None:
    rows = graph.run("iod_compare", a="ct-image", b="mr-image").records()
    side = {r["module_key"]: r["side"] for r in rows}
    assert side["general-series"] == "shared" and side["ct-image"] == "only_a" and side["mr-image"] == "only_b"
    sops = graph.run("sop_classes_of_service_class", service_class="storage-commitment").records()
    assert [r["uid"] for r in sops] == [COMMITMENT]
    summary = plain(graph.run("standard_summary").records()[0])
    assert summary["dimse_services"] == 11 and summary["normalized_iods"] >= 16
