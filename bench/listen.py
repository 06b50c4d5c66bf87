"""Files/s received over ONE storescu association: Orthanc, dcmtk's storescp and `dicom-graph listen`.

    python bench/listen.py --synth 2000 [--orthanc] [--store-dir both|yes|no] [--repeat N] [--neo4j URI]
    python bench/listen.py [PATH ...]            # Part 10 files under PATH instead (default: the corpus)

Every receiver gets the same files from the same dcmtk storescu command line (`-R`: only the presentation
contexts the files need; one association; uncompressed transfer syntaxes only, which storescu sends as
they are), in the same run, with `TCP_NODELAY=1` in the environment of storescu and of Orthanc (dcmtk
3.6.7 leaves Nagle's algorithm on otherwise: ~44 ms per message). The time is storescu's wall time,
receivers already listening. `--synth N`: N header-only files from bench/synth.py (seed 0), made once in
bench/out/. Orthanc (Debian's package, `--orthanc`) runs with its own storage and index folders, its own
DICOM and HTTP ports, no authentication, and stores every file; its count is its REST /statistics.
storescp writes every file to a temporary folder. Ours writes to a fresh embedded graph (or the Neo4j
given, which it does not empty: use a scratch database) with the standard not loaded, like a fresh
`dicom-graph listen`, with and without --store-dir; after storescu is done the bench polls
`dicom-graph query` until every instance is in the graph and reports how long after the send that was
(`visible_after_s`, which includes one `query` process start). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
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
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "corpus" / "ihe-iheos-toolkit2"
NODELAY = {**os.environ, "TCP_NODELAY": "1"}
CLI = [sys.executable, "-c", "from dicom_graph.app import main; main()"]


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
    run = subprocess.run([dcmtk("storescu"), "-R", "-aet", "BENCH", "-aec", called, "127.0.0.1", str(port),
                          *files], capture_output=True, text=True, env=NODELAY)
    return time.perf_counter() - started, run.returncode, run.stderr[-500:]


def result(receiver: str, seconds: float, code: int, err: str, stored: int | None, **extra: object) -> dict:
    return {"receiver": receiver, "seconds": round(seconds, 3), "storescu_rc": code,
            "instances_stored": stored, "instances_per_s": round((stored or 0) / seconds, 2), **extra,
            **({"stderr": err} if code else {})}


def graph_count(graph: list[str]) -> int | None:
    count = subprocess.run([*CLI, "query", "network_instances_stored", "-f", "json", *graph],
                           capture_output=True, text=True)
    return json.loads(count.stdout)[0]["n"] if count.returncode == 0 else None


def visible(graph: list[str], expected: int, timeout: float = 120) -> tuple[int | None, float]:
    """Poll the graph from another process until `expected` instances are in it: (count, seconds)."""
    started = time.perf_counter()
    while True:
        n = graph_count(graph)
        if n == expected or time.perf_counter() - started > timeout:
            return n, round(time.perf_counter() - started, 3)


def ours(files: list[str], neo4j: str | None, store_dir: bool, work: Path) -> dict:
    port = free_port()
    graph = ["--neo4j", neo4j] if neo4j else ["--db", str(work / f"bench-{store_dir}.db")]
    extra = ["--store-dir", str(work / "ours")] if store_dir else []
    proc = subprocess.Popen([*CLI, "listen", "--port", str(port), "--host", "127.0.0.1", "--quiet", *extra,
                             *graph], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    stream = proc.stderr
    assert stream is not None  # stderr=PIPE
    threading.Thread(target=lambda: errors.extend(stream), daemon=True).start()
    try:
        wait_for_port(port, proc)
        seconds, code, err = send(files, port, "DICOMGRAPH")
        stored, after = visible(graph, len(files))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    return result("dicom-graph listen", seconds, code, err, stored, engine="neo4j" if neo4j else "embedded",
                  store_dir=store_dir, visible_after_s=after,
                  **({"listener_errors": "".join(errors)[-500:]} if errors else {}))


@contextlib.contextmanager
def orthanc_server(work: Path) -> Iterator[tuple[subprocess.Popen, int, int]]:
    """Debian's Orthanc on its own storage and index folders (work/orthanc/), DICOM and HTTP ports, no
    authentication, every file stored uncompressed: (process, DICOM port, HTTP port), stopped on exit."""
    port, http = free_port(), free_port()
    root = work / "orthanc"
    config = {"Name": "bench", "StorageDirectory": str(root / "storage"), "IndexDirectory": str(root / "index"),
              "DicomAet": "ORTHANC", "DicomPort": port, "HttpPort": http, "RemoteAccessAllowed": False,
              "AuthenticationEnabled": False, "DicomCheckCalledAet": False, "Plugins": [],
              "StorageCompression": False}
    root.mkdir()
    (root / "orthanc.json").write_text(json.dumps(config))
    proc = subprocess.Popen([shutil.which("Orthanc") or "/usr/sbin/Orthanc", str(root / "orthanc.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=NODELAY)
    try:
        wait_for_port(port, proc)
        wait_for_port(http, proc)
        yield proc, port, http
    finally:
        proc.terminate()
        proc.wait(60)


def orthanc_rest(http: int, path: str, body: object = None) -> Any:
    """One REST call to the Orthanc on `http`: GET, or POST of `body` as JSON; the decoded answer."""
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{http}{path}", data=data),
                                timeout=300) as answer:
        return json.load(answer)


def orthanc(files: list[str], work: Path) -> dict:
    with orthanc_server(work) as (_, port, http):
        seconds, code, err = send(files, port, "ORTHANC")
        stored = orthanc_rest(http, "/statistics")["CountInstances"]
    return result("orthanc", seconds, code, err, stored, version=orthanc_version())


def orthanc_version() -> str:
    out = subprocess.run([shutil.which("Orthanc") or "/usr/sbin/Orthanc", "--version"], capture_output=True,
                         text=True)
    return (out.stdout.splitlines() or ["?"])[0]


def storescp(files: list[str], work: Path) -> dict:
    port = free_port()
    out = work / "storescp"
    out.mkdir()
    proc = subprocess.Popen([dcmtk("storescp"), "+xa", "-aet", "STORESCP", "-od", str(out), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=NODELAY)
    try:
        wait_for_port(port, proc)
        seconds, code, err = send(files, port, "STORESCP")
    finally:
        proc.terminate()
        proc.wait(30)
    return result("dcmtk storescp", seconds, code, err, sum(1 for _ in out.iterdir()))


def synthetic(instances: int) -> list[Path]:
    sys.path.insert(0, str(REPO))
    from bench.synth import generate

    folder = REPO / "bench" / "out" / f"synth{instances}"
    generate(folder, instances=instances, seed=0, workers=2)
    return [folder]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--synth", type=int, help="N synthetic files (bench/synth.py, seed 0) instead of PATHs")
    parser.add_argument("--neo4j", help="Bolt URI of a scratch Neo4j (default: a fresh embedded graph)")
    parser.add_argument("--store-dir", choices=("both", "yes", "no"), default="both",
                        help="ours with --store-dir, without, or both (default)")
    parser.add_argument("--orthanc", action="store_true", help="Orthanc too (apt-get install orthanc)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    files = part10_files(synthetic(args.synth) if args.synth else args.paths or [DEFAULT])
    if not files:
        sys.exit("bench/listen.py: no Part 10 files under " + " ".join(map(str, args.paths)))
    store_dirs = {"both": (False, True), "yes": (True,), "no": (False,)}[args.store_dir]
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-listen-") as tmp:
            work = Path(tmp)
            run = {"orthanc": orthanc(files, work)} if args.orthanc else {}
            run["storescp"] = storescp(files, work)
            for store_dir in store_dirs:
                run[f"ours{'+store_dir' if store_dir else ''}"] = ours(files, args.neo4j, store_dir, work)
            if "orthanc" in run:
                base = run["orthanc"]["instances_per_s"] or 1
                run["ratio_to_orthanc"] = {k: round(v["instances_per_s"] / base, 3)
                                           for k, v in run.items() if k.startswith("ours")}
            runs.append(run)
    print(json.dumps({"bench": "listen", "files": len(files),
                      "bytes": sum(os.path.getsize(f) for f in files), "host": platform.node(),
                      "cpus": os.cpu_count(), "runs": runs}))


if __name__ == "__main__":
    main()
