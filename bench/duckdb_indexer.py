"""The smallest honest rival: pydicom headers -> one Parquet file -> DuckDB, about 60 lines.

    python bench/duckdb_indexer.py OUT.parquet PATH... [--workers 2] [--index-only]   # index, answer

W processes `dcmread(stop_before_pixels=True)` every file (the same call as bench/ingest.py's bare parse)
and hand back one flat row per instance: the patient / study / series / instance keys and the common
keywords an analyst filters on. The parent writes them as one Parquet file; DuckDB answers questions
on it with GROUP BY (patients, studies and series are the distinct keys of the rows). No references, no
sequences, no standard: what a weekend indexer does, as the yardstick for what the graph costs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pydicom

KEYWORDS = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
            "StudyDescription", "AccessionNumber", "SeriesInstanceUID", "Modality", "SeriesNumber",
            "SeriesDescription", "BodyPartExamined", "SOPInstanceUID", "SOPClassUID", "InstanceNumber",
            "Manufacturer", "ManufacturerModelName", "SliceThickness", "Rows", "Columns")


def row(path: str) -> list[str | None] | None:
    """One instance's keywords as text (None when absent); None for a file pydicom cannot read."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # noqa: BLE001  (an indexer skips what it cannot read)
        return None
    values = [ds.get(k) for k in KEYWORDS]
    return [None if v is None or v == "" else str(v) for v in values] + [path]


def index(files: list[str], out: Path, workers: int) -> int:
    """Write the rows of `files` to `out`; the number of files skipped as unreadable."""
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        rows = [r for r in pool.imap_unordered(row, files, chunksize=64)]
    kept = [r for r in rows if r is not None]
    columns = {name: [r[i] for r in kept] for i, name in enumerate((*KEYWORDS, "path"))}
    pq.write_table(pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}), out)
    return len(rows) - len(kept)


QUESTIONS = {
    "studies_per_modality": "SELECT Modality, count(DISTINCT StudyInstanceUID) FROM t GROUP BY 1",
    "series_per_patient": "SELECT PatientID, count(DISTINCT SeriesInstanceUID) FROM t GROUP BY 1",
    "instances_per_sop_class": "SELECT SOPClassUID, count(DISTINCT SOPInstanceUID) FROM t GROUP BY 1",
}


def answers(parquet: Path) -> dict[str, dict[str, int]]:
    """Each question of QUESTIONS as {group: count}, straight from the Parquet file."""
    import duckdb

    with duckdb.connect() as db:
        db.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{parquet}')")
        return {name: {str(k): int(n) for k, n in db.execute(sql).fetchall()} for name, sql in QUESTIONS.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--index-only", action="store_true", help="do not answer the questions")
    args = parser.parse_args()
    found = sorted(str(f) for p in args.paths for f in (p.rglob("*") if p.is_dir() else [p]) if f.is_file())
    skipped = index(found, args.out, args.workers)
    print(json.dumps({"files": len(found), "skipped": skipped, **({} if args.index_only else answers(args.out))}))
