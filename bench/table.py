"""Side-by-side query latencies from several `bench/queries.py --json` files, as the README's table.

    python bench/table.py "embedded 100k=q-e100k.json" "embedded 1M=q-e1m.json" "Neo4j 100k=q-n100k.json"

Each cell: cold / median / p95 in ms (rows); a dashboard query with any of the three at 1 s or more is marked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def cell(q: dict | None, kind: str) -> str:
    if q is None:
        return "–"
    if "error" in q:
        return f"error: {q['error'][:60]}"
    slow = max(q["cold_ms"], q["median_ms"], q["p95_ms"]) >= 1000
    mark = " **>=1 s**" if kind == "dashboard" and slow else ""
    return f"{q['cold_ms']:,.0f} / {q['median_ms']:,.0f} / {q['p95_ms']:,.0f}{mark} ({q['rows']:,} rows)"


def main(args: list[str]) -> None:
    if not args or any("=" not in a for a in args):
        sys.exit(__doc__)
    columns = [(label, json.loads(Path(path).read_text())) for label, path in (a.split("=", 1) for a in args)]
    names: list[tuple[str, str]] = []
    for _, run in columns:
        names += [(q["query"], q["kind"]) for q in run["queries"] if (q["query"], q["kind"]) not in names]
    names.sort(key=lambda n: (n[1] != "dashboard", n[0]))
    print("| query | used by | " + " | ".join(f"{label}: cold / median / p95" for label, _ in columns) + " |")
    print("|---|---|" + "---:|" * len(columns))
    for name, kind in names:
        cells = [cell(next((q for q in run["queries"] if q["query"] == name), None), kind) for _, run in columns]
        print(f"| {name} | {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
