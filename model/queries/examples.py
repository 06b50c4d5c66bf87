"""Named queries: the analysts' example library, showing off the joined model (data x standard).

Listed by `dicom-graph queries` and offered by the dashboard's Cypher page; each one a starting point to
edit. A default here is part of the question (the example about thin CT slices is about CT Image
Storage and 2.5 mm); an example value only illustrates a parameter the caller must give.
"""

from __future__ import annotations

from functools import partial

from pydicom.uid import CTImageStorage

from . import NamedQuery, Visibility, optional, register, required

_example = partial(NamedQuery, visibility=Visibility.EXAMPLE)

# modalities (PS3.3 C.7.3.1.1.1) of objects made from other instances: segmentations, RT structure sets,
# plans and doses, structured reports, key object selections, presentation states, registrations
DERIVED_MODALITIES = ("SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "SR", "KO", "PR", "REG")

register(
    _example(
        name="example_studies_per_modality",
        title="Studies per modality",
        cypher="MATCH (st:Study)-[:HAS_SERIES]->(se:Series) "
               "RETURN se.Modality AS modality, count(DISTINCT st) AS studies ORDER BY studies DESC, modality",
    ),
    _example(
        name="example_patient_tree",
        title="The patients with the most studies, and their modalities",
        parameters=optional(limit=20),
        cypher="MATCH (p:Patient)-[:HAS_STUDY]->(st:Study)-[:HAS_SERIES]->(se:Series) "
               "RETURN p.PatientID AS patient_id, count(DISTINCT st) AS studies, count(se) AS series, "
               "collect(DISTINCT se.Modality) AS modalities ORDER BY studies DESC, series DESC, patient_id "
               "LIMIT $limit",
    ),
    _example(
        name="example_thin_ct",
        title="CT instances with thin slices (a property filter joined with the standard)",
        parameters=optional(sop_class=str(CTImageStorage), max_thickness=2.5, limit=100),
        cypher="MATCH (se:Series)-[:HAS_INSTANCE]->(i:Instance)-[:INSTANCE_OF]->(c:SOPClass {uid: $sop_class}) "
               "WHERE i.SliceThickness <= $max_thickness "
               "RETURN se.SeriesInstanceUID AS series, i.SOPInstanceUID AS instance, i.SliceThickness AS thickness, "
               "i.Rows AS rows, i.Columns AS columns ORDER BY thickness, instance LIMIT $limit",
    ),
    _example(
        name="example_missing_mandatory_modules",
        title="Mandatory modules missing, per SOP class",
        parameters=optional(limit=50),
        cypher="MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass) UNWIND i.modules_missing AS module "
               "RETURN coalesce(c.name, c.uid) AS sop_class, module, count(i) AS instances "
               "ORDER BY instances DESC, sop_class, module LIMIT $limit",
    ),
    _example(
        name="example_derived_objects",
        title="Derived objects (SEG, RTSTRUCT, SR, KOS, PR, ...) and the instances they point at",
        description="Pointers from instances of the derived modalities to instances, per SOP class and "
                    "sequence path; `in_graph` counts the targets that were ingested, the rest are stubs "
                    "(pointed at, not yet loaded): derived objects usually arrive without their sources.",
        parameters=optional(modalities=list(DERIVED_MODALITIES), limit=100),
        cypher="MATCH (c:SOPClass)<-[:INSTANCE_OF]-(s:Instance)-[r:REFERENCES]->(t:Instance) "
               "WHERE s.Modality IN $modalities "
               "RETURN s.Modality AS source_modality, c.name AS source_sop_class, r.via AS via, "
               "count(*) AS pointers, sum(CASE WHEN coalesce(t.stub, false) THEN 0 ELSE 1 END) AS in_graph "
               "ORDER BY pointers DESC, source_modality, source_sop_class, via LIMIT $limit",
    ),
    _example(
        name="example_equipment",
        title="Equipment and what it acquired",
        parameters=optional(limit=50),
        cypher="MATCH (e:Equipment)<-[:ACQUIRED_ON]-(se:Series)-[:HAS_INSTANCE]->(i:Instance) "
               "RETURN e.Manufacturer AS manufacturer, e.ManufacturerModelName AS model, "
               "e.StationName AS station, count(DISTINCT se) AS series, count(i) AS instances "
               "ORDER BY instances DESC, manufacturer, model LIMIT $limit",
    ),
    _example(
        name="example_attribute_to_instances",
        title="From a standard attribute to the modules that hold it, to the instances of those IODs",
        parameters=required(keyword="SliceThickness"),
        cypher="MATCH (a:Attribute {keyword: $keyword})<-[ct:CONTAINS]-(m:Module)<-[inc:INCLUDES]-(iod:IOD)"
               "<-[:USES_IOD]-(c:SOPClass)<-[:INSTANCE_OF]-(i:Instance) "
               "RETURN m.name AS module, ct.type AS type, iod.name AS iod, count(DISTINCT i) AS instances "
               "ORDER BY instances DESC, module, iod",
    ),
    _example(
        name="example_pointer_paths",
        title="A small subgraph: instances, their pointers and targets (shown as a graph)",
        parameters=optional(limit=50),
        cypher="MATCH (s:Instance)-[r:REFERENCES]->(t) RETURN s, r, t LIMIT $limit",
    ),
)
