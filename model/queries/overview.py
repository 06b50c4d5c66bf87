"""Named queries: the overview, what the graph holds (counts of data, definitions and activity)."""

from __future__ import annotations

from typing import Mapping

from . import NamedQuery, Visibility, optional, register, union_all


def left_out(status: Mapping[str, int]) -> str:
    """What `data_counts` leaves out, from `dashboard_status`'s rows, in words: `demo`, the Overview and
    `stats` (which counts every node) must not look as if they disagree. Empty when nothing is left out."""
    parts = [f"{status.get('unidentified_patients', 0):,} patients without a Patient ID (one per study, "
             "never merged on a guess)"] if status.get("unidentified_patients") else []
    stubs = [f"{status[f'stub_{kind}']:,} {kind if status[f'stub_{kind}'] != 1 else one}"
             for kind, one in (("studies", "study"), ("series", "series"), ("instances", "instance"))
             if status.get(f"stub_{kind}")]
    if stubs:
        parts.append(f"{', '.join(stubs)} known only from pointers (stubs)")
    return "not counted: " + "; ".join(parts) if parts else ""

register(
    NamedQuery(
        name="dashboard_status",
        title="What the graph holds besides the data counts",
        description="One row per kind of thing: SOP classes in use, stub instances (known only from a "
                    "pointer), equipment, the standard's definitions, ingest runs and associations; with "
                    "`data_counts` it tells the dashboard whether the graph is empty and what to run.",
        cypher=union_all([
            "MATCH (:Instance)-[:INSTANCE_OF]->(c:SOPClass) RETURN 'sop_classes_in_use' AS what, "
            "count(DISTINCT c) AS n",
            "MATCH (n:Instance) WHERE n.stub = true RETURN 'stub_instances' AS what, count(n) AS n",
            "MATCH (n:Series) WHERE n.stub = true RETURN 'stub_series' AS what, count(n) AS n",
            "MATCH (n:Study) WHERE n.stub = true RETURN 'stub_studies' AS what, count(n) AS n",
            "MATCH (n:Patient) WHERE coalesce(n.stub, false) = false AND (n.PatientID IS NULL "
            "OR coalesce(n.unidentified, false) = true) RETURN 'unidentified_patients' AS what, count(n) AS n",
            "MATCH (n:Equipment) RETURN 'equipment' AS what, count(n) AS n",
            "MATCH (n:SOPClass) WHERE n.name IS NOT NULL AND coalesce(n.superseded, false) = false "
            "RETURN 'sop_classes_defined' AS what, count(n) AS n",
            "MATCH (n:IOD) RETURN 'iods' AS what, count(n) AS n",
            "MATCH (n:Module) RETURN 'modules' AS what, count(n) AS n",
            "MATCH (n:Attribute) RETURN 'attributes' AS what, count(n) AS n",
            "MATCH (n:IngestRun) RETURN 'ingest_runs' AS what, count(n) AS n",
            "MATCH (n:Association) RETURN 'associations' AS what, count(n) AS n",
            "MATCH ()-[r:REFERENCES]->() RETURN 'pointers' AS what, count(r) AS n",
        ]),
        visibility=Visibility.INTERNAL,
    ),
    NamedQuery(
        name="data_counts",
        title="Distinct patients, studies, series, instances (stubs excluded)",
        cypher="MATCH (p:Patient) WHERE coalesce(p.stub, false) = false AND p.PatientID IS NOT NULL "
               "AND coalesce(p.unidentified, false) = false "
               "WITH count(DISTINCT p.PatientID) AS patients "
               "MATCH (s:Study) WHERE coalesce(s.stub, false) = false WITH patients, count(s) AS studies "
               "MATCH (se:Series) WHERE coalesce(se.stub, false) = false "
               "WITH patients, studies, count(se) AS series "
               "MATCH (i:Instance) WHERE coalesce(i.stub, false) = false "
               "RETURN patients, studies, series, count(i) AS instances",
    ),
    NamedQuery(
        name="instances_by_modality",
        title="Instances by modality",
        cypher="MATCH (i:Instance) WHERE coalesce(i.stub, false) = false "
               "RETURN coalesce(i.Modality, '(none)') AS modality, count(i) AS instances "
               "ORDER BY instances DESC, modality",
    ),
    NamedQuery(
        name="instances_by_manufacturer",
        title="Instances by manufacturer",
        parameters=optional(limit=25),
        cypher="MATCH (i:Instance) WHERE coalesce(i.stub, false) = false "
               "RETURN coalesce(i.Manufacturer, '(unknown)') AS manufacturer, count(i) AS instances "
               "ORDER BY instances DESC, manufacturer LIMIT $limit",
    ),
    NamedQuery(
        name="sop_classes_in_use",
        title="SOP classes with instances",
        cypher="MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass) WHERE coalesce(i.stub, false) = false "
               "RETURN c.uid AS uid, c.name AS name, coalesce(c.unknown, false) AS unknown, "
               "count(i) AS instances ORDER BY instances DESC, uid",
    ),
    NamedQuery(
        name="instances_per_sop_class",
        title="Instances per SOP class UID (stubs excluded)",
        cypher="MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass) WHERE coalesce(i.stub, false) = false "
               "RETURN c.uid AS sop_class_uid, count(DISTINCT i) AS instances ORDER BY sop_class_uid",
    ),
)
