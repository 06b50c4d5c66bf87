"""Hostile files (issue 15): each one is a report line or a kept problem, never the end of the ingest.

Every case is built from a real corpus file at test time, on both engines (the `store` fixture): an IS of
20 digits and a UV of 2**64-1 (past INT64), a name that is not UTF-8, a copy cut mid-header, a copy cut
before its SOP Instance UID, a 3,000-character Patient ID, a FIFO, a dangling and an outward symlink.
The hostile copies keep the SOP Instance UIDs of corpus files, so the corpus's ORACLE figures hold
exactly with all of them ingested together. The files they start from are pydicom's own, which
../shared/corpus holds byte for byte: only the oracle test needs ../shared, the others run in any clone.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Callable

import pydicom
import pytest

from dicom_graph.loader.ingest import run_ingest

CT = "pydicom/test_files/CT_small.dcm"
MR = "pydicom/test_files/MR_small.dcm"
NON_UTF8 = os.fsdecode(b"M\xfcller^Hans.dcm")


def _edited(corpus: Path, src: str, out: Path, **values: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the very values the test wants
        ds = pydicom.dcmread(corpus / src)
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        ds.save_as(out)


def _cut(corpus: Path, src: str, out: Path, at: int) -> None:
    out.write_bytes((corpus / src).read_bytes()[:at])


def _uid_offset(corpus: Path, src: str) -> int:
    """Where the SOP Instance UID's value starts in the file: a cut there leaves no identity."""
    ds = pydicom.dcmread(corpus / src, stop_before_pixels=True)
    return int(ds._dict[0x00080018].value_tell)


def _elsewhere(corpus: Path, folder: Path) -> Path:
    """A DICOM file outside every folder the test ingests: where an outward symlink leads."""
    outside = folder.parent / f"outside-{folder.name}"
    outside.mkdir(exist_ok=True)
    shutil.copy(corpus / MR, outside / "MR.dcm")
    return outside / "MR.dcm"


# name -> (make the file in a folder, what the report says: None when the file is ingested as it is)
HOSTILE: dict[str, tuple[Callable[[Path, Path], None], str | None]] = {
    "is_overflow": (lambda c, d: _edited(c, CT, d / "is_overflow.dcm", InstanceNumber="99999999999999999999"),
                    None),
    "uv_overflow": (lambda c, d: _edited(c, CT, d / "uv_overflow.dcm", SelectorUVValue=2 ** 64 - 1), None),
    "non_utf8_name": (lambda c, d: shutil.copy(c / CT, os.path.join(d, NON_UTF8)), None),
    "cut_mid_header": (lambda c, d: _cut(c, CT, d / "cut_mid_header.dcm", 700), "damaged"),
    "cut_before_uid": (lambda c, d: _cut(c, CT, d / "cut_before_uid.dcm", _uid_offset(c, CT) + 10),
                       "rejected"),
    "long_patient_id": (lambda c, d: _edited(c, MR, d / "long_patient_id.dcm", PatientID="P" * 3000), None),
    "fifo": (lambda c, d: os.mkfifo(d / "fifo"), "skipped"),
    "dangling_symlink": (lambda c, d: os.symlink(d / "nowhere.dcm", d / "dangling.dcm"), "skipped"),
    "outward_symlink": (lambda c, d: os.symlink(_elsewhere(c, d), d / "outward.dcm"), "skipped"),
}


def make_hostile(corpus: Path, folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        HOSTILE[name][0](corpus, folder)
    return folder


def _report(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _runs(store) -> list[str]:
    return [r["status"] for r in store.run("ingest_runs").records()]


def _instance(store, uid: str) -> dict:
    return store.query("MATCH (i:Instance {SOPInstanceUID: $u}) RETURN i.path AS path, i.path_hex AS path_hex, "
                       "i.invalid_values AS invalid, i.Rows AS rows, i.SeriesInstanceUID AS series, "
                       "i.damaged AS damaged, i.conflicting_hashes AS conflicts, i.content_hash AS hash",
                       {"u": uid}).records()[0]


def _uid(corpus: Path, src: str) -> str:
    return str(pydicom.dcmread(corpus / src, stop_before_pixels=True).SOPInstanceUID)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_one_hostile_file_among_good_ones(store, pydicom_corpus, tmp_path, name):
    """The good files are all in the graph, the hostile one is one report line (or a kept problem), and
    --resume after it works; no IngestRun is left running."""
    folder = tmp_path / "archive"
    folder.mkdir()
    for src in (CT, MR):
        shutil.copy(pydicom_corpus / src, folder / f"good_{Path(src).name}")
    make_hostile(pydicom_corpus, folder, [name])
    report = tmp_path / "rejects.jsonl"
    summary = run_ingest(store, [str(folder)], workers=1, progress=False, report_path=str(report))
    assert summary.status == "finished"
    assert store.run("data_counts").records()[0]["instances"] == 2
    lines = _report(report)
    status = HOSTILE[name][1]
    assert [line["status"] for line in lines] == ([status] if status else [])
    for line in lines:
        assert line["reason"] and line["path"].startswith(str(folder))
    if name == "is_overflow":
        assert _instance(store, _uid(pydicom_corpus, CT))["conflicts"]  # the copy lost to the good one, recorded
        assert "InstanceNumber=99999999999999999999" in _stored_invalid(folder / "is_overflow.dcm")
    if name == "long_patient_id":
        assert any(v.startswith("PatientID=PPP") for v in _stored_invalid(folder / "long_patient_id.dcm"))
        assert summary.problems >= 1

    again = run_ingest(store, [str(folder)], workers=1, progress=False, resume=True, report_path=str(report))
    assert again.status == "finished"
    assert again.files_skipped == summary.files_seen - summary.files_rejected
    assert _runs(store) == ["finished"]


def _stored_invalid(path: Path) -> list[str]:
    """The invalid values of the copy read from `path`, parsed again as the ingest read it (the copy lost
    to the corpus file it shares a UID with, so its own values are in its extraction, not the node)."""
    from dicom_graph.loader.ingest.sources import SourceFile
    from dicom_graph.loader.ingest.worker import process_file

    st = path.stat()
    outcome = process_file(SourceFile(str(path), st.st_size, st.st_mtime_ns))
    row = outcome.extracted[0].batch.nodes["Instance"][outcome.extracted[0].sop_instance_uid]
    return list(row.get("invalid_values") or [])


def test_values_past_int64_are_kept_as_invalid_text(store, pydicom_corpus, tmp_path):
    """Alone (no complete copy to lose to), the instance is in the graph with the value as text."""
    folder = make_hostile(pydicom_corpus, tmp_path / "a", ["is_overflow", "uv_overflow"])
    summary = run_ingest(store, [str(folder / "is_overflow.dcm")], workers=1, progress=False,
                         report_path=str(tmp_path / "r.jsonl"))
    assert summary.status == "finished" and summary.problems == 1
    assert _instance(store, _uid(pydicom_corpus, CT))["invalid"] == ["InstanceNumber=99999999999999999999"]


def test_non_utf8_path_is_stored_with_its_bytes(store, pydicom_corpus, tmp_path):
    folder = make_hostile(pydicom_corpus, tmp_path / "a", ["non_utf8_name"])
    run_ingest(store, [str(folder)], workers=1, progress=False, report_path=str(tmp_path / "r.jsonl"))
    row = _instance(store, _uid(pydicom_corpus, CT))
    assert row["path"] == str(folder) + "/M\\xfcller^Hans.dcm"
    assert os.fsdecode(bytes.fromhex(row["path_hex"])) == os.path.join(folder, NON_UTF8)
    assert os.path.exists(os.fsdecode(bytes.fromhex(row["path_hex"])))


@pytest.mark.parametrize("batch", [1, 100], ids=["across-batches", "one-batch"])
@pytest.mark.parametrize("cut_first", [True, False], ids=["cut-first", "complete-first"])
def test_complete_copy_wins_over_a_cut_one_in_either_order(store, pydicom_corpus, tmp_path, cut_first, batch):
    folder = tmp_path / "archive"
    folder.mkdir()
    cut, whole = ("a_cut.dcm", "b_whole.dcm") if cut_first else ("b_cut.dcm", "a_whole.dcm")
    _cut(pydicom_corpus, CT, folder / cut, 700)
    shutil.copy(pydicom_corpus / CT, folder / whole)
    report = tmp_path / "r.jsonl"
    summary = run_ingest(store, [str(folder)], workers=1, progress=False, report_path=str(report),
                         batch_instances=batch)
    assert summary.status == "finished" and summary.files_damaged == 1
    row = _instance(store, _uid(pydicom_corpus, CT))
    expected = pydicom.dcmread(pydicom_corpus / CT, stop_before_pixels=True)
    assert row["path"] == str(folder / whole)
    assert row["rows"] == expected.Rows and row["series"] == expected.SeriesInstanceUID
    assert not row["damaged"] and not row["hash"].startswith("damaged:")
    assert [h for h in row["conflicts"] if h.startswith("damaged:")] and len(row["conflicts"]) == 1
    assert [(line["path"], line["status"]) for line in _report(report)] == [(str(folder / cut), "damaged")]
    assert store.run("data_counts").records()[0]["series"] == 1  # no series made up by the cut copy


def test_a_cut_copy_alone_is_ingested_marked_damaged(store, pydicom_corpus, tmp_path):
    folder = make_hostile(pydicom_corpus, tmp_path / "a", ["cut_mid_header"])
    run_ingest(store, [str(folder)], workers=1, progress=False, report_path=str(tmp_path / "r.jsonl"))
    row = _instance(store, _uid(pydicom_corpus, CT))
    assert row["damaged"] is True and row["hash"].startswith("damaged:") and row["rows"] is None


def test_a_failing_write_is_narrowed_to_its_file(store, pydicom_corpus, tmp_path, monkeypatch):
    """A batch the engine refuses because of one file loses that file only, with the engine's reason."""
    folder = tmp_path / "archive"
    folder.mkdir()
    for src in (CT, MR, "pydicom/test_files/rtplan.dcm"):
        shutil.copy(pydicom_corpus / src, folder / Path(src).name)
    poison = _uid(pydicom_corpus, MR)
    original = type(store).write

    def write(self, batch, **kw):
        if poison in batch.nodes.get("Instance", {}):
            raise RuntimeError("the engine refuses this row")
        return original(self, batch, **kw)

    monkeypatch.setattr(type(store), "write", write)
    report = tmp_path / "r.jsonl"
    summary = run_ingest(store, [str(folder)], workers=1, progress=False, report_path=str(report))
    monkeypatch.undo()
    assert summary.status == "finished" and summary.files_rejected == 1 and summary.files_ingested == 2
    assert [(line["path"], line["error_class"]) for line in _report(report)] == [
        (str(folder / "MR_small.dcm"), "RuntimeError")]
    assert store.run("data_counts").records()[0]["instances"] == 2
    assert _runs(store) == ["finished"]


def test_private_sequence_pointers_are_found(store, pydicom_corpus, tmp_path):
    """Philips (2001,9000) in an implicit VR file: no VR in the file, none in the public dictionary."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(pydicom_corpus / CT)
    item = Dataset()
    item.ReferencedSOPInstanceUID = _uid(pydicom_corpus, MR)
    ds.add_new(0x20010090, "LO", "Philips Imaging DD 129")
    ds.add_new(0x20019000, "SQ", Sequence([item]))
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.save_as(tmp_path / "philips.dcm", implicit_vr=True, little_endian=True)
    run_ingest(store, [str(tmp_path / "philips.dcm")], workers=1, progress=False,
               report_path=str(tmp_path / "r.jsonl"))
    pairs = {(r["referencing"], r["referenced"]) for r in store.run("reference_pairs")}
    assert pairs == {(_uid(pydicom_corpus, CT), _uid(pydicom_corpus, MR))}


def test_corpus_with_every_hostile_file_reproduces_the_oracle(store, corpus, tmp_path):
    """The whole corpus (outside bad/) with all hostile files at once, in worker processes."""
    oracle = json.loads((corpus / "ORACLE.json").read_text())["outside_bad"]
    hostile = make_hostile(corpus, tmp_path / "hostile", sorted(HOSTILE))
    report = tmp_path / "rejects.jsonl"
    paths = [str(p) for p in sorted(corpus.iterdir()) if p.is_dir() and p.name != "bad"]
    summary = run_ingest(store, [*paths, str(hostile)], workers=2, progress=False, report_path=str(report))
    assert summary.status == "finished"
    counts = store.run("data_counts").records()[0]
    assert {k: counts[k] for k in ("patients", "studies", "series", "instances")} == {
        k: oracle[k] for k in ("patients", "studies", "series", "instances")}
    per_class = {r["sop_class_uid"]: r["instances"] for r in store.run("instances_per_sop_class")}
    assert per_class == {uid: v["instances"] for uid, v in oracle["per_sop_class"].items()}
    pairs = {(r["referencing"], r["referenced"]) for r in store.run("reference_pairs")}
    assert pairs == {tuple(p) for p in oracle["reference_pairs"]}
    lines = _report(report)
    assert sorted((Path(line["path"]).name, line["status"]) for line in lines) == sorted(
        (_made_name(name), status) for name, (_, status) in HOSTILE.items() if status)
    assert all(line["reason"] for line in lines)
    assert summary.files_rejected == len(oracle["unreadable_files"]) + 1  # the copy cut before its UID
    again = run_ingest(store, [*paths, str(hostile)], workers=2, progress=False, resume=True,
                       report_path=str(report))
    assert again.status == "finished" and again.files_ingested == 0
    assert _runs(store) == ["finished"]


def _made_name(name: str) -> str:
    return {"fifo": "fifo", "dangling_symlink": "dangling.dcm", "outward_symlink": "outward.dcm"}.get(
        name, f"{name}.dcm")
