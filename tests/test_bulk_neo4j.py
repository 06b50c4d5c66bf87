"""load into Neo4j (batched MERGE from the shards) gives the graph ingest gives on Neo4j."""

from __future__ import annotations

import pytest

from dicom_graph.loader.bulk.extract import run_extract
from dicom_graph.loader.bulk.load import LoadError, run_load
from dicom_graph.loader.ingest import run_ingest

from .bulk_helpers import PYDICOM_FILES, content
from .conftest import make_store

pytestmark = pytest.mark.neo4j


def test_neo4j_load_equals_neo4j_ingest(tmp_path):
    shards = tmp_path / "shards"
    run_extract([str(PYDICOM_FILES)], str(shards), workers=2, chunk_files=25)
    store = make_store("neo4j", tmp_path)  # cleared
    try:
        summary = run_load(store, str(shards))
        loaded = (store.stats(), content(store))
        with pytest.raises(LoadError, match="already holds data"):
            run_load(store, str(shards))
        store.clear()
        run_ingest(store, [str(PYDICOM_FILES)], workers=2, progress=False, report_path=str(tmp_path / "r.jsonl"))
        assert summary.status == "finished" and loaded[0]["nodes"]["Instance"] > 100
        assert loaded == (store.stats(), content(store))
    finally:
        store.clear()
        store.close()
