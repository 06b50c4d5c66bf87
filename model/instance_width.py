"""The cap on how wide one instance can make the Instance table.

Why: every top-level keyword of an instance becomes an Instance property, and in the embedded engine a
new property is a new column (`ALTER TABLE ... ADD`) for good. One 41 KB file carrying 3,594 distinct
keywords added 3,594 columns; COPY cost and pinned buffer-pool memory grow with the table's width, so
every later ingest of ordinary files failed with the default 2 GB pool (ENGINE-NOTES.md).

The rule, the same on both engines and independent of what the graph already holds (so a file gets the
same properties whatever came before it): an Instance row keeps every property the schema declares and
its first MAX_UNDECLARED_KEYWORDS other keywords, in tag order (the order extraction reads them); the
values of the rest are kept, as one JSON object keyword -> value, in `other_values`, and
`other_values_problem` says how many and why. The widest file of the shared corpus has 98 undeclared
keywords, so the cap changes nothing there (nor for the 300-keyword rows of the buffer-pool tests);
a file can widen the table by at most the cap.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from . import schema
from .batch import GraphBatch

MAX_UNDECLARED_KEYWORDS = 512


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return str(value)


def cap_instance_rows(batch: GraphBatch) -> None:
    """Move the keywords beyond the cap of each Instance row of `batch` into `other_values`, in place
    (a capped row is left as it is, so the step is idempotent)."""
    declared = schema.node("Instance").props
    for row in batch.nodes.get("Instance", {}).values():
        undeclared = [k for k in row if k not in declared]
        if len(undeclared) <= MAX_UNDECLARED_KEYWORDS:
            continue
        beyond = undeclared[MAX_UNDECLARED_KEYWORDS:]
        row["other_values"] = json.dumps({k: row.pop(k) for k in beyond}, default=_json_value)
        row["other_values_problem"] = (
            f"{len(beyond)} keywords beyond the cap of {MAX_UNDECLARED_KEYWORDS} undeclared keyword "
            f"properties per instance; their values are in other_values")
