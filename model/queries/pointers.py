"""Named queries: pointers, the REFERENCES edges every Referenced SOP Instance / Series / Study UID makes.

A pointer's target is an Instance, a Series or a Study (the schema's REFERENCES endpoints); one not (yet)
ingested is a stub. Queries over several kinds of target are a UNION of one branch per kind: a node
variable spanning several labels cannot be returned from a ladybug UNION, and scalar columns keep both
engines' answers equal.
"""

from __future__ import annotations

from . import NamedQuery, dialects, has_label, optional, reference_targets, register, required, union_all

_TARGETS = reference_targets()
_INSTANCE_KEY = dict(_TARGETS)["Instance"]

# one edge of the pointer graph; `t` is of one label per UNION branch
_EDGE_COLUMNS = ("s.SOPInstanceUID AS source, s.Modality AS source_modality, s.SOPClassUID AS source_sop_class, "
                 "r.via AS via, '{label}' AS target_label, t.{key} AS target, "
                 "coalesce(t.stub, false) AS target_stub")
_STUDY = "(:Study {StudyInstanceUID: $study})-[:HAS_SERIES]->(:Series)-[:HAS_INSTANCE]->"


def _edges(match: str, targets: tuple[tuple[str, str], ...] = _TARGETS, tail: str = " LIMIT $limit") -> list[str]:
    """One UNION branch per target kind: `match` (with `{label}` for the target's) returning edge columns."""
    return [f"{match.replace('{label}', label)} RETURN {_EDGE_COLUMNS.format(label=label, key=key)}{tail}"
            for label, key in targets]


def _into(label: str) -> tuple[tuple[str, str], ...]:
    return tuple(t for t in _TARGETS if t[0] == label)


def _normalized_instances(dialect: str) -> str:
    """The first $limit normalized instances, then one pass over their pointers counted per target kind
    (three chained OPTIONAL MATCH aggregations over every one of them grew with the archive)."""
    def kind(label: str) -> str:
        return f"count(CASE WHEN {has_label('t', label, dialect)} THEN 1 END)"
    return ("MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass) WHERE c.kind = 'normalized' "
            "WITH i, c ORDER BY coalesce(c.name, c.uid), i.SOPInstanceUID LIMIT $limit "
            "OPTIONAL MATCH (i)-[:REFERENCES]->(t) "
            "RETURN i.SOPInstanceUID AS sop_instance_uid, coalesce(c.name, c.uid) AS sop_class, "
            "i.PerformedProcedureStepStatus AS status, "
            f"{kind('Instance')} AS to_instances, {kind('Series')} AS to_series, {kind('Study')} AS to_studies, "
            "count(CASE WHEN t.stub = true THEN 1 END) AS dangling "
            "ORDER BY sop_class, sop_instance_uid")


register(
    NamedQuery(
        name="reference_pairs",
        title="Every instance-to-instance pointer",
        cypher="MATCH (a:Instance)-[:REFERENCES]->(b:Instance) "
               "RETURN DISTINCT a.SOPInstanceUID AS referencing, b.SOPInstanceUID AS referenced "
               "ORDER BY referencing, referenced",
    ),
    NamedQuery(
        name="instance_references",
        title="What one instance points at",
        parameters=required(uid=None),
        cypher=union_all(
            f"MATCH (i:Instance {{{_INSTANCE_KEY}: $uid}})-[r:REFERENCES]->(t:{label}) "
            f"RETURN '{label}' AS target_label, t.{key} AS target, r.via AS via, coalesce(t.stub, false) AS stub"
            for label, key in _TARGETS),
    ),
    NamedQuery(
        name="instance_referenced_by",
        title="The instances that point at an instance",
        description="The reverse of `instance_references`: REFERENCES edges into the instance.",
        parameters=required(uid=None),
        cypher="MATCH (s:Instance)-[r:REFERENCES]->(:Instance {SOPInstanceUID: $uid}) "
               "OPTIONAL MATCH (s)-[:INSTANCE_OF]->(c:SOPClass) "
               "RETURN s.SOPInstanceUID AS source, s.Modality AS modality, coalesce(c.name, s.SOPClassUID) "
               "AS sop_class, r.via AS via ORDER BY source, via",
    ),
    NamedQuery(
        name="dangling_references",
        title="Pointers to instances not (yet) ingested",
        cypher="MATCH (a:Instance)-[r:REFERENCES]->(t:Instance) WHERE t.stub = true "
               "RETURN a.SOPInstanceUID AS referencing, t.SOPInstanceUID AS referenced, r.via AS via "
               "ORDER BY referencing, referenced, via",
    ),
    NamedQuery(
        name="pointers_around_study",
        title="The reference graph around a study",
        description="REFERENCES from the study's instances (to instances, series, studies) and into them, "
                    "and pointers at the study or its series (e.g. MPPS -> performed series).",
        parameters=required(study=None) + optional(limit=1000),
        cypher=union_all(
            _edges(f"MATCH {_STUDY}(s:Instance)-[r:REFERENCES]->(t:{{label}})")
            + _edges(f"MATCH {_STUDY}(t:Instance)<-[r:REFERENCES]-(s:Instance)", _into("Instance"))
            + _edges("MATCH (:Study {StudyInstanceUID: $study})-[:HAS_SERIES]->(t:Series)"
                     "<-[r:REFERENCES]-(s:Instance)", _into("Series"))
            + _edges("MATCH (t:Study {StudyInstanceUID: $study})<-[r:REFERENCES]-(s:Instance)", _into("Study"))),
    ),
    NamedQuery(
        name="pointers_graph_of_study",
        title="A study's pointers as a graph: its instances, their REFERENCES and the targets (nodes)",
        description="Whole nodes, for `export` and the API's subgraph; pointers_around_study has columns.",
        parameters=required(study=None) + optional(limit=1000),
        cypher=f"MATCH {_STUDY}(s:Instance)-[r:REFERENCES]->(t) RETURN s, r, t LIMIT $limit",
    ),
    NamedQuery(
        name="pointers_around_instance",
        title="The reference graph around an instance (two hops out, one hop in)",
        parameters=required(uid=None) + optional(limit=1000),
        cypher=union_all(
            _edges("MATCH (s:Instance {SOPInstanceUID: $uid})-[r:REFERENCES]->(t:{label})")
            + _edges("MATCH (:Instance {SOPInstanceUID: $uid})-[:REFERENCES]->(s:Instance)"
                     "-[r:REFERENCES]->(t:{label})")
            + _edges("MATCH (t:Instance {SOPInstanceUID: $uid})<-[r:REFERENCES]-(s:Instance)", _into("Instance"))),
    ),
    NamedQuery(
        name="studies_with_pointers",
        title="Studies whose instances point somewhere, with how many pointers",
        description="From each instance's pointer_count (its REFERENCES edges, counted at ingest): one "
                    "column scan rather than a walk over every pointer in the archive.",
        parameters=optional(limit=200),
        cypher="MATCH (i:Instance) WHERE i.pointer_count > 0 AND i.StudyInstanceUID IS NOT NULL "
               "WITH i.StudyInstanceUID AS study_uid, count(*) AS instances, "
               "sum(i.pointer_count) AS pointers "
               "ORDER BY pointers DESC, study_uid LIMIT $limit "
               "MATCH (st:Study {StudyInstanceUID: study_uid}) "
               "RETURN study_uid, st.StudyDescription AS description, instances, pointers "
               "ORDER BY pointers DESC, study_uid",
    ),
    NamedQuery(
        name="dangling_summary",
        title="Dangling pointers by sequence path and target kind",
        description="Pointers whose target is a stub: known only from the pointer, not (yet) ingested.",
        cypher=union_all(
            f"MATCH (:Instance)-[r:REFERENCES]->(t:{label}) WHERE t.stub = true "
            f"RETURN r.via AS via, '{label}' AS target_label, count(r) AS pointers" for label, _ in _TARGETS),
    ),
    NamedQuery(
        name="dangling_pointers",
        title="Dangling pointers: references to instances, series and studies not in the graph",
        description="Like `dangling_references`, with series and study targets and the source's SOP class.",
        parameters=optional(limit=1000),
        cypher=union_all(_edges("MATCH (s:Instance)-[r:REFERENCES]->(t:{label}) WHERE t.stub = true")),
    ),
    NamedQuery(
        name="normalized_instances",
        title="Normalized instances (MPPS, Storage Commitment, print, UPS, ...) and what they point at",
        description="Instances of normalized SOP classes with their pointers per target kind "
                    "(instances, series, studies) and how many of those are dangling.",
        parameters=optional(limit=1000),
        **dialects(_normalized_instances),
    ),
)
