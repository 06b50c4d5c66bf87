"""The numbers the GraphVersion node (schema.GRAPH_VERSION) records, and what a reader makes of them.

Two numbers, because two different things age: the schema (what the tables and properties are) and the
standard's definitions as `standard load` wrote them (a Type or a condition corrected since).
"""
from __future__ import annotations

from typing import Any

# Bump SCHEMA_VERSION when a graph written before the change would be read wrongly by the new code
# (a key, a label or a property renamed or retyped); adding a label, a property or a relationship type
# is not such a change: ensure_schema adds it to an older graph, so the version stays.
SCHEMA_VERSION = 1
# a graph without the version node was written by a dicom-graph older than the node: today's schema
UNVERSIONED_SCHEMA = 1
# The revision of what `standard load` writes, recorded on the version node by each load. Bump it when a
# change to the loader would make a graph loaded before it answer differently (a Type, a condition): reading
# an older one's requirements says to load the standard again. None (no record): loaded before 4 Dec 2026.
# 1 (4 Dec 2026): a functional group macro's Sequence keeps its own Type 2 / 1C in the items (Derivation
#   Image, Unassigned Shared / Per-frame Converted Attributes, ...); the Segmentation macro's condition
#   exempts LABELMAP.
STANDARD_REVISION = 1


def version_row() -> dict[str, Any]:
    """The version node's properties, as this dicom-graph writes them."""
    from dicom_graph import __version__

    return {"key": "graph", "schema_version": SCHEMA_VERSION, "dicom_graph_version": __version__}


def standard_revision_row() -> dict[str, Any]:
    """The version node's standard_revision, as `standard load` records it (the other properties stay)."""
    return {"key": "graph", "standard_revision": STANDARD_REVISION}


def version_problem(found: int, written_by: str | None) -> str | None:
    """Why this dicom-graph cannot use a graph of schema version `found` (None when it can), in words
    that tell the operator what to do."""
    if found == SCHEMA_VERSION:
        return None
    from dicom_graph import __version__

    by = f" (written by dicom-graph {written_by})" if written_by else ""
    if found > SCHEMA_VERSION:
        return (f"the graph has schema version {found}{by}, newer than the version {SCHEMA_VERSION} that "
                f"dicom-graph {__version__} reads: upgrade dicom-graph (pip install -U dicom-graph)")
    return (f"the graph has schema version {found}{by}, older than the version {SCHEMA_VERSION} that "
            f"dicom-graph {__version__} reads: build a new graph (standard load, then ingest the same files "
            f"into a new --db), or keep using the dicom-graph that wrote it")
