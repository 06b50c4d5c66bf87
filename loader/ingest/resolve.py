"""Resolve: what a batch of extracted instances needs from the graph before it can be written.

Extraction (loader/dataset) is pure and runs in worker processes; whatever depends on what is already
in the graph is decided here, in the one writer process, for both the file ingest and the listener.
"""

from __future__ import annotations

from typing import Any, Iterable

from dicom_graph.loader.dataset.extract import Extracted
from dicom_graph.model.batch import GraphBatch

LOOKUP_CHUNK = 2000


def add_study_patient_keys(store: Any, batch: GraphBatch, extracted: Iterable[Extracted],
                           known: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Set Study.patient_keys on `batch` to every patient key its study has been seen under.

    A study can arrive under several patients (a merge gone wrong, two issuers): the graph keeps them
    all, accumulated across batches and runs. `known` caches the keys as last written (the caller
    owns one writer, so after one read the cache is the graph's value); studies not in it are read
    from the graph. Returns the merged keys per study of this batch: the caller adds them to its
    cache only once the batch has been written.
    """
    wanted: dict[str, set[str]] = {}
    for ex in extracted:
        if ex.study_uid and ex.patient_key:
            wanted.setdefault(ex.study_uid, set()).add(ex.patient_key)
    if not wanted:
        return {}
    current = {uid: known[uid] for uid in wanted if known is not None and uid in known}
    unread = sorted(set(wanted) - set(current))
    for start in range(0, len(unread), LOOKUP_CHUNK):
        for row in store.run("study_patients", uids=unread[start:start + LOOKUP_CHUNK]).records():
            current[row["uid"]] = set(row.get("patient_keys") or [])
    merged: dict[str, set[str]] = {}
    studies = batch.nodes.setdefault("Study", {})
    for uid, keys in wanted.items():
        merged[uid] = current.get(uid, set()) | keys
        if merged[uid] != current.get(uid):
            studies.setdefault(uid, {"StudyInstanceUID": uid})["patient_keys"] = sorted(merged[uid])
    return merged
