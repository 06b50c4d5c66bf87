"""The embedded store's prewarm: the graph file in the OS page cache, checked page by page with mincore(2)."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import sys
from pathlib import Path

import pytest

from dicom_graph.model.store import open_store
from dicom_graph.model.store import page_cache

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore and MemAvailable are Linux's")


def resident_share(path: Path) -> float:
    """Share of the file's pages in the page cache (mincore on a private mapping of it)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        vector = (ctypes.c_ubyte * pages)()
        address = ctypes.c_void_p(ctypes.addressof(ctypes.c_char.from_buffer(mapped)))
        if libc.mincore(address, ctypes.c_size_t(size), vector) != 0:
            raise OSError(ctypes.get_errno(), "mincore")
        return sum(v & 1 for v in vector) / pages


def evict(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


@pytest.fixture()
def graph(tmp_path: Path) -> Path:
    path = tmp_path / "graph.db"
    open_store(db=str(path), read_only=False, create=True).close()
    return path


def test_prewarm_puts_every_page_of_the_graph_file_in_the_page_cache(graph: Path) -> None:
    evict(graph)
    before = resident_share(graph)
    if before > 0.5:
        pytest.skip(f"this file system keeps the file in memory whatever is asked ({before:.0%} resident)")
    with open_store(db=str(graph)) as store:
        warmer = store.prewarm()
        assert warmer is not None
        warmer.join(60)
    assert not warmer.is_alive() and warmer.error is None
    assert warmer.read == graph.stat().st_size
    assert resident_share(graph) == 1.0


def test_a_graph_too_large_for_the_memory_left_is_not_read(graph: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    size = graph.stat().st_size
    monkeypatch.setattr(page_cache, "available_memory", lambda: 2 * size - 1)  # the file is over half of it
    assert page_cache.warm(graph) is None
    monkeypatch.setattr(page_cache, "available_memory", lambda: 2 * size)
    warmer = page_cache.warm(graph)
    assert warmer is not None
    warmer.join(60)
    assert warmer.read == size
    monkeypatch.setattr(page_cache, "available_memory", lambda: None)  # the OS does not say: do nothing
    assert page_cache.warm(graph) is None
    assert page_cache.warm(graph.with_name("absent.db")) is None


def test_the_os_says_how_much_memory_is_available() -> None:
    available = page_cache.available_memory()
    assert available is not None and available > 0
