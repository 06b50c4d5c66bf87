"""Verification (C-ECHO) and Storage (C-STORE) SCP: a received instance is checked, spooled, answered, and
then ingested as a file is.

Every Storage SOP class pynetdicom knows is accepted (the catalog's source for storage classes). Before the
status goes back, a C-STORE dataset passes check.py's checks (the file ingest's parse and extraction; a
broken encoding, or UIDs that are not the command's, are refused, nothing kept), in the check process
when it is free (check_process.py), else here. The dataset's spool record is written (and its write-back
started) before these checks and waited for after them, so the disk works while the dataset is decoded
(spool.py): an accepted dataset is answered with success once its record is durable, a refused one's
record is forgotten; the graph write follows in a micro-batch (writer.py). With --store-dir the spool
lives inside it and the Part 10 file is written to `<SOPInstanceUID>.dcm` there (the instance's `path`)
once committed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pydicom
from pynetdicom import AllStoragePresentationContexts
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # generated at import time

from dicom_graph.loader.dataset.extract import Extracted

from .check import check, read_dataset
from .check_process import CheckProcess
from .context import LOG, ServiceContext, calling
from .file_meta import received_file
from .spool import Spool
from .status import CANNOT_UNDERSTAND, OUT_OF_RESOURCES, SUCCESS, Refused
from .writer import MicroBatches, Received

SOP_CLASSES = (Verification, *(cx.abstract_syntax for cx in AllStoragePresentationContexts))


class Storage:
    def __init__(self, context: ServiceContext, spool: Spool, writer: MicroBatches,
                 requirements: Any = None, check_process: CheckProcess | None = None) -> None:
        self.context, self.spool, self.writer, self.requirements = context, spool, writer, requirements
        self.check_process = check_process

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
        final = self._final(uid)
        if self.check_process is not None:
            extracted = self.check_process.check(data, uid, cls, final)
            if extracted is not None:
                return extracted
        return check(data, uid, cls, final, self.context.config.pseudonymizer, self.requirements)

    def _final(self, uid: str) -> Path | None:
        store_dir = self.context.config.store_dir
        return Path(store_dir) / f"{uid}.dcm" if store_dir else None
