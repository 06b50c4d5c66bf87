"""A reader beside a writer must never see the graph emptier than it already saw it: once seen (by any
reader), a committed count of Instance, SourceFile or Study may only grow. Seen once beside `listen`:
`MATCH (i:Instance) RETURN count(i)` answered 1,968, then 0, then 2,000 (the cause and the fix:
model/store/embedded_lock.py). An error or a wait is acceptable; a smaller figure is not.

bench/readers.py runs the scenario: `ingest` in small batches (the writer reopens and checkpoints
often) and reader processes that open read-only, count and close, over and over, as `query`, `stats`
and the dashboard's reopen do. Bounded: the readers stop with the ingest or after 150 s
(about 90 s for 300 instances here).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_reader_never_sees_fewer_nodes_than_a_reader_already_saw():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "readers.py"), "--instances", "300", "--batch",
                          "20", "--readers", "2", "--seconds", "150"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["writer_rc"] == 0, result["writer_error"]
    assert result["counted"] >= 20, f"too few reads succeeded beside the writer: {result}"
    assert result["distinct_counts"] >= 3, f"the readers should see the graph grow while it is written: {result}"
    assert result["went_back"] == 0, f"reads saw fewer nodes than an earlier read: {result}"
