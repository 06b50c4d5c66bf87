"""What the listener tests (tests/test_listener_*.py) share: the listener as a subprocess and its peers.

The listener runs as a subprocess (`dicom-graph listen`) on a free port, on either engine. dcmtk's echoscu
and storescu (Debian package dcmtk; .ci/run installs it) send ../shared/corpus files; pynetdicom SCUs play
the modality (MPPS, storage commitment) and the intruder. Then the listener is stopped with SIGTERM and
the graph is checked. Without dcmtk the tests skip (in CI, CI=true, they fail). Note that pynetdicom
installs console scripts named `storescu` / `echoscu` too: the dcmtk binaries are recognised by their
`--version` text.

Nothing here sleeps for a fixed time: the listener is ready when it prints its "listening on" line, an
MPPS or commitment message is in the graph once its response has come back (each is committed before it
is answered), a stored instance is polled for (`Listening.eventually`: it is answered once spooled and
written within a bounded delay), and a report is waited for as an event; every wait is bounded.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomFileLike
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID, ExplicitVRLittleEndian, SecondaryCaptureImageStorage
from pynetdicom import AE

from dicom_graph.model.store import GraphStore, open_store

from .conftest import make_store, neo4j_uri

IMAGES = ("ihe-iheos-toolkit2", "IDS-DEPT002-a", "images")  # 36 MR images, two series
HOST, CALLED = "127.0.0.1", "DICOMGRAPH"
# the stated bound (0.5 s window + one batch write) with room for a `query` process start on 2 busy cores
VISIBLE_S = 15.0


def dcmtk(tool: str) -> str:
    """Path of a dcmtk tool (not pynetdicom's namesake); skip, or fail in CI, when there is none."""
    candidates = [f"/usr/bin/{tool}", shutil.which(tool)]
    for path in candidates:
        if path and os.path.exists(path):
            try:
                out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if "dcmtk" in (out.stdout + out.stderr).lower():
                return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but dcmtk's {tool} is not installed (.ci/run installs the dcmtk package)")
    pytest.skip(f"needs dcmtk's {tool} (apt-get install dcmtk)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cli() -> list[str]:
    return [sys.executable, "-c", "from dicom_graph.app import main; main()"]


class Listening:
    """`dicom-graph listen` as a subprocess; `stop()` sends SIGTERM and returns the exit status."""

    def __init__(self, engine: str, graph_args: list[str], extra: list[str], env: dict[str, str]) -> None:
        self.engine, self.graph_args, self.env = engine, graph_args, env
        self.port = free_port()
        self.proc = subprocess.Popen(
            cli() + ["listen", "--port", str(self.port), "--host", HOST, *extra, *graph_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        ready = threading.Event()

        def pump(stream: IO[str], sink: list[str], flag: bool) -> None:
            for line in stream:
                sink.append(line)
                if flag and line.startswith("listening on"):
                    ready.set()

        threading.Thread(target=pump, args=(self.proc.stdout, self.stdout, True), daemon=True).start()
        threading.Thread(target=pump, args=(self.proc.stderr, self.stderr, False), daemon=True).start()
        deadline = time.monotonic() + 60
        while not ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"listener did not start:\n{''.join(self.stderr)}")

    def query(self, cypher: str) -> list[dict]:
        """`dicom-graph query` in another process, while the listener holds the graph."""
        out = subprocess.run(cli() + ["query", cypher, "-f", "json", *self.graph_args], capture_output=True,
                             text=True, env=self.env, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def eventually(self, cypher: str, expected: list[dict], within: float = VISIBLE_S) -> list[dict]:
        """`query` until it answers `expected` or `within` seconds have passed; the last answer."""
        deadline = time.monotonic() + within
        while True:
            rows = self.query(cypher)
            if rows == expected or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("listener did not stop on SIGTERM") from None

    def log(self) -> str:
        return "".join(self.stderr)

    def reader(self) -> GraphStore:
        """The graph, read-only, once the listener has stopped."""
        if self.engine == "embedded":
            return open_store(db=self.graph_args[1], read_only=True)
        return open_store(neo4j=self.graph_args[1], read_only=True)

    def send(self, tool: str, title: str, *args: str, timeout: float = 300,
             called: str = CALLED) -> subprocess.CompletedProcess:
        """A dcmtk tool calling the listener (as `called`) as `title`."""
        return subprocess.run([dcmtk(tool), "-aet", title, "-aec", called, HOST, str(self.port), *args],
                              capture_output=True, text=True, timeout=timeout)

    def associate(self, ae: AE, **kwargs: Any) -> Any:
        """A pynetdicom association from `ae` to the listener."""
        return ae.associate(HOST, self.port, ae_title=CALLED, **kwargs)


@contextmanager
def listening(engine: str, tmp_path: Path, *extra: str) -> Iterator[Listening]:
    """A listener on an empty graph of the engine; on leaving, it must stop on SIGTERM with status 0."""
    env = dict(os.environ)
    if engine == "embedded":
        env.pop("NEO4J_URI", None)
        graph_args = ["--db", str(tmp_path / "listen.db")]
    else:
        make_store(engine, tmp_path).close()  # empties the shared Neo4j
        graph_args = ["--neo4j", str(neo4j_uri())]
    listener = Listening(engine, graph_args, list(extra), env)
    try:
        yield listener
    except BaseException:
        listener.stop()
        raise
    code = listener.stop()
    assert code == 0, listener.log()


def images(corpus: Path) -> tuple[list[Path], list[Dataset]]:
    """The 36 MR images of two series, as files and as their datasets (without pixels)."""
    files = sorted(corpus.joinpath(*IMAGES).glob("*.dcm"))
    assert len(files) == 36
    return files, [dcmread(f, stop_before_pixels=True) for f in files]


def store_all(listener: Listening, files: list[Path]) -> None:
    """Every file over one storescu association (dcmtk, the real peer)."""
    run = listener.send("storescu", "STORESCU", *map(str, files))
    assert run.returncode == 0, run.stderr + listener.log()


def scu(title: str) -> AE:
    ae = AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    return ae


def references(pairs: list[tuple[str, str]]) -> list[Dataset]:
    """Referenced SOP Sequence items: (SOP class, SOP instance) each."""
    items = []
    for cls, uid in pairs:
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = UID(cls), UID(uid)
        items.append(ref)
    return items


def part10(path: Path, body: bytes, sop_uid: str) -> Path:
    """A Part 10 file with the given (possibly broken) dataset bytes, explicit VR little endian."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    buffer.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(DicomFileLike(buffer), meta)
    buffer.write(body)
    path.write_bytes(buffer.getvalue())
    return path


def good_body(sop_uid: str) -> bytes:
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.PatientID = "BROKEN"
    ds.StudyInstanceUID = "1.2.3.999.1"
    ds.SeriesInstanceUID = "1.2.3.999.1.1"
    ds.Modality = "OT"
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=False, little_endian=True, enforce_file_format=False)
    return buffer.getvalue()
