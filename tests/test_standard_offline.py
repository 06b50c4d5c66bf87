"""The offline default of `dicom-graph standard load`: packages + curated tables, then both engines."""

from __future__ import annotations

import time

import pytest
from pydicom.uid import CTImageStorage
from pynetdicom import sop_class

from dicom_graph.loader.standard import curated, highdicom_standard, load_standard
from dicom_graph.loader.standard.catalog import StandardCatalog
from dicom_graph.loader.standard.packages import build_offline_catalog
from dicom_graph.model.store.base import plain

CT = CTImageStorage
MPPS = sop_class.ModalityPerformedProcedureStep
STORAGE_COMMITMENT = sop_class.StorageCommitmentPushModel
VERIFICATION = sop_class.Verification
STUDY_ROOT_FIND = sop_class.StudyRootQueryRetrieveInformationModelFind


@pytest.fixture(scope="module")
def catalog() -> StandardCatalog:
    return build_offline_catalog()


def test_highdicom_private_tables_are_there() -> None:
    import highdicom

    assert highdicom.__version__ == highdicom_standard.PINNED_VERSION, "re-check _standard when bumping highdicom"
    std = highdicom_standard.load()
    assert len(std.iod_modules) >= 170 and len(std.module_attributes) >= 400 and len(std.sop_class_iods) >= 170
    row = std.iod_modules["ct-image"][0]
    assert set(row) >= {"key", "usage", "ie"}
    attr = std.module_attributes["general-series"][0]
    assert set(attr) >= {"keyword", "type", "path"} and isinstance(attr["path"], list)
    assert std.sop_class_iods[CT] == "ct-image"


def test_curated_tables_cite_every_row() -> None:
    for name in curated.TABLES:
        rows = curated.table(name)
        assert rows, name
        assert all(r["cites"].startswith("PS3.") for r in rows), name


def test_catalog_is_fast_and_big_enough() -> None:
    started = time.perf_counter()
    cat = build_offline_catalog()
    assert time.perf_counter() - started < 10
    counts, kinds = cat.counts(), cat.iod_kind_counts()
    assert counts["SOPClass"] >= 300
    assert kinds["composite"] >= 170 and kinds["normalized"] >= 16
    assert counts["Module"] >= 430
    assert counts["Attribute"] >= 5000
    assert counts["DIMSEService"] == 11
    assert counts["ServiceClass"] >= 15
    assert counts["TransferSyntax"] >= 40


def test_modules_and_iods_have_the_standards_names(catalog: StandardCatalog) -> None:
    assert all(m["name"] and m["name"] != m["key"] for m in catalog.modules.values())
    assert catalog.modules["general-series"]["name"] == "General Series"
    assert catalog.modules["contrast-bolus"]["name"] == "Contrast/Bolus"
    assert catalog.modules["sop-common"]["name"] == "SOP Common"
    assert catalog.iods["ct-image"]["name"] == "CT Image"
    assert catalog.iods["digital-x-ray-image"]["name"] == "Digital X-Ray Image"
    assert catalog.sop_classes[CT]["name"] == "CT Image Storage"


def test_every_current_sop_class_is_complete(catalog: StandardCatalog) -> None:
    facts = {r["uid"]: r for r in curated.table("sop_classes.csv")}
    no_dimse = {u for u, r in facts.items() if r["dimse"] == "none"}
    no_iod = {u for u, r in facts.items() if not r["iod"]}  # curated: the standard defines none in PS3.3
    supported = {u for u, _d in catalog.supports}
    problems = []
    for uid, row in catalog.sop_classes.items():
        if row["retired"]:
            continue
        if uid not in catalog.defines:
            problems.append((uid, row["name"], "no service class"))
        if uid not in supported and uid not in no_dimse:
            problems.append((uid, row["name"], "no DIMSE service group"))
        if row["kind"] in ("composite", "normalized") and uid not in catalog.uses_iod and uid not in no_iod:
            problems.append((uid, row["name"], "no IOD"))
    assert not problems


def test_curated_dimse_groups_agree_with_pynetdicom(catalog: StandardCatalog) -> None:
    """Every DIMSE service a SOP class supports is one its pynetdicom service class's SCP handles."""
    disagree = [(uid, dimse) for (uid, dimse) in catalog.supports
                if catalog.defines.get(uid) in catalog.service_class_dimse
                and dimse not in catalog.service_class_dimse[catalog.defines[uid]]]
    assert not disagree


def test_facts_a_dicom_engineer_checks_first(catalog: StandardCatalog) -> None:
    assert catalog.uses_iod[CT] == "ct-image"
    inc = catalog.includes
    assert inc[("ct-image", "patient")]["usage"] == "M" and inc[("ct-image", "patient")]["ie"] == "Patient"
    for module in ("general-series", "frame-of-reference", "ct-image"):
        assert inc[("ct-image", module)]["usage"] == "M"
    assert catalog.contains[("general-series", "00080060", "")]["type"] == "1"
    assert catalog.iods[catalog.uses_iod[MPPS]]["kind"] == "normalized"
    assert catalog.supports[(MPPS, "N-CREATE")] == {"scu": "M", "scp": "M"}
    assert catalog.supports[(MPPS, "N-SET")] == {"scu": "M", "scp": "M"}
    assert {d for u, d in catalog.supports if u == STORAGE_COMMITMENT} == {"N-ACTION", "N-EVENT-REPORT"}
    assert {d for u, d in catalog.supports if u == VERIFICATION} == {"C-ECHO"}
    assert {d for u, d in catalog.supports if u == STUDY_ROOT_FIND} == {"C-FIND"}
    assert catalog.defines[STUDY_ROOT_FIND] == "query-retrieve"
    film = {d: p for (u, d), p in catalog.supports.items() if u == sop_class.BasicFilmSession}
    assert film == {"N-CREATE": {"scu": "M", "scp": "M"}, "N-SET": {"scu": "U", "scp": "M"},
                    "N-DELETE": {"scu": "U", "scp": "M"}, "N-ACTION": {"scu": "U", "scp": "U"}}
    dimse = catalog.dimse_services
    assert dimse["N-EVENT-REPORT"] == {**dimse["N-EVENT-REPORT"], "group": "DIMSE-N", "kind": "notification"}
    assert dimse["C-STORE"]["group"] == "DIMSE-C" and dimse["C-STORE"]["kind"] == "operation"
    # every definition records where it came from
    for attr in ("attributes", "sop_classes", "iods", "modules", "service_classes", "dimse_services"):
        assert all(row.get("source") for row in getattr(catalog, attr).values()), attr


def test_offline_load(store) -> None:
    started = time.perf_counter()
    summary = load_standard(store)
    elapsed = time.perf_counter() - started
    print(f"\n{store.dialect}: full offline load {elapsed:.1f} s")
    stats = store.stats()["nodes"]
    assert stats["SOPClass"] >= 300 and stats["Module"] >= 430 and stats["Attribute"] >= 5000
    assert stats["DIMSEService"] == 11 and stats["ServiceClass"] >= 15 and stats["TransferSyntax"] >= 40
    got = plain(store.run("standard_summary").records()[0])
    assert got["composite_iods"] >= 170 and got["normalized_iods"] >= 16
    assert summary["nodes"]["SOPClass"] == got["sop_classes"]
    # facts through the graph
    rows = store.run("sop_class_dimse", sop_class=MPPS).records()
    assert {(r["dimse"], r["scu"], r["scp"]) for r in rows} == {("N-CREATE", "M", "M"), ("N-SET", "M", "M")}
    assert rows[0]["iod_kind"] == "normalized"
    reach = plain(store.run("attribute_reach", attribute="00100020").records()[0])
    assert reach["iods"] >= 150
    # idempotent: a second load changes nothing
    before = store.stats()
    again = load_standard(store)
    assert store.stats() == before
    assert again["superseded"] == {} and again["relationships_removed"] == {}


def test_superseded_definitions_are_marked_not_kept(store) -> None:
    full = build_offline_catalog()
    load_standard(store, catalog=full)
    smaller = build_offline_catalog()
    del smaller.sop_classes[CT]
    del smaller.modules["cine"]
    smaller.prune()
    summary = load_standard(store, catalog=smaller)
    assert summary["superseded"] == {"SOPClass": 1, "Module": 1}
    assert summary["relationships_removed"]["USES_IOD"] == 1
    marked = {(r["label"], r["key"]) for r in store.run("definition_keys").records() if r["superseded"]}
    assert marked == {("SOPClass", CT), ("Module", "cine")}
    assert not store.run("sop_class_dimse", sop_class=CT).records()
    assert not [r for r in store.run("standard_search", text="CT Image Storage").records()
                if r["key"] == CT]
    load_standard(store, catalog=build_offline_catalog())  # a later full load revives them
    assert not [r for r in store.run("definition_keys").records() if r["superseded"]]
