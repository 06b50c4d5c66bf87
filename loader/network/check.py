"""The checks a received C-STORE dataset passes before it is answered with success, as one pure function.

A dataset is read by `sources.read_dataset`, as a file is (headers only, in memory by part10.py where it
can, else by pydicom.dcmread), and extracted by `extract.dataset_to_batch`, the file ingest's function: a
dataset whose encoding is broken, or whose UIDs are not the command's, is refused (nothing kept, the
sender may fix it and send again). The extraction is the check that decides what a graph write will
accept, and the cheapest one that finds a broken encoding (bench/README.md, "A lighter pre-status check").
Pure, so that it runs in the checker's process (check_process.py) or in the listener's, with the same
result.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from dicom_graph.loader.dataset.extract import Extracted, ExtractError, dataset_to_batch
from dicom_graph.loader.ingest import sources

from .context import is_uid
from .status import CANNOT_UNDERSTAND, DATA_SET_DOES_NOT_MATCH_SOP_CLASS, Refused


def broken_elements(problems: list[str]) -> list[str]:
    """The extraction problems that mean the encoding is broken, not merely a value that does not parse.

    `dataset_to_batch` reports a value it could not decode (wrong length for its VR, unreadable sequence,
    nesting too deep) as `Keyword: ExceptionName` / `unreadable sequence ...`, and a value that decoded
    but is not of its type as `Keyword: not a valid TYPE`. The first kind is refused over the network
    (0xC000 cannot understand, nothing written: the sender can fix it and send again); the second is
    stored with `invalid_values`, exactly as the file ingest stores it (real modalities send such values).
    """
    return [p for p in problems if ": not a valid " not in p]


def read_dataset(data: bytes) -> Dataset:
    """A received Part 10 byte string, read as the file ingest reads a file (by the same function)."""
    return sources.read_dataset("", fh=io.BytesIO(data))


def check(data: bytes, uid: str, cls: str, final: Path | None, pseudonymizer: Any, requirements: Any) -> Extracted:
    """The pre-status check of one received dataset: its extraction, or Refused with the status to answer."""
    return _extract(_parsed(data, uid, cls), uid, cls, final, len(data), pseudonymizer, requirements)


def _parsed(data: bytes, uid: str, cls: str) -> Dataset:
    """The dataset's parse, refused unless it says what the command says."""
    try:
        ds = read_dataset(data)
    except Exception as exc:  # noqa: BLE001
        raise Refused(uid, CANNOT_UNDERSTAND, f"cannot decode the dataset: {exc}") from exc
    ds_uid = str(ds.get("SOPInstanceUID", "") or "").strip()
    ds_cls = str(ds.get("SOPClassUID", "") or "").strip()
    if ds_uid != uid or ds_cls != cls:
        raise Refused(uid, DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
                      f"dataset UIDs ({ds_cls} / {ds_uid}) differ from the command's ({cls} / {uid})")
    if not is_uid(uid):
        raise Refused(uid, DATA_SET_DOES_NOT_MATCH_SOP_CLASS, f"invalid SOP Instance UID {uid[:80]!r}")
    return ds


def _extract(ds: Dataset, uid: str, cls: str, final: Path | None, size: int, pseudonymizer: Any,
             requirements: Any) -> Extracted:
    try:
        extracted = dataset_to_batch(ds, source="network", path=str(final) if final else None,
                                     file_size=size if final else None,
                                     sop_instance_uid=uid, sop_class_uid=cls,
                                     pseudonymizer=pseudonymizer, requirements=requirements)
    except ExtractError as exc:
        raise Refused(uid, CANNOT_UNDERSTAND, str(exc)) from exc
    except Exception as exc:  # noqa: BLE001
        raise Refused(uid, CANNOT_UNDERSTAND, f"{type(exc).__name__}: {exc}") from exc
    broken = broken_elements(extracted.problems)
    if broken:
        raise Refused(uid, CANNOT_UNDERSTAND, "; ".join(broken))
    return extracted
