"""The conformance memo (loader/dataset/memo.py) answers as a fresh evaluation does.

Each case writes two copies of a pydicom test file that differ only where one condition looks (a value
at the top level, a value in a sequence item, a value reached by a condition's `path`, a macro's
sequence in a functional group item, an item attribute's emptiness). The first copy is evaluated through
the memo, then the second: the memo's answer for the second must be the fresh evaluation's, and differ
from the first's, so a key that missed what that condition reads would fail. Then every file of
pydicom's test files and of ../shared/corpus, with the standard's requirements: memo and fresh
evaluation agree file by file, with memo hits among them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian

from dicom_graph.loader.dataset import conformance, memo
from dicom_graph.loader.dataset.conformance import AttributeRequirement, IodRequirements, ModuleRequirement
from dicom_graph.loader.dataset.content_hash import new_digest
from dicom_graph.loader.dataset.elements import read_elements
from dicom_graph.loader.ingest.sources import read_dataset, walk
from dicom_graph.loader.standard import load_standard

from .conftest import make_store


def _when(op: str, tag: str, values: tuple[Any, ...] = (), path: tuple[str, ...] = ()) -> dict[str, Any]:
    pred: dict[str, Any] = {"op": op, "tag": tag, "values": list(values)}
    if path:
        pred["path"] = list(path)
    return {"required_if": pred}


def _attr(keyword: str, tag: str, type_: str, expr: dict[str, Any] | None = None, path: str = "") -> AttributeRequirement:
    return AttributeRequirement(keyword, tag, type_, path, "condition" if expr else "", expr)


def _iod() -> IodRequirements:
    """An IOD whose conditions read each kind of thing the memo must key on (a fresh object per test:
    the memo is per IOD object, so no test sees another's entries)."""
    image = ModuleRequirement("Image", "M", frozenset({"Modality", "SamplesPerPixel"}), (
        _attr("RescaleType", "00281054", "1C", _when("equals", "00080060", ("CT",))),
        _attr("PlanarConfiguration", "00280006", "1C", _when("greater", "00280002", (1,))),
        _attr("CodeValue", "00080100", "1", path="ConceptNameCodeSequence"),
        _attr("CodeMeaning", "00080104", "1C", _when("equals", "00080102", ("DCM",)), "ConceptNameCodeSequence"),
        _attr("FrameTime", "00181063", "1C", _when("equals", "00189808", ("VOLUME",), ("52009229", "00209111")))))
    cardiac = ModuleRequirement("Cardiac", "C", frozenset({"HeartRate"}), (_attr("HeartRate", "00181088", "1"),),
                                {"required_if": {"op": "macro_present", "macro": "cardiac-sync"}})
    return IodRequirements((image, cardiac), {"cardiac-sync": 0x00189118})


def _base() -> Dataset:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.ConceptNameCodeSequence = [_item(CodeValue="113000", CodingSchemeDesignator="99X")]  # no CodeMeaning: the 1C
    # is then missing only where its condition holds (present with no value it would be wrong either way)
    ds.SharedFunctionalGroupsSequence = [_item(FrameContentSequence=[_item(DataType="TISSUE")])]
    return ds


def _item(**kw: Any) -> Dataset:
    item = Dataset()
    for k, v in kw.items():
        setattr(item, k, v)
    return item


def _read(path: Path) -> tuple[Dataset, dict[str, bool]]:
    """The data set as the worker has it when conformance runs: read, then walked by read_elements."""
    ds = read_dataset(str(path))
    return ds, read_elements(ds, new_digest(None), lambda kw: False).present


def _run(check: Any, iod: IodRequirements, path: Path) -> dict[str, Any]:
    ds, present = _read(path)
    return check(iod, present, ds)  # type: ignore[no-any-return]


def _changes() -> dict[str, Any]:
    def modality(ds: Dataset) -> None:
        ds.Modality = "MR"

    def samples(ds: Dataset) -> None:
        ds.SamplesPerPixel = 3

    def designator(ds: Dataset) -> None:
        ds.ConceptNameCodeSequence[0].CodingSchemeDesignator = "DCM"

    def by_path(ds: Dataset) -> None:
        ds.SharedFunctionalGroupsSequence[0].FrameContentSequence[0].DataType = "VOLUME"

    def macro(ds: Dataset) -> None:
        ds.SharedFunctionalGroupsSequence[0].CardiacSynchronizationSequence = [_item(RRIntervalTimeNominal=800)]

    def item_empty(ds: Dataset) -> None:
        ds.ConceptNameCodeSequence[0].CodeValue = ""

    return {"value": modality, "greater": samples, "item value": designator, "path": by_path,
            "macro_present": macro, "item attribute empty": item_empty}


def _save(ds: Dataset, path: Path, implicit: bool) -> None:
    """Written as it was read (Explicit VR Little Endian), or as Implicit VR Little Endian: then every raw
    element's VR is the dictionary's, and the memo keys on that."""
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(path, implicit_vr=implicit, little_endian=True)


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit VR", "implicit VR"])
@pytest.mark.parametrize("change", list(_changes()))
def test_a_memo_hit_is_the_fresh_answer_where_only_a_condition_s_value_differs(change: str, implicit: bool,
                                                                              tmp_path: Path):
    iod = _iod()
    first, second = tmp_path / "first.dcm", tmp_path / "second.dcm"
    _save(_base(), first, implicit)
    changed = _base()
    _changes()[change](changed)
    _save(changed, second, implicit)
    fresh_first, fresh_second = _run(conformance.check, iod, first), _run(conformance.check, iod, second)
    assert fresh_first != fresh_second, "the change must matter to the evaluation for the case to test the key"
    assert _run(memo.check, iod, first) == fresh_first
    assert _run(memo.check, iod, second) == fresh_second
    assert _run(memo.check, iod, first) == fresh_first  # and the first's entry still stands
    plan = memo.plan_for(iod)
    assert plan is not None and plan.hits == 1 and plan.misses == 2


def test_identical_copies_hit_and_get_lists_of_their_own(tmp_path: Path):
    iod = _iod()
    _base().save_as(tmp_path / "a.dcm")
    one, two = _run(memo.check, iod, tmp_path / "a.dcm"), _run(memo.check, iod, tmp_path / "a.dcm")
    plan = memo.plan_for(iod)
    assert plan is not None and (plan.hits, plan.misses) == (1, 1)
    assert one == two and one["finding_keyword"] is not two["finding_keyword"]
    one["finding_keyword"].append("changed by a caller")
    assert _run(memo.check, iod, tmp_path / "a.dcm")["finding_keyword"] == two["finding_keyword"]


def test_an_operator_the_memo_cannot_account_for_turns_it_off():
    """A predicate without a `tag` whose operator the memo does not know may read anything: no memo."""
    odd = ModuleRequirement("Odd", "C", frozenset({"HeartRate"}), (),
                            {"required_if": {"op": "reads_something_new", "keyword": "HeartRate"}})
    assert memo.plan_for(IodRequirements((odd,), {})) is None
    tagged = ModuleRequirement("Tagged", "C", frozenset({"HeartRate"}), (),
                               {"required_if": {"op": "in_vocabulary", "tag": "00080060", "path": ["52009229"]}})
    plan = memo.plan_for(IodRequirements((tagged,), {}))
    assert plan is not None and plan.paths == {((0x52009229,), 0x00080060): True}  # read as a value


@pytest.fixture(scope="module")
def requirements(tmp_path_factory: pytest.TempPathFactory) -> conformance.Requirements:
    store = make_store("embedded", tmp_path_factory.mktemp("standard"))
    try:
        load_standard(store)
        return conformance.load_requirements(store)
    finally:
        store.close()


def _agree(files: list[str], requirements: conformance.Requirements) -> int:
    """Memo and fresh evaluation on every readable file; the number of memo hits."""
    hits = 0
    for path in files:
        try:
            ds, present = _read(Path(path))
            cold_ds, cold_present = _read(Path(path))
        except Exception:  # noqa: BLE001  (unreadable files are the worker's to reject, not this test's)
            continue
        iod = requirements.get(str(ds.get("SOPClassUID", "")))
        if iod is None:
            continue
        plan = memo.plan_for(iod)
        before = plan.hits if plan else 0
        try:
            fresh: Any = conformance.check(iod, cold_present, cold_ds)
        except Exception as exc:  # noqa: BLE001  (then the memo must fail alike)
            fresh = type(exc)
        try:
            warm: Any = memo.check(iod, present, ds)
        except Exception as exc:  # noqa: BLE001
            warm = type(exc)
        assert warm == fresh, path
        hits += (plan.hits if plan else 0) - before
    return hits


def test_memo_agrees_with_fresh_evaluation_on_pydicom_s_test_files(requirements: conformance.Requirements,
                                                                   pydicom_corpus: Path):
    files = [f.path for f in walk([str(pydicom_corpus)])] * 2  # the second round hits what the first stored
    assert _agree(files, requirements) > 0


def test_memo_agrees_with_fresh_evaluation_on_the_corpus(requirements: conformance.Requirements, corpus: Path):
    files = [f.path for f in walk([str(corpus)]) if not f.path.endswith((".tsv", ".md"))]
    assert _agree(files, requirements) > 0


def test_a_legacy_converted_ct_with_nothing_unassigned_per_frame_has_no_finding_for_it(
        requirements: conformance.Requirements, tmp_path: Path) -> None:
    """highdicom's conversion of one CT image puts every attribute in the Shared item, so its Per-frame
    item has no Unassigned Per-frame Converted Attributes Sequence, rightly: 1C, "Required if any
    unassigned per-frame Attributes are present for this frame" (PS3.3 C.7.6.16.2.25). The standard a
    dicom-graph before 4 Dec 2026 loaded made it Type 1 there and reported it missing."""
    from highdicom import UID
    from highdicom.legacy import LegacyConvertedEnhancedCTImage

    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    converted = LegacyConvertedEnhancedCTImage([ct], series_instance_uid=UID(), series_number=1,
                                               sop_instance_uid=UID(), instance_number=1)
    assert "UnassignedPerFrameConvertedAttributesSequence" not in converted.PerFrameFunctionalGroupsSequence[0]
    converted.save_as(tmp_path / "lcct.dcm")
    iod = requirements[converted.SOPClassUID]
    result = _run(conformance.check, iod, tmp_path / "lcct.dcm")
    assert "UnassignedPerFrameConvertedAttributesSequence" not in result["finding_keyword"]
    assert result["conditions_not_evaluated"] > 0  # its condition, among others, is counted as not evaluated
    assert "FrameContentSequence" not in result["finding_keyword"]  # a Type 1 one that is there
    del converted.PerFrameFunctionalGroupsSequence[0].FrameContentSequence  # and one that is not: still found
    converted.save_as(tmp_path / "no-frame-content.dcm")
    assert "FrameContentSequence" in _run(conformance.check, iod, tmp_path / "no-frame-content.dcm")["finding_keyword"]


def test_a_label_map_segmentation_needs_no_segment_identification(requirements: conformance.Requirements,
                                                                  tmp_path: Path) -> None:
    """A LABELMAP frame holds all its Segments, so no Segment Identification Sequence (one Referenced
    Segment Number) names them; the 2024e condition of the Segmentation macro predates LABELMAP (Sup
    243) and required one wherever Dimension Organization Type is not TILED_FULL. highdicom writes none,
    dciodvfy asks for none, and neither does the graph (curated macro_conditions.csv); a BINARY
    segmentation without one is still reported."""
    import numpy as np
    from highdicom import UID
    from highdicom.seg import Segmentation, SegmentAlgorithmTypeValues, SegmentDescription
    from pydicom.sr.codedict import codes

    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    segment = SegmentDescription(1, "bone", codes.SCT.Tissue, codes.SCT.Bone, SegmentAlgorithmTypeValues.MANUAL)
    mask = np.zeros((ct.Rows, ct.Columns), dtype=np.uint8)
    mask[10:20, 10:20] = 1
    found = {}
    for kind in ("LABELMAP", "BINARY"):
        seg = Segmentation([ct], mask, kind, [segment], UID(), 1, UID(), 1, "dicom-graph", "tests", "1", "pytest",
                           "test")
        seg.DimensionOrganizationType = "3D"  # not TILED_FULL: the macro's condition asks for Segmentation Type
        for item in (*seg.SharedFunctionalGroupsSequence, *seg.PerFrameFunctionalGroupsSequence):
            if "SegmentIdentificationSequence" in item:
                del item.SegmentIdentificationSequence
        seg.save_as(tmp_path / f"{kind}.dcm")
        result = _run(conformance.check, requirements[seg.SOPClassUID], tmp_path / f"{kind}.dcm")
        found[kind] = [(p, k) for p, k in zip(result["finding_path"], result["finding_keyword"], strict=True)
                       if k == "SegmentIdentificationSequence"]
    assert found["LABELMAP"] == []
    assert sorted(found["BINARY"]) == [("PerFrameFunctionalGroupsSequence", "SegmentIdentificationSequence"),
                                       ("SharedFunctionalGroupsSequence", "SegmentIdentificationSequence")]
