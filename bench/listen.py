"""Instances/s stored over ONE association by dcmtk's storescu: into `dicom-graph listen` vs dcmtk's storescp.

    python bench/listen.py [PATH ...] [--neo4j URI] [--store-dir] [--repeat N]

PATH defaults to ../shared/corpus/ihe-iheos-toolkit2 (Part 10 files, walked recursively). Both receivers
get the same files from the same storescu command line (one association; only files in an uncompressed transfer syntax, which storescu sends as they are), in the
same run; the time is storescu's wall time, receivers already listening. Ours writes to a fresh embedded
graph (or the Neo4j given, which it does not empty: use a scratch database), with the standard NOT
loaded, like a fresh `dicom-graph listen`; storescp writes the files to a temporary directory (its
default behaviour), and with --store-dir ours does too. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "corpus" / "ihe-iheos-toolkit2"


def dcmtk(tool: str) -> str:
    for path in (f"/usr/bin/{tool}", shutil.which(tool)):
        if path and os.path.exists(path):
            out = subprocess.run([path, "--version"], capture_output=True, text=True)
            if "dcmtk" in (out.stdout + out.stderr).lower():
                return path
    sys.exit(f"bench/listen.py: dcmtk's {tool} is not installed (apt-get install dcmtk)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


UNCOMPRESSED = {ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian}


def part10_files(paths: list[Path]) -> list[str]:
    """Part 10 files in an uncompressed transfer syntax (storescu's default proposal sends those as-is)."""
    import pydicom

    out = []
    for top in paths:
        for path in sorted(top.rglob("*")) if top.is_dir() else [top]:
            if path.is_file():
                with open(path, "rb") as fh:
                    head = fh.read(132)
                if head[128:132] != b"DICM":
                    continue
                try:
                    meta = pydicom.filereader.read_file_meta_info(path)
                except Exception:  # noqa: BLE001
                    continue
                if str(meta.get("TransferSyntaxUID", "")) in UNCOMPRESSED:
                    out.append(str(path))
    return out


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"receiver exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("receiver did not start")


def send(files: list[str], port: int, called: str) -> tuple[float, int, str]:
    started = time.perf_counter()
    run = subprocess.run([dcmtk("storescu"), "-aet", "BENCH", "-aec", called, "127.0.0.1", str(port), *files],
                         capture_output=True, text=True)
    return time.perf_counter() - started, run.returncode, run.stderr[-500:]


def ours(files: list[str], neo4j: str | None, store_dir: bool, work: Path) -> dict:
    port = free_port()
    graph = ["--neo4j", neo4j] if neo4j else ["--db", str(work / "bench.db")]
    extra = ["--store-dir", str(work / "ours")] if store_dir else []
    proc = subprocess.Popen([sys.executable, "-c", "from dicom_graph.app import main; main()", "listen",
                             "--port", str(port), "--host", "127.0.0.1", "--quiet", *extra, *graph],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    stream = proc.stderr
    assert stream is not None  # stderr=PIPE
    threading.Thread(target=lambda: errors.extend(stream), daemon=True).start()
    try:
        wait_for_port(port, proc)
        seconds, code, err = send(files, port, "DICOMGRAPH")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    count = subprocess.run([sys.executable, "-c", "from dicom_graph.app import main; main()", "query",
                            "network_instances_stored", "-f", "json", *graph], capture_output=True, text=True)
    stored = json.loads(count.stdout)[0]["n"] if count.returncode == 0 else None
    return {"receiver": "dicom-graph listen", "engine": "neo4j" if neo4j else "embedded",
            "store_dir": store_dir, "seconds": round(seconds, 3), "storescu_rc": code,
            "instances_stored": stored, "instances_per_s": round((stored or 0) / seconds, 2),
            **({"stderr": err} if code else {}), **({"listener_errors": "".join(errors)[-500:]} if errors else {})}


def storescp(files: list[str], work: Path) -> dict:
    port = free_port()
    out = work / "storescp"
    out.mkdir()
    proc = subprocess.Popen([dcmtk("storescp"), "+xa", "-aet", "STORESCP", "-od", str(out), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        seconds, code, err = send(files, port, "STORESCP")
    finally:
        proc.terminate()
        proc.wait(30)
    stored = sum(1 for _ in out.iterdir())
    return {"receiver": "dcmtk storescp", "seconds": round(seconds, 3), "storescu_rc": code,
            "instances_stored": stored, "instances_per_s": round(stored / seconds, 2),
            **({"stderr": err} if code else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[DEFAULT])
    parser.add_argument("--neo4j", help="Bolt URI of a scratch Neo4j (default: a fresh embedded graph)")
    parser.add_argument("--store-dir", action="store_true", help="ours also writes the files")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    files = part10_files(args.paths)
    if not files:
        sys.exit("bench/listen.py: no Part 10 files under " + " ".join(map(str, args.paths)))
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-listen-") as tmp:
            work = Path(tmp)
            runs.append({"ours": ours(files, args.neo4j, args.store_dir, work), "storescp": storescp(files, work)})
    print(json.dumps({"bench": "listen", "files": len(files),
                      "bytes": sum(os.path.getsize(f) for f in files), "host": platform.node(),
                      "cpus": os.cpu_count(), "runs": runs}))


if __name__ == "__main__":
    main()
