"""Named queries: ingest bookkeeping (what the writers look up, the runs, the rejected files) and the
contradictions an ingest records instead of overwriting (a study under two patients, one UID with two
contents)."""

from .. import schema
from . import NamedQuery, Visibility, register, required

register(
    # --- the writers' own look-ups -----------------------------------------------------------------
    NamedQuery(
        "instance_hashes", "Content hashes of instances",
        "UNWIND $uids AS u MATCH (i:Instance {SOPInstanceUID: u}) "
        "RETURN i.SOPInstanceUID AS uid, i.content_hash AS content_hash, "
        "i.conflicting_hashes AS conflicting_hashes, i.stub AS stub, "
        + ", ".join(f"i.{c} AS {c}" for c in schema.CONFORMANCE_COLUMNS),
        parameters=required(uids=None), visibility=Visibility.INTERNAL,
        description="For the writer: which instances exist, as stubs or with which content hash, and what "
                    "their conformance check found (an unchanged file read again is checked again)."),
    NamedQuery(
        "recount_pointers", "Set pointer_count from the REFERENCES edges an instance has",
        "UNWIND $uids AS u MATCH (i:Instance {SOPInstanceUID: u}) OPTIONAL MATCH (i)-[r:REFERENCES]->() "
        "WITH i, count(r) AS n SET i.pointer_count = n",
        parameters=required(uids=None), visibility=Visibility.INTERNAL, write=True,
        description="For the writers: an instance seen with other content (ingest) or whose sequences an "
                    "N-SET replaced (listener) has edges from more than one version of its content."),
    NamedQuery(
        "study_patients", "Patient keys each study was seen under",
        "UNWIND $uids AS u MATCH (s:Study {StudyInstanceUID: u}) "
        "RETURN s.StudyInstanceUID AS uid, s.patient_keys AS patient_keys",
        parameters=required(uids=None), visibility=Visibility.INTERNAL),
    NamedQuery(
        "source_files", "Files already seen by an ingest",
        "UNWIND $keys AS k MATCH (f:SourceFile {key: k}) "
        "RETURN f.key AS key, f.size AS size, f.mtime_ns AS mtime_ns, f.status AS status",
        parameters=required(keys=None), visibility=Visibility.INTERNAL,
        description="--resume skips files ingested unchanged (path, size, mtime)."),
    NamedQuery(
        "ingest_run", "One ingest run",
        "MATCH (r:IngestRun {key: $key}) RETURN r.key AS key, r.started_at AS started_at, "
        "r.finished_at AS finished_at, r.status AS status, r.files_seen AS files_seen, "
        "r.files_ingested AS files_ingested, r.files_skipped AS files_skipped, "
        "r.files_rejected AS files_rejected, r.instances_new AS instances_new, "
        "r.instances_updated AS instances_updated, r.elapsed_s AS elapsed_s, "
        "r.files_per_s AS files_per_s, r.report_path AS report_path",
        parameters=required(key=None), visibility=Visibility.INTERNAL),
    # --- what users read ----------------------------------------------------------------------------
    NamedQuery(
        "ingest_runs", "Ingest runs",
        "MATCH (r:IngestRun) RETURN r.key AS key, r.status AS status, r.started_at AS started_at, "
        "r.finished_at AS finished_at, r.files_seen AS files_seen, r.files_ingested AS files_ingested, "
        "r.files_rejected AS files_rejected, r.instances_new AS instances_new, "
        "r.files_per_s AS files_per_s, r.report_path AS report_path ORDER BY started_at DESC"),
    NamedQuery(
        "rejected_files", "Files an ingest rejected",
        "MATCH (f:SourceFile) WHERE f.status = 'rejected' "
        "RETURN f.key AS path, f.reason AS reason, f.error_class AS error_class ORDER BY path"),
    NamedQuery(
        "study_patient_contradictions", "Studies seen under more than one patient",
        "MATCH (s:Study) WHERE size(s.patient_keys) > 1 "
        "RETURN s.StudyInstanceUID AS study, s.patient_keys AS patient_keys ORDER BY study"),
    NamedQuery(
        "instance_content_conflicts", "SOP Instance UIDs seen with different content",
        "MATCH (i:Instance) WHERE size(i.conflicting_hashes) > 0 "
        "RETURN i.SOPInstanceUID AS uid, i.path AS path, i.content_hash AS content_hash, "
        "i.conflicting_hashes AS conflicting_hashes ORDER BY uid"),
)
