"""Conformance rules on hand-made requirements (the graph-backed path is covered by the corpus tests)."""

import io

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from dicom_graph.loader.dataset.conformance import (AttributeRequirement, IodRequirements, ModuleRequirement,
                                                    check)
from dicom_graph.loader.dataset.convert import is_empty
from dicom_graph.loader.dataset.findings import item_state
from dicom_graph.model.schema import CONFORMANCE_COLUMNS


def _module(name, usage, type1, type2, keywords, extra=(), expr=None, key=""):
    attrs = tuple(AttributeRequirement(kw, "", t, "", "", None) for t, kws in (("1", type1), ("2", type2))
                  for kw in sorted(kws)) + tuple(extra)
    return ModuleRequirement(name, usage, frozenset(keywords), attrs, expr, key)


PATIENT = _module("Patient", "M", (), ("PatientName", "PatientID"), ("PatientName", "PatientID", "PatientComments"))
GENERAL_SERIES = _module("General Series", "M", ("Modality", "SeriesInstanceUID"), ("SeriesNumber",),
                         ("Modality", "SeriesInstanceUID", "SeriesNumber", "SeriesDate"))
ACQUISITION = _module("General Acquisition", "M", (), (), ("AcquisitionNumber", "AcquisitionDate"))
OVERLAY = _module("Overlay Plane", "U", ("OverlayRows",), (), ("OverlayRows",))
IOD = IodRequirements((PATIENT, GENERAL_SERIES, ACQUISITION, OVERLAY), {})


def test_complete_instance_is_conformant():
    present = {"PatientName": True, "PatientID": True, "Modality": True, "SeriesInstanceUID": True,
               "SeriesNumber": False}
    result = check(IOD, present)
    assert result["conformant"] is True
    assert result["modules_present"] == ["Patient", "General Series"]


def test_a_check_writes_exactly_the_conformance_columns():
    """The writer compares these columns to decide whether an unchanged instance read again is checked
    again (loader/ingest/resolve.py): a property check() adds must be among them."""
    assert set(check(IOD, {"PatientName": True})) == set(CONFORMANCE_COLUMNS)


def test_findings_per_type():
    result = check(IOD, {"PatientName": True, "Modality": False, "SeriesDate": True})
    assert result["type2_missing"] == ["Patient>PatientID", "General Series>SeriesNumber"]
    assert result["type1_empty"] == ["General Series>Modality"]
    assert result["type1_missing"] == ["General Series>SeriesInstanceUID"]
    assert result["conformant"] is False


def test_mandatory_module_missing_only_when_it_requires_something():
    result = check(IOD, {"Modality": True, "SeriesInstanceUID": True, "SeriesNumber": True})
    # Patient has Type 2 attributes and none is there; General Acquisition is all Type 3: absent is fine
    assert result["modules_missing"] == ["Patient"]
    assert "Overlay Plane" not in result["modules_missing"]  # user-optional
    # and, as dciodvfy reports it, each required attribute of the absent mandatory module is missing
    assert result["type2_missing"] == ["Patient>PatientID", "Patient>PatientName"]


_CINE_EXPR = {"required_if": {"op": "equals", "tag": "00280009", "keyword": "FrameIncrementPointer",
                              "values": ["00181063"]}, "otherwise": "unstated"}
_LUT = AttributeRequirement("RescaleSlope", "00281053", "1C", "", "Required if Modality is CT",
                            {"required_if": {"op": "equals", "tag": "00080060", "keyword": "Modality",
                                             "values": ["CT"]}, "otherwise": "unstated"})
_UNDECIDABLE = AttributeRequirement("RescaleType", "00281054", "1C", "", "Required if it is a Tuesday", None)
_ITEM = AttributeRequirement("CodeValue", "00080100", "1", "ConceptNameCodeSequence", "", None)
CINE = _module("Cine", "C", ("FrameTime",), (), ("FrameTime",), expr=_CINE_EXPR)
IMAGE = _module("Image", "M", (), (), ("Modality",), extra=(_LUT, _UNDECIDABLE, _ITEM))
CINE_IOD = IodRequirements((CINE, _module("Frames", "M", (), (), ("FrameIncrementPointer",)),
                            IMAGE), {})


def _ds(**kw):
    ds = Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def _present(ds):
    return {e.keyword: bool(e.value) for e in ds}


def test_conditional_module_and_1c_evaluated_from_the_data_set():
    item = _ds(CodeMeaning="x")
    ds = _ds(FrameIncrementPointer=0x00181063, Modality="CT", ConceptNameCodeSequence=[item])
    result = check(CINE_IOD, _present(ds), ds)
    assert result["modules_missing"] == ["Cine"]  # absent, and its condition holds: as if mandatory
    assert result["type1_missing"][0] == "Cine>FrameTime"
    rows = list(zip(result["finding_keyword"], result["finding_type"], result["finding_path"],
                    result["finding_problem"], result["finding_module"], strict=True))
    assert ("RescaleSlope", "1C", "", "missing", "Image") in rows
    assert ("CodeValue", "1", "ConceptNameCodeSequence", "missing", "Image") in rows  # one level inside items
    assert "RescaleType" not in result["finding_keyword"]  # undecidable: not evaluated, never a failure
    assert result["conditions_not_evaluated"] >= 1
    assert result["conditions_undecided"] == []  # RescaleType's text is prose: undecided on every instance
    assert result["finding_condition"][result["finding_keyword"].index("RescaleSlope")] == "Required if Modality is CT"


def test_condition_false_or_unreadable_is_no_finding():
    ds = _ds(FrameIncrementPointer=0x00181065, Modality="MR")
    result = check(CINE_IOD, _present(ds), ds)
    assert "RescaleSlope" not in result["finding_keyword"]
    assert "Cine" not in result["modules_missing"]
    no_ds = check(CINE_IOD, _present(ds))  # without the data set no condition can be decided
    assert "RescaleSlope" not in no_ds["finding_keyword"] and no_ds["conditions_not_evaluated"] >= 2


def test_optional_module_is_present_only_by_an_attribute_of_its_own():
    sc_image = _module("SC Image", "M", (), (), ("PixelSpacing",))
    plane = _module("Image Plane", "U", ("ImagePositionPatient",), (), ("PixelSpacing", "ImagePositionPatient",
                                                                          "SliceLocation"))
    iod = IodRequirements((sc_image, plane), {})
    shared = check(iod, {"PixelSpacing": True})  # the SC Image module's, no evidence of Image Plane
    assert "Image Plane" not in shared["modules_present"] and shared["finding_keyword"] == []
    own = check(iod, {"PixelSpacing": True, "SliceLocation": True})
    assert own["type1_missing"] == ["Image Plane>ImagePositionPatient"]


def test_findings_keep_the_modules_attribute_order_and_each_attribute_is_reported_once():
    """conformance visits only the attributes that can have a finding (findings.Plan): the findings must
    still come in each module's own order, top-level and nested interleaved as the module lists them, an
    attribute two modules require reported by the first only, an empty Type 2 and a filled one by none."""
    first = ModuleRequirement("First", "M", frozenset({"PatientID", "Modality"}), (
        AttributeRequirement("PatientID", "00100020", "1", "", "", None),
        _ITEM,
        AttributeRequirement("Modality", "00080060", "1", "", "", None),
        AttributeRequirement("PatientName", "00100010", "2", "", "", None),
        AttributeRequirement("StudyID", "00200010", "2", "", "", None),
        AttributeRequirement("SeriesNumber", "00200011", "1", "", "", None)))
    second = ModuleRequirement("Second", "M", frozenset({"AccessionNumber"}), (
        AttributeRequirement("Modality", "00080060", "1", "", "", None),
        AttributeRequirement("AccessionNumber", "00080050", "2", "", "", None)))
    ds = _ds(Modality="", StudyID="", SeriesNumber=3, ConceptNameCodeSequence=[_ds(CodeMeaning="x")])
    result = check(IodRequirements((first, second), {}), _present(ds), ds)
    rows = list(zip(result["finding_module"], result["finding_keyword"], result["finding_problem"], strict=True))
    assert rows == [("First", "PatientID", "missing"), ("First", "CodeValue", "missing"),
                    ("First", "Modality", "empty"), ("First", "PatientName", "missing"),
                    ("Second", "AccessionNumber", "missing")]


def test_a_1c_attribute_present_and_empty_is_a_finding_whatever_its_condition():
    """PS3.5 7.4.2: a Type 1C attribute has Type 1's requirements under its condition and is left out
    otherwise, so one that is there with no value is wrong either way (dciodvfy reports it too)."""
    ds = _ds(FrameIncrementPointer=0x00181065, Modality="MR", RescaleSlope=None, RescaleType=None)
    result = check(CINE_IOD, _present(ds), ds)
    rows = set(zip(result["finding_keyword"], result["finding_problem"], strict=True))
    assert ("RescaleSlope", "empty") in rows  # its condition (Modality CT) is false
    assert ("RescaleType", "empty") in rows  # its condition cannot be decided


_NESTED = AttributeRequirement("ReferencedInstanceSequence", "0008114A", "1", "ReferencedSeriesSequence", "", None)
REFERENCES_IOD = IodRequirements((_module("References", "M", (), (), ("ReferencedSeriesSequence",), extra=(_NESTED,)),
                                  ), {})


def _as_read(ds: Dataset) -> Dataset:
    """The data set written and read back: its items' elements raw, as an ingest meets them."""
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=False, little_endian=True)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()), force=True)


def test_a_type_1_sequence_with_no_items_inside_an_item_is_empty() -> None:
    """dciodvfy: an empty Type 1 attribute, a sequence too. The item's state came from pydicom's Sequence,
    which no list check recognised, so a nested sequence of no items passed as having a value."""
    for items, expected in (([], [("ReferencedInstanceSequence", "empty")]), ([Dataset()], [])):
        ds = _ds(ReferencedSeriesSequence=[_ds(ReferencedInstanceSequence=Sequence(items))])
        for read in (ds, _as_read(ds)):
            result = check(REFERENCES_IOD, _present(read), read)
            assert list(zip(result["finding_keyword"], result["finding_problem"], strict=True)) == expected, read


def test_an_items_one_or_two_byte_value_is_judged_as_its_converted_value_would_be() -> None:
    """item_state decides short raw values without pydicom's conversion where the bytes settle it; every
    answer must be the one the conversion gives (padding and separators are no value, a number is)."""
    cases: list[tuple[str, str | None, bytes]] = [
        ("CodingSchemeDesignator", "SH", v) for v in (b"LN", b"99", b"A ", b"  ", b"\x00\x00", b"\\ ", b"A\\")]
    cases += [("CodingSchemeDesignator", None, b"LN"), ("CodingSchemeDesignator", None, b"  "),
              ("RegionDataType", "US", b"\x01\x00"), ("RegionDataType", "US", b"\x00\x00"),
              ("PatientAge", "AS", b"0 "), ("Modality", "CS", b"\\\\"), ("ImageComments", "LT", b"\\ ")]
    for keyword, vr, value in cases:
        tag = BaseTag(tag_for_keyword(keyword) or 0)
        item, converted = Dataset(), Dataset()
        for ds in (item, converted):
            ds._dict[tag] = RawDataElement(tag, vr, len(value), value, 0, vr is None, True)
        assert item_state(item, keyword) is (not is_empty(converted[tag].value)), (keyword, vr, value)
