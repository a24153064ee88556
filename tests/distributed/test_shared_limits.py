"""Provider limits and breakers shared by every process of a distributed deployment: real Celery
workers against the emulator (which counts what reaches the provider), and racing processes on
the Redis backend."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
import redis

from emulators import Scenario, start_emulator
from foundation.settings import get_settings
from pipeline.celery_app import CeleryRunner
from pipeline.context import RunContext
from pipeline.planning import create_job
from tests.distributed.cluster import ROOT, Cluster
from tests.pipeline.conftest import tiny_board

RPM_MODEL = "kling/v3-std"
WINDOW_S = 60.0


def _pinned_board(title: str, count: int) -> Any:
    shots = [
        {"id": f"s{n}", "prompt": f"a kite over a beach, take {n}", "duration": 1,
         "model": RPM_MODEL}
        for n in range(count)
    ]  # fmt: skip
    return tiny_board(*shots, title=title)


def _windows_ok(arrivals: list[float], limit: int) -> bool:
    """No ``limit + 1`` arrivals inside any 60 s window (10 ms for the two clocks' rates)."""
    times = sorted(arrivals)
    return all(times[i + limit] - times[i] >= WINDOW_S - 0.01 for i in range(len(times) - limit))


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.services
def test_three_workers_never_pass_the_models_requests_per_minute(
    tmp_path, fresh_postgres_url, redis_url, isolated_queues, monkeypatch
):
    registry = tmp_path / "models.yaml"
    registry.write_text(f"models:\n  - id: {RPM_MODEL}\n    limits: {{concurrency: 10, rpm: 6}}\n")
    env = {
        "SHOTLINE_DATABASE_URL": fresh_postgres_url,
        "SHOTLINE_BROKER_URL": redis_url,
        "SHOTLINE_DATA_DIR": str(tmp_path / "data"),
        "SHOTLINE_REGISTRY": str(registry),
        "SHOTLINE_ENGINE": "celery",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    ctx = RunContext.create("emulated", get_settings())
    jobs = [
        create_job(ctx, _pinned_board("rpm a", 4), output=tmp_path / "a.mp4"),
        create_job(ctx, _pinned_board("rpm b", 3), output=tmp_path / "b.mp4"),
    ]
    scenario = Scenario.model_validate({"seed": 3, "media": {"max_side": 160}})
    with (
        start_emulator(scenario) as emulator,
        Cluster(
            tmp_path / "data", fresh_postgres_url, redis_url, isolated_queues,
            SHOTLINE_EMULATOR_URL=emulator.base_url, SHOTLINE_REGISTRY=str(registry),
        ) as cluster,
    ):  # fmt: skip
        for name in ("w1", "w2", "w3"):
            cluster.worker(name, concurrency=2, beat=name == "w1")
        for name in ("w1", "w2", "w3"):
            cluster.wait_ready(name, timeout=240)
        runner = CeleryRunner(ctx)
        for job_id in jobs:
            runner.submit(job_id)
        provider_model = ctx.registry.get(RPM_MODEL).provider_model
        deadline = time.monotonic() + 100

        def arrivals() -> list[float]:
            return list(emulator.stats()["submitted_at"].get(provider_model, []))

        while len(arrivals()) < 7 and time.monotonic() < deadline:
            time.sleep(0.2)
        seen = arrivals()
        logs = "".join(cluster.log(name) for name in ("w1", "w2", "w3"))
    assert len(seen) >= 7, f"only {len(seen)} submissions arrived\n{logs}"
    assert _windows_ok(seen, 6), sorted(t - min(seen) for t in seen)
    assert sorted(seen)[6] - min(seen) < WINDOW_S + 15  # the 7th went as soon as it could


# --- concurrency: a hard limit across processes -------------------------------------------------


RACER = """
import sys, time
import redis
from pipeline.shared_limits import RedisLimits

url, prefix, name, rounds, racers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
limits = RedisLimits.from_url(url, prefix)
client = redis.Redis.from_url(url)
client.incr(prefix + "ready")
while int(client.get(prefix + "ready")) < racers:  # start together: imports take their time
    time.sleep(0.01)
for index in range(rounds):
    holder = f"{name}-{index}"
    while not limits.try_acquire("m", holder, 3, 30):
        time.sleep(0.001)
    inside = client.incr(prefix + "inside")
    if inside > 3:
        client.rpush(prefix + "over", inside)
    client.rpush(prefix + "done", holder)
    time.sleep(0.002)
    client.decr(prefix + "inside")
    limits.release("m", holder)
"""


@pytest.mark.serial
@pytest.mark.services
def test_racing_processes_never_hold_more_slots_than_the_limit(redis_url):
    """Each racer counts itself in while it holds a slot; none ever sees more than the limit."""
    prefix, racers, rounds = f"t-{uuid.uuid4().hex}:", 6, 30
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, redis_url, prefix, f"p{n}", str(rounds), str(racers)],
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )
        for n in range(racers)
    ]
    client = redis.Redis.from_url(redis_url)
    try:
        assert [p.wait(timeout=240) for p in processes] == [0] * racers
        assert client.llen(f"{prefix}done") == racers * rounds
        assert client.lrange(f"{prefix}over", 0, -1) == []
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
