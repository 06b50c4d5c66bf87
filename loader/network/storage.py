"""Verification (C-ECHO) and Storage (C-STORE) SCP: a received instance is checked, spooled, answered, and
then ingested as a file is.

Every Storage SOP class pynetdicom knows is accepted (the catalog's source for storage classes). Before the
status goes back, a C-STORE dataset is read by `sources.read_dataset`, as a file is (headers only, in
memory by part10.py where it can, else by pydicom.dcmread), and extracted by
`extract.dataset_to_batch`, the file ingest's function: a dataset whose encoding is broken, or whose UIDs
are not the command's, is refused then (nothing kept, the sender may fix it and send again). That costs
~1.5 ms of the 6-8 ms an instance takes in all (bench/README.md), and it is the check that decides what
a graph write will accept. The dataset's spool record is written (and its write-back started) before
these checks and waited for after them, so the disk works while the dataset is decoded (spool.py): an
accepted dataset is answered with success once its record is durable, a refused one's record is
forgotten; the graph write follows in a micro-batch (writer.py). With --store-dir the spool lives inside
it and the Part 10 file is written to `<SOPInstanceUID>.dcm` there (the instance's `path`) once committed.
"""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pynetdicom import AllStoragePresentationContexts
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # generated at import time

from dicom_graph.loader.dataset.extract import Extracted, ExtractError, dataset_to_batch
from dicom_graph.loader.ingest import sources

from .context import LOG, ServiceContext, calling, is_uid
from .file_meta import received_file
from .spool import Spool
from .status import CANNOT_UNDERSTAND, DATA_SET_DOES_NOT_MATCH_SOP_CLASS, OUT_OF_RESOURCES, SUCCESS, Refused
from .writer import MicroBatches, Received

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
    """A received Part 10 byte string, read as the file ingest reads a file (by the same function)."""
    return sources.read_dataset("", fh=io.BytesIO(data))


class Storage:
    def __init__(self, context: ServiceContext, spool: Spool, writer: MicroBatches,
                 requirements: Any = None) -> None:
        self.context, self.spool, self.writer, self.requirements = context, spool, writer, requirements

    def on_c_echo(self, event: Any) -> int:
        LOG.info("C-ECHO from %s", calling(event.assoc))
        return SUCCESS

    def on_c_store(self, event: Any) -> int:
        req = event.request
        uid, cls = str(req.AffectedSOPInstanceUID or ""), str(req.AffectedSOPClassUID or "")
        started = time.perf_counter()
        try:
            data = received_file(event)
        except Exception as exc:  # noqa: BLE001
            raise Refused(uid, CANNOT_UNDERSTAND, f"cannot decode the dataset: {exc}") from exc
        try:
            entry = self.spool.append(data)  # the disk writes while the dataset is checked
        except OSError as exc:
            raise Refused(uid, OUT_OF_RESOURCES, f"cannot spool the dataset: {exc}") from exc
        try:
            extracted = self.accept(data, uid, cls)
        except Exception:
            self.spool.forget(entry)  # refused: nothing kept, never replayed
            raise
        try:
            self.spool.sync(entry)
        except OSError as exc:
            self.spool.forget(entry)
            raise Refused(uid, OUT_OF_RESOURCES, f"cannot spool the dataset: {exc}") from exc
        self.writer.put(Received(extracted, entry, data, self._final(uid)))
        if extracted.problems:
            LOG.warning("C-STORE %s from %s accepted with problems: %s", uid, calling(event.assoc),
                        "; ".join(extracted.problems)[:300])
        if LOG.isEnabledFor(logging.INFO):  # its arguments cost more than the line, at hundreds a second
            LOG.info("C-STORE %s (%s) from %s spooled in %.1f ms", uid, pydicom.uid.UID(cls).name,
                     calling(event.assoc), (time.perf_counter() - started) * 1000)
        return SUCCESS

    def replay(self) -> int:
        """Queue the spool records a previous run left (received, answered, not yet in the graph)."""
        records = self.spool.pending()
        for entry, data in records:
            try:
                ds = read_dataset(data)
                uid, cls = (str(ds.get(k, "") or "").strip() for k in ("SOPInstanceUID", "SOPClassUID"))
                extracted = self.accept(data, uid, cls)
            except Exception as exc:  # noqa: BLE001 - one bad record must not stop the start
                kept = self.spool.reject(entry, data, f"{entry.segment.stem}-{entry.offset}", str(exc))
                LOG.error("spool record not replayed (kept in %s): %s", kept, exc)
                continue
            self.writer.put(Received(extracted, entry, data, self._final(uid)))
        return len(records)

    def accept(self, data: bytes, uid: str, cls: str) -> Extracted:
        """The checks a dataset must pass before it is answered with success (module doc)."""
        return self._extract(self._parsed(data, uid, cls), uid, cls, self._final(uid), len(data))

    def _final(self, uid: str) -> Path | None:
        store_dir = self.context.config.store_dir
        return Path(store_dir) / f"{uid}.dcm" if store_dir else None

    @staticmethod
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

    def _extract(self, ds: Dataset, uid: str, cls: str, final: Path | None, size: int) -> Extracted:
        try:
            extracted = dataset_to_batch(ds, source="network", path=str(final) if final else None,
                                         file_size=size if final else None,
                                         sop_instance_uid=uid, sop_class_uid=cls,
                                         pseudonymizer=self.context.config.pseudonymizer,
                                         requirements=self.requirements)
        except ExtractError as exc:
            raise Refused(uid, CANNOT_UNDERSTAND, str(exc)) from exc
        except Exception as exc:  # noqa: BLE001
            raise Refused(uid, CANNOT_UNDERSTAND, f"{type(exc).__name__}: {exc}") from exc
        broken = broken_elements(extracted.problems)
        if broken:
            raise Refused(uid, CANNOT_UNDERSTAND, "; ".join(broken))
        return extracted
