"""The real dashboard in a real browser: `streamlit run` on a free port, every page rendered in headless
Chromium (Debian's `chromium`, installed by .ci/run), no exception or error element on any page, and a
full-page PNG screenshot per page kept under tests/artifacts/ (a CI artifact, not committed). Each page
must finish its script run (no skeleton), show no exception box, no error, no dialog (Streamlit's "Page
not found" is one), and draw something in its main area besides its title.

Chromium is driven over the DevTools protocol with the `websockets` client (a Streamlit dependency), so no browser
download and no extra package are needed. Without chromium the test skips,
except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from dicom_graph.dashboard import graph as dashboard_graph

from .conftest import SHARED

APP = Path(dashboard_graph.__file__).resolve().parent / "app.py"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PAGES = ["overview", "standard", "data", "conformance", "pointers", "network", "cypher"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1440,1800"]

pytestmark = pytest.mark.browser


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but chromium is not installed (.ci/run installs Debian's chromium)")
    pytest.skip("needs a chromium binary (apt-get install chromium)")
    raise AssertionError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


class DevTools:
    """A minimal DevTools-protocol client for one page, over the `websockets` package (a Streamlit
    dependency)."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.conn = connect(ws_url, max_size=256 * 1024 * 1024, open_timeout=30)
        self.next_id = 0

    def call(self, method: str, timeout: float = 60, **params):
        self.next_id += 1
        ident = self.next_id
        self.conn.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            data = json.loads(self.conn.recv(timeout=max(0.1, deadline - time.monotonic())))
            if data.get("id") == ident:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(scope="module")
def graph_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The standard plus real DICOM: ../shared/corpus when present, else pydicom's bundled test files."""
    from dicom_graph.commands.demo import sample_dirs
    from dicom_graph.loader.ingest import run_ingest
    from dicom_graph.loader.standard.load import load_standard
    from dicom_graph.model.store import open_store

    tmp = tmp_path_factory.mktemp("browser")
    corpus = SHARED / "corpus"
    sources = [str(corpus)] if corpus.is_dir() else [str(d) for d in sample_dirs()]
    path = str(tmp / "graph.db")
    with open_store(path, read_only=False, create=True) as store:
        load_standard(store)
        run_ingest(store, sources, workers=2, progress=False, report_path=str(tmp / "rejects.jsonl"))
    return path


@pytest.fixture(scope="module")
def server(graph_db: str):
    port = free_port()
    env = {**os.environ, "DICOM_GRAPH_DB": graph_db}
    env.pop("NEO4J_URI", None)
    log = open(Path(graph_db).with_suffix(".streamlit.log"), "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/_stcore/health", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process, 15)
        log.close()


def stop(process: subprocess.Popen, timeout: float) -> None:
    """Terminate, and kill what does not exit in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser():
    binary = chromium()
    profile = tempfile.mkdtemp(prefix="dicom-graph-chromium-")
    process = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                "--remote-debugging-port=0", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        ws = None
        while time.monotonic() < deadline and ws is None:
            line = process.stderr.readline()
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                ws = match.group(1)
            elif not line and process.poll() is not None:
                break
        if ws is None:
            pytest.fail("chromium did not start its DevTools endpoint")
        port = re.search(r":(\d+)/", ws).group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            pages = [t for t in json.load(response) if t.get("type") == "page"]
        tools = DevTools(pages[0]["webSocketDebuggerUrl"])
        tools.call("Page.enable")
        yield tools
        tools.close()
    finally:
        stop(process, 10)
        shutil.rmtree(profile, ignore_errors=True)


SETTLED = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app ? app.getAttribute('data-test-script-state') : null;
  const title = document.querySelector('[data-testid="stMain"] h1');
  const skeleton = document.querySelector('[data-testid="stAppSkeleton"], [data-testid="stSkeleton"]');
  return JSON.stringify({state: state, title: title ? title.innerText : null, skeleton: !!skeleton});
})()"""

PROBLEMS = """JSON.stringify({
  exceptions: [...document.querySelectorAll('[data-testid="stException"]')].map(e => e.innerText.slice(0, 500)),
  errors: [...document.querySelectorAll('[data-testid="stAlertContentError"]')].map(e => e.innerText.slice(0, 500)),
  dialogs: [...document.querySelectorAll('[role="dialog"], [data-testid="stDialog"]')]
    .map(e => e.innerText.slice(0, 500)),
  // what the page shows below its title: elements Streamlit drew (tables, charts, metrics, text)
  shown: [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stElementContainer"]')]
    .filter(e => e.getBoundingClientRect().height > 0 && !e.querySelector('h1')
      && (e.innerText.trim() || e.querySelector('canvas, svg, table, img'))).length,
})"""


def render(browser: DevTools, url: str, timeout: float = 60) -> tuple[dict, float]:
    started = time.monotonic()
    browser.call("Page.navigate", url=url)
    deadline = started + timeout
    seen_running = False
    state: dict = {}
    while time.monotonic() < deadline:
        time.sleep(0.25)
        state = json.loads(browser.evaluate(SETTLED) or "{}")
        seen_running = seen_running or state.get("state") == "running"
        if state.get("state") == "notRunning" and state.get("title") and not state.get("skeleton"):
            time.sleep(1.0)  # charts (vega) draw after the script has finished
            return state, time.monotonic() - started
    raise TimeoutError(f"{url} did not finish rendering in {timeout:.0f} s (last state {state})")


def test_every_page_in_headless_chromium(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    timings = {}
    # `/` opens the Overview too (the address `dicom-graph dashboard` prints)
    for page, address in [("overview", ""), *((p, p) for p in PAGES)]:
        state, elapsed = render(browser, f"{server}/{address}")
        timings[address or "/"] = round(elapsed, 2)
        problems = json.loads(browser.evaluate(PROBLEMS))
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        (ARTIFACTS / f"dashboard-{address or 'root'}.png").write_bytes(base64.b64decode(shot["data"]))
        assert not problems["exceptions"], (page, problems["exceptions"])
        assert not problems["errors"], (page, problems["errors"])
        # a dialog no page opens on its own: Streamlit's "Page not found" (an address the app does not serve)
        assert not problems["dialogs"], (page, problems["dialogs"])
        assert problems["shown"] >= 1, (page, "the main area shows nothing but its title")
        assert state["title"].strip().lower() == page, state
    (ARTIFACTS / "dashboard-browser-timings.json").write_text(json.dumps(timings, indent=1))


CLICK_IOD = """(() => {
  const b = [...document.querySelectorAll('[data-testid="stMain"] button')].find(b => b.innerText.trim() === 'IOD');
  if (b) b.click();
  return !!b;
})()"""
# the chart's SVG (vega renders to SVG here) and the box of every node label in it, in page pixels
LABELS = """JSON.stringify([...document.querySelectorAll('[data-testid="stMain"] .vega-embed svg.marks')].map(svg => {
  const box = r => ({x0: r.left, y0: r.top, x1: r.right, y1: r.bottom});
  return {chart: box(svg.getBoundingClientRect()),
          labels: [...svg.querySelectorAll('.mark-text text')].filter(t => t.textContent.trim())
            .map(t => ({text: t.textContent, ...box(t.getBoundingClientRect())}))};
}))"""


def overlap(a: dict, b: dict) -> float:
    return max(0.0, min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])) * \
        max(0.0, min(a["y1"], b["y1"]) - max(a["y0"], b["y0"]))


def test_the_iod_neighbourhood_draws(server, browser):
    """The Standard page's IOD view (PS3.3 Figure 6-1 for CT Image): every node label is inside the chart
    and none is drawn over another (the boxes the browser laid the text out in), nothing wrong on the page."""
    render(browser, f"{server}/standard")
    assert browser.evaluate(CLICK_IOD), "the Standard page has no IOD view button"
    deadline = time.monotonic() + 60
    charts: list = []
    while time.monotonic() < deadline and not any(c["labels"] for c in charts):
        time.sleep(0.5)
        state = json.loads(browser.evaluate(SETTLED) or "{}")
        charts = json.loads(browser.evaluate(LABELS)) if state.get("state") == "notRunning" else []
    time.sleep(1.0)  # let vega finish drawing
    charts = json.loads(browser.evaluate(LABELS))
    problems = json.loads(browser.evaluate(PROBLEMS))
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard-standard-iod.png").write_bytes(base64.b64decode(shot["data"]))
    assert not problems["exceptions"] and not problems["errors"] and not problems["dialogs"], problems
    chart = next(c for c in charts if c["labels"])
    labels, frame = chart["labels"], chart["chart"]
    assert len(labels) >= 20, labels  # CT Image: service class, SOP class, IOD, 7 entities, ~28 modules
    clipped = [t["text"] for t in labels if t["x0"] < frame["x0"] - 1 or t["x1"] > frame["x1"] + 1
               or t["y0"] < frame["y0"] - 1 or t["y1"] > frame["y1"] + 1]
    assert not clipped, f"labels outside the chart: {clipped}"
    crowded = [(a["text"], b["text"]) for i, a in enumerate(labels) for b in labels[i + 1:] if overlap(a, b) > 4]
    assert not crowded, f"labels drawn over each other: {crowded[:5]}"
