"""Provider limits behind one interface: concurrency slots (hard, leased, idempotent per holder)
and the requests-per-minute window, on the in-process backend and on Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from foundation.settings import Settings
from pipeline.limits import LocalLimits, ProviderLimits
from pipeline.shared_limits import RedisLimits, build_limits

MODEL = "runway/gen4.5"


@pytest.fixture(params=["local", "redis"])
def limits(request: pytest.FixtureRequest) -> Iterator[ProviderLimits]:
    if request.param == "local":
        yield LocalLimits()
        return
    url = request.getfixturevalue("redis_url")
    shared = RedisLimits.from_url(url, prefix=f"t-{uuid.uuid4().hex}:")
    yield shared
    keys = list(shared.client.scan_iter(match=f"{shared.prefix}*"))
    if keys:
        shared.client.delete(*keys)
    shared.client.close()


class TestSlots:
    def test_a_full_model_refuses_until_a_slot_is_released(self, limits):
        assert limits.try_acquire(MODEL, "a", 2, 30)
        assert limits.try_acquire(MODEL, "b", 2, 30)
        assert not limits.try_acquire(MODEL, "c", 2, 30)
        assert limits.try_acquire(MODEL, "a", 2, 30)  # the same holder again: still one slot
        assert limits.try_acquire("runway/gen4_turbo", "c", 2, 30)  # limits are per model
        limits.release(MODEL, "a")
        assert limits.try_acquire(MODEL, "c", 2, 30)
        assert not limits.try_acquire(MODEL, "a", 2, 30)

    def test_a_slot_nobody_renews_frees_itself(self, limits):
        assert limits.try_acquire(MODEL, "dead-worker", 1, 0.2)
        assert not limits.try_acquire(MODEL, "live", 1, 30)
        time.sleep(0.3)
        assert limits.try_acquire(MODEL, "live", 1, 30)

    def test_racing_threads_never_pass_the_limit(self, limits):
        barrier = threading.Barrier(12)
        won: list[str] = []

        def race(name: str) -> None:
            barrier.wait()
            if limits.try_acquire(MODEL, name, 3, 30):
                won.append(name)

        threads = [threading.Thread(target=race, args=(f"h{i}",)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 3


class TestRequestsPerMinute:
    def test_the_window_holds_rpm_submissions(self, limits):
        assert [limits.try_take(MODEL, 3, f"h{i}") for i in range(3)] == [0.0, 0.0, 0.0]
        wait = limits.try_take(MODEL, 3, "h3")
        assert 55.0 < wait <= 60.0
        assert limits.try_take(MODEL, 3, "h0") == 0.0  # already counted: not a second one
        assert limits.try_take("runway/gen4_turbo", 3, "h3") == 0.0

    def test_anonymous_takes_each_count(self, limits):
        assert limits.try_take(MODEL, 2) == 0.0
        assert limits.try_take(MODEL, 2) == 0.0
        assert limits.try_take(MODEL, 2) > 0.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_minute_counts_from_when_the_request_left():
    clock = Clock()
    limits = LocalLimits(clock)
    assert limits.try_take(MODEL, 2, "slow") == 0.0
    assert limits.try_take(MODEL, 2, "fast") == 0.0
    clock.now += 10  # the slow request took 10 s to reach the provider
    limits.sent(MODEL, "slow")
    clock.now += 50.5
    assert limits.try_take(MODEL, 2, "next") == 0.0  # "fast" left the window, "slow" did not
    assert limits.try_take(MODEL, 2, "after") == pytest.approx(9.5)


def test_the_backend_follows_the_engine(redis_url):
    assert isinstance(build_limits(Settings(engine="embedded")), LocalLimits)
    assert isinstance(build_limits(Settings(engine="celery", broker_url=redis_url)), RedisLimits)
    shared = Settings(engine="embedded", limits_url=redis_url)
    assert isinstance(build_limits(shared), RedisLimits)


def test_an_unreachable_redis_lets_requests_through():
    limits = RedisLimits.from_url("redis://127.0.0.1:1/0", prefix="x:")
    assert limits.try_acquire(MODEL, "a", 1, 30)
    assert limits.try_take(MODEL, 1, "a") == 0.0
    limits.release(MODEL, "a")
