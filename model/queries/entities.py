"""Named queries: entity consistency, the attributes whose value differs between instances of one entity.

What is recorded where (loader/ingest/entities.py writes it): an `EntityConflict` node per (entity,
keyword) seen with more than one value, holding the distinct values as text (sorted), the instances seen
with each (`counts`, aligned with `values`) and the value the entity node keeps (`kept`: the smallest
as text). `entity_conflicts` is the contract other tools read (columns entity, key, keyword, values);
`studies_on_day` answers "which studies were done on day D" for every StudyDate a study's instances
carry, not only the one its Study node keeps.
"""

from __future__ import annotations

from . import NamedQuery, Visibility, register, required, union_all

_COLUMNS = ("c.entity AS entity, c.entity_key AS key, c.keyword AS keyword, c.values AS values, "
            "c.counts AS counts, c.kept AS kept")

# conflicts of the entities one study touches: the study, its patient(s), its series and their
# equipment and frames of reference; WITH DISTINCT, as a UNION ALL of RETURN DISTINCT crashes ladybug 0.22
_STUDY_BRANCHES = (
    "MATCH (c:EntityConflict {entity: 'Study', entity_key: $study})",
    "MATCH (p:Patient)-[:HAS_STUDY]->(:Study {StudyInstanceUID: $study}) "
    "MATCH (c:EntityConflict {entity: 'Patient', entity_key: p.key})",
    "MATCH (:Study {StudyInstanceUID: $study})-[:HAS_SERIES]->(se:Series) "
    "MATCH (c:EntityConflict {entity: 'Series', entity_key: se.SeriesInstanceUID})",
    "MATCH (:Study {StudyInstanceUID: $study})-[:HAS_SERIES]->(:Series)-[:ACQUIRED_ON]->(e:Equipment) "
    "MATCH (c:EntityConflict {entity: 'Equipment', entity_key: e.key})",
    "MATCH (:Study {StudyInstanceUID: $study})-[:HAS_SERIES]->(:Series)-[:IN_FRAME]->(f:FrameOfReference) "
    "MATCH (c:EntityConflict {entity: 'FrameOfReference', entity_key: f.FrameOfReferenceUID})",
)

register(
    NamedQuery(
        name="entity_conflicts",
        title="Attributes whose value differs between instances of one entity",
        description="One row per (entity, keyword) seen with more than one value, the way dcentvfy checks "
                    "entity consistency: entity is the label (Patient, Study, Series, Equipment, "
                    "FrameOfReference), key its key, values the distinct values as text (sorted), counts "
                    "the instances with each, kept the value the entity node holds (the smallest).",
        cypher=f"MATCH (c:EntityConflict) RETURN {_COLUMNS} ORDER BY entity, key, keyword",
    ),
    NamedQuery(
        name="study_entity_conflicts",
        title="A study's entity conflicts (its own, its patient's, its series', their equipment's and frames')",
        parameters=required(study=None),
        cypher=union_all(f"{branch} WITH DISTINCT c RETURN {_COLUMNS}" for branch in _STUDY_BRANCHES),
    ),
    NamedQuery(
        name="studies_on_day",
        parameters=required(day="2001-01-01"),  # ISO, as the values of a conflict record are
        title="Studies done on a day, by any StudyDate their instances carry",
        description="A study whose instances disagree on StudyDate keeps one on its node; the others are "
                    "in its EntityConflict record, so the study answers for each of its days.",
        cypher="MATCH (st:Study) WHERE st.StudyDate = date($day) OR EXISTS { "
               "MATCH (c:EntityConflict {entity: 'Study', entity_key: st.StudyInstanceUID, "
               "keyword: 'StudyDate'}) WHERE $day IN c.values } "
               "RETURN st.StudyInstanceUID AS study_uid, st.StudyDate AS study_date, "
               "st.StudyDescription AS description, st.AccessionNumber AS accession "
               "ORDER BY study_uid",
    ),
    NamedQuery(
        name="entity_values",
        title="What each entity attribute has been seen with, by EntityValues key",
        parameters=required(keys=None),
        cypher="UNWIND $keys AS k MATCH (v:EntityValues {key: k}) RETURN v.key AS key, v.observed AS observed",
        visibility=Visibility.INTERNAL,
    ),
)
