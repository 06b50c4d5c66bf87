"""`dicom-graph standard load`: put the DICOM Information Model into the graph.

Builds the catalog (offline default, optionally overlaid with NEMA DocBook parts), writes it in
batches, then reconciles with what an earlier load left: definitions the new catalog lacks are marked
`superseded = true` (the rest `false`), and relationships between definitions that it no longer has
are deleted. Re-running the same load changes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from ...model.batch import GraphBatch
from ...model.queries.standard import STANDARD_RELATIONSHIPS
from ...model import graph_version, schema
from .catalog import NODE_TABLES, StandardCatalog

Progress = Callable[[str], None]

def build_catalog(docbook_dir: str | Path | None = None, progress: Progress | None = None) -> StandardCatalog:
    from .packages import build_offline_catalog

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    catalog = build_offline_catalog()
    say(f"offline catalog built in {time.perf_counter() - started:.1f} s")
    if docbook_dir is not None:
        from .docbook import apply_docbook

        found = apply_docbook(catalog, Path(docbook_dir), progress=say)
        say(f"DocBook parts applied: {', '.join(found) or 'none found'}")
    return catalog


def load_standard(store: Any, docbook_dir: str | Path | None = None, progress: Progress | None = None,
                  catalog: StandardCatalog | None = None, batch_rows: int = 20000) -> dict[str, Any]:
    """Load (or update) the standard's definitions; return a summary dict."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    if catalog is None:
        catalog = build_catalog(docbook_dir, progress=say)
    t_catalog = time.perf_counter() - t0

    # nodes the new catalog defines are current
    for attr in NODE_TABLES.values():
        for row in getattr(catalog, attr).values():
            row["superseded"] = False

    t1 = time.perf_counter()
    store.ensure_schema()
    written = 0
    for batch in catalog.batches(max_rows=batch_rows):
        store.write(batch)
        written += batch.row_count()
        say(f"written {written:,} rows")

    # definitions an earlier load wrote that this catalog no longer defines
    superseded: dict[str, int] = {}
    stale = GraphBatch()
    for row in store.run("definition_keys").records():
        label, key = row["label"], row["key"]
        if key not in getattr(catalog, NODE_TABLES[label]) and not row["superseded"]:
            stale.add_node(label, {schema.node(label).key: key, "superseded": True})
            superseded[label] = superseded.get(label, 0) + 1
    if stale:
        store.write(stale)
    # relationships between definitions that this catalog no longer has
    deleted: dict[str, int] = {}
    for rel_type in STANDARD_RELATIONSHIPS:
        wanted = catalog.rel_keys(rel_type)
        identity = schema.rel(rel_type).identity
        rows = []
        for r in store.run(f"standard_rels_{rel_type.lower()}").records():
            key = (r["src"], r["dst"], *(r[p] for p in identity))
            if key not in wanted:
                rows.append({"src": r["src"], "dst": r["dst"], **{p: r[p] for p in identity}})
        for start in range(0, len(rows), 5000):
            store.run(f"standard_delete_{rel_type.lower()}", rows=rows[start:start + 5000])
        if rows:
            deleted[rel_type] = len(rows)
    revision = GraphBatch()  # last: a load stopped before here leaves the older revision, and readers say so
    revision.add_node(schema.GRAPH_VERSION.label, graph_version.standard_revision_row())
    store.write(revision)
    t_write = time.perf_counter() - t1

    counts = catalog.counts()
    from .functional_groups import condition_counts, presented_mandatory

    summary = {
        "conditions": condition_counts(catalog),
        "attribute_conditions": catalog.reports.get("attribute_conditions", {}),
        "optional_macros_presented_mandatory": presented_mandatory(catalog),
        "nodes": {label: counts[label] for label in NODE_TABLES},
        "relationships": {k: v for k, v in counts.items() if k not in NODE_TABLES},
        "iods": catalog.iod_kind_counts(),
        "superseded": superseded,
        "relationships_removed": deleted,
        "sources": dict(catalog.sources),
        "rows_written": written,
        "catalog_s": round(t_catalog, 2),
        "write_s": round(t_write, 2),
        "elapsed_s": round(time.perf_counter() - t0, 2),
        "store": store.describe(),
    }
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """The summary `standard load` prints: counts per label, then what changed and where it came from."""
    lines = [f"standard loaded into {summary['store']} in {summary['elapsed_s']:.1f} s "
             f"(catalog {summary['catalog_s']:.1f} s, write {summary['write_s']:.1f} s)"]
    width = max(len(k) for k in [*summary["nodes"], *summary["relationships"]])
    for label, n in summary["nodes"].items():
        extra = ""
        if label == "IOD":
            extra = "  (" + ", ".join(f"{v} {k}" for k, v in sorted(summary["iods"].items())) + ")"
        lines.append(f"  {label:<{width}}  {n:>7,}{extra}")
    for rel, n in summary["relationships"].items():
        lines.append(f"  {rel:<{width}}  {n:>7,}")
    if summary["superseded"]:
        lines.append("  superseded: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["superseded"].items())))
    if summary["relationships_removed"]:
        lines.append("  relationships removed: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(summary["relationships_removed"].items())))
    for rel, c in summary.get("conditions", {}).items():
        share = 100 * c["decidable"] / c["conditional"] if c["conditional"] else 0.0
        of_text = 100 * c["decidable"] / c["with_text"] if c["with_text"] else 0.0
        lines.append(f"  conditions on {rel}: {c['conditional']:,} conditional, {c['with_text']:,} with the "
                     f"standard's text, {c['decidable']:,} machine-decidable ({share:.0f} %; {of_text:.0f} % of "
                     f"those with text)")
    texts = summary.get("attribute_conditions") or {}
    for edition, n in texts.get("editions", {}).items():
        lines.append(f"  1C/2C texts of {edition}: {n['kept']:,} in the graph, applied where module, attribute and "
                     f"type agree with the current tables ({n['conditional_include']:,} of them Type 1/2 made 1C/2C "
                     f"by their macro's conditional include), {n['type_disagrees']:,} not applied (types disagree)")
    if texts:
        lines.append(f"  1C/2C attributes with the standard's text: {texts['with_text']:,} of "
                     f"{texts['contains_conditional']:,} ({texts['curated']:,} curated rows)")
    lines.append("  sources: " + "; ".join(f"{k}: {v}" for k, v in sorted(summary["sources"].items())))
    return "\n".join(lines)
