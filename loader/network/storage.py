"""Verification (C-ECHO) and Storage (C-STORE) SCP: a received instance is ingested exactly as a file is.

Every Storage SOP class pynetdicom knows is accepted (the catalog's source for storage classes). A C-STORE
dataset is read as `sources.read_dataset` reads a file (`pydicom.dcmread(stop_before_pixels=True,
defer_size=DEFER_SIZE)`) and goes through `extract.dataset_to_batch`, the same function the file ingest
uses, and Study.patient_keys through the file ingest's `resolve.add_study_patient_keys`. With --store-dir
the Part 10 file is kept there (`<SOPInstanceUID>.dcm`) and is the instance's `path`; it is renamed into
place only once the graph write has committed, so a refused instance leaves no file.
"""

from __future__ import annotations

import io
import os
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pynetdicom import AllStoragePresentationContexts
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # generated at import time

from dicom_graph.loader.dataset.extract import Extracted, ExtractError, dataset_to_batch
from dicom_graph.loader.ingest.resolve import add_study_patient_keys
from dicom_graph.loader.ingest.sources import DEFER_SIZE

from .context import LOG, ServiceContext, calling, is_uid
from .status import CANNOT_UNDERSTAND, DATA_SET_DOES_NOT_MATCH_SOP_CLASS, OUT_OF_RESOURCES, SUCCESS, Refused

SOP_CLASSES = (Verification, *(cx.abstract_syntax for cx in AllStoragePresentationContexts))


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
    """A received Part 10 byte string read exactly as `sources.read_dataset` reads a file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, defer_size=DEFER_SIZE)


class Storage:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context
        self._study_patients: dict[str, set[str]] = {}  # Study.patient_keys as written (one writer)

    def on_c_echo(self, event: Any) -> int:
        LOG.info("C-ECHO from %s", calling(event.assoc))
        return SUCCESS

    def on_c_store(self, event: Any) -> int:
        req = event.request
        uid, cls = str(req.AffectedSOPInstanceUID or ""), str(req.AffectedSOPClassUID or "")
        started = time.perf_counter()
        data, ds = self._received(event, uid, cls)
        final = tmp = None
        if self.context.config.store_dir:
            final = Path(self.context.config.store_dir) / f"{uid}.dcm"
            tmp = final.with_name(f".{uid}.{uuid.uuid4().hex[:8]}.part")
            tmp.write_bytes(data)
        try:
            extracted = self._extract(ds, uid, cls, final, len(data))
            self._write(extracted, uid)
            if tmp is not None and final is not None:
                os.replace(tmp, final)
                tmp = None
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        self.context.counts["stored"] += 1
        if extracted.problems:
            LOG.warning("C-STORE %s from %s stored with problems: %s", uid, calling(event.assoc),
                        "; ".join(extracted.problems)[:300])
        LOG.info("C-STORE %s (%s) from %s stored in %.1f ms", uid, pydicom.uid.UID(cls).name,
                 calling(event.assoc), (time.perf_counter() - started) * 1000)
        return SUCCESS

    @staticmethod
    def _received(event: Any, uid: str, cls: str) -> tuple[bytes, Dataset]:
        """The dataset's bytes and its parse, refused unless it says what the command says."""
        try:
            data = event.encoded_dataset()
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
        return data, ds

    def _extract(self, ds: Dataset, uid: str, cls: str, final: Path | None, size: int) -> Extracted:
        try:
            extracted = dataset_to_batch(ds, source="network", path=str(final) if final else None,
                                         file_size=size if final else None,
                                         sop_instance_uid=uid, sop_class_uid=cls,
                                         pseudonymizer=self.context.config.pseudonymizer)
        except ExtractError as exc:
            raise Refused(uid, CANNOT_UNDERSTAND, str(exc)) from exc
        except Exception as exc:  # noqa: BLE001
            raise Refused(uid, CANNOT_UNDERSTAND, f"{type(exc).__name__}: {exc}") from exc
        broken = broken_elements(extracted.problems)
        if broken:
            raise Refused(uid, CANNOT_UNDERSTAND, "; ".join(broken))
        return extracted

    def _write(self, extracted: Extracted, uid: str) -> None:
        try:
            with self.context.lock:
                merged = add_study_patient_keys(self.context.store, extracted.batch, [extracted],
                                                known=self._study_patients)
                self.context.store.write(extracted.batch)
                self._study_patients.update(merged)  # cached only once written
        except Exception as exc:  # noqa: BLE001
            raise Refused(uid, OUT_OF_RESOURCES, f"graph write failed: {exc}") from exc
