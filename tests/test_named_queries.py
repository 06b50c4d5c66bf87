"""The named-query registry: declared parameters match every dialect's text, visibility, binding, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dicom_graph.model import queries, schema
from dicom_graph.model.queries import NamedQuery, Visibility, optional, parameters_in, required
from dicom_graph.model.queries.errors import ParameterError, UnknownQuery
from dicom_graph.model.queries.standard import STANDARD_RELATIONSHIPS
from dicom_graph.model.store import StoreError, open_store

ALL = queries.all_queries()


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_dialect_uses_exactly_the_declared_parameters(name: str) -> None:
    q = ALL[name]
    for text in q.texts().values():
        assert parameters_in(text) == {p.name for p in q.parameters}


def test_the_scanner_skips_literals_quoted_names_and_comments() -> None:
    text = ("MATCH (n {a: '$no'}) WHERE n.b = \"$nope\" AND n.`$never` = $yes // $comment\n"
            "/* $block\n$block */ RETURN $also_yes, 'it''s $not', 'a \\' $esc'")
    assert parameters_in(text) == {"yes", "also_yes"}


def test_registration_refuses_a_text_and_a_declaration_that_disagree() -> None:
    with pytest.raises(ValueError, match="uses"):
        queries.register(NamedQuery("t_undeclared", "t", "MATCH (n) WHERE n.x = $x RETURN n"))
    with pytest.raises(ValueError, match="declares"):
        queries.register(NamedQuery("t_unused", "t", "MATCH (n) RETURN n", parameters=required(x=1)))
    with pytest.raises(ValueError, match="embedded"):
        queries.register(NamedQuery("t_variant", "t", "RETURN $x AS x", parameters=required(x=1),
                                    variants={"embedded": "RETURN 1 AS x"}))
    with pytest.raises(ValueError, match="internal"):
        queries.register(NamedQuery("t_write", "t", "MATCH (n) DELETE n", write=True))
    assert not {"t_undeclared", "t_unused", "t_variant", "t_write"} & set(queries.all_queries())


def test_binding_fills_defaults_and_refuses_unknown_or_missing_parameters() -> None:
    q = NamedQuery("t_bind", "t", "MATCH (n {k: $uid}) RETURN n LIMIT $limit",
                   parameters=required(uid="1.2") + optional(limit=10))
    assert q.bind({"uid": "9"}) == {"uid": "9", "limit": 10}
    with pytest.raises(ParameterError) as missing:
        q.bind({"limit": 3})
    assert str(missing.value) == "t_bind: missing parameter uid; it takes uid, limit=10"
    with pytest.raises(ParameterError) as unknown:
        q.bind({"uid": "9", "lmit": 3})
    assert "unknown parameter lmit" in str(unknown.value) and "\n" not in str(unknown.value)
    assert isinstance(unknown.value, StoreError)


def test_a_misspelled_name_gets_the_nearest_ones() -> None:
    with pytest.raises(UnknownQuery) as caught:
        queries.get("data_count")
    assert str(caught.value) == "no named query data_count; did you mean data_counts?"
    assert isinstance(caught.value, StoreError) and isinstance(caught.value, KeyError)


def test_the_store_refuses_before_the_engine_sees_anything(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "g.db"), read_only=False, create=True) as store:
        with pytest.raises(ParameterError, match="missing parameter uid"):
            store.run("instance_properties")
        with pytest.raises(ParameterError, match="unknown parameter limit"):
            store.run("standard_search", text="Modality", limit=5)
        assert store.run("instances_by_manufacturer").rows == []  # limit: its declared default


def test_visibility_hides_the_plumbing() -> None:
    listed = queries.listed()
    for name in ("instance_hashes", "source_files", "definition_keys", "listener_instances", "dashboard_status",
                 "conformance_iod_modules", "conformance_module_attributes",
                 "standard_rels_contains"):
        assert ALL[name].visibility is Visibility.INTERNAL and name not in listed
    assert {"data_counts", "standard_search", "example_studies_per_modality"} <= set(listed)
    assert all(q.visibility is Visibility.INTERNAL for q in ALL.values() if q.write)
    assert {n for n, q in ALL.items() if q.listed} == set(listed)  # what the Cypher library reads


def test_the_cypher_editor_starts_from_defaults_and_examples_never_bound() -> None:
    q = queries.get("conformance_failing")
    assert q.editor_values() == {"sop_class": q.parameters[0].example, "module": "", "limit": 5000}
    with pytest.raises(ParameterError, match="missing parameter sop_class"):
        q.bind({})


def test_schema_facts_come_from_the_schema() -> None:
    definitions = {n.label for n in schema.NODE_TYPES if "superseded" in n.props}
    assert set(STANDARD_RELATIONSHIPS) == {r.type for r in schema.REL_TYPES
                                           if all({a, b} <= definitions for a, b in r.pairs)}
    contains = queries.get("standard_delete_contains").cypher
    assert "e.path = r.path" in contains and "{tag: r.dst}" in contains


def test_no_uid_literal_in_the_query_modules() -> None:
    folder = Path(queries.__file__).parent
    for path in folder.glob("*.py"):
        assert not re.search(r"1\.2\.840\.10008\.", path.read_text()), path.name
