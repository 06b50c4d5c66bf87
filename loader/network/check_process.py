"""The pre-status check (check.py) in a process of its own, so that it does not take the listener's GIL.

Why: in the listener's process three threads take turns on one GIL during a transfer: the association's
(pynetdicom, the spool, the check), pynetdicom's DUL reader, and the graph writer. Sampled with
`py-spy --gil` over 2,000 C-STOREs the association's thread held it ~3.4 ms per message, ~2 ms of that
the check (parse + extraction), and the writer ~1 ms per instance more (bench/README.md). Here the
association's thread sends the received bytes down a pipe and waits for the extraction without the GIL,
so the writer and pynetdicom run meanwhile, and the check runs on the machine's other core.

Same answers: the process runs `check.check` with the listener's conformance requirements and
pseudonymizer and sends back its `Extracted` (pickled, as an ingest worker sends one) or the refusal's
status and reason. When the process is busy (a second association checking at the same moment), not
started yet, or the dataset is larger than MAX_SENT_BYTES, the caller checks in its own process. If the
process dies during a check (a native decoder's crash, the OOM killer), that dataset is refused with
0xC000 rather than checked again in the listener, which it could kill, and a new process is started for
the next one.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from dicom_graph.loader.dataset.extract import Extracted

from dicom_graph.loader.ingest.pool import serve

from .check import check
from .context import LOG
from .status import CANNOT_UNDERSTAND, Refused

JOIN_S = 5.0  # how long the process asked to stop may take before it is killed
# a larger dataset is checked in the listener's process: the parse stops before its pixel data, which
# would cross the pipe for nothing (and its receive, not its check, dominates such a message)
MAX_SENT_BYTES = 1 << 20


_SETTINGS: dict[str, Any] = {}  # in the check process: the listener's pseudonymizer and requirements


def _settle(conn: Connection, pseudonymizer: Any, requirements: Any) -> None:
    """The process's start (pool.serve's initializer): keep the settings, then say it is ready."""
    _SETTINGS.update(pseudonymizer=pseudonymizer, requirements=requirements)
    conn.send("ready")


def _answer(message: list[Any]) -> list[Any]:
    """One dataset's check, as ["ok", Extracted] or ["refused", status, reason]."""
    data, uid, cls, final = message
    try:
        return ["ok", check(data, uid, cls, final, _SETTINGS["pseudonymizer"], _SETTINGS["requirements"])]
    except Refused as refused:
        return ["refused", refused.code, refused.why]
    except Exception as exc:  # noqa: BLE001 - an answer for every dataset; the listener logs it
        return ["refused", CANNOT_UNDERSTAND, f"{type(exc).__name__}: {exc}"]


class CheckProcess:
    """`check(...)` runs check.check in the process; None when the process cannot take it now."""

    def __init__(self, pseudonymizer: Any, requirements: Any, timeout_s: float) -> None:
        self.args = (pseudonymizer, requirements)
        self.timeout_s = timeout_s  # a check that takes longer is refused and its process replaced
        self.ctx = mp.get_context("forkserver")
        self.ctx.set_forkserver_preload([__name__])
        self._lock = threading.Lock()  # one dataset in the process at a time
        self._conn: Connection | None = None
        self._process: BaseProcess | None = None
        self._closed = False
        self.deaths = 0
        self._starter = self._start_in_background()

    def check(self, data: bytes, uid: str, cls: str, final: Path | None) -> Extracted | None:
        if len(data) > MAX_SENT_BYTES or not self._lock.acquire(blocking=False):
            return None
        try:
            conn = self._conn
            if conn is None:
                return None
            try:
                conn.send([data, uid, cls, final])
                answer = conn.recv() if conn.poll(self.timeout_s) else None
            except (EOFError, OSError):
                answer = None
            if answer is None:
                self._replace()
                raise Refused(uid, CANNOT_UNDERSTAND, "checking this dataset ended or stalled its process")
        finally:
            self._lock.release()
        if answer[0] == "ok":
            extracted: Extracted = answer[1]
            return extracted
        raise Refused(uid, answer[1], answer[2])

    def close(self) -> None:
        """End the process (asked, then killed after JOIN_S)."""
        self._starter.join(JOIN_S)
        with self._lock:
            self._closed = True
            self._stop()

    def _start_in_background(self) -> threading.Thread:
        """The process starts (imports, requirements) while the listener goes on; checks stay in the
        listener's own process until it is ready."""
        thread = threading.Thread(target=self._start, name="listener-check-start", daemon=True)
        thread.start()
        return thread

    def _start(self) -> None:
        mine, theirs = self.ctx.Pipe(duplex=True)
        process = self.ctx.Process(target=serve, args=(theirs, _answer, _settle, (theirs, *self.args)),
                                   name="dicom-graph-check", daemon=True)
        try:
            process.start()
            theirs.close()  # the process is its only holder now: its death ends the pipe
            if mine.recv() != "ready":
                raise EOFError("no ready message")
        except (EOFError, OSError) as exc:
            LOG.warning("the check process did not start (%s); checking in the listener's process",
                        f"{type(exc).__name__}: {exc}".rstrip(": "))
            mine.close()
            return
        with self._lock:
            if self._closed:
                mine.send(None)
                process.join(JOIN_S)
                return
            self._process, self._conn = process, mine

    def _replace(self) -> None:
        """Called with the lock held, after the process died or stalled."""
        self.deaths += 1
        LOG.error("the pre-status check process ended or stalled; starting a new one")
        self._stop(kill=True)
        self._starter = self._start_in_background()

    def _stop(self, kill: bool = False) -> None:
        conn, process, self._conn, self._process = self._conn, self._process, None, None
        if conn is not None:
            try:
                if not kill:
                    conn.send(None)
            except OSError:
                pass
            conn.close()
        if process is not None:
            process.join(0 if kill else JOIN_S)
            if process.is_alive():
                process.kill()
                process.join(JOIN_S)
