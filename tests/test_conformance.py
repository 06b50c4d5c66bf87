"""Conformance rules on hand-made requirements (the graph-backed path is covered by the corpus tests)."""

from dicom_graph.loader.dataset.conformance import ModuleRequirement, check

PATIENT = ModuleRequirement("Patient", "M", frozenset(), frozenset({"PatientName", "PatientID"}),
                            frozenset({"PatientName", "PatientID", "PatientComments"}))
GENERAL_SERIES = ModuleRequirement("General Series", "M", frozenset({"Modality", "SeriesInstanceUID"}),
                                   frozenset({"SeriesNumber"}),
                                   frozenset({"Modality", "SeriesInstanceUID", "SeriesNumber", "SeriesDate"}))
ACQUISITION = ModuleRequirement("General Acquisition", "M", frozenset(), frozenset(),
                                frozenset({"AcquisitionNumber", "AcquisitionDate"}))
OVERLAY = ModuleRequirement("Overlay Plane", "U", frozenset({"OverlayRows"}), frozenset(), frozenset({"OverlayRows"}))
IOD = (PATIENT, GENERAL_SERIES, ACQUISITION, OVERLAY)


def test_complete_instance_is_conformant():
    present = {"PatientName": True, "PatientID": True, "Modality": True, "SeriesInstanceUID": True,
               "SeriesNumber": False}
    result = check(IOD, present)
    assert result["conformant"] is True
    assert result["modules_present"] == ["Patient", "General Series"]


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
