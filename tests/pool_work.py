"""Work for tests/test_pool.py's real worker processes: importable by the forkserver, so not in a test module.

`lethal` names items that kill the process parsing them, as a native decoder's crash would; `flaky`
names items that kill it only the first time (marked in a directory, since each attempt is a new
process)."""

from __future__ import annotations

import os
import signal

_SETTINGS: dict[str, object] = {}


def init(lethal: set[int], flaky_dir: str) -> None:
    _SETTINGS["lethal"], _SETTINGS["flaky_dir"] = lethal, flaky_dir


def work(items: list[int]) -> list[tuple[int, int]]:
    lethal = _SETTINGS["lethal"]
    flaky_dir = str(_SETTINGS["flaky_dir"])
    for item in items:
        if item in lethal:  # type: ignore[operator]
            os.kill(os.getpid(), signal.SIGKILL)
        if item < 0:
            mark = os.path.join(flaky_dir, str(item))
            if not os.path.exists(mark):
                open(mark, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
    return [(item, os.getpid()) for item in items]


def died(item: int) -> tuple[int, int]:
    return (item, 0)
