"""PHI scan, on both engines: after `ingest --pseudonymize`, no original value of any attribute of PS3.15
Table E.1-1 (UIDs aside: kept on purpose, basic_profile.py) and no path of an ingested file appears in any
property of any node or relationship, nor in the rejection report.

Probe files are made here with pydicom: every attribute of the table that pydicom's dictionary knows, with
a distinctive value each, at top level and again inside a sequence item, plus private tags (a private
sequence holding pointers), a multi-valued Patient Name / Patient ID with invalid characters, the same
Patient ID under two issuers, and a folder named like a patient. The real corpus is scanned the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pydicom
import pytest
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from dicom_graph.loader.dataset import basic_profile
from dicom_graph.loader.dataset.pseudonymize import ENV_KEY, Pseudonymizer
from dicom_graph.loader.ingest import run_ingest

KEY = "phi-scan-key"
PHI_FOLDER = "SMITH^JANE_MRN778899"
UID_ROOT = "1.2.826.0.1.3680043.10.999."
NESTED = 1000  # nested values are numbered from here, so each planted value is distinct
_UID = re.compile(r"[0-9]+(\.[0-9]+){3,}|\b[0-9a-f]{16,}\b")  # UIDs, and hex digests (pseudonyms, keys)
_NUMBER = re.compile(r"[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?")


def table_tags() -> list[tuple[int, str, str]]:
    """(tag, keyword, Basic Profile action) of every row pydicom's dictionary knows, repeating groups at
    their first group (60xx -> 6000); content groups only (0000 and 0002 are no dataset elements)."""
    tags = []
    for row in basic_profile.rows():
        for kw in sorted(basic_profile.row_keywords(row)):
            tag = int(row.id, 16) if "x" not in row.id else _repeater_tag(kw)
            if tag >> 16 >= 0x0008:
                tags.append((tag, kw, row.action))
    return tags


def _repeater_tag(keyword: str) -> int:
    from pydicom.datadict import RepeatersDictionary
    mask = next(m for m, entry in RepeatersDictionary.items() if entry[4] == keyword)
    return int(mask.replace("x", "0"), 16)


def planted(vr: str, n: int) -> Any:
    """A distinctive value of VR `vr` numbered n: letters that no hex hash or UID contains."""
    text = f"ZQ{n:04d}X"
    by_vr: dict[str, Any] = {
        "PN": f"{text}^PROBE", "UR": f"http://probe.invalid/{text}", "DA": f"{1300 + n:04d}0317",
        "TM": f"2301{n % 60:02d}.9{n:05d}", "DT": f"{1300 + n:04d}0317230142.9{n:05d}",
        "AS": f"{n % 1000:03d}W", "DS": f"9{n:05d}.25", "IS": f"77{n:05d}", "US": 20000 + n, "SS": 20000 + n,
        "UL": 700000000 + n, "SL": 700000000 + n, "SV": 700000000 + n, "UV": 700000000 + n,
        "FL": 9000.5 + n, "FD": 9000.5 + n, "AT": 0x7777_0000 + n, "UI": f"{UID_ROOT}{n}",
    }
    if vr in by_vr:
        return by_vr[vr]
    if vr == "SQ":
        item = Dataset()
        item.CodeMeaning = text
        return [item]
    if vr in ("AE", "CS", "SH", "LO", "LT", "ST", "UT", "UC"):
        return text
    return (text + " ").encode("ascii")  # OB, OW, OF, OD, OL, OV, UN: bytes with the text inside


def fill(ds: Dataset, base: int, secrets: dict[str, Any], kept: dict[str, Any]) -> None:
    """Every table attribute into `ds`, numbered from `base`; UIDs (U) to `kept`, the rest to `secrets`."""
    for i, (tag, kw, action) in enumerate(table_tags()):
        vr = dictionary_VR(tag).split(" or ")[0]
        value = planted(vr, base + i)
        ds.add_new(tag, vr, value)
        target = kept if action == "U" else secrets
        target[f"{kw}@{base}"] = value[0].CodeMeaning if vr == "SQ" else value


def add_private(ds: Dataset, n: int, secrets: dict[str, Any]) -> None:
    block = ds.private_block(0x0029, "ZQ PROBE CREATOR", create=True)
    block.add_new(0x01, "LO", f"ZQ{n:04d}P")
    item = Dataset()
    item.ReferencedSOPInstanceUID = f"{UID_ROOT}{n}.7"  # a pointer inside a private sequence: dropped
    item.StudyInstanceUID = f"{UID_ROOT}{n}.8"
    block.add_new(0x02, "SQ", [item])
    secrets.update({f"private@{n}": f"ZQ{n:04d}P", f"private-pointer@{n}": f"{UID_ROOT}{n}.7",
                    f"private-study@{n}": f"{UID_ROOT}{n}.8"})


def base_dataset(study: str, instance: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = instance
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, instance, "CT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, study + ".1"
    return ds


def write_probes(root: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Path]]:
    """The probe folder; returns (secrets, kept UIDs, files by role)."""
    folder = root / PHI_FOLDER
    folder.mkdir(parents=True)
    secrets: dict[str, Any] = {"folder": PHI_FOLDER}
    kept: dict[str, Any] = {}
    files = {}
    ds = Dataset()
    fill(ds, 0, secrets, kept)  # the SOP Instance UID and friends are table rows (U) too
    item = Dataset()
    fill(item, NESTED, secrets, kept)
    ds.ReferencedSeriesSequence = [item]  # a sequence outside the table, holding every table attribute
    add_private(ds, 9100, secrets)
    add_private(item, 9200, secrets)
    full = base_dataset(ds.StudyInstanceUID, ds.SOPInstanceUID)
    full.update(ds)
    files["full"] = folder / "JANE-full-probe.dcm"
    full.save_as(files["full"], enforce_file_format=True)

    multi = base_dataset(f"{UID_ROOT}5000", f"{UID_ROOT}5000.1.1")
    multi.add_new(0x00100010, "PN", ["SMITH^JANE", "DOE^J\x07OHNNY"])
    multi.add_new(0x00100020, "LO", ["MRN778899", "ALT\x01MRN4455"])
    secrets.update({"name-1": "SMITH^JANE", "name-2": "DOE^J", "id-1": "MRN778899", "id-2": "MRN4455"})
    files["multi"] = folder / "MRN778899-multi.dcm"
    multi.save_as(files["multi"], enforce_file_format=True)

    for issuer in ("A", "B"):
        ds = base_dataset(f"{UID_ROOT}600{ord(issuer)}", f"{UID_ROOT}600{ord(issuer)}.1.1")
        ds.PatientID, ds.IssuerOfPatientID = "MRN778899", f"ZQISSUER{issuer}"
        secrets[f"issuer-{issuer}"] = ds.IssuerOfPatientID
        files[f"issuer-{issuer}"] = folder / f"issuer-{issuer}.dcm"
        ds.save_as(files[f"issuer-{issuer}"], enforce_file_format=True)

    files["notes"] = folder / "JANE_SMITH_notes.txt"  # rejected: not DICOM
    files["notes"].write_text("Jane Smith, MRN 778899\n")
    files["truncated"] = folder / "MRN778899-truncated.dcm"  # rejected or recovered, in the report either way
    files["truncated"].write_bytes(files["full"].read_bytes()[:200])
    return secrets, kept, files


# --- the scan ----------------------------------------------------------------------------------------

def graph_leaves(store: Any) -> list[Any]:
    """Every property value of every node and relationship in the store, lists flattened."""
    rows = store.query("MATCH (n) RETURN n").records() + store.query("MATCH ()-[r]->() RETURN r").records()
    return list(_leaves(rows))


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, (dt.date, dt.datetime, dt.time)):
        yield value.isoformat()
    elif isinstance(value, str) and value[:1] in "{[" and (parsed := _json(value)) is not None:
        # a JSON text property (EntityValues.observed, Instance.other_values) holds values of its own:
        # scanned one by one, as if stored as properties, so a kept value beside a removed one is no leak
        # and a removed one inside it is found
        yield from _json_leaves(parsed)
    elif value is not None:
        yield value


def _json_leaves(value: Any) -> Iterator[Any]:
    """Inside JSON, keys are data too (EntityValues.observed maps a keyword to {value text: count})."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _json_leaves(v)
    else:
        yield from _leaves(value)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def forms(value: Any) -> tuple[set[str], set[Any]]:
    """(texts that must not occur inside any stored text, values no stored value may equal)."""
    if isinstance(value, bytes):
        return {value.decode("ascii").strip()}, set()
    if isinstance(value, (int, float)):
        return ({str(value)} if len(str(value)) >= 7 else set()), {value}
    text = str(value).strip()
    found = {text} if len(text) >= 5 else set()
    if len(text) >= 8 and text[:8].isdigit():  # a date: also as the ISO text the graph returns
        found.add(f"{text[:4]}-{text[4:6]}-{text[6:8]}")
    return found, {text}


def leaks(leaves: list[Any], secrets: dict[str, Any], verbatim: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The secrets found in the leaves. Texts are searched with the UIDs and hex digests in them blanked
    (UIDs are kept verbatim on purpose, real ones embed dates, times and serial numbers, and a digest
    holds any short run of digits by chance), and without the values of
    attributes the profile keeps (`verbatim`: a model name holding a truncated station name is no leak);
    equality is still checked against every leaf, UIDs included."""
    texts = [_UID.sub("", v) for v in leaves if isinstance(v, str) and v not in verbatim]
    exact = {v for v in leaves if not isinstance(v, bool)} | {str(v) for v in leaves if isinstance(v, float)}
    found = {}
    for name, value in secrets.items():
        inside, equal = forms(value)
        if any(s in t for s in inside for t in texts) or equal & exact:
            found[name] = value
    return found


def report_lines(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> Pseudonymizer:
    monkeypatch.setenv(ENV_KEY, KEY)
    return Pseudonymizer(KEY)


def test_probe_files_leak_nothing(store, tmp_path, key):
    secrets, kept, files = write_probes(tmp_path / "in")
    secrets.update({f"path:{role}": str(path) for role, path in files.items()})
    secrets.update({f"name:{role}": path.name for role, path in files.items()})
    summary = run_ingest(store, [str(tmp_path / "in")], workers=1, pseudonymize=True, progress=False,
                         report_path=str(tmp_path / "out" / "rejects.jsonl"))
    assert summary.status == "finished" and summary.files_ingested >= 4 and summary.files_rejected >= 1

    leaves = graph_leaves(store)
    assert leaks(leaves, secrets) == {}
    report = report_lines(summary.report_path)
    assert {line["path"] for line in report} >= {key.path(str(files["notes"]))}
    assert leaks(list(_leaves(report)), secrets) == {}
    # the deviation, on purpose: UIDs stay, so the pointers resolve
    assert {kept["StudyInstanceUID@0"], kept["SOPInstanceUID@0"], kept["ReferencedSOPInstanceUID@1000"]} \
        <= set(leaves)
    assert len(secrets) > 2 * len(kept) > 100  # the probe planted what it says

    ids = {files[f"issuer-{i}"]: key.patient_id("MRN778899", f"ZQISSUER{i}") for i in "AB"}
    patients = store.query("MATCH (p:Patient)-[:HAS_STUDY]->(s:Study) WHERE s.StudyInstanceUID IN $uids "
                           "RETURN p.key AS key, p.PatientID AS id",
                           {"uids": [f"{UID_ROOT}600{ord(i)}" for i in "AB"]}).records()
    assert sorted((r["key"], r["id"]) for r in patients) == sorted((v, v) for v in ids.values())
    assert len(set(ids.values())) == 2  # the same Patient ID under two issuers: two patients

    again = run_ingest(store, [str(tmp_path / "in")], workers=1, pseudonymize=True, progress=False,
                       resume=True, report_path=str(tmp_path / "out" / "rejects.jsonl"))
    assert again.files_skipped == summary.files_ingested - summary.files_recovered > 0
    assert leaks(graph_leaves(store), secrets) == {}


def corpus_secrets(corpus: Path) -> tuple[dict[str, Any], frozenset[str]]:
    """Every non-UID value of a table attribute at any depth of every corpus file pydicom reads, and every
    path under the corpus, minus values that also occur as a kept attribute (they are not secrets); and
    the kept attributes' values."""
    removed = {kw for (_, kw, action) in table_tags() if action != "U"} | {"PatientID", "PatientName"}
    secrets: dict[str, Any] = {}
    kept_values: set[str] = set()
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        rel = path.relative_to(corpus)
        secrets[f"path:{rel}"] = str(path)
        for part in rel.parts:
            if not (_NUMBER.fullmatch(part) and len(part) < 7):  # DICOMDIR file names: short numbers
                secrets[f"part:{part}"] = part
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            ds.walk(lambda _ds, elem, where=str(rel): _collect(elem, removed, where, secrets, kept_values))
        except Exception:
            continue  # unreadable by pydicom too: only its path can leak
    return {k: v for k, v in secrets.items() if str(v).strip() not in kept_values}, frozenset(kept_values)


def _collect(elem: Any, removed: set[str], where: str, secrets: dict[str, Any], kept: set[str]) -> None:
    if elem.VR in ("SQ", "UI") or elem.tag.group in (0x0002, 0x7FE0):
        return
    try:
        values = elem.value if isinstance(elem.value, (list, pydicom.multival.MultiValue)) else [elem.value]
        texts = [str(v).strip() for v in values if v not in (None, "", b"") and not isinstance(v, bytes)]
    except Exception:
        return
    for i, text in enumerate(texts):
        if _NUMBER.fullmatch(text) and len(text) < 7:
            continue  # a short number equals some kept measurement by chance, and identifies no one
        if elem.keyword in removed or elem.tag.is_private:
            secrets[f"{where}:{elem.keyword or elem.tag}:{i}"] = text
        else:
            kept.add(text)


def test_real_corpus_leaks_nothing(store, corpus, tmp_path, key):
    summary = run_ingest(store, [str(corpus)], workers=2, pseudonymize=True, progress=False,
                         report_path=str(tmp_path / "rejects.jsonl"))
    assert summary.status == "finished" and summary.files_rejected > 0
    secrets, kept = corpus_secrets(corpus)
    assert len(secrets) > 1000  # the corpus holds identifying values to look for
    assert leaks(graph_leaves(store), secrets, kept) == {}
    assert leaks(list(_leaves(report_lines(summary.report_path))), secrets, kept) == {}
