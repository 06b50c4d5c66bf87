"""Named queries: the overview, the data browser, conformance, pointers and the analysts' example library.

The dashboard reads through these (and through the standard / data / network modules' queries). Every
query runs on both engines; where the dialects differ there is a variant per engine.

Optional filters use sentinel values rather than nulls, because the embedded engine cannot type a null
parameter inside `$p IS NULL OR ...`: an empty string means "no filter" for text, `$dates` switches the
date range on, an empty `$uids` list means "every instance".
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import NamedQuery, QUERIES, dialects, has_label, register

_LIVE = "coalesce({v}.stub, false) = false"

# the data browser's filters, over (st:Study)-[:HAS_SERIES]->(se:Series)-[:HAS_INSTANCE]->(i:Instance).
# Modality is the instance's own: where files disagree (an SR filed in a CT series) the Series node holds
# only one of their values.
_INSTANCE_FILTER = (
    "($modality = '' OR i.Modality = $modality) "
    "AND ($sop_class = '' OR i.SOPClassUID = $sop_class) "
    "AND ($manufacturer = '' OR i.Manufacturer = $manufacturer) "
    "AND (size($uids) = 0 OR i.SOPInstanceUID IN $uids)"
)
_DATE_FILTER = "(NOT $dates OR (st.StudyDate >= date($date_from) AND st.StudyDate <= date($date_to)))"
_FILTER = f"{_INSTANCE_FILTER} AND {_DATE_FILTER}"
FILTER_DEFAULTS = {"modality": "", "sop_class": "", "manufacturer": "", "dates": False,
                   "date_from": "1900-01-01", "date_to": "2999-12-31", "uids": []}

_FINDING_LISTS = ("modules_missing", "type1_missing", "type1_empty", "type2_missing")


def _module_of(expr: str, dialect: str) -> str:
    """The module part of a finding: `Module>Keyword` -> `Module`; a missing module is just its name."""
    return f"split_part({expr}, '>', 1)" if dialect == "embedded" else f"split({expr}, '>')[0]"


def _conformance_by_module(dialect: str) -> str:
    branches = [
        f"MATCH (c:SOPClass {{uid: $sop_class}})<-[:INSTANCE_OF]-(i:Instance) WHERE i.conformant = false "
        f"UNWIND coalesce(i.{lst}, []) AS f WITH DISTINCT i, {_module_of('f', dialect)} AS module "
        f"RETURN module, '{lst}' AS finding, count(i) AS instances"
        for lst in _FINDING_LISTS
    ]
    branches.append(
        f"MATCH (c:SOPClass {{uid: $sop_class}})<-[:INSTANCE_OF]-(i:Instance) WHERE i.conformant = false "
        f"UNWIND ({_all_findings()}) AS f WITH DISTINCT i, {_module_of('f', dialect)} AS module "
        f"RETURN module, 'any' AS finding, count(i) AS instances")
    return "\nUNION ALL\n".join(branches)


_TARGETS = (("Instance", "SOPInstanceUID"), ("Series", "SeriesInstanceUID"), ("Study", "StudyInstanceUID"))
# one edge of the pointer graph; `t` is of one label per UNION branch (a node variable spanning several
# labels cannot be returned from a ladybug UNION, and scalar columns keep both engines' answers equal)
_EDGE_COLUMNS = ("s.SOPInstanceUID AS source, s.Modality AS source_modality, s.SOPClassUID AS source_sop_class, "
                 "r.via AS via, '{label}' AS target_label, t.{key} AS target, "
                 "coalesce(t.stub, false) AS target_stub")
_STUDY_INSTANCES = "(:Study {{StudyInstanceUID: $study}})-[:HAS_SERIES]->(:Series)-[:HAS_INSTANCE]->({v}:Instance)"


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


def _UNION(branches: list[str]) -> str:
    return "\nUNION ALL\n".join(branches)


def _all_findings() -> str:
    return " + ".join(f"coalesce(i.{lst}, [])" for lst in _FINDING_LISTS)


register(
    # --- overview --------------------------------------------------------------------------------
    NamedQuery(
        name="dashboard_status",
        title="What the graph holds besides the data counts",
        description="One row per kind of thing: SOP classes in use, stub instances (known only from a "
                    "pointer), equipment, the standard's definitions, ingest runs and associations; with "
                    "`data_counts` it tells the dashboard whether the graph is empty and what to run.",
        cypher="\nUNION ALL\n".join([
            "MATCH (:Instance)-[:INSTANCE_OF]->(c:SOPClass) RETURN 'sop_classes_in_use' AS what, "
            "count(DISTINCT c) AS n",
            "MATCH (n:Instance) WHERE n.stub = true RETURN 'stub_instances' AS what, count(n) AS n",
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
    ),
    NamedQuery(
        name="instances_by_modality",
        title="Instances by modality",
        cypher="MATCH (i:Instance) WHERE coalesce(i.stub, false) = false "
               "RETURN coalesce(i.Modality, '(none)') AS modality, count(i) AS instances "
               "ORDER BY instances DESC, modality",
        example=True,
    ),
    NamedQuery(
        name="instances_by_manufacturer",
        title="Instances by manufacturer",
        cypher="MATCH (i:Instance) WHERE coalesce(i.stub, false) = false "
               "RETURN coalesce(i.Manufacturer, '(unknown)') AS manufacturer, count(i) AS instances "
               "ORDER BY instances DESC, manufacturer LIMIT $limit",
        params={"limit": 25},
        example=True,
    ),
    NamedQuery(
        name="service_classes",
        title="Service classes and how many SOP classes each defines",
        cypher="MATCH (sc:ServiceClass) WHERE coalesce(sc.superseded, false) = false "
               "OPTIONAL MATCH (sc)-[:DEFINES]->(s:SOPClass) "
               "RETURN sc.key AS key, sc.name AS name, count(s) AS sop_classes ORDER BY name, key",
    ),
    NamedQuery(
        name="iod_list",
        title="IODs with their kind and the SOP classes using them",
        cypher="MATCH (i:IOD) WHERE coalesce(i.superseded, false) = false "
               "OPTIONAL MATCH (s:SOPClass)-[:USES_IOD]->(i) "
               "RETURN i.key AS key, i.name AS name, i.kind AS kind, count(s) AS sop_classes ORDER BY name, key",
    ),
    NamedQuery(
        name="iod_neighbourhood",
        title="An IOD's neighbourhood: service classes, SOP classes, entities, modules, instances",
        description="One row per (SOP class, service class) using the IOD, with how many instances of the "
                    "SOP class the graph holds; the modules come from `iod_modules`.",
        params={"iod": "ct-image"},
        cypher="MATCH (iod:IOD) WHERE iod.key = $iod OR iod.name = $iod "
               "OPTIONAL MATCH (s:SOPClass)-[:USES_IOD]->(iod) "
               "OPTIONAL MATCH (sc:ServiceClass)-[:DEFINES]->(s) "
               "OPTIONAL MATCH (i:Instance)-[:INSTANCE_OF]->(s) "
               "RETURN iod.key AS iod_key, iod.name AS iod, iod.kind AS kind, s.uid AS sop_class_uid, "
               "s.name AS sop_class, sc.key AS service_class_key, sc.name AS service_class, "
               "count(i) AS instances ORDER BY sop_class_uid, service_class_key",
    ),
    NamedQuery(
        name="sop_class_iod",
        title="The IOD a SOP class uses, and its service class",
        params={"sop_class": "1.2.840.10008.5.1.4.1.1.2"},
        cypher="MATCH (s:SOPClass) WHERE s.uid = $sop_class OR s.name = $sop_class "
               "OPTIONAL MATCH (s)-[:USES_IOD]->(iod:IOD) "
               "OPTIONAL MATCH (sc:ServiceClass)-[:DEFINES]->(s) "
               "RETURN s.uid AS sop_class_uid, s.name AS sop_class, s.kind AS kind, s.retired AS retired, "
               "iod.key AS iod_key, iod.name AS iod, sc.name AS service_class ORDER BY iod_key",
    ),
    # --- data browser ------------------------------------------------------------------------------
    NamedQuery(
        name="filter_choices",
        title="Values the data browser's filters can take",
        # WITH DISTINCT, not RETURN DISTINCT: a UNION of RETURN DISTINCT branches crashes ladybug 0.22
        cypher="\nUNION ALL\n".join([
            "MATCH (se:Series) WHERE se.Modality IS NOT NULL WITH DISTINCT se.Modality AS value "
            "RETURN 'modality' AS filter, value, value AS label",
            "MATCH (:Instance)-[:INSTANCE_OF]->(c:SOPClass) WITH DISTINCT c "
            "RETURN 'sop_class' AS filter, c.uid AS value, coalesce(c.name, c.uid) AS label",
            "MATCH (i:Instance) WHERE i.Manufacturer IS NOT NULL WITH DISTINCT i.Manufacturer AS value "
            "RETURN 'manufacturer' AS filter, value, value AS label",
        ]),
    ),
    NamedQuery(
        name="browse_patients",
        title="Patients with instances matching the filters",
        description="Filters on the instance's own attributes (an instance carries its Modality, study and "
                    "series UIDs), so one scan of Instance, grouped by study, replaces the walk down "
                    "Patient→Study→Series→Instance (5x faster, and it stays under a second at 1M instances).",
        params={**FILTER_DEFAULTS, "limit": 200},
        cypher=f"MATCH (i:Instance) WHERE {_INSTANCE_FILTER} "
               "WITH i.StudyInstanceUID AS study_uid, count(DISTINCT i.SeriesInstanceUID) AS series, "
               "count(*) AS instances "
               "MATCH (p:Patient)-[:HAS_STUDY]->(st:Study {StudyInstanceUID: study_uid}) "
               f"WHERE {_DATE_FILTER} "
               "RETURN p.key AS patient_key, p.PatientID AS patient_id, p.PatientName AS patient_name, "
               "p.PatientSex AS sex, p.PatientBirthDate AS birth_date, count(st) AS studies, "
               "sum(series) AS series, sum(instances) AS instances "
               "ORDER BY patient_id, patient_key LIMIT $limit",
    ),
    NamedQuery(
        name="browse_patients_unfiltered",
        title="Patients and their study counts (the data browser without filters)",
        description="The fast path of `browse_patients` when no filter is set: no join down to instances.",
        params={"limit": 200},
        cypher="MATCH (p:Patient)-[:HAS_STUDY]->(st:Study) "
               "RETURN p.key AS patient_key, p.PatientID AS patient_id, p.PatientName AS patient_name, "
               "p.PatientSex AS sex, p.PatientBirthDate AS birth_date, count(st) AS studies "
               "ORDER BY patient_id, patient_key LIMIT $limit",
    ),
    NamedQuery(
        name="browse_studies",
        title="A patient's studies with instances matching the filters",
        params={**FILTER_DEFAULTS, "patient": "", "limit": 200},
        cypher="MATCH (p:Patient {key: $patient})-[:HAS_STUDY]->(st:Study)-[:HAS_SERIES]->(se:Series)"
               "-[:HAS_INSTANCE]->(i:Instance) "
               f"WHERE {_FILTER} "
               "RETURN st.StudyInstanceUID AS study_uid, st.StudyDate AS study_date, "
               "st.StudyDescription AS description, st.AccessionNumber AS accession, "
               "count(DISTINCT se) AS series, count(i) AS instances "
               "ORDER BY study_date, study_uid LIMIT $limit",
    ),
    NamedQuery(
        name="browse_series",
        title="A study's series with instances matching the filters",
        params={**FILTER_DEFAULTS, "study": "", "limit": 500},
        cypher="MATCH (st:Study {StudyInstanceUID: $study})-[:HAS_SERIES]->(se:Series)-[:HAS_INSTANCE]->(i:Instance) "
               f"WHERE {_FILTER} "
               "OPTIONAL MATCH (se)-[:ACQUIRED_ON]->(e:Equipment) "
               "RETURN se.SeriesInstanceUID AS series_uid, se.SeriesNumber AS number, se.Modality AS modality, "
               "se.SeriesDescription AS description, e.Manufacturer AS manufacturer, "
               "e.ManufacturerModelName AS model, count(i) AS instances "
               "ORDER BY number, series_uid LIMIT $limit",
    ),
    NamedQuery(
        name="browse_instances",
        title="A series' instances matching the filters",
        params={**FILTER_DEFAULTS, "series": "", "limit": 1000},
        cypher="MATCH (st:Study)-[:HAS_SERIES]->(se:Series {SeriesInstanceUID: $series})-[:HAS_INSTANCE]->(i:Instance) "
               f"WHERE {_FILTER} "
               "OPTIONAL MATCH (i)-[:INSTANCE_OF]->(c:SOPClass) "
               "RETURN i.SOPInstanceUID AS sop_instance_uid, i.InstanceNumber AS number, "
               "coalesce(c.name, i.SOPClassUID) AS sop_class, i.conformant AS conformant, "
               "i.TransferSyntaxUID AS transfer_syntax, i.path AS path "
               "ORDER BY number, sop_instance_uid LIMIT $limit",
    ),
    NamedQuery(
        name="instance_properties",
        title="All properties of one instance",
        description="The Instance node itself (every top-level element is a property), with its SOP class, "
                    "IOD and series.",
        params={"uid": ""},
        cypher="MATCH (i:Instance {SOPInstanceUID: $uid}) "
               "OPTIONAL MATCH (i)-[:INSTANCE_OF]->(c:SOPClass) "
               "OPTIONAL MATCH (c)-[:USES_IOD]->(iod:IOD) "
               "OPTIONAL MATCH (se:Series)-[:HAS_INSTANCE]->(i) "
               "RETURN i, c.uid AS sop_class_uid, c.name AS sop_class, iod.key AS iod_key, iod.name AS iod, "
               "se.SeriesInstanceUID AS series_uid",
    ),
    NamedQuery(
        name="iod_module_keywords",
        title="The top-level attributes of each module of a SOP class's IOD",
        description="To group an instance's attributes by the modules of its IOD.",
        params={"sop_class": "1.2.840.10008.5.1.4.1.1.2"},
        cypher="MATCH (c:SOPClass {uid: $sop_class})-[:USES_IOD]->(iod:IOD)-[inc:INCLUDES]->(m:Module)"
               "-[ct:CONTAINS]->(a:Attribute) WHERE coalesce(ct.path, '') = '' "
               "RETURN inc.ie AS ie, m.name AS module, inc.usage AS usage, a.keyword AS keyword, "
               "a.name AS name, a.tag AS tag, ct.type AS type ORDER BY ie, module, tag",
    ),
    NamedQuery(
        name="instance_referenced_by",
        title="The instances that point at an instance",
        description="The reverse of `instance_references`: REFERENCES edges into the instance.",
        params={"uid": "1.2.3"},
        cypher="MATCH (s:Instance)-[r:REFERENCES]->(:Instance {SOPInstanceUID: $uid}) "
               "OPTIONAL MATCH (s)-[:INSTANCE_OF]->(c:SOPClass) "
               "RETURN s.SOPInstanceUID AS source, s.Modality AS modality, coalesce(c.name, s.SOPClassUID) "
               "AS sop_class, r.via AS via ORDER BY source, via",
    ),
    # --- conformance ---------------------------------------------------------------------------------
    NamedQuery(
        name="conformance_by_sop_class",
        title="Conformance per SOP class: instances complete",
        description="Instances checked against their IOD (those ingested with the standard loaded) and how "
                    "many are complete: no mandatory module missing, no Type 1 / Type 2 attribute absent or empty.",
        cypher="MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass) WHERE i.conformant IS NOT NULL "
               "RETURN c.uid AS sop_class_uid, coalesce(c.name, c.uid) AS sop_class, count(i) AS instances, "
               "sum(CASE WHEN i.conformant THEN 1 ELSE 0 END) AS complete "
               "ORDER BY instances DESC, sop_class_uid",
        example=True,
    ),
    NamedQuery(
        name="conformance_by_module",
        title="Conformance of one SOP class per module: instances failing, by finding",
        description="finding is modules_missing, type1_missing, type1_empty, type2_missing, or 'any' (an "
                    "instance failing the module in any way); instances are distinct per (module, finding).",
        params={"sop_class": "1.2.840.10008.5.1.4.1.1.2"},
        cypher=_conformance_by_module("neo4j"),
        variants={"embedded": _conformance_by_module("embedded")},
    ),
    NamedQuery(
        name="conformance_failing",
        title="Instances of a SOP class failing in a module (or anywhere when module is '')",
        params={"sop_class": "1.2.840.10008.5.1.4.1.1.2", "module": "", "limit": 5000},
        cypher="MATCH (c:SOPClass {uid: $sop_class})<-[:INSTANCE_OF]-(i:Instance) WHERE i.conformant = false "
               f"UNWIND ({_all_findings()}) AS f "
               "WITH i, f WHERE $module = '' OR f = $module OR f STARTS WITH ($module + '>') "
               "WITH i, collect(f) AS findings "
               "OPTIONAL MATCH (se:Series)-[:HAS_INSTANCE]->(i) "
               "RETURN i.SOPInstanceUID AS sop_instance_uid, se.SeriesInstanceUID AS series_uid, "
               "i.Modality AS modality, i.path AS path, findings "
               "ORDER BY sop_instance_uid LIMIT $limit",
    ),
    # --- pointers ------------------------------------------------------------------------------------
    NamedQuery(
        name="pointers_around_study",
        title="The reference graph around a study",
        description="REFERENCES from the study's instances (to instances, series, studies) and into them, "
                    "and pointers at the study or its series (e.g. MPPS -> performed series).",
        params={"study": "1.2.3", "limit": 1000},
        cypher=_UNION([
            f"MATCH {_STUDY_INSTANCES.format(v='s')}-[r:REFERENCES]->(t:{label}) "
            f"RETURN {_EDGE_COLUMNS.format(label=label, key=key)} LIMIT $limit"
            for label, key in _TARGETS] + [
            f"MATCH {_STUDY_INSTANCES.format(v='t')}<-[r:REFERENCES]-(s:Instance) "
            f"RETURN {_EDGE_COLUMNS.format(label='Instance', key='SOPInstanceUID')} LIMIT $limit",
            "MATCH (:Study {StudyInstanceUID: $study})-[:HAS_SERIES]->(t:Series)<-[r:REFERENCES]-(s:Instance) "
            f"RETURN {_EDGE_COLUMNS.format(label='Series', key='SeriesInstanceUID')} LIMIT $limit",
            "MATCH (t:Study {StudyInstanceUID: $study})<-[r:REFERENCES]-(s:Instance) "
            f"RETURN {_EDGE_COLUMNS.format(label='Study', key='StudyInstanceUID')} LIMIT $limit",
        ]),
    ),
    NamedQuery(
        name="pointers_around_instance",
        title="The reference graph around an instance (two hops out, one hop in)",
        params={"uid": "1.2.3", "limit": 1000},
        cypher=_UNION([
            f"MATCH (s:Instance {{SOPInstanceUID: $uid}})-[r:REFERENCES]->(t:{label}) "
            f"RETURN {_EDGE_COLUMNS.format(label=label, key=key)} LIMIT $limit" for label, key in _TARGETS] + [
            f"MATCH (:Instance {{SOPInstanceUID: $uid}})-[:REFERENCES]->(s:Instance)-[r:REFERENCES]->(t:{label}) "
            f"RETURN {_EDGE_COLUMNS.format(label=label, key=key)} LIMIT $limit" for label, key in _TARGETS] + [
            "MATCH (t:Instance {SOPInstanceUID: $uid})<-[r:REFERENCES]-(s:Instance) "
            f"RETURN {_EDGE_COLUMNS.format(label='Instance', key='SOPInstanceUID')} LIMIT $limit",
        ]),
    ),
    NamedQuery(
        name="studies_with_pointers",
        title="Studies whose instances point somewhere, with how many pointers",
        description="From each instance's pointer_count (its REFERENCES edges, counted at ingest): one "
                    "column scan rather than a walk over every pointer in the archive.",
        params={"limit": 200},
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
        cypher=_UNION([
            f"MATCH (:Instance)-[r:REFERENCES]->(t:{label}) WHERE t.stub = true "
            f"RETURN r.via AS via, '{label}' AS target_label, count(r) AS pointers" for label, _ in _TARGETS]),
        example=True,
    ),
    NamedQuery(
        name="dangling_pointers",
        title="Dangling pointers: references to instances, series and studies not in the graph",
        description="Like `dangling_references`, with series and study targets and the source's SOP class.",
        params={"limit": 1000},
        cypher=_UNION([
            f"MATCH (s:Instance)-[r:REFERENCES]->(t:{label}) WHERE t.stub = true "
            f"RETURN {_EDGE_COLUMNS.format(label=label, key=key)} LIMIT $limit" for label, key in _TARGETS]),
    ),
    NamedQuery(
        name="normalized_instances",
        title="Normalized instances (MPPS, Storage Commitment, print, UPS, ...) and what they point at",
        description="Instances of normalized SOP classes with their pointers per target kind "
                    "(instances, series, studies) and how many of those are dangling.",
        params={"limit": 1000},
        **dialects(_normalized_instances),
        example=True,
    ),
    # --- the analysts' library: examples that show off the joined model ---------------------------
    NamedQuery(
        name="example_studies_per_modality",
        title="Studies per modality",
        cypher="MATCH (st:Study)-[:HAS_SERIES]->(se:Series) "
               "RETURN se.Modality AS modality, count(DISTINCT st) AS studies ORDER BY studies DESC, modality",
        example=True,
    ),
    NamedQuery(
        name="example_patient_tree",
        title="The patients with the most studies, and their modalities",
        params={"limit": 20},
        cypher="MATCH (p:Patient)-[:HAS_STUDY]->(st:Study)-[:HAS_SERIES]->(se:Series) "
               "RETURN p.PatientID AS patient_id, count(DISTINCT st) AS studies, count(se) AS series, "
               "collect(DISTINCT se.Modality) AS modalities ORDER BY studies DESC, series DESC, patient_id "
               "LIMIT $limit",
        example=True,
    ),
    NamedQuery(
        name="example_thin_ct",
        title="CT instances with thin slices (a property filter joined with the standard)",
        params={"sop_class": "1.2.840.10008.5.1.4.1.1.2", "max_thickness": 2.5, "limit": 100},
        cypher="MATCH (se:Series)-[:HAS_INSTANCE]->(i:Instance)-[:INSTANCE_OF]->(c:SOPClass {uid: $sop_class}) "
               "WHERE i.SliceThickness <= $max_thickness "
               "RETURN se.SeriesInstanceUID AS series, i.SOPInstanceUID AS instance, i.SliceThickness AS thickness, "
               "i.Rows AS rows, i.Columns AS columns ORDER BY thickness, instance LIMIT $limit",
        example=True,
    ),
    NamedQuery(
        name="example_missing_mandatory_modules",
        title="Mandatory modules missing, per SOP class",
        params={"limit": 50},
        cypher="MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass) UNWIND i.modules_missing AS module "
               "RETURN coalesce(c.name, c.uid) AS sop_class, module, count(i) AS instances "
               "ORDER BY instances DESC, sop_class, module LIMIT $limit",
        example=True,
    ),
    NamedQuery(
        name="example_derived_objects",
        title="Derived objects (SEG, RTSTRUCT, SR, KOS, PR) and the instances they point at",
        params={"limit": 100},
        cypher="MATCH (s:Instance)-[r:REFERENCES]->(t:Instance) WHERE coalesce(t.stub, false) = false "
               "RETURN s.Modality AS source_modality, r.via AS via, t.Modality AS target_modality, "
               "count(*) AS pointers ORDER BY pointers DESC, source_modality, via LIMIT $limit",
        example=True,
    ),
    NamedQuery(
        name="example_equipment",
        title="Equipment and what it acquired",
        params={"limit": 50},
        cypher="MATCH (e:Equipment)<-[:ACQUIRED_ON]-(se:Series)-[:HAS_INSTANCE]->(i:Instance) "
               "RETURN e.Manufacturer AS manufacturer, e.ManufacturerModelName AS model, "
               "e.StationName AS station, count(DISTINCT se) AS series, count(i) AS instances "
               "ORDER BY instances DESC, manufacturer, model LIMIT $limit",
        example=True,
    ),
    NamedQuery(
        name="example_attribute_to_instances",
        title="From a standard attribute to the modules that hold it, to the instances of those IODs",
        params={"keyword": "SliceThickness"},
        cypher="MATCH (a:Attribute {keyword: $keyword})<-[ct:CONTAINS]-(m:Module)<-[inc:INCLUDES]-(iod:IOD)"
               "<-[:USES_IOD]-(c:SOPClass)<-[:INSTANCE_OF]-(i:Instance) "
               "RETURN m.name AS module, ct.type AS type, iod.name AS iod, count(DISTINCT i) AS instances "
               "ORDER BY instances DESC, module, iod",
        example=True,
    ),
    NamedQuery(
        name="example_pointer_paths",
        title="A small subgraph: instances, their pointers and targets (shown as a graph)",
        params={"limit": 50},
        cypher="MATCH (s:Instance)-[r:REFERENCES]->(t) RETURN s, r, t LIMIT $limit",
        example=True,
    ),
)


# --- "any attribute" filter: one query per DICOM keyword, made on demand ------------------------------

_KEYWORD = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


@lru_cache(maxsize=None)
def attribute_filter(keyword: str) -> str:
    """The name of a named query selecting instances by one attribute (registered on first use).

    The keyword must be a DICOM keyword that becomes an Instance property (pydicom's dictionary says
    which); text values match as a substring, numbers and dates exactly, list values by membership.
    Parameters: `value` (already of the keyword's type), `limit`. Returns SOP Instance UIDs.
    """
    from .. import schema

    if not _KEYWORD.match(keyword):
        raise ValueError(f"{keyword!r} is not a DICOM keyword")
    type_ = schema.keyword_type(keyword) or schema.node("Instance").props.get(keyword)
    if type_ is None:
        raise ValueError(f"{keyword} is not a DICOM keyword stored on instances")
    prop = f"i.`{keyword}`"
    if type_ in schema.LIST_ELEMENT_TYPE:
        condition = f"$value IN {prop}"
    elif type_ == schema.STRING:
        condition = f"toLower({prop}) CONTAINS toLower($value)"
    else:
        condition = f"{prop} = $value"
    name = f"instances_where_{keyword}"
    if name not in QUERIES:
        register(NamedQuery(
            name=name, title=f"Instances by {keyword}", params={"value": "", "limit": 5000},
            cypher=f"MATCH (i:Instance) WHERE {condition} RETURN i.SOPInstanceUID AS sop_instance_uid "
                   "ORDER BY sop_instance_uid LIMIT $limit"))
    return name
