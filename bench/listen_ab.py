"""Listener variants side by side: Orthanc, then `dicom-graph listen` once per environment, then Orthanc again.

    python bench/listen_ab.py --repeat 2 before=SOME_SWITCH=0 after=SOME_SWITCH=1

On a shared machine whose load moves the absolute figures by ±30 % within minutes, a change is judged by
the ratio to Orthanc measured around it, in the same round: each round sends the same 2,000 synthetic
files (bench/synth.py, seed 0) with storescu to Orthanc, to each variant (a fresh embedded graph, no
--store-dir) and to Orthanc again, and prints one JSON line: files/s of each, and each variant's ratio to
the mean of the two Orthanc runs. A variant is NAME=VAR=VALUE[,VAR=VALUE]: environment variables for
that listener only (e.g. a switch kept in the code while a change is evaluated, or
DICOM_GRAPH_BUFFER_POOL_MB). The helpers are bench/listen.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import listen  # noqa: E402 - the bench folder is not a package on the path otherwise


def variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, assignments = text.partition("=")
    return name, dict(pair.split("=", 1) for pair in assignments.split(",") if pair)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", type=variant, help="NAME=VAR=VALUE[,VAR=VALUE]")
    parser.add_argument("--synth", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    files = listen.part10_files(listen.synthetic(args.synth))
    saved = dict(os.environ)
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-listen-ab-") as tmp:
            work = Path(tmp)
            (work / "orthanc-before").mkdir()
            line: dict[str, float] = {"orthanc_before": listen.orthanc(files, work / "orthanc-before")["instances_per_s"]}
            for name, env in args.variants:
                (work / name).mkdir()
                os.environ.update(env)
                try:
                    run = listen.ours(files, None, False, work / name)
                finally:
                    os.environ.clear()
                    os.environ.update(saved)
                line[name] = run["instances_per_s"]
                line[f"{name}_visible_after_s"] = run["visible_after_s"]
                if run["instances_stored"] != len(files):
                    line[f"{name}_stored"] = run["instances_stored"] or 0
            (work / "orthanc-after").mkdir()
            line["orthanc_after"] = listen.orthanc(files, work / "orthanc-after")["instances_per_s"]
            base = (line["orthanc_before"] + line["orthanc_after"]) / 2 or 1
            for name, _ in args.variants:
                line[f"{name}_ratio"] = round(line[name] / base, 3)
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
