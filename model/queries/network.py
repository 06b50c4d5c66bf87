"""Named queries: the network (what `dicom-graph listen` records).

The listener records every association (PS3.3 section 6.6 / PS3.7 section D.3):

    (:ApplicationEntity)-[:CALLING]->(:Association)-[:CALLED]->(:ApplicationEntity)
    (:Association)-[:PROPOSED {context_id, offered, transfer_syntax, result, accepted, role}]->(:SOPClass)

and the normalized instances it receives (MPPS, Storage Commitment, Instance Availability Notification) as
Instance nodes of their SOP class whose pointers are REFERENCES edges (a Storage Commitment's edges carry
`outcome` 'committed' / 'failed' and `failure_reason`).

The `network_*` queries are read by the dashboard's Network page; `listener_*` are the listener's own
look-ups (the one writer's reads and its one correction). Every query here runs unchanged on both engines
and uses only properties the schema declares, so it answers (with no rows) on a graph that has never
seen a network message. Optional filters use the empty string as "no filter" (the embedded engine cannot
type a null parameter): those filters, and the row caps, are the queries' declared defaults.
"""

from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # the constants are made at import
    InstanceAvailabilityNotification, ModalityPerformedProcedureStep, StorageCommitmentPushModel,
    StorageCommitmentPushModelInstance)

from . import NamedQuery, Visibility, dialects, has_label, optional, register, required

# the normalized SOP classes the listener records (loader/network/listener.py imports these names)
MPPS_SOP_CLASS = ModalityPerformedProcedureStep
STORAGE_COMMITMENT_SOP_CLASS = StorageCommitmentPushModel
IAN_SOP_CLASS = InstanceAvailabilityNotification


def _mpps(dialect: str) -> str:
    """The newest MPPS first, then one pass over their pointers counted per target kind: one COUNT {}
    per kind over every MPPS took 0.3 s at 100k instances on the embedded engine (2.3 s as chained
    OPTIONAL MATCH aggregations), this 0.08 s, and it stays bounded by $limit as the archive grows."""
    def kind(label: str, extra: str = "") -> str:
        return f"count(CASE WHEN {has_label('t', label, dialect)}{extra} THEN 1 END)"
    return (f"MATCH (m:Instance) WHERE m.SOPClassUID = '{MPPS_SOP_CLASS}' AND coalesce(m.stub, false) = false "
            "WITH m ORDER BY m.ingested_at DESC, m.SOPInstanceUID LIMIT $limit "
            "OPTIONAL MATCH (m)-[:REFERENCES]->(t) "
            "RETURN m.SOPInstanceUID AS mpps_uid, m.PerformedProcedureStepStatus AS status, "
            "m.PatientID AS patient_id, m.Modality AS modality, m.ingested_at AS updated_at, "
            f"{kind('Instance')} AS images, {kind('Instance', ' AND t.stub = false')} AS images_received, "
            f"{kind('Series')} AS series, {kind('Study')} AS studies "
            "ORDER BY updated_at DESC, mpps_uid")

register(
    NamedQuery(
        name="network_application_entities",
        title="Application entities seen on the network",
        description=(
            "One row per ApplicationEntity. Columns: ae_title; address (IP or host name); port (the AE's "
            "listening port when known, empty for a caller's ephemeral port); key (ae_title@address, or "
            "ae_title@host:port for the listener itself); calling (associations it requested); called "
            "(associations it was asked to accept); rejected (of those it requested, how many were "
            "rejected); last_seen (start of its latest association)."),
        cypher=(
            "MATCH (ae:ApplicationEntity) "
            "OPTIONAL MATCH (ae)-[:CALLING]->(out:Association) "
            "WITH ae, count(out) AS calling, "
            "sum(CASE WHEN out.result = 'rejected' THEN 1 ELSE 0 END) AS rejected, "
            "max(out.started_at) AS last_out "
            "OPTIONAL MATCH (inc:Association)-[:CALLED]->(ae) "
            "WITH ae, calling, rejected, last_out, count(inc) AS called, max(inc.started_at) AS last_in "
            "RETURN ae.ae_title AS ae_title, ae.address AS address, ae.port AS port, ae.key AS key, "
            "calling, called, rejected, "
            "CASE WHEN last_in IS NULL OR (last_out IS NOT NULL AND last_out > last_in) THEN last_out "
            "ELSE last_in END AS last_seen "
            "ORDER BY ae_title, address, key"),
    ),
    NamedQuery(
        name="network_associations",
        title="Associations over time",
        description=(
            "One row per Association, newest first, at most $limit; $ae ('' for all) keeps those whose "
            "calling or called AE title is $ae. Columns: association (its key); started_at; ended_at "
            "(UTC, naive); calling_ae; calling_address; called_ae; result ('accepted' or 'rejected'); "
            "reason (why it was rejected, e.g. 'rejected-permanent by service-user: calling AE title not "
            "recognised'; for an accepted one that did not end with a release: 'aborted' or "
            "'connection closed'); messages (DIMSE requests served); max_pdu (the peer's maximum PDU "
            "length); implementation_uid / implementation_version (the peer's); contexts (presentation "
            "contexts proposed); accepted_contexts."),
        parameters=optional(limit=200, ae=""),
        cypher=(
            "MATCH (caller:ApplicationEntity)-[:CALLING]->(a:Association) "
            "WHERE $ae = '' OR a.calling_ae = $ae OR a.called_ae = $ae "
            "OPTIONAL MATCH (a)-[p:PROPOSED]->(:SOPClass) "
            "WITH a, caller, count(p) AS contexts, "
            "sum(CASE WHEN p.accepted THEN 1 ELSE 0 END) AS accepted_contexts "
            "RETURN a.key AS association, a.started_at AS started_at, a.ended_at AS ended_at, "
            "a.calling_ae AS calling_ae, caller.address AS calling_address, a.called_ae AS called_ae, "
            "a.result AS result, a.reason AS reason, a.messages AS messages, a.max_pdu AS max_pdu, "
            "a.implementation_uid AS implementation_uid, "
            "a.implementation_version AS implementation_version, contexts, accepted_contexts "
            "ORDER BY started_at DESC, association LIMIT $limit"),
    ),
    NamedQuery(
        name="network_contexts",
        title="Negotiated presentation contexts: SOP classes, transfer syntaxes, roles",
        description=(
            "One row per proposed presentation context (PROPOSED edge), newest association first; "
            "$association ('' for all) keeps one association's. Columns: association; started_at; "
            "calling_ae; called_ae; context_id; sop_class_uid; sop_class (name, when the standard is "
            "loaded); offered (the transfer syntax UIDs the caller proposed); transfer_syntax (the one "
            "accepted, empty when rejected); result ('accepted', 'user-rejected', 'no-reason', "
            "'abstract-syntax-not-supported', 'transfer-syntaxes-not-supported', or 'not-negotiated' "
            "when the association itself was rejected); accepted (true/false); role (the calling AE's "
            "role for that SOP class: 'SCU', 'SCP' or 'SCU/SCP'; for a rejected context the role "
            "proposed)."),
        parameters=optional(association="", limit=2000),
        cypher=(
            "MATCH (a:Association)-[p:PROPOSED]->(c:SOPClass) "
            "WHERE $association = '' OR a.key = $association "
            "RETURN a.key AS association, a.started_at AS started_at, a.calling_ae AS calling_ae, "
            "a.called_ae AS called_ae, p.context_id AS context_id, c.uid AS sop_class_uid, "
            "c.name AS sop_class, p.offered AS offered, p.transfer_syntax AS transfer_syntax, "
            "p.result AS result, p.accepted AS accepted, p.role AS role "
            "ORDER BY started_at DESC, association, context_id LIMIT $limit"),
    ),
    NamedQuery(
        name="network_negotiated",
        title="SOP classes and transfer syntaxes agreed, per pair of AEs",
        description=(
            "The accepted contexts aggregated: one row per (calling_ae, called_ae, sop_class_uid, "
            "sop_class, transfer_syntax, role) with associations (how many associations agreed on it) "
            "and last_used (the latest such association's start)."),
        cypher=(
            "MATCH (a:Association)-[p:PROPOSED]->(c:SOPClass) WHERE p.accepted "
            "RETURN a.calling_ae AS calling_ae, a.called_ae AS called_ae, c.uid AS sop_class_uid, "
            "c.name AS sop_class, p.transfer_syntax AS transfer_syntax, p.role AS role, "
            "count(DISTINCT a) AS associations, max(a.started_at) AS last_used "
            "ORDER BY calling_ae, called_ae, sop_class_uid, transfer_syntax, role"),
    ),
    NamedQuery(
        name="network_mpps",
        title="Modality Performed Procedure Steps",
        description=(
            f"One row per MPPS instance (SOP class {MPPS_SOP_CLASS}), latest change first. "
            "Columns: mpps_uid; status (PerformedProcedureStepStatus: IN PROGRESS, COMPLETED or "
            "DISCONTINUED); patient_id; modality; updated_at (the last N-CREATE / N-SET, UTC); "
            "images (REFERENCES edges to instances: the performed images); images_received (of those, "
            "instances actually in the graph, not stubs); series (REFERENCES edges to series); "
            "studies (REFERENCES edges to studies, e.g. from the scheduled step attributes). The newest "
            "$limit."),
        parameters=optional(limit=500),
        **dialects(_mpps),
    ),
    NamedQuery(
        name="network_commitments",
        title="Storage commitment outcomes",
        description=(
            "One row per instance a Storage Commitment request (N-ACTION) covered, newest request "
            f"first. A request is an Instance of SOP class {STORAGE_COMMITMENT_SOP_CLASS} keyed by its "
            "Transaction UID (the SOP Instance UID of the Push Model is the well-known "
            f"{StorageCommitmentPushModelInstance}, so it cannot tell requests apart). Columns: transaction_uid; "
            "requested_at (UTC); instance_uid; sop_class_uid (the instance's, from the graph; empty when it is not there); "
            "outcome ('committed' or 'failed'); failure_reason (e.g. '0x0112 no such object "
            "instance'; empty when committed); in_graph (the instance is in the graph now)."),
        cypher=(
            "MATCH (c:Instance)-[r:REFERENCES]->(t:Instance) "
            f"WHERE c.SOPClassUID = '{STORAGE_COMMITMENT_SOP_CLASS}' "
            "RETURN c.SOPInstanceUID AS transaction_uid, c.ingested_at AS requested_at, "
            "t.SOPInstanceUID AS instance_uid, t.SOPClassUID AS sop_class_uid, r.outcome AS outcome, "
            "r.failure_reason AS failure_reason, coalesce(t.stub, false) = false AS in_graph "
            "ORDER BY requested_at DESC, transaction_uid, instance_uid"),
    ),
    # --- the listener's own look-ups -------------------------------------------------------------
    NamedQuery(
        name="listener_instances",
        title="Instances by UID, with their SOP class, stub flag and MPPS status",
        description="For the listener: which of $uids are Instance nodes. Columns: uid, sop_class_uid, "
                    "stub, status (PerformedProcedureStepStatus).",
        parameters=required(uids=None),
        visibility=Visibility.INTERNAL,
        cypher=(
            "UNWIND $uids AS u MATCH (i:Instance {SOPInstanceUID: u}) "
            "RETURN i.SOPInstanceUID AS uid, i.SOPClassUID AS sop_class_uid, "
            "coalesce(i.stub, false) AS stub, i.PerformedProcedureStepStatus AS status ORDER BY uid"),
    ),
    NamedQuery(
        name="listener_references",
        title="An instance's REFERENCES edges to instances",
        description="For the listener: (target, via) of $uid's REFERENCES to instances.",
        parameters=required(uid=None),
        visibility=Visibility.INTERNAL,
        cypher=(
            "MATCH (m:Instance {SOPInstanceUID: $uid})-[r:REFERENCES]->(t:Instance) "
            "RETURN t.SOPInstanceUID AS target, r.via AS via ORDER BY target, via"),
    ),
    NamedQuery(
        name="listener_drop_reference",
        title="Remove one REFERENCES edge (an N-SET replaced the sequence it came from)",
        description="For the listener: deletes $uid -REFERENCES{via: $via}-> Instance $target.",
        parameters=required(uid=None, target=None, via=None),
        visibility=Visibility.INTERNAL,
        cypher=(
            "MATCH (m:Instance {SOPInstanceUID: $uid})-[r:REFERENCES]->(t:Instance {SOPInstanceUID: $target}) "
            "WHERE r.via = $via DELETE r"),
        write=True,
    ),
    NamedQuery(
        name="network_instances_stored",
        title="How many instances the network has stored",
        description="Columns: n, the non-stub instances whose source is 'network' (C-STORE, N-CREATE).",
        cypher="MATCH (i:Instance) WHERE i.source = 'network' AND i.stub = false RETURN count(*) AS n",
        visibility=Visibility.INTERNAL,
    ),
)
