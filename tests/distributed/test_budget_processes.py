"""Budget reservations stay atomic across processes on PostgreSQL: four processes with eight
threads each race for 200 reservations against a budget that fits ten; exactly ten get in."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from store.db import session_scope
from store.models import Job, LedgerEntry
from tests.ledger.test_budget import FITS, QUOTE, _reserve, _seed

PROCESSES = 4


def _contend(url: str, ids: list[int], barrier: Any, results: Any) -> None:
    barrier.wait(timeout=60)
    with ThreadPoolExecutor(8) as pool:
        results.put(sum(pool.map(lambda attempt_id: _reserve(url, attempt_id), ids)))


@pytest.mark.services
@pytest.mark.serial("cluster")
def test_reservations_race_from_several_processes(fresh_postgres_url):
    ids = _seed(fresh_postgres_url, 200)
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(PROCESSES), spawn.Queue()
    workers = [
        spawn.Process(
            target=_contend, args=(fresh_postgres_url, ids[n::PROCESSES], barrier, results)
        )
        for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    admitted = sum(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    with session_scope(fresh_postgres_url) as session:
        job = session.get_one(Job, "job1")
        reserves = session.query(LedgerEntry).filter_by(kind="reserve").count()
    assert admitted == FITS
    assert reserves == FITS
    assert job.reserved_usd == pytest.approx(QUOTE * FITS)
