"""loader/ingest/pool.py with real worker processes: order, a worker killed mid-task, a file that kills every
worker that reads it, and an exit that follows a death (the CI hang of the executor it replaced)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from dicom_graph.loader.ingest.pool import OrderedPool

from . import pool_work

REPO = Path(__file__).resolve().parents[1]


def _map(chunks: list[list[int]], lethal: set[int], flaky_dir: Path, ahead: int = 3,
         workers: int = 2) -> tuple[list[list[tuple[int, int]]], int]:
    pool = OrderedPool(workers, pool_work.work, pool_work.died, pool_work.init, (lethal, str(flaky_dir)), ahead)
    try:
        return list(pool.map(chunks)), pool.deaths
    finally:
        pool.close()


def test_results_come_in_chunk_order_from_the_workers(tmp_path):
    chunks = [[3 * c + k for k in range(3)] for c in range(40)]
    results, deaths = _map(chunks, set(), tmp_path, ahead=2)
    assert [[item for item, _ in r] for r in results] == chunks
    assert all(pid > 0 for r in results for _, pid in r)
    assert len({pid for r in results for _, pid in r}) == 2  # both workers did work, none was replaced
    assert deaths == 0


def test_a_worker_killed_once_costs_nothing(tmp_path):
    chunks = [[1, 2], [3, -4, 5], [6]]
    results, deaths = _map(chunks, set(), tmp_path)
    assert [[item for item, _ in r] for r in results] == [[1, 2], [3, -4, 5], [6]]
    assert all(pid > 0 for r in results for _, pid in r)  # -4's chunk was parsed again, whole
    assert deaths == 1


def test_an_item_that_kills_every_worker_is_the_only_one_lost(tmp_path):
    chunks = [[1, 2], [3, 4, 5, 6], [7, 8]]
    results, deaths = _map(chunks, {5}, tmp_path)
    assert [[item for item, _ in r] for r in results] == [[1, 2], [3, 4, 5, 6], [7, 8]]
    assert [pid > 0 for _, pid in results[1]] == [True, True, False, True]  # 5 got died(5); its neighbours parsed
    assert deaths == 3  # with its chunk, with its chunk again, alone


def test_the_process_exits_after_a_worker_died(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from dicom_graph.loader.ingest.pool import OrderedPool
        from tests import pool_work
        pool = OrderedPool(2, pool_work.work, pool_work.died, pool_work.init, ({{7}}, {str(tmp_path)!r}), 4)
        out = [r for chunk in pool.map([[k, k + 1] for k in range(0, 40, 2)]) for r in chunk]
        pool.close()
        print(sum(1 for _, pid in out if pid == 0), len(out))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "40"]
