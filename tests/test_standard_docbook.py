"""The DocBook reader on NEMA's genuine files in ../shared/standard-docbook (skipped when absent)."""

from __future__ import annotations

import re

import pytest
from pydicom.uid import CTImageStorage
from pynetdicom import sop_class

from dicom_graph.loader.standard import attribute_conditions, load_standard
from dicom_graph.loader.standard.docbook_part04 import read_part04
from dicom_graph.loader.standard.docbook_part06 import read_part06
from dicom_graph.loader.standard.load import build_catalog
from dicom_graph.loader.standard.packages import build_offline_catalog
from tests.conftest import shared_path

MPPS = sop_class.ModalityPerformedProcedureStep
INVISIBLE = ("\u200b", "\u00ad")


@pytest.fixture(scope="module")
def dir2013():
    return shared_path("standard-docbook", "2013")


@pytest.fixture(scope="module")
def dir2016():
    return shared_path("standard-docbook", "2016c-subset")


def test_part06_2013_data_dictionary_and_uids(dir2013) -> None:
    p6 = read_part06(dir2013 / "part06.xml")
    assert p6.edition == "DICOM PS3.6 2013"
    table_6_1 = [t for t in p6.attributes if not t.startswith(("0002", "0004"))]
    assert len(table_6_1) >= 3722 - 30  # table 6-1 (group 0004 rows are table 8-1's too)
    assert len(p6.attributes) >= 3722
    assert p6.attributes["00100020"]["keyword"] == "PatientID"
    assert p6.attributes["00100020"]["vr"] == "LO"
    assert any(r["retired"] for r in p6.attributes.values())
    assert p6.uids[MPPS]["name"] == "Modality Performed Procedure Step SOP Class"
    for text in [*p6.uids, *(r["keyword"] or "" for r in p6.attributes.values()),
                 *(r["name"] for r in p6.uids.values())]:
        assert not any(ch in text for ch in INVISIBLE), repr(text)


def test_part04_2013_dimse_service_groups(dir2013) -> None:
    catalog = build_catalog(dir2013)
    names = {u: r["name"] for u, r in catalog.sop_classes.items()}
    p4 = read_part04(dir2013 / "part04.xml", names, catalog.dimse_services)
    assert p4.group_tables[MPPS] == "F.7.1-1"  # read from the real PS3.4 table
    assert p4.groups[MPPS] == {"N-CREATE": ("M", "M"), "N-SET": ("M", "M")}
    assert p4.groups[sop_class.StorageCommitmentPushModel] == {"N-EVENT-REPORT": ("M", "M"), "N-ACTION": ("M", "M")}
    assert p4.groups[sop_class.BasicFilmSession]["N-ACTION"] == ("U", "U")
    assert p4.groups[sop_class.UnifiedProcedureStepPull]["C-FIND"] == ("M", "M")  # UPS Pull, by caption
    assert p4.groups[sop_class.RTConventionalMachineVerification]["N-DELETE"] == ("M", "M")  # both RT MV SOP classes
    assert p4.groups[sop_class.RTIonMachineVerification]["N-DELETE"] == ("M", "M")
    assert p4.sop_class_annex[CTImageStorage] == "B"
    # the catalog takes them
    assert catalog.supports[(MPPS, "N-SET")] == {"scu": "M", "scp": "M"}
    assert "2013" in catalog.sources["dimse"]
    assert catalog.counts()["Attribute"] >= 3722
    assert catalog.attributes["00100020"]["source"] == "DICOM PS3.6 2013"


def test_part03_2016c_ct_image_and_module_tables(dir2016) -> None:
    catalog = build_catalog(dir2016)
    ct = {m: p for (i, m), p in catalog.includes.items() if i == "ct-image"}
    assert ct["patient"] == {"usage": "M", "ie": "Patient", "condition": None}
    assert ct["general-series"]["usage"] == "M" and ct["general-series"]["ie"] == "Series"
    assert ct["frame-of-reference"]["usage"] == "M"
    assert ct["ct-image"]["usage"] == "M" and ct["ct-image"]["ie"] == "Image"
    assert ct["contrast-bolus"]["usage"] == "C"
    assert ct["contrast-bolus"]["condition"].startswith("Required if contrast media")
    assert catalog.iods["ct-image"]["source"] == "DICOM PS3.3 2016c"
    gs = {(path, tag): p for (m, tag, path), p in catalog.contains.items() if m == "general-series"}
    assert gs[("", "00080060")]["type"] == "1"
    # `>` nesting and an Include of the Person Identification macro, expanded with its path
    assert ("", "00081052") in gs  # Performing Physician Identification Sequence
    assert gs[("PerformingPhysicianIdentificationSequence", "00401101")]["type"] == "1"
    assert ("PerformingPhysicianIdentificationSequence>InstitutionCodeSequence", "00080104") in gs
    # a 1C row keeps its condition as text
    assert gs[("", "00200060")]["type"] == "2C" and gs[("", "00200060")]["condition"].startswith("Required if")
    assert catalog.modules["general-series"]["source"] == "DICOM PS3.3 2016c"


def test_later_edition_updates_in_place(store, dir2013) -> None:
    load_standard(store)
    summary = load_standard(store, docbook_dir=dir2013)
    # definitions 2013 does not have (newer SOP classes, transfer syntaxes) are marked, not kept current
    assert summary["superseded"]["SOPClass"] >= 50
    rows = store.run("sop_class_dimse", sop_class=MPPS).records()
    assert {(r["dimse"], r["scu"], r["scp"]) for r in rows} == {("N-CREATE", "M", "M"), ("N-SET", "M", "M")}
    got = store.run("standard_summary").records()[0]
    assert got["attributes"] >= 3722


def _words(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", " ", (text or "").lower()).strip()


def test_docbook_2016c_conditions_of_ct_iods_agree_with_the_offline_load(dir2016) -> None:
    """The 2016c DocBook fills the conditions of CT Image, Enhanced CT Image and their modules; the
    offline load (innolitics 2024e for module rows, GDCM's 2008 for 1C/2C attributes) says the same."""
    offline, docbook = build_offline_catalog(), build_catalog(dir2016)
    for iod in ("ct-image", "enhanced-ct-image"):
        ours = {m: r for (i, m), r in docbook.includes.items() if i == iod and r["usage"] == "C"}
        assert ours and all(r["condition"] for r in ours.values()), ours
        for module, row in ours.items():
            other = offline.includes[(iod, module)]
            assert other["usage"] == "C" and other["condition"], module
            # the same words, or the same parsed expression (DocBook loses a linked module name: "in the equals")
            assert _words(row["condition"]) == _words(other["condition"]) or (
                row["condition_expr"] and row["condition_expr"] == other["condition_expr"]), module
        modules = {m for (i, m) in docbook.includes if i == iod}
        pairs = [(r, offline.contains[k]) for k, r in docbook.contains.items()
                 if k[0] in modules and k[2] == "" and r.get("type") in ("1C", "2C") and r.get("condition")
                 and offline.contains.get(k, {}).get("condition")]
        same = sum(_words(a["condition"])[:60] == _words(b["condition"])[:60] for a, b in pairs)
        assert len(pairs) >= 30 and same / len(pairs) >= 0.9, (iod, same, len(pairs))  # 2016c vs 2020 / 2008 wording
        assert all(b["type"] == a["type"] for a, b in pairs)
        assert docbook.modules["general-series"]["source"] == "DICOM PS3.3 2016c"
        assert {b.get("condition_source") for _a, b in pairs} <= {*attribute_conditions.EDITIONS, attribute_conditions.CURATED}
