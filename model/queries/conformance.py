"""Named queries: conformance, the instances checked against their IOD's modules at ingest.

An instance stores its findings as lists of 'Module' (a mandatory module missing) or 'Module>Keyword'
(a Type 1 / Type 2 attribute absent or empty, 1C with 1 and 2C with 2, top level), which these queries
aggregate and drill into, and one finding per attribute as parallel `finding_*` lists (findings.py says
why lists), which `conformance_findings` returns as rows.
"""

from __future__ import annotations

from pydicom.uid import CTImageStorage

from .. import schema
from . import NamedQuery, Visibility, dialects, optional, register, required

_FINDING_LISTS = ("modules_missing", "type1_missing", "type1_empty", "type2_missing")


def _module_of(expr: str, dialect: str) -> str:
    """The module part of a finding: `Module>Keyword` -> `Module`; a missing module is just its name."""
    return f"split_part({expr}, '>', 1)" if dialect == "embedded" else f"split({expr}, '>')[0]"


def _as_variables(lists: tuple[str, ...]) -> str:
    """An instance's lists carried by their own names, as grouping keys of a WITH."""
    return ", ".join(f"i.{lst} AS {lst}" for lst in lists)


def _all_findings(of: str = "i.") -> str:
    """Every finding of an instance, one list: `of` + a list's name is how the query holds that list."""
    return " + ".join(f"coalesce({of}{lst}, [])" for lst in _FINDING_LISTS)


# a SOP class's failing instances by their own SOPClassUID, the class their conformance was checked
# against: a column scan. Reached from the SOPClass node over INSTANCE_OF, ladybug fetched each instance's
# lists by random access (~3x slower at 1M instances), and an instance whose files disagree on the class
# (one INSTANCE_OF edge per class) was counted under a class it was never checked against
_FAILING = "MATCH (i:Instance) WHERE i.SOPClassUID = $sop_class AND i.conformant = false "


def _conformance_by_module(dialect: str) -> str:
    """One pass over the failing instances, grouped first by their four finding lists (instances of a
    class mostly share them), then each group seen once per finding kind (the four lists and 'any', all
    of them), distinct per (group, kind, module) and weighted by the group's instances. Per instance, the
    DISTINCT ran over ~1.15M (instance, kind, module) rows at 1M instances, half the query's time (five
    UNION branches before that scanned the instances five times: 4 s); bench/README.md, "Conformance
    per SOP class and module, grouped first", has the numbers. A group's lists stand for it in the
    DISTINCT: two groups differ in at least one of them."""
    pick = " ".join(f"WHEN '{lst}' THEN coalesce({lst}, [])" for lst in _FINDING_LISTS)
    group = ", ".join(_FINDING_LISTS)
    return (f"{_FAILING}WITH {_as_variables(_FINDING_LISTS)}, count(*) AS n "
            f"UNWIND {list(_FINDING_LISTS) + ['any']} AS finding "
            f"WITH {group}, n, finding, CASE finding {pick} ELSE {_all_findings('')} END AS findings "
            f"UNWIND findings AS f WITH DISTINCT {group}, n, finding, {_module_of('f', dialect)} AS module "
            "RETURN module, finding, sum(n) AS instances")


def _conformance_failing(dialect: str) -> str:
    """The failing instances' findings filtered per instance (a list filter, not UNWIND + collect over
    every failing instance), and the first $limit by UID. Everything shown is the instance's own columns,
    its series too (the Series Instance UID its HAS_INSTANCE edge was made from), read in the same scan:
    looking the $limit instances up again by UID to join their series (as until 3 Dec 2026) cost ~0.4 s
    of random reads per 5,000 rows on a cold page cache at 100k instances, more than scanning the columns
    of every failing one (bench/README.md, "Cold first views; the extract's collector"). The sort
    carries values, not nodes (ladybug materializes a node's every column)."""
    def keep(f: str, module: str) -> str:
        return f"{module} = '' OR {f} = {module} OR {f} STARTS WITH ({module} + '>')"
    if dialect == "embedded":  # a lambda cannot read a parameter in ladybug 0.22, but can read a variable
        findings = f"WITH i, $module AS wanted WITH i, list_filter({_all_findings()}, f -> {keep('f', 'wanted')})"
    else:
        findings = f"WITH i, [f IN {_all_findings()} WHERE {keep('f', '$module')}]"
    return (f"{_FAILING}{findings} AS findings WHERE size(findings) > 0 "
            "RETURN i.SOPInstanceUID AS sop_instance_uid, i.SeriesInstanceUID AS series_uid, "
            "i.Modality AS modality, i.path AS path, findings "
            "ORDER BY sop_instance_uid LIMIT $limit")


def _per_module(dialect: str) -> str:
    """Findings per (SOP class, module), from the instances grouped by their finding lists first.

    Instances of one class mostly share their lists (one modality's template, one vendor's omissions),
    so the modules of the class's IOD are crossed with each distinct combination once, weighted by how
    many instances carry it, instead of with every instance (bench/README.md, "Conformance per SOP class
    and module, grouped first": 7.7-9.4 s -> 0.6-0.8 s at 100k instances, the same rows). List
    filtering and membership are spelled per engine."""
    if dialect == "embedded":
        def count(lst: str) -> str:
            return f"size(list_filter(coalesce({lst}, CAST([] AS STRING[])), x -> starts_with(x, m.name + '>')))"

        def has(lst: str) -> str:
            return f"list_contains({lst}, m.name)"
    else:
        def count(lst: str) -> str:
            return f"size([x IN {lst} WHERE x STARTS WITH (m.name + '>')])"

        def has(lst: str) -> str:
            return f"m.name IN {lst}"
    return ("MATCH (i:Instance)-[:INSTANCE_OF]->(c:SOPClass) WHERE i.conformant IS NOT NULL "
            f"WITH c, {_as_variables(('modules_present', *_FINDING_LISTS))}, count(*) AS n "
            "MATCH (c)-[:USES_IOD]->(:IOD)-[inc:INCLUDES]->(m:Module) "
            f"WITH c, m, inc, n, modules_present, modules_missing, {count('type1_missing')} AS t1m, "
            f"{count('type1_empty')} AS t1e, {count('type2_missing')} AS t2m "
            "RETURN c.uid AS sop_class_uid, c.name AS sop_class, m.name AS module, inc.usage AS usage, "
            "sum(n) AS instances_checked, "
            f"sum(CASE WHEN {has('modules_present')} THEN n ELSE 0 END) AS instances_with_module, "
            f"sum(CASE WHEN {has('modules_missing')} THEN n ELSE 0 END) AS mandatory_missing, "
            "sum(CASE WHEN t1m > 0 THEN n ELSE 0 END) AS instances_type1_missing, "
            "sum(CASE WHEN t1e > 0 THEN n ELSE 0 END) AS instances_type1_empty, "
            "sum(CASE WHEN t2m > 0 THEN n ELSE 0 END) AS instances_type2_missing, "
            "sum(n * t1m) AS type1_missing, sum(n * t1e) AS type1_empty, sum(n * t2m) AS type2_missing "
            "ORDER BY sop_class_uid, module")


def _findings(dialect: str) -> str:
    """One row per finding from the parallel `finding_*` lists (list positions are 1-based in LadybugDB).

    Every instance selected has a finding, so the first $limit rows come from the first $limit
    instances by UID: those are picked (their lists carried, not the nodes) before the lists are unwound
    and sorted, instead of sorting every finding of a SOP class (574k at 1M instances)."""
    first, last = ("1", "size(f_keyword)") if dialect == "embedded" else ("0", "size(f_keyword) - 1")
    names = [c.removeprefix("finding_") for c in schema.FINDING_COLUMNS]
    lists = ", ".join(f"i.finding_{c} AS f_{c}" for c in names)
    cols = ", ".join(f"f_{c}[k] AS {c}" for c in names)
    return ("MATCH (i:Instance) WHERE size(i.finding_keyword) > 0 "
            "AND ($sop_instance_uid = '' OR i.SOPInstanceUID = $sop_instance_uid) "
            "AND ($sop_class = '' OR i.SOPClassUID = $sop_class) "
            f"WITH i.SOPInstanceUID AS sop_instance_uid, i.SOPClassUID AS sop_class_uid, i.path AS file, {lists} "
            "ORDER BY sop_instance_uid LIMIT $limit "
            f"UNWIND range({first}, {last}) AS k "
            f"RETURN sop_instance_uid, sop_class_uid, file, {cols} "
            "ORDER BY sop_instance_uid, path, keyword LIMIT $limit")


register(
    NamedQuery(
        name="conformance_iod_modules",
        title="The modules each SOP class's IOD includes, with their usage and parsed condition",
        description="One row per SOP class and included module; with conformance_module_attributes, what "
                    "the ingest checks against (two small results rather than their product: 3.7k + 10k "
                    "rows instead of 118k for the whole standard).",
        cypher="MATCH (c:SOPClass)-[:USES_IOD]->(:IOD)-[inc:INCLUDES]->(m:Module) "
               "RETURN c.uid AS sop_class_uid, m.name AS module, m.key AS module_key, inc.usage AS usage, "
               "inc.condition_expr AS module_condition_expr, inc.decidable AS module_decidable "
               "ORDER BY sop_class_uid, module, module_key, usage",
        visibility=Visibility.INTERNAL,
    ),
    NamedQuery(
        name="conformance_module_attributes",
        title="The attributes of each module that conformance checks (top level, one level in sequences)",
        description="Per module: every top-level attribute (what shows the module is present) and the Type "
                    "1 / 2 ones one sequence deep, with type, path and parsed condition.",
        cypher="MATCH (m:Module)-[ct:CONTAINS]->(a:Attribute) "
               "WHERE ct.path = '' OR (NOT ct.path CONTAINS '>' AND ct.type IN ['1', '1C', '2', '2C']) "
               "RETURN m.key AS module_key, ct.type AS type, ct.path AS path, ct.condition AS condition, "
               "ct.condition_expr AS condition_expr, ct.decidable AS decidable, ct.overrides AS overrides, "
               "a.keyword AS keyword, a.tag AS tag "
               "ORDER BY module_key, path, keyword, type",
        visibility=Visibility.INTERNAL,
    ),
    NamedQuery(
        name="conformance_macros",
        title="The Sequence of each functional group macro",
        description="What a macro_present condition looks for in the Shared or Per-frame item.",
        cypher="MATCH (m:FunctionalGroupMacro) RETURN DISTINCT m.key AS key, m.sequence AS sequence "
               "ORDER BY key",
        visibility=Visibility.INTERNAL,
    ),
    NamedQuery(
        name="instance_conformance",
        title="Conformance of one instance",
        parameters=required(uid=None),
        cypher="MATCH (i:Instance {SOPInstanceUID: $uid}) "
               "RETURN i.SOPInstanceUID AS uid, i.SOPClassUID AS sop_class_uid, i.conformant AS conformant, "
               "i.modules_present AS modules_present, i.modules_missing AS modules_missing, "
               "i.type1_missing AS type1_missing, i.type1_empty AS type1_empty, "
               "i.type2_missing AS type2_missing, i.conditions_undecided AS undecided",
    ),
    NamedQuery(
        name="conformance_findings",
        title="Conformance findings: one row per required attribute missing or empty",
        description="Per instance and attribute: module, type (1, 1C, 2, 2C), problem (missing or empty), "
                    "path (keyword of the enclosing sequence, '' at the top level) and, for C types, the "
                    "condition that made it required. Filter by SOP instance or SOP class ('' for all).",
        parameters=optional(sop_instance_uid="", sop_class="", limit=100000),
        cypher=_findings("neo4j"),
        variants={"embedded": _findings("embedded")},
    ),
    NamedQuery(
        name="conformance_checked",
        title="Instances checked against their IOD: findings and conditions not evaluated",
        description="Per checked instance: its file, how many findings it has and how many conditions could "
                    "not be evaluated, and which machine-readable ones the instance could not tell (a condition in "
                    "prose is undecidable everywhere: CONTAINS.decidable = false): those are not failures.",
        cypher="MATCH (i:Instance) WHERE i.conformant IS NOT NULL "
               "RETURN i.SOPInstanceUID AS sop_instance_uid, i.SOPClassUID AS sop_class_uid, i.path AS file, "
               "CASE WHEN i.finding_keyword IS NULL THEN 0 ELSE size(i.finding_keyword) END AS findings, "
               "i.conditions_not_evaluated AS not_evaluated, i.conditions_undecided AS undecided "
               "ORDER BY sop_instance_uid",
    ),
    NamedQuery(
        name="conformance_by_sop_class",
        title="Conformance per SOP class: instances complete",
        description="Instances checked against their IOD (those ingested with the standard loaded) and how "
                    "many are complete: no mandatory module missing, no Type 1 / Type 2 attribute absent or empty.",
        # by the instance's SOPClassUID, as conformance_by_module and conformance_failing: the class it was
        # checked against (an instance whose files disagree on the class has an INSTANCE_OF edge to each)
        cypher="MATCH (i:Instance) WHERE i.conformant IS NOT NULL "
               "WITH i.SOPClassUID AS uid, count(*) AS instances, "
               "sum(CASE WHEN i.conformant THEN 1 ELSE 0 END) AS complete "
               "MATCH (c:SOPClass {uid: uid}) "
               "RETURN c.uid AS sop_class_uid, coalesce(c.name, c.uid) AS sop_class, instances, complete "
               "ORDER BY instances DESC, sop_class_uid",
    ),
    NamedQuery(
        name="conformance_by_module",
        title="Conformance of one SOP class per module: instances failing, by finding",
        description="finding is modules_missing, type1_missing, type1_empty, type2_missing, or 'any' (an "
                    "instance failing the module in any way); instances are distinct per (module, finding).",
        parameters=required(sop_class=CTImageStorage),
        **dialects(_conformance_by_module),
    ),
    NamedQuery(
        name="conformance_failing",
        title="Instances of a SOP class failing in a module (or anywhere when module is '')",
        parameters=required(sop_class=CTImageStorage) + optional(module="", limit=5000),
        **dialects(_conformance_failing),
    ),
    NamedQuery(
        name="conformance_by_sop_class_module",
        title="Conformance per SOP class and module",
        description="Per SOP class and IOD module: instances checked, how many have the module, how many "
                    "miss it while it is mandatory, and how many lack Type 1 / have empty Type 1 / lack "
                    "Type 2 attributes of it (findings are stored per instance as 'Module>Keyword').",
        cypher=_per_module("neo4j"),
        variants={"embedded": _per_module("embedded")},
        visibility=Visibility.EXAMPLE,
    ),
)
