"""How long `dicom-graph` takes to start, next to how long the query itself takes.

    python bench/startup.py [--db GRAPH] [--runs 9] [--imports]

Each command runs `--runs` times as a fresh process (the console script next to this interpreter); the
report gives the median and the fastest wall time. The in-process line opens the same graph and runs the
same statement in this process, after the imports: what is left once the interpreter and the imports are
paid for. `--imports` adds, per command, the top-level packages `python -X importtime` charges the most
(cumulative microseconds of the first import), which is where start-up goes. Without --db a small graph
is built from pydicom's test files in a temporary folder (a few seconds, not timed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "DICOM_GRAPH_DB")}


def console_script() -> str:
    exe = Path(sys.executable).with_name("dicom-graph")
    return str(exe) if exe.exists() else "dicom-graph"


def commands(db: str) -> dict[str, list[str]]:
    return {"--help": ["--help"], "query RETURN 1": ["query", "RETURN 1", "--db", db],
            "query <named>": ["query", "example_derived_objects", "--db", db],
            "stats": ["stats", "--json", "--db", db], "export --help": ["export", "--help"]}


def wall(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([console_script(), *args], env=ENV, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return times


def heaviest_imports(args: list[str], top: int = 6) -> list[tuple[str, int]]:
    """Top-level packages by the time spent importing their own modules (the sum of `-X importtime`'s
    self column, microseconds): who pays, not who asked."""
    code = f"import sys; sys.argv = ['dicom-graph', *{args!r}]\nfrom dicom_graph.app import main\nmain()"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=ENV, capture_output=True,
                          text=True)
    per_package: dict[str, int] = {}
    for line in done.stderr.splitlines():
        fields = line[len("import time:"):].split("|") if line.startswith("import time:") else []
        if len(fields) == 3 and fields[0].strip().isdigit():
            package = fields[2].strip().split(".")[0]
            per_package[package] = per_package.get(package, 0) + int(fields[0])
    return sorted(per_package.items(), key=lambda kv: -kv[1])[:top]


def in_process(db: str, runs: int) -> tuple[float, float]:
    """(open + query, query alone) in seconds, median of `runs`, imports already paid."""
    from dicom_graph.model.store import open_store

    opened, queried = [], []
    for _ in range(runs):
        start = time.perf_counter()
        with open_store(db) as store:
            middle = time.perf_counter()
            store.query("RETURN 1")
            queried.append(time.perf_counter() - middle)
        opened.append(time.perf_counter() - start)
    return statistics.median(opened), statistics.median(queried)


def sample_graph(folder: Path) -> str:
    import pydicom

    from dicom_graph.loader.ingest import run_ingest
    from dicom_graph.model.store import open_store

    db = str(folder / "startup.db")
    with open_store(db, read_only=False, create=True) as store:
        run_ingest(store, [str(Path(pydicom.__file__).parent / "data" / "test_files")], workers=1, progress=False,
                   report_path=str(folder / "rejects.jsonl"))
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an embedded graph to query (default: a small one built here)")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--imports", action="store_true", help="also list the heaviest imports per command")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = options.db or sample_graph(Path(tmp))
        print(f"dicom-graph start-up, {options.runs} runs each, {os.cpu_count()} cores, Python "
              f"{sys.version.split()[0]}")
        for label, args in commands(db).items():
            times = wall(args, options.runs)
            print(f"  dicom-graph {label:<16} median {statistics.median(times):6.3f} s   fastest {min(times):6.3f} s")
            if options.imports:
                for package, micros in heaviest_imports(args):
                    print(f"      {package:<28} {micros / 1e6:6.3f} s")
        opened, queried = in_process(db, options.runs)
        print(f"  in process: open + RETURN 1 {opened:6.3f} s, the query alone {queried * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
