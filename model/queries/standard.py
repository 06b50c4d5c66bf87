"""Named queries: the standard's definitions (loaded by `dicom-graph standard load`).

Every query runs unchanged on both engines (toLower/toUpper/replace and CONTAINS exist in both) and
orders its rows completely, so both engines give identical answers. Parameters that name a definition
accept its key (slug / UID / tag) or its name (or keyword), whichever the caller has.
"""

from . import NamedQuery, register

_NOT_SUPERSEDED = "coalesce({v}.superseded, false) = false"

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
        params={"text": "Patient ID"},
        cypher="\nUNION ALL\n".join([
            _search_branch("Attribute", "tag", "n.keyword",
                           f" OR toLower(n.keyword) CONTAINS toLower($text) OR n.tag = {_TAG}"),
            _search_branch("SOPClass", "uid", "n.kind", " OR toLower(n.keyword) CONTAINS toLower($text)"),
            _search_branch("IOD", "key", "n.kind"),
            _search_branch("Module", "key", "n.section"),
            _search_branch("InformationEntity", "key", "n.key"),
            _search_branch("ServiceClass", "key", "n.section"),
            _search_branch("TransferSyntax", "uid", "n.uid"),
        ]),
        example=True,
    ),
    NamedQuery(
        name="iod_modules",
        title="An IOD's module table",
        description="The modules an IOD includes, by Information Entity, with usage (M/C/U) and condition.",
        params={"iod": "ct-image"},
        cypher=(
            "MATCH (i:IOD)-[inc:INCLUDES]->(m:Module) WHERE i.key = $iod OR i.name = $iod "
            "RETURN i.name AS iod, inc.ie AS ie, m.key AS module_key, m.name AS module, inc.usage AS usage, "
            "inc.condition AS condition, "
            "CASE inc.ie WHEN 'Patient' THEN 0 WHEN 'Study' THEN 1 WHEN 'Series' THEN 2 "
            "WHEN 'Frame of Reference' THEN 3 WHEN 'Equipment' THEN 4 WHEN 'Acquisition' THEN 5 "
            "WHEN 'Image' THEN 6 ELSE 7 END AS ie_order, "
            "CASE inc.usage WHEN 'M' THEN 0 WHEN 'C' THEN 1 ELSE 2 END AS usage_order "
            "ORDER BY ie_order, ie, usage_order, module, module_key"),
        example=True,
    ),
    NamedQuery(
        name="module_attributes",
        title="A module's attribute tree",
        description="The attributes a module contains, with their Type and the keyword path of enclosing "
                    "sequences ('' at top level); macros are expanded.",
        params={"module": "general-series"},
        cypher=(
            "MATCH (m:Module)-[c:CONTAINS]->(a:Attribute) WHERE m.key = $module OR m.name = $module "
            "RETURN m.name AS module, c.path AS path, a.tag AS tag, a.keyword AS keyword, a.name AS name, "
            "a.vr AS vr, a.vm AS vm, c.type AS type "
            "ORDER BY path, tag"),
        example=True,
    ),
    NamedQuery(
        name="attribute_usage",
        title="Where an attribute is used: modules, IODs, SOP classes, service classes",
        description="Reverse lookup from an attribute (tag or keyword) to the modules containing it, the IODs "
                    "including those modules, the SOP classes using those IODs and their service classes.",
        params={"attribute": "PatientID"},
        cypher=(
            "MATCH (a:Attribute)<-[c:CONTAINS]-(m:Module)<-[inc:INCLUDES]-(i:IOD) "
            "WHERE a.tag = $attribute OR a.keyword = $attribute "
            "OPTIONAL MATCH (s:SOPClass)-[:USES_IOD]->(i) "
            "OPTIONAL MATCH (sc:ServiceClass)-[:DEFINES]->(s) "
            "RETURN m.key AS module_key, m.name AS module, c.path AS path, c.type AS type, i.key AS iod_key, "
            "i.name AS iod, inc.usage AS usage, s.uid AS sop_class_uid, s.name AS sop_class, "
            "sc.name AS service_class "
            "ORDER BY module_key, path, iod_key, sop_class_uid"),
        example=True,
    ),
    NamedQuery(
        name="attribute_reach",
        title="How far an attribute reaches",
        description="Counts of distinct modules, IODs, SOP classes and service classes an attribute reaches.",
        params={"attribute": "PatientID"},
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
        params={"sop_class": "1.2.840.10008.3.1.2.3.3"},
        cypher=(
            "MATCH (s:SOPClass)-[r:SUPPORTS]->(d:DIMSEService) "
            "WHERE s.uid = $sop_class OR s.name = $sop_class OR s.keyword = $sop_class "
            "OPTIONAL MATCH (sc:ServiceClass)-[:DEFINES]->(s) "
            "OPTIONAL MATCH (s)-[:USES_IOD]->(i:IOD) "
            "RETURN s.uid AS uid, s.name AS sop_class, s.kind AS kind, sc.name AS service_class, "
            "i.name AS iod, i.kind AS iod_kind, d.name AS dimse, d.`group` AS dimse_group, d.kind AS dimse_kind, "
            "r.scu AS scu, r.scp AS scp "
            "ORDER BY uid, dimse"),
        example=True,
    ),
    NamedQuery(
        name="iod_compare",
        title="Two IODs compared",
        description="Modules of IOD $a and IOD $b: side is 'shared', 'only_a' or 'only_b', with each usage.",
        params={"a": "ct-image", "b": "mr-image"},
        cypher=(
            "MATCH (i:IOD)-[inc:INCLUDES]->(m:Module) "
            "WHERE i.key = $a OR i.name = $a OR i.key = $b OR i.name = $b "
            "WITH m, max(CASE WHEN i.key = $a OR i.name = $a THEN inc.usage END) AS usage_a, "
            "max(CASE WHEN i.key = $b OR i.name = $b THEN inc.usage END) AS usage_b "
            "RETURN m.key AS module_key, m.name AS module, usage_a, usage_b, "
            "CASE WHEN usage_a IS NOT NULL AND usage_b IS NOT NULL THEN 'shared' "
            "WHEN usage_a IS NOT NULL THEN 'only_a' ELSE 'only_b' END AS side "
            "ORDER BY side DESC, module_key"),
        example=True,
    ),
    NamedQuery(
        name="sop_classes_of_service_class",
        title="The SOP classes a service class defines",
        params={"service_class": "storage-commitment"},
        cypher=(
            "MATCH (sc:ServiceClass)-[:DEFINES]->(s:SOPClass) "
            "WHERE sc.key = $service_class OR sc.name = $service_class "
            "OPTIONAL MATCH (s)-[:USES_IOD]->(i:IOD) "
            "RETURN sc.name AS service_class, s.uid AS uid, s.name AS sop_class, s.kind AS kind, "
            "s.retired AS retired, i.name AS iod "
            "ORDER BY sop_class, uid"),
        example=True,
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
        example=True,
    ),
    NamedQuery(
        name="definition_keys",
        title="Keys of the loaded definitions (the standard loader's bookkeeping)",
        description="Label, key, source and superseded flag of every definition node a load wrote.",
        cypher="\nUNION ALL\n".join(
            f"MATCH (n:{label}) WHERE n.source IS NOT NULL "
            f"RETURN '{label}' AS label, n.{key} AS key, n.source AS source, "
            f"coalesce(n.superseded, false) AS superseded"
            for label, key in (("Attribute", "tag"), ("SOPClass", "uid"), ("TransferSyntax", "uid"),
                               ("IOD", "key"), ("InformationEntity", "key"), ("Module", "key"),
                               ("ServiceClass", "key"), ("DIMSEService", "name"))),
    ),
)

# relationships between definitions: read (to find the stale ones) and delete (a later edition dropped them)
_DEF_RELS = {
    "DEFINES": ("ServiceClass", "key", "SOPClass", "uid", None),
    "USES_IOD": ("SOPClass", "uid", "IOD", "key", None),
    "HAS_ENTITY": ("IOD", "key", "InformationEntity", "key", None),
    "INCLUDES": ("IOD", "key", "Module", "key", None),
    "CONTAINS": ("Module", "key", "Attribute", "tag", "path"),
    "SUPPORTS": ("SOPClass", "uid", "DIMSEService", "name", None),
}
for _type, (_a, _ak, _b, _bk, _ident) in _DEF_RELS.items():
    _extra = f", e.{_ident} AS {_ident}" if _ident else ""
    _order = f", {_ident}" if _ident else ""
    _where = f" WHERE e.{_ident} = r.{_ident}" if _ident else ""
    register(
        NamedQuery(
            name=f"standard_rels_{_type.lower()}",
            title=f"{_type} relationships between definitions",
            cypher=(f"MATCH (a:{_a})-[e:{_type}]->(b:{_b}) RETURN a.{_ak} AS src, b.{_bk} AS dst{_extra} "
                    f"ORDER BY src, dst{_order}"),
        ),
        NamedQuery(
            name=f"standard_delete_{_type.lower()}",
            title=f"Delete {_type} relationships a later edition no longer defines",
            params={"rows": []},
            cypher=(f"UNWIND $rows AS r MATCH (a:{_a} {{{_ak}: r.src}})-[e:{_type}]->(b:{_b} {{{_bk}: r.dst}})"
                    f"{_where} DELETE e"),
            write=True,
        ),
    )

STANDARD_RELATIONSHIPS = tuple(_DEF_RELS)
