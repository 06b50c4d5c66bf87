"""The condition parser on real condition texts of PS3.3 (2024e via innolitics, 2016c DocBook)."""

from __future__ import annotations

import json

import pytest

from dicom_graph.loader.standard.conditions import parse

MODULES = {"palette-color-lookup-table", "graphic-annotation", "enhanced-contrast-bolus"}
MACROS = {"pixel-measures", "plane-position-patient", "plane-orientation-patient", "derivation-image"}

DECIDABLE = [
    ("Required if Image Type (0008,0008) Value 1 is ORIGINAL or MIXED. May be present otherwise.",
     {"required_if": {"op": "equals", "tag": "00080008", "keyword": "ImageType", "index": 1,
                      "values": ["ORIGINAL", "MIXED"]}, "otherwise": "optional"}),
    ("Required if Frame Increment Pointer (0028,0009) is Frame Time (0018,1063) or Frame Time Vector (0018,1065)",
     {"required_if": {"op": "equals", "tag": "00280009", "keyword": "FrameIncrementPointer",
                      "values": ["00181063", "00181065"]}, "otherwise": "unstated"}),
    ("Required if Image Position (Patient) (0020,0032) or Image Orientation (Patient) (0020,0037) are present. "
     "May be present otherwise.",
     {"required_if": {"op": "or", "args": [
         {"op": "present", "tag": "00200032", "keyword": "ImagePositionPatient"},
         {"op": "present", "tag": "00200037", "keyword": "ImageOrientationPatient"}]}, "otherwise": "optional"}),
    ("Required if Presentation Intent Type (0008,0068) is FOR PRESENTATION. Shall not be present otherwise.",
     {"required_if": {"op": "equals", "tag": "00080068", "keyword": "PresentationIntentType",
                      "values": ["FOR PRESENTATION"]}, "otherwise": "absent"}),
    ("Required if Cardiac Synchronization Technique (0018,9037) equals other than NONE and if Image Type "
     "(0008,0008) Value 1 is ORIGINAL or MIXED. May be present otherwise.",
     {"required_if": {"op": "and", "args": [
         {"op": "not_equals", "tag": "00189037", "keyword": "CardiacSynchronizationTechnique", "values": ["NONE"]},
         {"op": "equals", "tag": "00080008", "keyword": "ImageType", "index": 1, "values": ["ORIGINAL", "MIXED"]}]},
      "otherwise": "optional"}),
    ("Required if the Palette Color Lookup Table Module is not present",
     {"required_if": {"op": "not", "args": [{"op": "module_present", "module": "palette-color-lookup-table"}]},
      "otherwise": "unstated"}),
    ("Required if Pixel Measures or Plane Position (Patient) Macros Present",
     {"required_if": {"op": "or", "args": [{"op": "macro_present", "macro": "pixel-measures"},
                                           {"op": "macro_present", "macro": "plane-position-patient"}]},
      "otherwise": "unstated"}),
    ("Required if Pixel Presentation (0008,9205) in the Enhanced CT Image Module equals COLOR or MIXED.",
     {"required_if": {"op": "equals", "tag": "00089205", "keyword": "PixelPresentation",
                      "values": ["COLOR", "MIXED"]}, "otherwise": "unstated"}),
    ("Required if X-Ray Receptor Type (0018,9420) is present and equals DIGITAL_DETECTOR.",
     {"required_if": {"op": "equals", "tag": "00189420", "keyword": "XRayReceptorType",
                      "values": ["DIGITAL_DETECTOR"]}, "otherwise": "unstated"}),
    ("Required if Contrast/Bolus Agent Sequence (0018,0012) is used.",
     {"required_if": {"op": "present", "tag": "00180012", "keyword": "ContrastBolusAgentSequence"},
      "otherwise": "unstated"}),
    ("Required if Dimension Organization Type (0020,9311) is not TILED_FULL; may be present otherwise.",
     {"required_if": {"op": "not_equals", "tag": "00209311", "keyword": "DimensionOrganizationType",
                      "values": ["TILED_FULL"]}, "otherwise": "optional"}),
]

UNDECIDABLE = [
    ("Required if contrast media was used in this image", "refers to no attribute"),
    ("Required if the SOP Instance was created in response to a Frame-Level retrieve request",
     "refers to no attribute"),
    ("Required if Acquisition Contrast (0008,9209) in any MR Image Frame Type Functional Group in the SOP "
     "Instance equals DIFFUSION and Image Type (0008,0008) Value 1 is ORIGINAL or MIXED.", "across frames"),
    ("Required if RT Fraction Scheme Module exists and Number of Beams (300A,0080) is greater than zero for one "
     "or more fraction groups. Shall not be present, if RT Brachy Application Setups Module is present.",
     "further statement"),
    ("Required if the Image Type (0008,0008) Value 1 equals DERIVED or Value 1 is ORIGINAL and Presentation "
     "Intent Type (0008,0068) equals FOR PRESENTATION.", "not enumerated terms"),
    ("Required for cardiac rest and stress images.", "not a 'Required if' statement"),
    ("Required if the Unknown Thing Module is present", "module this catalog does not define"),
    ("", "no condition text"),
]


@pytest.mark.parametrize(("text", "expected"), DECIDABLE)
def test_decidable_conditions_give_the_expression(text: str, expected: dict) -> None:
    got = parse(text, MODULES, MACROS)
    assert got.decidable and got.reason is None
    assert got.expr == expected
    props = got.props()
    assert json.loads(props["condition_expr"]) == expected and props["decidable"] is True


@pytest.mark.parametrize(("text", "why"), UNDECIDABLE)
def test_undecidable_conditions_say_why(text: str, why: str) -> None:
    got = parse(text, MODULES, MACROS)
    assert not got.decidable and got.expr is None
    assert why in (got.reason or "")
    assert got.props() == {"condition_expr": None, "decidable": False, "undecidable_reason": got.reason}


def test_a_tag_the_dictionary_does_not_know_is_not_decided():
    """PS3.3 of 2020 prints Illumination Color Code Sequence as (0048,ee08) (it is (0048,0108)): read as
    written, 'absent' would hold on every file and make Illumination Wave Length required everywhere."""
    parsed = parse("Required if Illumination Color Code Sequence (0048,ee08) is not present. May be present otherwise.")
    assert not parsed.decidable and "(0048,EE08) is not in the data dictionary" in (parsed.reason or "")
