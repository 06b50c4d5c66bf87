"""`dicom-graph standard fetch` against a real HTTP server (http.server in a thread) serving NEMA's
DocBook files from ../shared/standard-docbook as NEMA lays them out (<edition>/source/docbook/partNN/),
plus a truncated part, a part of another edition, and an address nobody listens on."""

from __future__ import annotations

import functools
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import shared_path

EDITION = "2016c"


def _lay_out(root: Path, edition: str, files: dict[int, bytes]) -> None:
    for part, data in files.items():
        folder = root / edition / "source" / "docbook" / f"part{part:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part{part:02d}.xml").write_bytes(data)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    subset = shared_path("standard-docbook", "2016c-subset")
    old = shared_path("standard-docbook", "2013")
    root = tmp_path_factory.mktemp("nema")
    whole = {n: (subset / f"part{n:02d}.xml").read_bytes() for n in (3, 4, 6)}
    _lay_out(root, EDITION, whole)
    _lay_out(root, "2016d", {3: whole[3][: len(whole[3]) // 2], 4: whole[4], 6: whole[6]})  # cut mid-file
    _lay_out(root / "wrong", EDITION, {3: whole[3], 4: (old / "part04.xml").read_bytes(), 6: whole[6]})  # 2013's PS3.4
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DICOM_GRAPH_CACHE": str(tmp_path / "cache")}
    env.pop("DICOM_GRAPH_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "dicom_graph", *args], capture_output=True, text=True,
                          timeout=600, env=env)


def _one_line_error(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 1, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    return lines[0]


def test_fetch_downloads_verifies_and_loads(server: str, tmp_path: Path) -> None:
    db = tmp_path / "graph.db"
    run = _cli(tmp_path, "standard", "fetch", "--edition", EDITION, "--base-url", server, "--db", str(db))
    assert run.returncode == 0, run.stderr
    assert "verified: DICOM PS3.3 2016c, DICOM PS3.4 2016c, DICOM PS3.6 2016c" in run.stderr
    for n in (3, 4, 6):
        cached = tmp_path / "cache" / "docbook" / EDITION / f"part{n:02d}.xml"
        assert cached.read_bytes() == (shared_path("standard-docbook", "2016c-subset") / cached.name).read_bytes()
    query = ("MATCH (:IOD {key: 'ct-image'})-[r:INCLUDES]->(m:Module {key: 'contrast-bolus'}) "
             "RETURN r.usage AS usage, r.condition AS condition, m.source AS source")
    rows = json.loads(_cli(tmp_path, "query", query, "--db", str(db), "--format", "json").stdout)
    assert rows and rows[0]["usage"] == "C" and "contrast" in rows[0]["condition"].lower()
    assert "2016c" in rows[0]["source"]


def test_a_dated_edition_comes_from_the_cache_once_fetched(server: str, tmp_path: Path) -> None:
    first = _cli(tmp_path, "standard", "fetch", "--edition", EDITION, "--base-url", server, "--part", "4",
                 "--db", str(tmp_path / "a.db"))
    assert first.returncode == 0, first.stderr
    unreachable = f"http://127.0.0.1:{_closed_port()}"
    again = _cli(tmp_path, "standard", "fetch", "--edition", EDITION, "--base-url", unreachable, "--part", "4",
                 "--db", str(tmp_path / "b.db"))
    assert again.returncode == 0, again.stderr
    assert "verified: DICOM PS3.4 2016c" in again.stderr


def test_a_truncated_part_is_one_line_and_loads_nothing(server: str, tmp_path: Path) -> None:
    db = tmp_path / "graph.db"
    line = _one_line_error(_cli(tmp_path, "standard", "fetch", "--edition", "2016d", "--base-url", server,
                                "--db", str(db)))
    assert "part03.xml is not well-formed XML" in line
    assert not db.exists()  # nothing loaded: the graph was never opened
    assert not (tmp_path / "cache" / "docbook" / "2016d" / "part03.xml").exists()


def test_a_part_of_another_edition_is_refused(server: str, tmp_path: Path) -> None:
    line = _one_line_error(_cli(tmp_path, "standard", "fetch", "--edition", EDITION, "--base-url",
                                f"{server}/wrong", "--db", str(tmp_path / "graph.db")))
    assert "part04.xml is edition 2013, not the 2016c asked for" in line
    assert not list((tmp_path / "cache" / "docbook" / EDITION).glob("*.xml"))  # all or nothing: not part03 either


def test_an_unknown_edition_and_an_unreachable_server_are_one_line(server: str, tmp_path: Path) -> None:
    missing = _one_line_error(_cli(tmp_path, "standard", "fetch", "--edition", "2099a", "--base-url", server))
    assert "HTTP 404" in missing
    offline = _one_line_error(_cli(tmp_path, "standard", "fetch", "--base-url",
                                   f"http://127.0.0.1:{_closed_port()}", "--db", str(tmp_path / "graph.db")))
    assert "cannot download" in offline and "no internet?" in offline
    assert "an edition is 'current'" in _one_line_error(_cli(tmp_path, "standard", "fetch", "--edition", "../x"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
