"""Three analyst questions, asked of every contender in its own language, and the answers compared.

(1) studies per modality, (2) series per patient (the question "which patient has the most series?"
is its maximum; the whole distribution is compared, which is the stronger check), (3) instances per SOP
class. Each answer is {group: count} with text keys, so answers from a graph, SQLite, DuckDB and a
REST API compare as plain dicts. dicom-graph answers through its command line and named queries, as
an analyst would; the others through their own query language or API.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

Answers = dict[str, dict[str, int]]
QUESTIONS = ("studies_per_modality", "series_per_patient", "instances_per_sop_class")
# Modality Performed Procedure Step SOP Class (PS3.4 F.7.1): the archive's mpps.json documents, which
# dicom-graph reads as instances of it and the others, reading Part 10 files only, never see
MPPS_SOP_CLASS = "1.2.840.10008.3.1.2.3.3"


def files_only(said: Answers) -> tuple[Answers, int]:
    """The answers restricted to what Part 10 files hold, and how many MPPS instances were set aside."""
    classes = dict(said["instances_per_sop_class"])
    mpps = classes.pop(MPPS_SOP_CLASS, 0)
    return {**said, "instances_per_sop_class": classes}, mpps


def _named(db: Path, name: str, key: str, value: str, *params: str) -> dict[str, int]:
    """A named query's rows as {key: value}; rows sharing a key add up (two Patient nodes with one
    PatientID, told apart by name or issuer, are one patient to the rivals, which key on PatientID)."""
    run = subprocess.run(["dicom-graph", "query", name, "-f", "json", "--db", str(db), *params],
                         capture_output=True, text=True, check=True)
    out: Counter[str] = Counter()
    for row in json.loads(run.stdout):
        out[str(row[key])] += int(row[value])
    return dict(out)


def dicom_graph(db: Path) -> Answers:
    return {"studies_per_modality": _named(db, "example_studies_per_modality", "modality", "studies"),
            "series_per_patient": _named(db, "example_patient_tree", "patient_id", "series", "-p", "limit=10000000"),
            "instances_per_sop_class": _named(db, "instances_per_sop_class", "sop_class_uid", "instances")}


DICOMINDEX_SQL = {
    "studies_per_modality": "SELECT Modality, count(DISTINCT StudyInstanceUID) FROM series GROUP BY 1",
    "series_per_patient": "SELECT st.PatientID, count(*) FROM series se JOIN study st "
                          "ON se.StudyInstanceUID = st.StudyInstanceUID GROUP BY 1",
    "instances_per_sop_class": "SELECT SOPClassUID, count(*) FROM instance GROUP BY 1",
}


def dicomindex(sqlite: Path) -> Answers:
    with sqlite3.connect(sqlite) as db:
        return {q: {str(k): int(n) for k, n in db.execute(sql).fetchall()} for q, sql in DICOMINDEX_SQL.items()}


def orthanc(rest: Callable[..., Any], workers: int) -> Answers:
    """Through Orthanc 1.10's REST API: /tools/find gives series with their Modality and study, studies
    with their patient and series; the SOP class of an instance is in no find answer of this version,
    only in each instance's metadata, so (3) asks for it instance by instance (W at a time)."""
    series = rest("/tools/find", {"Level": "Series", "Query": {}, "Expand": True})
    studies = rest("/tools/find", {"Level": "Study", "Query": {}, "Expand": True})
    per_modality: dict[str, set[str]] = defaultdict(set)
    for s in series:
        per_modality[s["MainDicomTags"].get("Modality", "None")].add(s["ParentStudy"])
    per_patient: Counter[str] = Counter()
    for st in studies:
        per_patient[st["PatientMainDicomTags"].get("PatientID", "None")] += len(st["Series"])
    with ThreadPoolExecutor(workers) as pool:
        classes = Counter(pool.map(lambda i: rest(f"/instances/{i}/metadata?expand").get("SopClassUid", "None"),
                                   rest("/instances")))
    return {"studies_per_modality": {k: len(v) for k, v in per_modality.items()},
            "series_per_patient": dict(per_patient), "instances_per_sop_class": dict(classes)}


def summary(answers: Answers) -> dict[str, object]:
    """What the table shows: the modality with most studies, the patient(s) with most series, the class
    with most instances, each with its count."""
    out: dict[str, object] = {}
    for q in QUESTIONS:
        groups = answers[q]
        top = max(groups.values(), default=0)
        out[q] = {"groups": len(groups), "top": sorted(k for k, n in groups.items() if n == top), "top_n": top}
    return out


def disagreements(reference: Answers, other: Answers) -> dict[str, object]:
    """Per question, the groups whose counts differ: {group: [reference's, other's]} (at most 5 shown)."""
    out: dict[str, object] = {}
    for q in QUESTIONS:
        ref, got = reference[q], other[q]
        diff = {k: [ref.get(k), got.get(k)] for k in sorted(set(ref) | set(got)) if ref.get(k) != got.get(k)}
        if diff:
            out[q] = {"groups_differing": len(diff), "examples": dict(list(diff.items())[:5])}
    return out
