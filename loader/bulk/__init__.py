"""The bulk path for first loads of large archives: `extract` to Parquet shards, `load` them in bulk.

    chunks of files -> chunk.extract_chunk (a worker process or a Dask task: parse, resolve the chunk on
    its own, write one shard per label / relationship type) -> shards/ + manifest.json
    -> fold.plan (the whole archive: entities merged across chunks) -> GraphStore.bulk_load

extract.py drives the chunks (local processes or a Dask cluster, resumable chunk by chunk); load.py
folds the shards and hands the engine what its bulk loader takes. Where each cross-file decision of
`ingest` is made on this path is in fold.py's doc.
"""
