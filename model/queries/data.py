"""Named queries: data (instances, their context, pointers, conformance, ingest bookkeeping)."""

from . import NamedQuery, register

register(
    # --- used by the ingest writer ----------------------------------------------------------------
    NamedQuery(
        "instance_hashes", "Content hashes of instances",
        "UNWIND $uids AS u MATCH (i:Instance {SOPInstanceUID: u}) "
        "RETURN i.SOPInstanceUID AS uid, i.content_hash AS content_hash, "
        "i.conflicting_hashes AS conflicting_hashes, i.stub AS stub",
        params={"uids": []},
        description="For the writer: which instances exist, as stubs or with which content hash."),
    NamedQuery(
        "recount_pointers", "Set pointer_count from the REFERENCES edges an instance has",
        "UNWIND $uids AS u MATCH (i:Instance {SOPInstanceUID: u}) OPTIONAL MATCH (i)-[r:REFERENCES]->() "
        "WITH i, count(r) AS n SET i.pointer_count = n",
        params={"uids": []}, write=True,
        description="For the writers: an instance seen with other content (ingest) or whose sequences an "
                    "N-SET replaced (listener) has edges from more than one version of its content."),
    NamedQuery(
        "study_patients", "Patient keys each study was seen under",
        "UNWIND $uids AS u MATCH (s:Study {StudyInstanceUID: u}) "
        "RETURN s.StudyInstanceUID AS uid, s.patient_keys AS patient_keys",
        params={"uids": []}),
    NamedQuery(
        "source_files", "Files already seen by an ingest",
        "UNWIND $keys AS k MATCH (f:SourceFile {key: k}) "
        "RETURN f.key AS key, f.size AS size, f.mtime_ns AS mtime_ns, f.status AS status",
        params={"keys": []}, description="--resume skips files ingested unchanged (path, size, mtime)."),
    NamedQuery(
        "ingest_run", "One ingest run",
        "MATCH (r:IngestRun {key: $key}) RETURN r.key AS key, r.started_at AS started_at, "
        "r.finished_at AS finished_at, r.status AS status, r.files_seen AS files_seen, "
        "r.files_ingested AS files_ingested, r.files_skipped AS files_skipped, "
        "r.files_rejected AS files_rejected, r.instances_new AS instances_new, "
        "r.instances_updated AS instances_updated, r.elapsed_s AS elapsed_s, "
        "r.files_per_s AS files_per_s, r.report_path AS report_path",
        params={"key": ""}),
    NamedQuery(
        "ingest_runs", "Ingest runs",
        "MATCH (r:IngestRun) RETURN r.key AS key, r.status AS status, r.started_at AS started_at, "
        "r.finished_at AS finished_at, r.files_seen AS files_seen, r.files_ingested AS files_ingested, "
        "r.files_rejected AS files_rejected, r.instances_new AS instances_new, "
        "r.files_per_s AS files_per_s, r.report_path AS report_path ORDER BY started_at DESC",
        example=True),
    NamedQuery(
        "rejected_files", "Files an ingest rejected",
        "MATCH (f:SourceFile) WHERE f.status = 'rejected' "
        "RETURN f.key AS path, f.reason AS reason, f.error_class AS error_class ORDER BY path",
        example=True),
    NamedQuery(
        "sop_classes_in_use", "SOP classes with instances",
        "MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass) WHERE coalesce(i.stub, false) = false "
        "RETURN c.uid AS uid, c.name AS name, coalesce(c.unknown, false) AS unknown, "
        "count(i) AS instances ORDER BY instances DESC, uid",
        example=True),
    # --- pointers ---------------------------------------------------------------------------------
    NamedQuery(
        "reference_pairs", "Every instance-to-instance pointer",
        "MATCH (a:Instance)-[:REFERENCES]->(b:Instance) "
        "RETURN DISTINCT a.SOPInstanceUID AS referencing, b.SOPInstanceUID AS referenced "
        "ORDER BY referencing, referenced"),
    NamedQuery(
        "instance_references", "What one instance points at",
        "MATCH (i:Instance {SOPInstanceUID: $uid})-[r:REFERENCES]->(t:Instance) "
        "RETURN 'Instance' AS target_label, t.SOPInstanceUID AS target, r.via AS via, "
        "coalesce(t.stub, false) AS stub "
        "UNION ALL MATCH (i:Instance {SOPInstanceUID: $uid})-[r:REFERENCES]->(t:Series) "
        "RETURN 'Series' AS target_label, t.SeriesInstanceUID AS target, r.via AS via, "
        "coalesce(t.stub, false) AS stub "
        "UNION ALL MATCH (i:Instance {SOPInstanceUID: $uid})-[r:REFERENCES]->(t:Study) "
        "RETURN 'Study' AS target_label, t.StudyInstanceUID AS target, r.via AS via, "
        "coalesce(t.stub, false) AS stub",
        params={"uid": "1.2.3"}, example=True),
    NamedQuery(
        "dangling_references", "Pointers to instances not (yet) ingested",
        "MATCH (a:Instance)-[r:REFERENCES]->(t:Instance) WHERE t.stub = true "
        "RETURN a.SOPInstanceUID AS referencing, t.SOPInstanceUID AS referenced, r.via AS via "
        "ORDER BY referencing, referenced, via",
        example=True),
    # --- contradictions -------------------------------------------------------------------------------
    NamedQuery(
        "study_patient_contradictions", "Studies seen under more than one patient",
        "MATCH (s:Study) WHERE size(s.patient_keys) > 1 "
        "RETURN s.StudyInstanceUID AS study, s.patient_keys AS patient_keys ORDER BY study",
        example=True),
    NamedQuery(
        "instance_content_conflicts", "SOP Instance UIDs seen with different content",
        "MATCH (i:Instance) WHERE size(i.conflicting_hashes) > 0 "
        "RETURN i.SOPInstanceUID AS uid, i.path AS path, i.content_hash AS content_hash, "
        "i.conflicting_hashes AS conflicting_hashes ORDER BY uid",
        example=True),
    # --- conformance ------------------------------------------------------------------------------
    NamedQuery(
        "conformance_requirements", "Modules and top-level attributes of each SOP class's IOD",
        "MATCH (c:SOPClass)-[:USES_IOD]->(:IOD)-[inc:INCLUDES]->(m:Module) "
        "OPTIONAL MATCH (m)-[ct:CONTAINS]->(a:Attribute) WHERE ct.path = '' "
        "RETURN c.uid AS sop_class_uid, m.name AS module, inc.usage AS usage, ct.type AS type, "
        "a.keyword AS keyword",
        description="Rows (SOP class, module, usage, attribute type, keyword) the ingest checks against."),
    NamedQuery(
        "instance_conformance", "Conformance of one instance",
        "MATCH (i:Instance {SOPInstanceUID: $uid}) "
        "RETURN i.SOPInstanceUID AS uid, i.SOPClassUID AS sop_class_uid, i.conformant AS conformant, "
        "i.modules_present AS modules_present, i.modules_missing AS modules_missing, "
        "i.type1_missing AS type1_missing, i.type1_empty AS type1_empty, "
        "i.type2_missing AS type2_missing",
        params={"uid": "1.2.3"}, example=True),
    NamedQuery(
        "conformance_by_sop_class_module", "Conformance per SOP class and module",
        "MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass)-[:USES_IOD]->(:IOD)-[inc:INCLUDES]->(m:Module) "
        "WHERE i.conformant IS NOT NULL "
        "WITH c, m, inc, i, "
        "size([x IN i.type1_missing WHERE x STARTS WITH (m.name + '>')]) AS t1m, "
        "size([x IN i.type1_empty WHERE x STARTS WITH (m.name + '>')]) AS t1e, "
        "size([x IN i.type2_missing WHERE x STARTS WITH (m.name + '>')]) AS t2m "
        "RETURN c.uid AS sop_class_uid, c.name AS sop_class, m.name AS module, inc.usage AS usage, "
        "count(i) AS instances_checked, "
        "sum(CASE WHEN m.name IN i.modules_present THEN 1 ELSE 0 END) AS instances_with_module, "
        "sum(CASE WHEN m.name IN i.modules_missing THEN 1 ELSE 0 END) AS mandatory_missing, "
        "sum(CASE WHEN t1m > 0 THEN 1 ELSE 0 END) AS instances_type1_missing, "
        "sum(CASE WHEN t1e > 0 THEN 1 ELSE 0 END) AS instances_type1_empty, "
        "sum(CASE WHEN t2m > 0 THEN 1 ELSE 0 END) AS instances_type2_missing, "
        "sum(t1m) AS type1_missing, sum(t1e) AS type1_empty, sum(t2m) AS type2_missing "
        "ORDER BY sop_class_uid, module",
        variants={"embedded":
            "MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass)-[:USES_IOD]->(:IOD)-[inc:INCLUDES]->(m:Module) "
            "WHERE i.conformant IS NOT NULL "
            "WITH c, m, inc, i, "
            "size(list_filter(coalesce(i.type1_missing, CAST([] AS STRING[])), x -> starts_with(x, m.name + '>'))) AS t1m, "
            "size(list_filter(coalesce(i.type1_empty, CAST([] AS STRING[])), x -> starts_with(x, m.name + '>'))) AS t1e, "
            "size(list_filter(coalesce(i.type2_missing, CAST([] AS STRING[])), x -> starts_with(x, m.name + '>'))) AS t2m "
            "RETURN c.uid AS sop_class_uid, c.name AS sop_class, m.name AS module, inc.usage AS usage, "
            "count(i) AS instances_checked, "
            "sum(CASE WHEN list_contains(i.modules_present, m.name) THEN 1 ELSE 0 END) AS instances_with_module, "
            "sum(CASE WHEN list_contains(i.modules_missing, m.name) THEN 1 ELSE 0 END) AS mandatory_missing, "
            "sum(CASE WHEN t1m > 0 THEN 1 ELSE 0 END) AS instances_type1_missing, "
            "sum(CASE WHEN t1e > 0 THEN 1 ELSE 0 END) AS instances_type1_empty, "
            "sum(CASE WHEN t2m > 0 THEN 1 ELSE 0 END) AS instances_type2_missing, "
            "sum(t1m) AS type1_missing, sum(t1e) AS type1_empty, sum(t2m) AS type2_missing "
            "ORDER BY sop_class_uid, module"},
        example=True,
        description="Per SOP class and IOD module: instances checked, how many have the module, how many "
                    "miss it while it is mandatory, and how many lack Type 1 / have empty Type 1 / lack "
                    "Type 2 attributes of it (findings are stored per instance as 'Module>Keyword')."),
    # --- counts the corpus oracle is checked against -------------------------------------------------
    NamedQuery(
        "data_counts", "Distinct patients, studies, series, instances (stubs excluded)",
        "MATCH (p:Patient) WHERE coalesce(p.stub, false) = false AND p.PatientID IS NOT NULL "
        "AND coalesce(p.unidentified, false) = false "
        "WITH count(DISTINCT p.PatientID) AS patients "
        "MATCH (s:Study) WHERE coalesce(s.stub, false) = false WITH patients, count(s) AS studies "
        "MATCH (se:Series) WHERE coalesce(se.stub, false) = false "
        "WITH patients, studies, count(se) AS series "
        "MATCH (i:Instance) WHERE coalesce(i.stub, false) = false "
        "RETURN patients, studies, series, count(i) AS instances",
        example=True),
    NamedQuery(
        "instances_per_sop_class", "Instances per SOP class UID (stubs excluded)",
        "MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass) WHERE coalesce(i.stub, false) = false "
        "RETURN c.uid AS sop_class_uid, count(DISTINCT i) AS instances ORDER BY sop_class_uid",
        example=True),
)
