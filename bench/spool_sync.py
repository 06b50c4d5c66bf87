"""What one durable record costs, three ways: the choice behind loader/network/spool.py.

    python bench/spool_sync.py [FOLDER] [--records N] [--size BYTES]

(a) a file per record: temporary name, write, fdatasync, rename, fsync of the folder; (b) appending to
one growing file, fdatasync per record; (c) writing into a segment filled with zeros beforehand,
fdatasync per record (what the spool does: the sync flushes data only, not the file's size or block
map). FOLDER should be on the disk the spool will use (default: a temporary folder). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def per_file(folder: Path, data: bytes, n: int) -> float:
    dir_fd = os.open(folder, os.O_RDONLY)
    started = time.perf_counter()
    for i in range(n):
        tmp = folder / f".{i}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, data)
        os.fdatasync(fd)
        os.close(fd)
        os.rename(tmp, folder / f"{i}.dcm")
        os.fsync(dir_fd)
    os.close(dir_fd)
    return time.perf_counter() - started


def appended(folder: Path, data: bytes, n: int) -> float:
    fd = os.open(folder / "append.seg", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    started = time.perf_counter()
    for _ in range(n):
        os.write(fd, data)
        os.fdatasync(fd)
    os.close(fd)
    return time.perf_counter() - started


def preallocated(folder: Path, data: bytes, n: int) -> float:
    fd = os.open(folder / "zeroed.seg", os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, bytes(n * len(data)))
    os.fsync(fd)
    started = time.perf_counter()
    for i in range(n):
        os.pwrite(fd, data, i * len(data))
        os.fdatasync(fd)
    os.close(fd)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--records", type=int, default=400)
    parser.add_argument("--size", type=int, default=3700, help="bytes per record (the synthetic files' mean)")
    args = parser.parse_args()
    data = os.urandom(args.size)
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        ms = {name: round(run(Path(tmp), data, args.records) / args.records * 1000, 3)
              for name, run in (("file_per_record", per_file), ("append_fdatasync", appended),
                                ("preallocated_fdatasync", preallocated))}
    print(json.dumps({"bench": "spool_sync", "records": args.records, "size": args.size, "ms_per_record": ms,
                      "loadavg": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
