"""The graph schema, defined once.

Every node label with its key and typed properties, every relationship type with its endpoints and
properties. Both stores derive their DDL, constraints and indexes from this module, and every value is
coerced to its declared type before a store sees it, so the embedded engine (typed columns) and Neo4j
(schemaless) hold the same values and answer the same queries identically. Types are named in the
neutral words of model/values.py; what they become in an engine is that store's business.

Entity and instance nodes use DICOM keywords as property names; bookkeeping properties are snake_case
so they can never clash with a keyword.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable


# re-exported: callers write schema.coerce(...), schema.LIST_ELEMENT_TYPE
from .values import LIST_ELEMENT_TYPE as LIST_ELEMENT_TYPE
from .values import ValueType as ValueType
from .values import coerce as coerce

# The old names of the value types, kept as aliases so their importers need not change.
STRING = ValueType.STRING
INT64 = ValueType.INTEGER
DOUBLE = ValueType.FLOAT
BOOL = ValueType.BOOLEAN
DATE = ValueType.DATE
TIMESTAMP = ValueType.TIMESTAMP
STRING_LIST = ValueType.STRING_LIST
INT64_LIST = ValueType.INTEGER_LIST
DOUBLE_LIST = ValueType.FLOAT_LIST


@dataclass(frozen=True)
class NodeType:
    """A node label: its key property, its declared properties and whether it accepts new ones.
    `open` labels (Instance) grow a property the first time ingestion meets a new DICOM keyword;
    the type of such a property follows from the keyword's VR and VM in the data dictionary.
    `bookkeeping` labels record the tool's own activity and are reported apart in stats.
    """

    label: str
    key: str
    props: dict[str, ValueType]
    open: bool = False
    indexed: tuple[str, ...] = ()
    bookkeeping: bool = False

    def __post_init__(self) -> None:
        # any node can be known from a pointer before it is known itself: `stub` is universal
        object.__setattr__(self, "props", {**self.props, "stub": BOOL})
        if self.key not in self.props:
            raise ValueError(f"{self.label}: key {self.key!r} is not a declared property")


@dataclass(frozen=True)
class RelType:
    """A relationship type: its (from, to) label pairs and properties.

    `identity` names the properties that, with the two endpoints, make an edge unique: two REFERENCES
    from the same instance to the same target through different sequences are two edges.
    """

    type: str
    pairs: tuple[tuple[str, str], ...]
    props: dict[str, ValueType] = field(default_factory=dict)
    identity: tuple[str, ...] = ()


_DEFINITION_BOOKKEEPING = {"source": STRING, "superseded": BOOL}
FINDING_COLUMNS = tuple(f"finding_{c}" for c in ("keyword", "tag", "module", "type", "problem", "path", "condition"))
# every Instance property a conformance check writes (loader/dataset/conformance.py check())
CONFORMANCE_COLUMNS = ("modules_present", "modules_missing", "type1_missing", "type1_empty", "type2_missing",
                       "conditions_not_evaluated", "conditions_undecided", "conformant", *FINDING_COLUMNS)
_ENTITY_BOOKKEEPING = {"source": STRING}

# --- the standard's definitions (what `standard load` writes and reconciles) ----------------------
_DEFINITION_TYPES: tuple[NodeType, ...] = (
    NodeType("ServiceClass", "key", {"key": STRING, "name": STRING, "section": STRING,
                                     **_DEFINITION_BOOKKEEPING}, indexed=("name",)),
    NodeType("SOPClass", "uid", {"uid": STRING, "name": STRING, "keyword": STRING, "kind": STRING,
                                 "retired": BOOL, "unknown": BOOL, **_DEFINITION_BOOKKEEPING},
             indexed=("name", "keyword")),
    NodeType("IOD", "key", {"key": STRING, "name": STRING, "kind": STRING, "section": STRING,
                            **_DEFINITION_BOOKKEEPING}, indexed=("name",)),
    NodeType("InformationEntity", "key", {"key": STRING, "name": STRING, **_DEFINITION_BOOKKEEPING}),
    NodeType("Module", "key", {"key": STRING, "name": STRING, "section": STRING,
                               **_DEFINITION_BOOKKEEPING}, indexed=("name",)),
    # a Functional Group Macro (PS3.3 C.7.6.16): the one Sequence an IOD puts in the Shared or Per-frame item
    NodeType("FunctionalGroupMacro", "key", {"key": STRING, "name": STRING, "section": STRING, "sequence": STRING,
                              "placement": STRING, **_DEFINITION_BOOKKEEPING}, indexed=("name",)),
    NodeType("Attribute", "tag", {"tag": STRING, "keyword": STRING, "name": STRING, "vr": STRING,
                                  "vm": STRING, "retired": BOOL, **_DEFINITION_BOOKKEEPING},
             indexed=("keyword", "name")),
    NodeType("DIMSEService", "name", {"name": STRING, "group": STRING, "kind": STRING,
                                      **_DEFINITION_BOOKKEEPING}),
    NodeType("TransferSyntax", "uid", {"uid": STRING, "name": STRING, "retired": BOOL,
                                       **_DEFINITION_BOOKKEEPING}, indexed=("name",)),
)

NODE_TYPES: tuple[NodeType, ...] = (
    *_DEFINITION_TYPES,
    # --- real-world entities (DICOM keywords as property names) ---------------------------------
    NodeType("Patient", "key", {"key": STRING, "PatientID": STRING, "IssuerOfPatientID": STRING,
                                "PatientName": STRING, "PatientBirthDate": DATE, "PatientSex": STRING,
                                "unidentified": BOOL, **_ENTITY_BOOKKEEPING}, indexed=("PatientID",)),
    NodeType("Study", "StudyInstanceUID", {
        "StudyInstanceUID": STRING, "StudyDate": DATE, "StudyTime": STRING, "StudyID": STRING,
        "AccessionNumber": STRING, "StudyDescription": STRING, "ReferringPhysicianName": STRING,
        "patient_keys": STRING_LIST, **_ENTITY_BOOKKEEPING}),
    NodeType("Series", "SeriesInstanceUID", {
        "SeriesInstanceUID": STRING, "Modality": STRING, "SeriesNumber": INT64, "SeriesDate": DATE,
        "SeriesDescription": STRING, "BodyPartExamined": STRING, **_ENTITY_BOOKKEEPING},
        indexed=("Modality",)),
    NodeType("Equipment", "key", {"key": STRING, "Manufacturer": STRING, "ManufacturerModelName": STRING,
                                  "DeviceSerialNumber": STRING, "StationName": STRING,
                                  "InstitutionName": STRING, "SoftwareVersions": STRING_LIST,
                                  **_ENTITY_BOOKKEEPING}, indexed=("Manufacturer",)),
    NodeType("FrameOfReference", "FrameOfReferenceUID", {
        "FrameOfReferenceUID": STRING, "PositionReferenceIndicator": STRING, **_ENTITY_BOOKKEEPING}),
    NodeType("Instance", "SOPInstanceUID", {
        # keywords every named query may mention: declared so the embedded engine knows them up front
        "SOPInstanceUID": STRING, "SOPClassUID": STRING, "Modality": STRING, "InstanceNumber": INT64,
        "ContentDate": DATE, "AcquisitionDate": DATE, "Manufacturer": STRING,
        "TransferSyntaxUID": STRING, "PatientID": STRING, "StudyInstanceUID": STRING,
        "SeriesInstanceUID": STRING, "Rows": INT64, "Columns": INT64, "SliceThickness": DOUBLE,
        "ImageType": STRING_LIST, "PatientName": STRING, "SeriesDescription": STRING,
        # normalized instances (MPPS) shown by the network queries
        "PerformedProcedureStepStatus": STRING, "PerformedProcedureStepID": STRING,
        "PerformedProcedureStepDescription": STRING, "PerformedStationAETitle": STRING,
        "PerformedProcedureStepStartDate": DATE, "PerformedProcedureStepStartTime": STRING,
        "PerformedProcedureStepEndDate": DATE, "PerformedProcedureStepEndTime": STRING,
        # bookkeeping
        "source": STRING, "path": STRING, "file_size": INT64, "ingested_at": TIMESTAMP,
        "content_hash": STRING, "conflicting_hashes": STRING_LIST, "invalid_values": STRING_LIST,
        "modules_present": STRING_LIST, "modules_missing": STRING_LIST,
        "type1_missing": STRING_LIST, "type1_empty": STRING_LIST, "type2_missing": STRING_LIST,
        "conformant": BOOL, "conditions_not_evaluated": INT64,
        "conditions_undecided": STRING_LIST,  # machine-readable conditions not told here (conformance.py)
        # + findings (loader/dataset/findings.py):
        **{c: STRING_LIST for c in FINDING_COLUMNS},  # parallel lists, one finding per position
        # a copy read from a cut or damaged file (never replaces a complete one: loader/ingest/resolve.py);
        # path_hex: the path's bytes when they are not UTF-8 (`path` is then their escaped text form)
        "damaged": BOOL, "path_hex": STRING,
        # keywords beyond the per-instance cap on new properties (model/instance_width.py): their values
        # as one JSON object, and the problem that says so
        "other_values": STRING, "other_values_problem": STRING,
        # how many REFERENCES edges this instance's content makes: lets "studies with pointers" be one
        # column scan instead of a walk over every edge (0.5 s at 100k instances, linear in the archive)
        "pointer_count": INT64,
    }, open=True, indexed=("SOPClassUID", "Modality")),
    # an attribute whose value differs between instances of one entity (loader/ingest/entities.py): the
    # distinct values as text, sorted, with the instances (versions) seen with each, and the one kept
    NodeType("EntityConflict", "key", {"key": STRING, "entity": STRING, "entity_key": STRING,
                                       "keyword": STRING, "values": STRING_LIST, "counts": INT64_LIST,
                                       "kept": STRING}),
    # --- the network ----------------------------------------------------------------------------
    NodeType("ApplicationEntity", "key", {"key": STRING, "ae_title": STRING, "address": STRING,
                                          "port": INT64, **_ENTITY_BOOKKEEPING}),
    NodeType("Association", "key", {"key": STRING, "started_at": TIMESTAMP, "ended_at": TIMESTAMP,
                                    "calling_ae": STRING, "called_ae": STRING, "result": STRING,
                                    "reason": STRING, "max_pdu": INT64, "implementation_uid": STRING,
                                    "implementation_version": STRING, "messages": INT64}),
    # --- bookkeeping ----------------------------------------------------------------------------
    NodeType("IngestRun", "key", {"key": STRING, "started_at": TIMESTAMP, "finished_at": TIMESTAMP,
                                  "status": STRING, "paths": STRING_LIST, "files_seen": INT64,
                                  "files_ingested": INT64, "files_skipped": INT64, "files_rejected": INT64,
                                  "instances_new": INT64, "instances_updated": INT64, "elapsed_s": DOUBLE,
                                  "files_per_s": DOUBLE, "report_path": STRING, "workers": INT64,
                                  "pseudonymized": BOOL}, bookkeeping=True),
    # one row per file an ingest has seen (key: absolute path): what --resume skips, written only after
    # the batch holding the file's instances committed
    NodeType("SourceFile", "key", {"key": STRING, "size": INT64, "mtime_ns": INT64, "status": STRING,
                                   "reason": STRING, "error_class": STRING, "run": STRING,
                                   "sop_instance_uids": STRING_LIST, "path_hex": STRING}, bookkeeping=True),
    # every value each entity attribute has been seen with (JSON: keyword -> value text -> instances),
    # what makes entity conflicts exact across batches and runs (loader/ingest/entities.py)
    NodeType("EntityValues", "key", {"key": STRING, "entity": STRING, "entity_key": STRING,
                                     "observed": STRING}, bookkeeping=True),
)

# a condition parsed by loader/standard/conditions.py: the expression as compact JSON, or why not decidable
# condition_source: the edition the condition text comes from, where it differs from the row's own source
_CONDITION_EXPR = {"condition_expr": STRING, "decidable": BOOL, "undecidable_reason": STRING,
                   "condition_source": STRING}

_DEFINITION_RELS: tuple[RelType, ...] = (
    RelType("DEFINES", (("ServiceClass", "SOPClass"),)),
    RelType("USES_IOD", (("SOPClass", "IOD"),)),
    RelType("HAS_ENTITY", (("IOD", "InformationEntity"),)),
    RelType("INCLUDES", (("IOD", "Module"),), {"usage": STRING, "ie": STRING, "condition": STRING,
                                               **_CONDITION_EXPR}),
    # overrides: this module's Type for the attribute overrides the other modules' of the IOD (PS3.3 C.8.6.1)
    RelType("CONTAINS", (("Module", "Attribute"),), {"type": STRING, "path": STRING, "condition": STRING,
                                                     "overrides": BOOL, **_CONDITION_EXPR}, identity=("path",)),
    # an IOD's functional group macro, its usage and condition (PS3.3 A.x "Functional Group Macros" tables)
    RelType("USES_MACRO", (("IOD", "FunctionalGroupMacro"),), {"usage": STRING, "condition": STRING, "module": STRING,
                                                **_CONDITION_EXPR}),
    RelType("SUPPORTS", (("SOPClass", "DIMSEService"),), {"scu": STRING, "scp": STRING}),
)

REL_TYPES: tuple[RelType, ...] = (
    *_DEFINITION_RELS,
    RelType("HAS_STUDY", (("Patient", "Study"),)),
    RelType("HAS_SERIES", (("Study", "Series"),)),
    RelType("HAS_INSTANCE", (("Series", "Instance"),)),
    RelType("ACQUIRED_ON", (("Series", "Equipment"),)),
    RelType("IN_FRAME", (("Series", "FrameOfReference"),)),
    RelType("INSTANCE_OF", (("Instance", "SOPClass"),)),
    RelType("REFERENCES", (("Instance", "Instance"), ("Instance", "Series"), ("Instance", "Study")),
            {"via": STRING, "outcome": STRING, "failure_reason": STRING}, identity=("via",)),
    RelType("CALLING", (("ApplicationEntity", "Association"),)),
    RelType("CALLED", (("Association", "ApplicationEntity"),)),
    RelType("PROPOSED", (("Association", "SOPClass"),), {
        "context_id": INT64, "offered": STRING_LIST, "transfer_syntax": STRING, "result": STRING,
        "accepted": BOOL, "role": STRING}, identity=("context_id",)),
)

# --- the version node (what it records and what a reader makes of it: model/graph_version.py) ----------
# one node per graph; not in NODE_TYPES, so stats, clear and the data's named queries never see it (the
# loader's bookkeeping query `standard_revision` reads it)
GRAPH_VERSION = NodeType("GraphVersion", "key", {"key": STRING, "schema_version": INT64,
                                                 "dicom_graph_version": STRING, "standard_revision": INT64},
                         bookkeeping=True)
STORED_NODE_TYPES: tuple[NodeType, ...] = (*NODE_TYPES, GRAPH_VERSION)  # every table a store creates

DEFINITION_LABELS: tuple[str, ...] = tuple(n.label for n in _DEFINITION_TYPES)
DEFINITION_RELS: tuple[str, ...] = tuple(r.type for r in _DEFINITION_RELS)  # all between definitions

NODES: dict[str, NodeType] = {n.label: n for n in NODE_TYPES}
RELS: dict[str, RelType] = {r.type: r for r in REL_TYPES}
_STORED_NODES: dict[str, NodeType] = {n.label: n for n in STORED_NODE_TYPES}


def node(label: str) -> NodeType:
    try:
        return _STORED_NODES[label]
    except KeyError:
        raise KeyError(f"unknown node label {label!r}; known: {', '.join(NODES)}") from None


def rel(rel_type: str) -> RelType:
    try:
        return RELS[rel_type]
    except KeyError:
        raise KeyError(f"unknown relationship type {rel_type!r}; known: {', '.join(RELS)}") from None


# --- property types of DICOM keywords ------------------------------------------------------------

_INT_VRS = {"IS", "SL", "SS", "UL", "US", "SV", "UV", "US or SS"}
_FLOAT_VRS = {"DS", "FL", "FD"}
_NO_PROPERTY_VRS = {"SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN", "OB or OW", "US or OW",
                    "US or SS or OW", "NONE"}


@lru_cache(maxsize=None)
def keyword_type(keyword: str) -> ValueType | None:
    """The property type of a DICOM keyword, from its VR and VM; None if it never becomes a property.

    The type depends on the keyword alone, never on one file's value, so a column has one type for
    the life of a graph. Multi-valued keywords (VM other than 1) are always lists.
    """
    # imported here, not at the top: importing pydicom costs ~0.15 s, and a CLI query that only reads
    # never types a keyword (tests/test_cli_startup.py keeps it so)
    from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_dict

    tag = keyword_dict.get(keyword)
    if tag is None:
        return None
    vr, vm = dictionary_VR(tag), dictionary_VM(tag)
    if vr in _NO_PROPERTY_VRS:
        return None
    multi = vm != "1"
    if vr in _INT_VRS:
        return INT64_LIST if multi else INT64
    if vr in _FLOAT_VRS:
        return DOUBLE_LIST if multi else DOUBLE
    if vr == "DA" and not multi:
        return DATE
    return STRING_LIST if multi else STRING


def property_type(label: str, prop: str) -> ValueType:
    """The declared type of a property, or for an open label the type its keyword implies."""
    node_type = node(label)
    declared = node_type.props.get(prop)
    if declared is not None:
        return declared
    if node_type.open:
        found = keyword_type(prop)
        if found is not None:
            return found
    raise KeyError(f"{label} has no property {prop!r}")


def rel_property_type(rel_type: str, prop: str) -> ValueType:
    try:
        return rel(rel_type).props[prop]
    except KeyError:
        raise KeyError(f"{rel_type} has no property {prop!r}") from None


# --- coercion: the same Python value on both engines ---------------------------------------------

def coerce_props(label: str, props: dict[str, Any]) -> dict[str, Any]:
    return {k: coerce(v, property_type(label, k)) for k, v in props.items()}


def labels(include_bookkeeping: bool = True) -> Iterable[str]:
    return (n.label for n in NODE_TYPES if include_bookkeeping or not n.bookkeeping)
