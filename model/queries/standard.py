"""Named queries: the standard's definitions (loaded by `dicom-graph standard load`).

Every query runs unchanged on both engines (toLower/toUpper/replace and CONTAINS exist in both) and
orders its rows completely, so both engines give identical answers. Parameters that name a definition
accept its key (slug / UID / tag) or its name (or keyword), whichever the caller has.
"""

from pydicom.uid import CTImageStorage
from pynetdicom.sop_class import ModalityPerformedProcedureStep  # type: ignore[attr-defined]  # made at import

from .. import schema
from . import NamedQuery, Visibility, register, required, union_all

_NOT_SUPERSEDED = "coalesce({v}.superseded, false) = false"

# the standard's definition labels: those carrying the loader's `superseded` flag
_DEFINITIONS = tuple(n.label for n in schema.NODE_TYPES if "superseded" in n.props)

# a tag typed as (0010,0020), 0010,0020 or 00100020
_TAG = "toUpper(replace(replace(replace(replace($text, '(', ''), ')', ''), ',', ''), ' ', ''))"


def _search_branch(label: str, key: str, detail: str, extra: str = "") -> str:
    return (f"MATCH (n:{label}) WHERE {_NOT_SUPERSEDED.format(v='n')} AND (toLower(n.name) CONTAINS toLower($text)"
            f" OR n.{key} = $text{extra}) "
            f"RETURN '{label}' AS label, n.{key} AS key, n.name AS name, {detail} AS detail "
            f"ORDER BY name, key")  # no LIMIT: ladybug 0.22 segfaults on LIMIT inside UNION ALL branches


register(
    NamedQuery(
        name="standard_search",
        title="Search the standard's definitions",
        description="Attributes, SOP classes, IODs, modules, service classes, transfer syntaxes whose name "
                    "contains the text, or whose keyword / tag / UID / key is the text; grouped by label, "
                    "ordered by name within each.",
        parameters=required(text="Patient ID"),
        cypher=union_all([
            _search_branch("Attribute", "tag", "n.keyword",
                           f" OR toLower(n.keyword) CONTAINS toLower($text) OR n.tag = {_TAG}"),
            _search_branch("SOPClass", "uid", "n.kind", " OR toLower(n.keyword) CONTAINS toLower($text)"),
            _search_branch("IOD", "key", "n.kind"),
            _search_branch("Module", "key", "n.section"),
            _search_branch("InformationEntity", "key", "n.key"),
            _search_branch("ServiceClass", "key", "n.section"),
            _search_branch("TransferSyntax", "uid", "n.uid"),
        ]),
    ),
    NamedQuery(
        name="iod_modules",
        title="An IOD's module table",
        description="The modules an IOD includes, by Information Entity, with usage (M/C/U) and condition.",
        parameters=required(iod="ct-image"),
        cypher=(
            "MATCH (i:IOD)-[inc:INCLUDES]->(m:Module) WHERE i.key = $iod OR i.name = $iod "
            "RETURN i.name AS iod, inc.ie AS ie, m.key AS module_key, m.name AS module, inc.usage AS usage, "
            "inc.condition AS condition, inc.condition_expr AS condition_expr, inc.decidable AS decidable, "
            "CASE inc.ie WHEN 'Patient' THEN 0 WHEN 'Study' THEN 1 WHEN 'Series' THEN 2 "
            "WHEN 'Frame of Reference' THEN 3 WHEN 'Equipment' THEN 4 WHEN 'Acquisition' THEN 5 "
            "WHEN 'Image' THEN 6 ELSE 7 END AS ie_order, "
            "CASE inc.usage WHEN 'M' THEN 0 WHEN 'C' THEN 1 ELSE 2 END AS usage_order "
            "ORDER BY ie_order, ie, usage_order, module, module_key"),
    ),
    NamedQuery(
        name="module_attributes",
        title="A module's attribute tree",
        description="The attributes a module contains, with their Type and the keyword path of enclosing "
                    "sequences ('' at top level); macros are expanded.",
        parameters=required(module="general-series"),
        cypher=(
            "MATCH (m:Module)-[c:CONTAINS]->(a:Attribute) WHERE m.key = $module OR m.name = $module "
            "RETURN m.name AS module, c.path AS path, a.tag AS tag, a.keyword AS keyword, a.name AS name, "
            "a.vr AS vr, a.vm AS vm, c.type AS type, c.condition AS condition "
            "ORDER BY path, tag"),
    ),
    NamedQuery(
        name="attribute_usage",
        title="Where an attribute is used: modules, IODs, SOP classes, service classes",
        description="Reverse lookup from an attribute (tag or keyword) to the modules containing it, the IODs "
                    "including those modules, the SOP classes using those IODs and their service classes.",
        parameters=required(attribute="PatientID"),
        cypher=(
            "MATCH (a:Attribute)<-[c:CONTAINS]-(m:Module)<-[inc:INCLUDES]-(i:IOD) "
            "WHERE a.tag = $attribute OR a.keyword = $attribute "
            "OPTIONAL MATCH (s:SOPClass)-[:USES_IOD]->(i) "
            "OPTIONAL MATCH (sc:ServiceClass)-[:DEFINES]->(s) "
            "RETURN m.key AS module_key, m.name AS module, c.path AS path, c.type AS type, i.key AS iod_key, "
            "i.name AS iod, inc.usage AS usage, s.uid AS sop_class_uid, s.name AS sop_class, "
            "sc.name AS service_class "
            "ORDER BY module_key, path, iod_key, sop_class_uid"),
    ),
    NamedQuery(
        name="attribute_reach",
        title="How far an attribute reaches",
        description="Counts of distinct modules, IODs, SOP classes and service classes an attribute reaches.",
        parameters=required(attribute="PatientID"),
        cypher=(
            "MATCH (a:Attribute)<-[:CONTAINS]-(m:Module)<-[:INCLUDES]-(i:IOD) "
            "WHERE a.tag = $attribute OR a.keyword = $attribute "
            "OPTIONAL MATCH (s:SOPClass)-[:USES_IOD]->(i) "
            "OPTIONAL MATCH (sc:ServiceClass)-[:DEFINES]->(s) "
            "RETURN count(DISTINCT m) AS modules, count(DISTINCT i) AS iods, count(DISTINCT s) AS sop_classes, "
            "count(DISTINCT sc) AS service_classes"),
    ),
    NamedQuery(
        name="sop_class_dimse",
        title="A SOP class's DIMSE service group",
        description="The DIMSE services a SOP class supports, with SCU/SCP usage, its service class and IOD.",
        parameters=required(sop_class=ModalityPerformedProcedureStep),
        cypher=(
            "MATCH (s:SOPClass)-[r:SUPPORTS]->(d:DIMSEService) "
            "WHERE s.uid = $sop_class OR s.name = $sop_class OR s.keyword = $sop_class "
            "OPTIONAL MATCH (sc:ServiceClass)-[:DEFINES]->(s) "
            "OPTIONAL MATCH (s)-[:USES_IOD]->(i:IOD) "
            "RETURN s.uid AS uid, s.name AS sop_class, s.kind AS kind, sc.name AS service_class, "
            "i.name AS iod, i.kind AS iod_kind, d.name AS dimse, d.`group` AS dimse_group, d.kind AS dimse_kind, "
            "r.scu AS scu, r.scp AS scp "
            "ORDER BY uid, dimse"),
    ),
    NamedQuery(
        name="iod_compare",
        title="Two IODs compared",
        description="Modules of IOD $a and IOD $b: side is 'shared', 'only_a' or 'only_b', with each usage.",
        parameters=required(a="ct-image", b="mr-image"),
        cypher=(
            "MATCH (i:IOD)-[inc:INCLUDES]->(m:Module) "
            "WHERE i.key = $a OR i.name = $a OR i.key = $b OR i.name = $b "
            "WITH m, max(CASE WHEN i.key = $a OR i.name = $a THEN inc.usage END) AS usage_a, "
            "max(CASE WHEN i.key = $b OR i.name = $b THEN inc.usage END) AS usage_b "
            "RETURN m.key AS module_key, m.name AS module, usage_a, usage_b, "
            "CASE WHEN usage_a IS NOT NULL AND usage_b IS NOT NULL THEN 'shared' "
            "WHEN usage_a IS NOT NULL THEN 'only_a' ELSE 'only_b' END AS side "
            "ORDER BY side DESC, module_key"),
    ),
    NamedQuery(
        name="sop_classes_of_service_class",
        title="The SOP classes a service class defines",
        parameters=required(service_class="storage-commitment"),
        cypher=(
            "MATCH (sc:ServiceClass)-[:DEFINES]->(s:SOPClass) "
            "WHERE sc.key = $service_class OR sc.name = $service_class "
            "OPTIONAL MATCH (s)-[:USES_IOD]->(i:IOD) "
            "RETURN sc.name AS service_class, s.uid AS uid, s.name AS sop_class, s.kind AS kind, "
            "s.retired AS retired, i.name AS iod "
            "ORDER BY sop_class, uid"),
    ),
    NamedQuery(
        name="standard_summary",
        title="The standard in the graph: counts",
        description="Definition nodes per label (superseded ones excluded) and the IODs by kind.",
        cypher=(
            "OPTIONAL MATCH (n:Attribute) WHERE coalesce(n.superseded, false) = false "
            "WITH count(n) AS attributes "
            "OPTIONAL MATCH (n:SOPClass) WHERE coalesce(n.superseded, false) = false "
            "WITH attributes, count(n) AS sop_classes "
            "OPTIONAL MATCH (n:IOD) WHERE coalesce(n.superseded, false) = false AND n.kind = 'composite' "
            "WITH attributes, sop_classes, count(n) AS composite_iods "
            "OPTIONAL MATCH (n:IOD) WHERE coalesce(n.superseded, false) = false AND n.kind = 'normalized' "
            "WITH attributes, sop_classes, composite_iods, count(n) AS normalized_iods "
            "OPTIONAL MATCH (n:Module) WHERE coalesce(n.superseded, false) = false "
            "WITH attributes, sop_classes, composite_iods, normalized_iods, count(n) AS modules "
            "OPTIONAL MATCH (n:ServiceClass) WHERE coalesce(n.superseded, false) = false "
            "WITH attributes, sop_classes, composite_iods, normalized_iods, modules, count(n) AS service_classes "
            "OPTIONAL MATCH (n:DIMSEService) WHERE coalesce(n.superseded, false) = false "
            "WITH attributes, sop_classes, composite_iods, normalized_iods, modules, service_classes, "
            "count(n) AS dimse_services "
            "OPTIONAL MATCH (n:TransferSyntax) WHERE coalesce(n.superseded, false) = false "
            "RETURN attributes, sop_classes, composite_iods, normalized_iods, modules, service_classes, "
            "dimse_services, count(n) AS transfer_syntaxes"),
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
        parameters=required(iod="ct-image"),
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
        parameters=required(sop_class=CTImageStorage),
        cypher="MATCH (s:SOPClass) WHERE s.uid = $sop_class OR s.name = $sop_class "
               "OPTIONAL MATCH (s)-[:USES_IOD]->(iod:IOD) "
               "OPTIONAL MATCH (sc:ServiceClass)-[:DEFINES]->(s) "
               "RETURN s.uid AS sop_class_uid, s.name AS sop_class, s.kind AS kind, s.retired AS retired, "
               "iod.key AS iod_key, iod.name AS iod, sc.name AS service_class ORDER BY iod_key",
    ),
    NamedQuery(
        name="condition_decidability",
        title="Conditions: how many the standard states and how many a machine can decide",
        description="Per relationship type (INCLUDES: C modules, USES_MACRO: C functional group macros, "
                    "CONTAINS: 1C/2C attributes): conditional rows, rows with the standard's text, rows "
                    "whose condition parsed into condition_expr.",
        cypher=union_all(
            f"MATCH (:{a})-[r:{rel}]->(:{b}) WHERE r.decidable IS NOT NULL "
            f"RETURN '{rel}' AS relationship, count(r) AS conditional, "
            "sum(CASE WHEN r.condition IS NOT NULL THEN 1 ELSE 0 END) AS with_text, "
            "sum(CASE WHEN r.decidable = true THEN 1 ELSE 0 END) AS decidable"
            for rel, a, b in (("INCLUDES", "IOD", "Module"), ("USES_MACRO", "IOD", "FunctionalGroupMacro"),
                              ("CONTAINS", "Module", "Attribute"))),
    ),
    NamedQuery(
        name="iod_macros",
        title="An IOD's functional group macros: usage, condition, the Sequence each puts in the Shared or "
              "Per-frame item, and where it may go",
        parameters=required(iod="enhanced-ct-image"),
        cypher="MATCH (i:IOD)-[u:USES_MACRO]->(m:FunctionalGroupMacro) WHERE i.key = $iod OR i.name = $iod "
               "RETURN i.name AS iod, m.key AS macro_key, m.name AS macro_name, m.sequence AS sequence, "
               "m.placement AS placement, u.usage AS usage, u.condition AS condition, "
               "u.condition_expr AS condition_expr, u.decidable AS decidable ORDER BY macro_key",
    ),
    NamedQuery(
        name="standard_revision",
        title="The revision of the standard's definitions (the standard loader's bookkeeping)",
        description="graph_version.STANDARD_REVISION as the last `standard load` recorded it; null before 4 Dec 2026.",
        cypher=f"MATCH (v:{schema.GRAPH_VERSION.label}) RETURN v.standard_revision AS revision",
        visibility=Visibility.INTERNAL,
    ),
    NamedQuery(
        name="definition_keys",
        title="Keys of the loaded definitions (the standard loader's bookkeeping)",
        description="Label, key, source and superseded flag of every definition node a load wrote.",
        cypher=union_all(
            f"MATCH (n:{label}) WHERE n.source IS NOT NULL "
            f"RETURN '{label}' AS label, n.{schema.node(label).key} AS key, n.source AS source, "
            f"coalesce(n.superseded, false) AS superseded"
            for label in _DEFINITIONS),
        visibility=Visibility.INTERNAL,
    ),
)


def _stale_relationship_queries(rel: schema.RelType) -> tuple[NamedQuery, NamedQuery]:
    """Read every edge of a type between definitions (to find the stale ones), and delete given ones (a
    later edition no longer defines them); the edge's identity properties tell parallel edges apart."""
    (a, b), = rel.pairs
    a_key, b_key = schema.node(a).key, schema.node(b).key
    extra = "".join(f", e.{p} AS {p}" for p in rel.identity)
    order = "".join(f", {p}" for p in rel.identity)
    where = " AND ".join(f"e.{p} = r.{p}" for p in rel.identity)
    return (
        NamedQuery(
            name=f"standard_rels_{rel.type.lower()}",
            title=f"{rel.type} relationships between definitions",
            cypher=(f"MATCH (a:{a})-[e:{rel.type}]->(b:{b}) RETURN a.{a_key} AS src, b.{b_key} AS dst{extra} "
                    f"ORDER BY src, dst{order}"),
            visibility=Visibility.INTERNAL,
        ),
        NamedQuery(
            name=f"standard_delete_{rel.type.lower()}",
            title=f"Delete {rel.type} relationships a later edition no longer defines",
            parameters=required(rows=None),
            cypher=(f"UNWIND $rows AS r MATCH (a:{a} {{{a_key}: r.src}})-[e:{rel.type}]->(b:{b} {{{b_key}: r.dst}})"
                    f"{' WHERE ' + where if where else ''} DELETE e"),
            visibility=Visibility.INTERNAL,
            write=True,
        ),
    )


# relationships whose every end is a definition: what a later edition of the standard may drop
_DEFINITION_RELS = tuple(r for r in schema.REL_TYPES if all({a, b} <= set(_DEFINITIONS) for a, b in r.pairs))
for _rel in _DEFINITION_RELS:
    register(*_stale_relationship_queries(_rel))

STANDARD_RELATIONSHIPS = tuple(r.type for r in _DEFINITION_RELS)
