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
from tests import web
from tests.distributed.cluster import ROOT, Cluster
from tests.pipeline.conftest import tiny_board

RPM_MODEL = "kling/v3-std"
WINDOW_S = 10.0
"""The model's window (``limits.window_s`` in the registry; a minute by default): 6 requests per
10 s go through the same code as 6 per minute, the Lua script taking the window as an argument,
and the 7th arrival waits 10 s instead of a minute."""


def _pinned_board(title: str, count: int) -> Any:
    shots = [
        {"id": f"s{n}", "prompt": f"a kite over a beach, take {n}", "duration": 1,
         "model": RPM_MODEL}
        for n in range(count)
    ]  # fmt: skip
    return tiny_board(*shots, title=title)


def _windows_ok(arrivals: list[float], limit: int) -> bool:
    """No ``limit + 1`` arrivals inside any ``WINDOW_S`` window (10 ms for the two clocks' rates)."""
    times = sorted(arrivals)
    return all(times[i + limit] - times[i] >= WINDOW_S - 0.01 for i in range(len(times) - limit))


@pytest.mark.slow
@pytest.mark.serial  # beside the crash tests: the cluster group has the other long ones
@pytest.mark.services
def test_three_workers_never_pass_the_models_requests_per_minute(
    tmp_path, fresh_postgres_url, redis_url, isolated_queues, monkeypatch
):
    registry = tmp_path / "models.yaml"
    registry.write_text(
        f"models:\n  - id: {RPM_MODEL}\n"
        f"    limits: {{concurrency: 10, rpm: 6, window_s: {WINDOW_S}}}\n"
    )
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
            cluster.worker(name, concurrency=1, beat=name == "w1")
        for name in ("w1", "w2", "w3"):
            cluster.wait_ready(name, timeout=240)
        runner = CeleryRunner(ctx)
        for job_id in jobs:
            runner.submit(job_id)
        provider_model = ctx.registry.get(RPM_MODEL).provider_model
        deadline = time.monotonic() + 40 + WINDOW_S

        def arrivals() -> list[float]:
            return list(emulator.stats()["submitted_at"].get(provider_model, []))

        while len(arrivals()) < 7 and time.monotonic() < deadline:
            time.sleep(0.2)
        seen = arrivals()
        logs = "".join(cluster.log(name) for name in ("w1", "w2", "w3"))
    assert len(seen) >= 7, f"only {len(seen)} submissions arrived\n{logs}"
    offsets = [t - min(seen) for t in sorted(seen)]
    assert offsets[5] < WINDOW_S, offsets  # the window was full when the 7th asked: it had to wait
    assert _windows_ok(seen, 6), offsets
    assert offsets[6] < WINDOW_S + 8, offsets  # as soon as it could: not a second window later


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


@pytest.mark.serial("cluster")
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


# --- breakers: one worker's failures keep every process off the model ---------------------------

BROKEN = "runway/gen4.5"
FAIL_MARK = "stormfail"


def _one_shot(title: str, prompt: str, model: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"id": "s0", "prompt": prompt, "duration": 1}
    return {
        "title": title,
        "mode": "preview",
        "output": {"size": "160x90", "fps": 24},
        "scenes": [{"id": "s", "shots": [spec | ({"model": model} if model else {})]}],
    }


class Api:
    def __init__(self, url: str, key: str, operator: str) -> None:
        self.url, self.key, self.operator = url, key, operator

    def wait(self, cluster: Cluster) -> None:
        cluster.wait_healthy(self.url, timeout=240)

    def submit(self, board: dict[str, Any]) -> str:
        response = web.post(
            f"{self.url}/v1/jobs", json={"storyboard": board}, headers=self._auth(), timeout=30
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def health_of(self, model: str) -> tuple[str, str]:
        """The API's dry-run plan: (the primary of a plain shot, ``model``'s breaker state as
        shown for a shot pinned to it)."""
        plain = self._plan(_one_shot("plan", "a lighthouse at dusk"))[0]["model"]
        pinned = self._plan(_one_shot("plan", "a lighthouse at dusk", model))[0]
        assert pinned["model"] == model
        return str(plain), str(pinned["health"])

    def _plan(self, board: dict[str, Any]) -> list[dict[str, Any]]:
        response = web.post(
            f"{self.url}/v1/jobs:plan", json={"storyboard": board}, headers=self._auth(), timeout=30
        )
        assert response.status_code == 200, response.text
        return list(response.json()["shots"][0]["candidates"])

    def breaker_gauge(self, model: str) -> float:
        headers = {"Authorization": f"Bearer {self.operator}"}
        text = web.get(f"{self.url}/metrics", headers=headers, timeout=30).text
        line = next(
            x
            for x in text.splitlines()
            if x.startswith(f'shotline_breaker_state{{model="{model}"}}')
        )
        return float(line.rsplit(" ", 1)[1])

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def _pass_the_cooldown(redis_url: str, prefix: str, model: str) -> None:
    """Move the open breaker's opening back by its cooldown: as if the cooldown had passed."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        name = f"{prefix}shotline:limits:breaker:model:{model}"
        record = dict(client.hgetall(name))
        assert record["state"] == "open", record
        opened = float(record["opened_at"]) - float(record["cooldown"]) - 1
        client.hset(name, "opened_at", repr(opened))
    finally:
        client.close()


def _submissions(emulator: Any, provider_model: str) -> int:
    return int(emulator.stats()["submissions"].get(provider_model, 0))


@pytest.mark.slow
@pytest.mark.serial("cluster")
@pytest.mark.services
def test_a_breaker_opened_in_one_worker_keeps_every_process_off_the_model(
    tmp_path, fresh_postgres_url, redis_url, isolated_queues
):
    from api import auth
    from registry import load_registry
    from tests.api.conftest import free_port

    provider_model = load_registry().get(BROKEN).provider_model
    scenario = Scenario.model_validate(
        {"seed": 4, "media": {"max_side": 160},
         "defaults": {"faults": [{"kind": "server_error", "match": FAIL_MARK}]}}
    )  # fmt: skip
    key = auth.create_key(fresh_postgres_url, "acme")
    operator = uuid.uuid4().hex
    with (
        start_emulator(scenario) as emulator,
        Cluster(
            tmp_path / "data", fresh_postgres_url, redis_url, isolated_queues,
            SHOTLINE_EMULATOR_URL=emulator.base_url, SHOTLINE_API_METRICS_TOKEN=operator,
            SHOTLINE_BACKOFF_BASE_S="0.1", SHOTLINE_BACKOFF_MAX_S="0.3",
        ) as cluster,
    ):  # fmt: skip
        api = Api(f"http://127.0.0.1:{free_port()}", key, operator)
        cluster.api(int(api.url.rsplit(":", 1)[1]))
        cluster.worker("w1", beat=True)
        api.wait(cluster)
        assert api.health_of(BROKEN) == (BROKEN, "closed")
        # w1 alone renders a shot the provider fails three times: w1 opens the breaker
        failing = api.submit(_one_shot("fails", f"a kite, {FAIL_MARK}", BROKEN))
        assert cluster.wait_jobs([failing], timeout=240) == {failing: "failed"}, cluster.log("w1")
        assert _submissions(emulator, provider_model) == 3
        cluster.stop_worker("w1")
        # the API process's planner and metrics see it open
        primary, state = api.health_of(BROKEN)
        assert (state, primary != BROKEN) == ("open", True)
        assert api.breaker_gauge(BROKEN) == 2
        # another worker keeps off the model: the pinned shot fails without reaching the provider
        cluster.worker("w2", beat=True)
        kept_off = api.submit(_one_shot("kept off", "a quiet harbour", BROKEN))
        assert cluster.wait_jobs([kept_off], timeout=240) == {kept_off: "failed"}, cluster.log("w2")
        assert _submissions(emulator, provider_model) == 3
        # after the cooldown the half-open probe goes through, succeeds and closes it everywhere
        _pass_the_cooldown(redis_url, isolated_queues, BROKEN)
        assert api.health_of(BROKEN)[1] == "half_open"
        probe = api.submit(_one_shot("probe", "a calm forest", BROKEN))
        assert cluster.wait_jobs([probe], timeout=240) == {probe: "delivered"}, cluster.log("w2")
        assert _submissions(emulator, provider_model) == 4
        assert api.health_of(BROKEN) == (BROKEN, "closed")
        assert api.breaker_gauge(BROKEN) == 0
