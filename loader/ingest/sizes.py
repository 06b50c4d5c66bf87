"""How much the ingest holds at once: instances per write, files per worker task, keys per lookup.

A leaf with no imports, so that the CLI can show the --batch default without loading pydicom or
pyarrow (every command module is imported when `dicom-graph` starts).
"""

DEFAULT_BATCH_INSTANCES = 5000  # fewer, larger COPYs: each has a fixed cost on the wide Instance table
CHUNK_FILES = 16  # files per worker task: large enough to amortise the pickling, small enough to balance
# Chunks submitted to the workers and not yet consumed by the writer: one batch's worth (so the workers
# keep parsing the next batch while the writer writes this one) plus a few per worker. `imap_unordered`
# had no such bound: when the writer was the slower side, parsed results queued up in the writer
# process and its memory grew with the archive (4 GB and rising at 100k files of a 1M ingest).
IN_FLIGHT_PER_WORKER = 4
LOOKUP_CHUNK = 2000  # keys per read of the graph (instance hashes, study patients, files already done)
