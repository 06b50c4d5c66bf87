"""extract on a Dask distributed cluster (a LocalCluster of 2 worker processes) writes the same bytes."""

from __future__ import annotations

import pytest

from dicom_graph.loader.bulk.extract import run_extract
from dicom_graph.loader.bulk.load import run_load
from dicom_graph.loader.bulk.manifest import read
from dicom_graph.model.store import open_store

from .bulk_helpers import PYDICOM_FILES, content, shard_bytes

distributed = pytest.importorskip("distributed", reason="extract --dask needs the dask extra")


def test_dask_extraction_is_byte_identical_to_local(tmp_path):
    local, remote = tmp_path / "local", tmp_path / "dask"
    run_extract([str(PYDICOM_FILES)], str(local), workers=2, chunk_files=30)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        summary = run_extract([str(PYDICOM_FILES)], str(remote), dask=cluster.scheduler_address, chunk_files=30)
    assert summary.chunks_run == summary.chunks > 1
    assert shard_bytes(local) == shard_bytes(remote) and shard_bytes(local)
    for name in ("rejects.jsonl",):
        assert (local / name).read_bytes() == (remote / name).read_bytes()
    a, b = read(local), read(remote)
    assert {c: d["rows"] for c, d in a["done"].items()} == {c: d["rows"] for c, d in b["done"].items()}
    graphs = []
    for out in (local, remote):
        store = open_store(db=str(tmp_path / f"{out.name}.db"), read_only=False, create=True)
        run_load(store, str(out))
        graphs.append((store.stats(), content(store)))
        store.close()
    assert graphs[0] == graphs[1]
