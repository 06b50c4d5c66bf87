"""Latency of the named queries the dashboard runs and of the analysts' examples, on one graph.

    python bench/queries.py --db bench/out/ingest-100000.db [--runs 10] [--json out.json]
    python bench/queries.py --neo4j bolt://127.0.0.1:7687 [--runs 10]     (NEO4J_USERNAME / NEO4J_PASSWORD)

Which queries: every name the dashboard calls (`run("name"` / `cached("name"` found in dashboard/**/*.py,
so the list follows the dashboard) and every named query with `example=True` in model/queries.
Parameters are realistic: taken from the graph itself through named queries (a study with pointers, a
series of it, an instance of it, a derived object with references, the most common SOP class...), and
a dashboard query gets the `limit=` the dashboard passes it (the largest literal one), not its default.

Per query: the cold first run and the median and p95 of `--runs` warm runs, in ms, and the row count.
"Cold" is the first execution after the store was opened: on the embedded engine a freshly opened
read-only database (empty buffer pool; the OS page cache is whatever it is), on Neo4j the first run of
that query text since the server started (plan not cached; its page cache is shared and may be warm).
With --drop-caches (embedded, as root) the OS page cache is emptied before each cold run (`sync`, then
3 into /proc/sys/vm/drop_caches): the first view after a reboot, or of a graph larger than the RAM left
to it; with --prewarm as well, the store's prewarm (the dashboard's, at its start: the graph file read into
the page cache, model/store/page_cache.py) runs to its end first, and `prewarm_s` says how long it took.
--only NAME... measures just those queries (same parameters).
Prints a markdown table, then as its last line one JSON object {"engine", "graph", "queries": [...]}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from dicom_graph.model import queries
from dicom_graph.model.store import open_store

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300.0
SLOW_MS = 5_000  # above this cold time, only 2 warm runs
VERY_SLOW_MS = 20_000  # above this, none (median and p95 are then the cold run)


def _dashboard_calls() -> list[tuple[str, str]]:
    """(name, argument text) of every `run("…", …)` / `cached("…", …)` in dashboard/."""
    calls: list[tuple[str, str]] = []
    for path in (REPO / "dashboard").rglob("*.py"):
        calls += re.findall(r"\b(?:run|cached)\(\s*\"([a-z0-9_]+)\"([^)]*)\)", path.read_text(encoding="utf-8"))
    return calls


def dashboard_names() -> list[str]:
    known = queries.all_queries()
    return sorted({n for n, _ in _dashboard_calls() if n in known})


def dashboard_limits() -> dict[str, int]:
    """The largest literal `limit=N` the dashboard passes per query: what a page asks for, where it is not
    the query's own default (conformance_findings' default is 100,000 rows, the page asks for 5,000)."""
    limits: dict[str, int] = {}
    for name, args in _dashboard_calls():
        for n in re.findall(r"\blimit=(\d+)", args):
            limits[name] = max(limits.get(name, 0), int(n))
    return limits


def example_names() -> list[str]:
    return sorted(n for n, q in queries.all_queries().items() if q.visibility is queries.Visibility.EXAMPLE)


def _first(store: Any, name: str, column: str | None = None, **params: Any) -> Any:
    try:
        result = store.run(name, timeout_s=TIMEOUT_S, **params)
    except Exception:
        return None
    if not result.rows:
        return None
    if column and column in result.columns:
        return result.rows[0][result.columns.index(column)]
    return result.rows[0][0]


def pick_params(store: Any) -> dict[str, Any]:
    """Parameters a user would click on, found through the dashboard's own queries."""
    p: dict[str, Any] = {}
    sop_classes = store.run("sop_classes_in_use", timeout_s=TIMEOUT_S).records()
    cols = sop_classes[0].keys() if sop_classes else []
    uid_col = next((c for c in cols if "uid" in c.lower()), None)
    p["sop_class"] = sop_classes[0][uid_col] if sop_classes and uid_col else "1.2.840.10008.5.1.4.1.1.2"
    p["study"] = _first(store, "studies_with_pointers", None, limit=1) or ""
    keys = _first(store, "study_patients", "patient_keys", uids=[p["study"]]) or []
    p["patient"] = keys[0] if keys else _first(store, "browse_patients_unfiltered", "patient_key", limit=1) or ""
    series = store.run("browse_series", timeout_s=TIMEOUT_S, study=p["study"], limit=50).records()
    p["series"] = next(iter(series[0].values())) if series else ""
    for row in series:  # a series of a derived object (SEG, SR, KOS, PR, RTSTRUCT) has outgoing pointers
        for key, value in row.items():
            if "uid" in key.lower() and isinstance(value, str):
                p.setdefault("series_any", value)
    instances = store.run("browse_instances", timeout_s=TIMEOUT_S, series=p["series"], limit=5).records()
    p["uid"] = next((v for k, v in instances[0].items() if "uid" in k.lower()), "") if instances else ""
    derived = store.run("example_derived_objects", timeout_s=TIMEOUT_S, limit=5).records()
    p["derived_uid"] = next((v for k, v in derived[0].items() if "uid" in k.lower() and isinstance(v, str)),
                            p["uid"]) if derived else p["uid"]
    return p


DASHBOARD_LIMITS = dashboard_limits()


def params_for(name: str, p: dict[str, Any]) -> dict[str, Any]:
    named = queries.get(name)
    out: dict[str, Any] = {}
    for key in (param.name for param in named.parameters):
        if key == "uid":
            out[key] = p["derived_uid"] if name in ("instance_references", "pointers_around_instance") else p["uid"]
        elif key == "study":
            out[key] = p["study"]
        elif key == "patient":
            out[key] = p["patient"]
        elif key == "series":
            out[key] = p["series"]
        elif key == "sop_class" and name not in ("sop_class_dimse",):
            out[key] = p["sop_class"]
    if name == "instance_referenced_by":
        out["uid"] = p["uid"]
    if name in DASHBOARD_LIMITS:
        out["limit"] = DASHBOARD_LIMITS[name]
    for param in named.parameters:  # what the data did not supply: the query's own example value
        if param.required and param.name not in out and param.example is not None:
            out[param.name] = param.example
    return out


def drop_page_cache() -> None:
    """Empty the OS page cache (Linux, root): what a cold run after a reboot reads from the disk."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        raise SystemExit(f"--drop-caches: cannot write /proc/sys/vm/drop_caches ({exc}); "
                         "run as root on Linux") from None


def measure(open_fn: Any, name: str, params: dict[str, Any], runs: int, drop: bool = False,
            prewarm: bool = False) -> dict[str, Any]:
    if drop:
        drop_page_cache()
    store = open_fn()
    warmed: dict[str, Any] = {}
    if prewarm:
        t = time.perf_counter()
        warmer = store.prewarm()
        if warmer is not None:
            warmer.join()
        warmed["prewarm_s"] = round(time.perf_counter() - t, 2) if warmer is not None else None
    try:
        t = time.perf_counter()
        try:
            result = store.run(name, timeout_s=TIMEOUT_S, **params)
        except Exception as exc:  # report it, keep going
            return {"query": name, "error": " ".join(str(exc).split())[:200]}
        cold = (time.perf_counter() - t) * 1000
        warm = []
        if cold > SLOW_MS:  # a slow query: a few warm runs are enough to see it is slow
            runs = min(runs, 2)
        if cold > VERY_SLOW_MS:  # and a very slow one is reported by its cold run alone
            runs = 0
        for _ in range(runs):
            t = time.perf_counter()
            store.run(name, timeout_s=TIMEOUT_S, **params)
            warm.append((time.perf_counter() - t) * 1000)
    finally:
        store.close()
    warm.sort()
    if not warm:
        warm = [cold]
    p95 = warm[min(len(warm) - 1, max(0, round(0.95 * len(warm)) - 1))]
    return {"query": name, "rows": len(result), "cold_ms": round(cold, 2),
            "median_ms": round(statistics.median(warm), 2), "p95_ms": round(p95, 2), "runs": runs, **warmed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="embedded graph file")
    parser.add_argument("--neo4j", help="Bolt URI (default NEO4J_URI when --db is not given)")
    parser.add_argument("--runs", type=int, default=10, help="warm runs per query (default 10)")
    parser.add_argument("--json", type=Path, help="also write the JSON object here")
    parser.add_argument("--drop-caches", action="store_true",
                        help="empty the OS page cache before each cold run (embedded, root)")
    parser.add_argument("--prewarm", action="store_true",
                        help="run the store's prewarm to its end before each cold run (what the dashboard starts)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="measure only these queries")
    args = parser.parse_args()
    if args.drop_caches and not args.db:
        parser.error("--drop-caches needs --db: a Neo4j server's page cache is its own")

    def open_fn() -> Any:
        return open_store(db=args.db, neo4j=args.neo4j, read_only=True)

    probe = open_fn()
    engine = probe.dialect
    where = probe.describe()
    counts = probe.stats()["nodes"]
    params = pick_params(probe)
    probe.close()

    names = [("dashboard", n) for n in dashboard_names()]
    names += [("example", n) for n in example_names() if n not in dict((b, a) for a, b in names)]
    if args.only:
        unknown = sorted(set(args.only) - set(queries.all_queries()))
        if unknown:
            parser.error(f"--only: no named query {', '.join(unknown)}")
        names = [(kind, n) for kind, n in names if n in args.only] + \
                [("named", n) for n in args.only if n not in {b for _, b in names}]
    results = []
    for kind, name in names:
        row = measure(open_fn, name, params_for(name, params), args.runs, args.drop_caches, args.prewarm)
        row["kind"] = kind
        results.append(row)
        print(f"{name}: {row}", file=sys.stderr, flush=True)

    print(f"\n{engine} graph {where}: {counts.get('Instance', 0):,} Instance nodes; "
          f"{args.runs} warm runs per query; load average {os.getloadavg()[0]:.2f}"
          f"{'; OS page cache emptied before each cold run' if args.drop_caches else ''}"
          f"{', then the store prewarmed' if args.prewarm else ''}\n")
    print("| query | used by | rows | cold ms | median ms | p95 ms |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        if "error" in r:
            print(f"| {r['query']} | {r['kind']} | error: {r['error']} | | | |")
        else:
            flag = " **>1 s**" if r["kind"] == "dashboard" and r["p95_ms"] > 1000 else ""
            print(f"| {r['query']} | {r['kind']} | {r['rows']} | {r['cold_ms']:.1f} | {r['median_ms']:.1f} | "
                  f"{r['p95_ms']:.1f}{flag} |")
    out = {"engine": engine, "graph": where, "instances": counts.get("Instance", 0), "params": params,
           "page_cache_dropped": args.drop_caches, "prewarmed": args.prewarm, "queries": results}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
