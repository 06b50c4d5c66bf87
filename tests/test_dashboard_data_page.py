"""The Data page's module view of one instance agrees with its conformance: a module conformance found
present is never called "absent" there, although what makes it present may be a sequence (sequences are
kept as their pointers, not stored as values), and a missing mandatory module is. Built from one of
pydicom's own test files, so it runs in any clone."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from streamlit.testing.v1 import AppTest

from dicom_graph.loader.ingest import run_ingest
from dicom_graph.loader.standard.load import load_standard
from dicom_graph.model.store import open_store

from .test_dashboard_apptest import APP, TIMEOUT, assert_clean

# a CT image whose Contrast/Bolus module is present by its ContrastBolusAgentSequence alone
FILE = "J2K_pixelrep_mismatch.dcm"


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    db = str(tmp_path / "g.db")
    ds = pydicom.dcmread(get_testdata_file(FILE))
    for keyword in ("BodyPartExamined", "Laterality", "ImageLaterality"):  # paired or not: cannot be told
        ds.pop(keyword, None)
    ds.save_as(tmp_path / FILE)
    with open_store(db, read_only=False, create=True) as store:
        load_standard(store)
        run_ingest(store, [str(tmp_path / FILE)], workers=1, progress=False,
                   report_path=str(tmp_path / "rejects.jsonl"))
        row = store.query("MATCH (i:Instance) RETURN i.SOPInstanceUID AS uid").records()[0]
        flags = store.run("instance_conformance", uid=row["uid"]).records()[0]
    monkeypatch.setenv("DICOM_GRAPH_DB", db)
    monkeypatch.delenv("NEO4J_URI", raising=False)
    return flags


def test_a_module_present_by_a_sequence_is_not_called_absent(instance: dict) -> None:
    assert "Contrast/Bolus" in instance["modules_present"]  # what conformance says, independently of the page
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/data.py").run()
    at.text_input(key="f_attr").input(f"SOPInstanceUID={instance['uid']}").run()
    assert_clean(at)
    titles = {e.label.split(" · ", 1)[1].rsplit(" (", 1)[0]: e.label for e in at.expander if " · " in e.label}
    assert titles, [e.label for e in at.expander]
    for module in instance["modules_present"]:
        if module in titles:
            assert "absent" not in titles[module], titles[module]
    assert "Contrast/Bolus" in titles and "absent" not in titles["Contrast/Bolus"]
    for module in instance["modules_missing"] or []:
        assert module in titles and titles[module].endswith("— absent"), (module, titles.get(module))
    # what could not be decided on this instance is named on the page, not left to look like a pass
    assert "General Series>Laterality" in instance["undecided"]  # no Body Part Examined: paired or not?
    shown = " ".join(c.value for c in at.caption)
    assert "Not evaluated" in shown and all(u in shown for u in instance["undecided"])
