"""Provider limits behind one interface: concurrency slots (hard, leased, idempotent per holder)
and the requests-per-minute window, on the in-process backend and on Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from foundation.settings import Settings
from pipeline.limits import LocalLimits, ProviderLimits, fair_turn
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


def _fill(limits: ProviderLimits, group: str, count: int, limit: int = 4) -> list[bool]:
    return [limits.try_acquire(MODEL, f"{group}{n}", limit, 30, group) for n in range(count)]


class TestFairSlots:
    """A model's slots shared among tenants (groups): a newcomer is never refused for good behind
    another tenant's big job, and nothing is taken from a job that holds its slot."""

    def test_a_newcomer_gets_the_next_free_slots_up_to_its_share(self, limits):
        assert _fill(limits, "a", 4) == [True] * 4  # alone, a tenant takes every slot
        assert not limits.try_acquire(MODEL, "b0", 4, 30, "b")  # nothing is pre-empted
        assert not limits.try_acquire(MODEL, "b1", 4, 30, "b")
        assert limits.try_acquire(MODEL, "a0", 4, 30, "a")  # a held slot is renewed, not lost
        limits.release(MODEL, "a0")
        assert not limits.try_acquire(MODEL, "a4", 4, 30, "a")  # b waits, below its share
        assert limits.try_acquire(MODEL, "b0", 4, 30, "b")
        limits.release(MODEL, "a1")
        assert not limits.try_acquire(MODEL, "a4", 4, 30, "a")  # a holds its share of 2
        assert limits.try_acquire(MODEL, "b1", 4, 30, "b")
        assert limits.try_acquire(MODEL, "b1", 4, 30, "b")  # idempotent: still one slot
        limits.release(MODEL, "a2")
        assert limits.try_acquire(MODEL, "a4", 4, 30, "a")  # below its share again
        assert not limits.try_acquire(MODEL, "b2", 4, 30, "b")  # full: 2 and 2

    def test_three_tenants_share_ceil_of_a_third_each(self, limits):
        assert _fill(limits, "a", 4) == [True] * 4
        assert not limits.try_acquire(MODEL, "b0", 4, 30, "b")
        assert not limits.try_acquire(MODEL, "c0", 4, 30, "c")
        limits.release(MODEL, "a0")
        limits.release(MODEL, "a1")
        assert not limits.try_acquire(MODEL, "a4", 4, 30, "a")  # a's share is ceil(4/3) = 2
        assert limits.try_acquire(MODEL, "b0", 4, 30, "b")
        assert not limits.try_acquire(MODEL, "b1", 4, 30, "b")  # c waits holding fewer: c first
        assert limits.try_acquire(MODEL, "c0", 4, 30, "c")
        limits.release(MODEL, "a2")
        assert limits.try_acquire(MODEL, "b1", 4, 30, "b")  # b below its share of 2
        assert not limits.try_acquire(MODEL, "c1", 4, 30, "c")  # full: 1, 2 and 1

    def test_a_free_slot_nobody_else_waits_for_is_not_left_idle(self, limits):
        assert _fill(limits, "a", 2) == [True] * 2
        assert limits.try_acquire(MODEL, "b0", 4, 30, "b")  # b's one job: a slot, nothing waiting
        assert limits.try_acquire(MODEL, "a2", 4, 30, "a")  # over a's share of 2, for nobody else

    def test_a_waiter_that_stops_asking_stops_counting(self, limits):
        assert _fill(limits, "a", 4) == [True] * 4
        assert not limits.try_acquire(MODEL, "b0", 4, 30, "b", waiting_s=0.2)
        limits.release(MODEL, "a0")
        assert not limits.try_acquire(MODEL, "a4", 4, 30, "a")
        time.sleep(0.3)  # b's attempt asked no more (its job moved on): a alone again
        assert limits.try_acquire(MODEL, "a4", 4, 30, "a")

    def test_a_renewal_refused_counts_nobody_waiting(self, limits):
        assert _fill(limits, "a", 4) == [True] * 4
        assert not limits.try_acquire(MODEL, "lapsed", 4, 30, waiting_s=0.0)  # admission.renew
        limits.release(MODEL, "a0")
        assert limits.try_acquire(MODEL, "a4", 4, 30, "a")

    def test_a_released_waiter_stops_counting_at_once(self, limits):
        assert _fill(limits, "a", 4) == [True] * 4
        assert not limits.try_acquire(MODEL, "b0", 4, 30, "b")
        limits.release(MODEL, "b0")  # b's attempt was cancelled while it waited
        limits.release(MODEL, "a0")
        assert limits.try_acquire(MODEL, "a4", 4, 30, "a")


def test_the_fair_share_is_computed_once():
    assert fair_turn("a", {"a": 3}, set(), 4)  # alone: every slot
    assert not fair_turn("a", {"a": 3}, {"b"}, 4)  # share 2, b waits below it
    assert fair_turn("b", {"a": 3}, {"b"}, 4)
    assert not fair_turn("b", {"a": 2, "b": 2}, {"a"}, 4)  # full
    assert not fair_turn("a", {"a": 2, "b": 1}, {"b"}, 5)  # b waits holding fewer: b first
    assert fair_turn("a", {"a": 2, "b": 2}, {"b"}, 5)  # share ceil(5/2) = 3: a as much as b
    assert not fair_turn("a", {"a": 3, "b": 2}, {"b"}, 6)  # a at its share of 3
    assert fair_turn("a", {"a": 2, "b": 1}, {"a"}, 4)  # b holds its one and waits for no more
    assert not fair_turn("b", {"b": 1}, {"a", "c"}, 4)  # a and c wait with none


class TestRequestsPerMinute:
    def test_the_window_holds_rpm_submissions(self, limits):
        assert [limits.try_take(MODEL, 3, f"h{i}") for i in range(3)] == [0.0, 0.0, 0.0]
        wait = limits.try_take(MODEL, 3, "h3")
        assert 55.0 < wait <= 60.0
        assert limits.try_take(MODEL, 3, "h0") == 0.0  # already counted: not a second one
        assert limits.try_take("runway/gen4_turbo", 3, "h3") == 0.0

    def test_a_model_counts_over_its_own_window(self, limits):
        assert [limits.try_take(MODEL, 2, f"h{i}", window_s=0.5) for i in range(2)] == [0.0, 0.0]
        assert 0.3 < limits.try_take(MODEL, 2, "h2", window_s=0.5) <= 0.5
        time.sleep(0.5)
        assert limits.try_take(MODEL, 2, "h2", window_s=0.5) == 0.0

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


@pytest.mark.services
def test_a_process_with_a_shorter_lease_does_not_expire_the_others_slots(redis_url):
    """Processes of one deployment may run with different lease settings; the slots' keys live
    as long as their longest lease, not as long as the last caller's (its key expiring dropped
    every slot at once, and the model was given more jobs than its limit)."""
    limits = RedisLimits.from_url(redis_url, prefix=f"t-{uuid.uuid4().hex}:")
    assert limits.try_acquire("m", "long", 2, lease_s=60.0, group="a", waiting_s=0.0)
    assert limits.try_acquire("m", "short", 2, lease_s=0.5, group="a", waiting_s=0.0)
    threading.Event().wait(1.7)  # past the short lease and the key expiry it would set (1.5 s)
    assert limits.try_acquire("m", "next", 2, lease_s=60.0, group="a", waiting_s=0.0)
    assert not limits.try_acquire("m", "one more", 2, lease_s=60.0, group="a", waiting_s=0.0)
