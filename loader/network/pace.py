"""pynetdicom's two polling loops, paced by the traffic: fast while PDUs flow, its own 1 ms when idle.

pynetdicom 3.0.4 (read in its source) polls where it could wait: the DUL thread sleeps
`_run_loop_delay` (1 ms) after every loop with nothing to do, and each association's reactor sleeps
1 ms (a literal in `Association._run_reactor`) before each look for a decoded message. A C-STORE
therefore waits up to 1 ms to be read, up to 1 ms to reach its handler and up to 1 ms for its response
to be sent. While an association's socket has received bytes in the last BUSY_S, both loops poll every
BUSY_DELAY_S instead; then back to 1 ms, because a poll every 0.1 ms costs an idle association 12 % of a
core (2.8 % at 1 ms; measured with a bare pynetdicom SCP, bench/README.md). The socket side is
gate.BoundedSocket (`busy`); the reactor's sleep is reached through the one name pynetdicom's
association module calls it by, `time.sleep`, which `install()` points at `paced_sleep`.
"""

from __future__ import annotations

import threading
import time
import types
from typing import Any

import pynetdicom.association

BUSY_DELAY_S, IDLE_DELAY_S, BUSY_S = 0.0001, 0.001, 0.05
REACTOR_SLEEP_S = 0.001  # Association._run_reactor's literal; other sleeps there are left as they are


def paced(seconds: float) -> float:
    """How long a sleep of pynetdicom's association module lasts: the reactor's, in a busy association's
    own thread, BUSY_DELAY_S; any other as asked."""
    if seconds == REACTOR_SLEEP_S:
        dul: Any = getattr(threading.current_thread(), "dul", None)
        if getattr(getattr(dul, "socket", None), "busy", False):
            return BUSY_DELAY_S
    return seconds


def paced_sleep(seconds: float) -> None:
    """`time.sleep` for pynetdicom's association module."""
    time.sleep(paced(seconds))


class _PacedTime(types.ModuleType):
    """The `time` module as pynetdicom's association module sees it: only `sleep` differs."""

    sleep = staticmethod(paced_sleep)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def install() -> None:
    """Idempotent; affects pynetdicom's associations in this process only (the listener's own calls too,
    whose sockets are not BoundedSockets and so keep pynetdicom's pacing)."""
    if not isinstance(pynetdicom.association.time, _PacedTime):
        pynetdicom.association.time = _PacedTime("time")
