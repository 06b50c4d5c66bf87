"""1C/2C condition texts offline (GDCM's PS3.3 2008, curated rows) and the Type overrides: an older text
never makes an attribute required that the current tables (highdicom) do not."""

from __future__ import annotations

import json

import pytest
from pydicom.dataset import Dataset

from dicom_graph.loader.dataset.conformance import (AttributeRequirement, IodRequirements, ModuleRequirement, check,
                                                    requirements_from_rows)
from dicom_graph.loader.standard import attribute_conditions, highdicom_standard
from dicom_graph.loader.standard.catalog import StandardCatalog
from dicom_graph.loader.standard.packages import build_offline_catalog


@pytest.fixture(scope="module")
def catalog() -> StandardCatalog:
    return build_offline_catalog()


def test_older_texts_only_where_the_current_types_agree(catalog: StandardCatalog) -> None:
    report = catalog.reports["attribute_conditions"]
    newer, older = (report["editions"][e] for e in attribute_conditions.EDITIONS)
    assert newer["matched_same_type"] >= 20000 and older["conditional_include"] >= 30
    assert report["with_text"] >= 0.8 * report["contains_conditional"]  # 6 % with the 2008 texts alone
    current = {(m, catalog.keyword_tags.get(r["keyword"]), ">".join(r.get("path") or ())): r.get("type")
               for m, rows in highdicom_standard.load().module_attributes.items() for r in rows}
    applied = [(k, r) for k, r in catalog.contains.items()
               if r.get("condition_source") in (*attribute_conditions.EDITIONS, attribute_conditions.CURATED)]
    assert len(applied) >= 0.95 * report["with_text"]
    conditional = [r for r in catalog.contains.values() if r.get("type") in ("1C", "2C") and r.get("condition")]
    assert all(r.get("condition_source") for r in conditional)  # every text says which edition it is from
    for key, row in applied:  # the current type, or its conditional form: required less often, never more
        assert row["type"] in (current[key], f"{current[key]}C"), (key, row["type"], current[key])
        assert row["type"] in ("1C", "2C") and row["condition"]


def test_sr_content_items_are_conditional_on_their_value_type(catalog: StandardCatalog) -> None:
    tag = catalog.keyword_tags
    graphic = catalog.contains[("sr-document-content", tag["GraphicData"], "")]
    assert graphic["type"] == "1C" and "SCOORD or SCOORD3D" in graphic["condition"]
    expr = json.loads(graphic["condition_expr"])["required_if"]
    assert expr == {"op": "equals", "tag": "0040A040", "keyword": "ValueType", "values": ["SCOORD", "SCOORD3D"]}
    nested = catalog.contains[("sr-document-content", tag["ConceptCodeSequence"], "ContentSequence")]
    assert nested["type"] == "1C" and nested["decidable"]
    pixel = catalog.contains[("image-pixel", tag["PixelData"], "")]
    assert pixel["condition"].startswith("Required if Pixel Data Provider URL") and pixel["decidable"]



def test_laterality_reads_paired_structures_from_body_part_examined(catalog: StandardCatalog) -> None:
    """PS3.3 C.7.3.1: Laterality 2C 'if the body part examined is a paired structure and Image Laterality
    or Frame Laterality are not sent': decided from Body Part Examined where its term says paired or not,
    and not evaluated where it is absent or no defined term (as a wrong finding is worse than none)."""
    row = catalog.contains[("general-series", catalog.keyword_tags["Laterality"], "")]
    assert row["condition"].startswith("Required if the body part examined is a paired structure")
    laterality = AttributeRequirement("Laterality", "00200060", "2C", "", row["condition"],
                                      json.loads(row["condition_expr"]))
    iod = IodRequirements((ModuleRequirement("General Series", "M", frozenset({"Laterality", "BodyPartExamined"}),
                                             (laterality,), None, "general-series"),), {})

    def outcome(**elements: object) -> tuple[bool, int]:
        ds = Dataset()
        for keyword, value in elements.items():
            setattr(ds, keyword, value)
        result = check(iod, {e.keyword: bool(e.value) for e in ds}, ds)
        assert result["conditions_undecided"] == ["General Series>Laterality"] * result["conditions_not_evaluated"]
        return "Laterality" in result["finding_keyword"], result["conditions_not_evaluated"]

    assert outcome(BodyPartExamined="BREAST") == (True, 0)
    assert outcome(BodyPartExamined="LUNG", Laterality="") == (False, 0)  # Type 2: empty is fine
    assert outcome(BodyPartExamined="BREAST", ImageLaterality="L") == (False, 0)
    frame = Dataset()
    frame.FrameAnatomySequence = [Dataset()]
    frame.FrameAnatomySequence[0].FrameLaterality = "R"
    assert outcome(BodyPartExamined="KNEE", SharedFunctionalGroupsSequence=[frame]) == (False, 0)
    assert outcome(BodyPartExamined="CHEST") == (False, 0)  # unpaired
    assert outcome() == (False, 1)  # no body part: paired or not cannot be told
    assert outcome(BodyPartExamined="WHOLE BODY") == (False, 1)  # not a defined term (WHOLEBODY is)
    assert outcome(ImageLaterality="L") == (False, 0)  # one false conjunct decides, unknown body part or not


def test_sc_equipment_modality_overrides_general_series(catalog: StandardCatalog) -> None:
    assert catalog.contains[("sc-equipment", catalog.keyword_tags["Modality"], "")]["overrides"] is True
    base = {"sop_class_uid": "1.2.840.10008.5.1.4.1.1.7", "usage": "M", "path": "", "keyword": "Modality",
            "tag": "00080060"}
    rows = [{**base, "module": "General Series", "type": "1"},
            {**base, "module": "SC Equipment", "type": "3", "overrides": True}]
    iod = requirements_from_rows(rows)["1.2.840.10008.5.1.4.1.1.7"]
    assert not any(a.keyword == "Modality" for m in iod.modules for a in m.attributes)
    plain = requirements_from_rows(rows[:1])["1.2.840.10008.5.1.4.1.1.7"]
    assert [a.type for m in plain.modules for a in m.attributes] == ["1"]


def test_patient_orientation_depends_on_what_the_iod_requires(catalog: StandardCatalog) -> None:
    from pydicom import Dataset

    from dicom_graph.loader.dataset.predicates import Scope, Undecided, holds

    row = catalog.contains[("general-image", catalog.keyword_tags["PatientOrientation"], "")]
    pred = json.loads(row["condition_expr"])["required_if"]
    ds = Dataset()

    def scope(types: dict[str, str]) -> Scope:
        return Scope([ds], ds, lambda _m: False, {}, types)

    assert holds(pred, scope({})) is True  # Secondary Capture: no Image Plane module, so required
    assert holds(pred, scope({"ImageOrientationPatient": "1", "ImagePositionPatient": "1"})) is False  # CT
    with pytest.raises(Undecided):  # an enhanced IOD: a functional group macro may require them
        holds(pred, scope({"PerFrameFunctionalGroupsSequence": "1C"}))
