"""End to end on the distributed engine: the API, two workers and the emulator; one worker is
SIGKILLed mid-flight and restarted. Every job completes, no attempt reaches a provider twice, and
the ledger reconciles to the cent. A kill between a create and its stored job id, on a provider
with no way to look the create up, holds the shot for the operator (pipeline/recovery.py); the
test resolves it as ``shotline resolve`` would, and the job completes."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from api import auth
from emulators import EmulatorHandle, Scenario, start_emulator
from foundation.settings import get_settings
from pipeline import recovery
from pipeline.context import RunContext
from store.db import session_scope
from store.models import Attempt, Job, LedgerEntry
from tests import web
from tests.api.conftest import free_port
from tests.distributed.cluster import Cluster
from tests.e2e.crash import operator_findings

JOBS = 8
PROMPTS = ("a red kite over a beach", "a lighthouse in a storm at dusk")


def _storyboard(index: int) -> dict[str, object]:
    return {
        "title": f"loss {index}",
        "mode": "preview",
        "output": {"size": "160x90", "fps": 24},
        "scenes": [
            {
                "id": "s",
                "shots": [
                    {"id": f"shot{n}", "prompt": f"{prompt}, take {index}", "duration": 1}
                    for n, prompt in enumerate(PROMPTS)
                ],
            }
        ],
    }


def _submitted(url: str) -> int:
    with session_scope(url) as session:
        count = session.scalar(select(func.count()).where(Attempt.provider_job_id.is_not(None)))
    return int(count or 0)


def _wait_resolving(
    cluster: Cluster, ids: list[str], emulator: EmulatorHandle, ctx: RunContext, timeout: float
) -> dict[str, str]:
    """Wait for every job to end, resolving held creates as the operator would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for attempt_id, _, found in operator_findings(ctx.db_url, emulator):
            recovery.resolve(ctx, attempt_id, found)
        statuses = cluster.statuses(ids)
        if all(s in ("delivered", "failed", "cancelled") for s in statuses.values()):
            return statuses
        time.sleep(0.5)
    return cluster.statuses(ids)


def _cents(value: float) -> int:
    return round(value * 100)


@pytest.mark.slow
@pytest.mark.serial("cluster")
@pytest.mark.services
def test_sigkill_of_a_worker_loses_no_job_and_pays_nothing_twice(
    tmp_path, fresh_postgres_url, redis_url, isolated_queues, monkeypatch
):
    scenario = Scenario.model_validate(
        {"seed": 5, "media": {"max_side": 160},
         "defaults": {"latency": {"dist": "lognormal", "seconds": 0.6, "sigma": 0.4}}}
    )  # fmt: skip
    key = auth.create_key(fresh_postgres_url, "acme")
    monkeypatch.setenv("SHOTLINE_DATABASE_URL", fresh_postgres_url)
    get_settings.cache_clear()
    operator = RunContext.create("emulated", get_settings())
    with (
        start_emulator(scenario) as emulator,
        Cluster(
            tmp_path / "data",
            fresh_postgres_url,
            redis_url,
            isolated_queues,
            SHOTLINE_EMULATOR_URL=emulator.base_url,
        ) as cluster,
    ):
        url = f"http://127.0.0.1:{free_port()}"
        cluster.api(int(url.rsplit(":", 1)[1]))
        cluster.worker("w1", concurrency=2)
        cluster.worker("w2", concurrency=2, beat=True)
        cluster.wait_healthy(url)
        headers = {"Authorization": f"Bearer {key}"}
        ids = []
        for index in range(JOBS):
            response = web.post(
                f"{url}/v1/jobs", json={"storyboard": _storyboard(index)}, headers=headers
            )
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        deadline = time.monotonic() + 120
        while _submitted(fresh_postgres_url) < JOBS // 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        cluster.kill("w1")
        unfinished = [s for s in cluster.statuses(ids).values() if s != "delivered"]
        assert unfinished, "the kill must land mid-flight"
        time.sleep(1.0)
        cluster.worker("w1", concurrency=2)
        statuses = _wait_resolving(cluster, ids, emulator, operator, timeout=300)
        assert set(statuses.values()) == {"delivered"}, cluster.stuck(ids)
        stats = emulator.stats()
        for name in ("w1", "w2", "api"):
            assert "ERROR" not in cluster.log(name, tail=None), cluster.log(name)
    with session_scope(fresh_postgres_url) as session:
        submitted = session.scalar(select(func.count()).where(Attempt.provider_job_id.is_not(None)))
        settled = session.scalar(select(func.coalesce(func.sum(Attempt.settled_usd), 0.0)))
        by_kind = dict(
            session.execute(
                select(LedgerEntry.kind, func.sum(LedgerEntry.amount_usd)).group_by(
                    LedgerEntry.kind
                )
            ).all()
        )
        spent = session.scalar(select(func.sum(Job.spent_usd)).where(Job.id.in_(ids)))
        reserved = session.scalar(select(func.sum(Job.reserved_usd)).where(Job.id.in_(ids)))
    # every job a provider created is an attempt's: nothing was created twice or left unaccounted
    assert sum(stats["accepted"].values()) == submitted, stats
    assert _cents(by_kind["settle"]) == _cents(settled or 0.0)
    assert _cents(by_kind["reserve"]) == -_cents(by_kind["release"])
    assert _cents(spent or 0.0) == _cents(by_kind["settle"] + by_kind.get("judge", 0.0))
    assert _cents(reserved or 0.0) == 0
