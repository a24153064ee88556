"""Rate limits shared by every API process through Redis, and the in-process default."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import uvicorn
from fastapi.testclient import TestClient

from api import auth
from api.app import create_app
from api.config import ApiSettings
from api.ratelimit import RateLimiter, RedisRateLimiter, build_limiter
from foundation.settings import Settings
from pipeline.context import RunContext
from shotline.commands.serve import server_options
from tests.api.conftest import free_port, tiny_board


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_in_process_by_default_and_redis_with_the_distributed_engine():
    redis_url = "redis://127.0.0.1:6379/15"  # never connected to here
    api = ApiSettings()
    assert isinstance(build_limiter(api, Settings(), "keys", 60, 5), RateLimiter)
    celery = Settings(engine="celery", broker_url=redis_url, queue_prefix="q1-")
    shared = build_limiter(api, celery, "keys", 60, 5)
    assert isinstance(shared, RedisRateLimiter)
    assert shared.prefix == "q1-shotline:rate:keys:"
    explicit = build_limiter(ApiSettings(rate_limit_url=redis_url), Settings(), "auth", 60, 5)
    assert isinstance(explicit, RedisRateLimiter)


@pytest.mark.services
def test_redis_bucket_spends_waits_and_refills(redis_url, redis_prefix):
    client = redis.Redis.from_url(redis_url)
    # one token a second: the calls between spending the burst and looking again take far less,
    # even on a loaded machine (at 50 a second, a 20 ms stall refilled the bucket in between)
    limiter = RedisRateLimiter(client, rate_per_minute=60, burst=2, prefix=redis_prefix)
    assert limiter.take("k") == limiter.take("k") == 0
    wait = limiter.take("k")
    assert 0 < wait <= 1.0 + 1e-9
    assert limiter.take("other") == 0
    assert limiter.take("k", cost=0) > 0  # looking spends nothing and still waits
    threading.Event().wait(1.05)
    assert limiter.take("k") == 0
    assert client.pttl(redis_prefix + "k") > 0  # idle buckets expire
    client.close()


@pytest.mark.services
def test_two_limiters_sharing_redis_admit_the_limit_once_under_threads(redis_url, redis_prefix):
    clients = [redis.Redis.from_url(redis_url) for _ in range(2)]
    limiters = [RedisRateLimiter(c, 1, burst=40, prefix=redis_prefix) for c in clients]
    admitted: list[int] = []

    def hammer(index: int) -> None:
        admitted.extend(1 for _ in range(20) if limiters[index % 2].take("tenant") == 0)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(admitted) == 40
    for client in clients:
        client.close()


@pytest.mark.services
def test_two_api_servers_sharing_redis_admit_the_limit_in_total(
    ctx: RunContext, headers, redis_url, redis_prefix
):
    """The finding: two servers on one database admitted 124 requests where the limit is 62."""
    settings = ApiSettings(
        rate_per_minute=1,
        rate_burst=62,
        rate_limit_url=redis_url,
        rate_limit_prefix=redis_prefix,
    )
    apps = [create_app(ctx, settings=settings) for _ in range(2)]
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        codes = [
            client.get("/v1/jobs", headers=headers).status_code
            for _ in range(62)
            for client in (one, two)
        ]
    assert codes.count(200) == 62
    assert codes.count(429) == 62
    assert codes[-1] == 429


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key looked up in the database, in order."""
    seen: list[str] = []
    real = auth.tenant_for_key

    def spy(db_url: str, key: str) -> str | None:
        seen.append(key)
        return real(db_url, key)

    monkeypatch.setattr(auth, "tenant_for_key", spy)
    return seen


def test_bad_keys_are_limited_per_client_before_the_database(ctx: RunContext, headers, lookups):
    """The finding: 300 bad keys made 300 database lookups and were never limited."""
    settings = ApiSettings(auth_failures_per_minute=1, auth_failure_burst=5)
    app = create_app(ctx, settings=settings)
    attacker = TestClient(app, client=("203.0.113.9", 40000))
    with attacker, TestClient(app, client=("198.51.100.7", 40000)) as neighbour:
        answers = [
            attacker.get(
                "/v1/jobs", headers={"Authorization": f"Bearer sl_{secrets.token_hex(16)}"}
            )
            for _ in range(30)
        ]
        keyed = attacker.post(
            "/v1/jobs:plan",
            json={"storyboard": tiny_board(1)},
            headers={"Authorization": "Bearer sl_guess", "Idempotency-Key": "k"},
        )
        assert [a.status_code for a in answers] == [401] * 5 + [429] * 25
        assert keyed.status_code == 429
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert answers[-1].json()["error"] == "rate_limited"
        assert len(lookups) == 5  # nothing looked up once the budget was spent
        assert attacker.get("/v1/jobs", headers=headers).status_code == 429
        assert neighbour.get("/v1/jobs", headers=headers).status_code == 200


def test_a_keyed_post_looks_its_key_up_once(client, headers, lookups):
    answer = client.post(
        "/v1/jobs:plan",
        json={"storyboard": tiny_board(1)},
        headers={**headers, "Idempotency-Key": "once"},
    )
    assert answer.status_code == 200
    assert len(lookups) == 1
    bad = {"Authorization": "Bearer sl_unknown", "Idempotency-Key": "twice"}
    assert client.post("/v1/jobs:plan", json={}, headers=bad).status_code == 401
    assert len(lookups) == 2


def test_an_unreachable_redis_allows_and_warns(caplog):
    port = free_port()  # nothing listens there
    client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    limiter = RedisRateLimiter(client, rate_per_minute=1, burst=1, prefix="test:")
    assert limiter.take("k") == 0
    assert "rate limit store unreachable" in caplog.text


def _served(app: Any) -> Any:
    """``app`` inside the middleware ``shotline serve`` gives it (uvicorn's proxy headers)."""
    config = uvicorn.Config(app, **server_options("127.0.0.1", free_port()))
    config.load()
    return config.loaded_app


def test_behind_a_named_proxy_one_clients_bad_keys_lock_out_only_that_client(
    ctx: RunContext, headers, monkeypatch
):
    """The finding: behind a reverse proxy every client had the proxy's address, so one client's
    bad keys locked every tenant out. ``SHOTLINE_API_FORWARDED_ALLOW_IPS`` names the proxy whose
    ``X-Forwarded-For`` uvicorn believes; a client that is not that proxy is not believed."""
    monkeypatch.setenv("SHOTLINE_API_FORWARDED_ALLOW_IPS", "10.0.0.5")
    app = _served(create_app(ctx, settings=ApiSettings(auth_failure_burst=3)))
    bad = {"Authorization": "Bearer sl_guess"}
    with TestClient(app, client=("10.0.0.5", 40000)) as proxy:
        codes = [
            proxy.get("/v1/jobs", headers={**bad, "X-Forwarded-For": "203.0.113.9"}).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        other = proxy.get("/v1/jobs", headers={**headers, "X-Forwarded-For": "198.51.100.7"})
        assert other.status_code == 200, other.text
    with TestClient(app, client=("203.0.113.9", 40000)) as direct:  # the locked-out client
        forged = direct.get("/v1/jobs", headers={**headers, "X-Forwarded-For": "192.0.2.1"})
        assert forged.status_code == 429
