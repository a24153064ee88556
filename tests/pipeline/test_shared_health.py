"""Breakers kept in Redis: one state machine (``router.HealthBook``), its state shared by every
book that points at the same store."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from foundation.settings import Settings
from pipeline.shared_limits import RedisBreakerStore, build_health
from router import BreakerConfig, BreakerState, HealthBook, MemoryBreakerStore

MODEL = "kling/v3-pro"
Books = Callable[[], HealthBook]


@pytest.fixture
def books(redis_url: str, registry) -> Iterator[Books]:
    """Health books of separate 'processes' (each its own client) sharing one store."""
    prefix = f"t-{uuid.uuid4().hex}:"
    clients: list[redis.Redis] = []

    def book() -> HealthBook:
        store = RedisBreakerStore.from_url(redis_url, prefix)
        clients.append(store.client)
        config = BreakerConfig(failure_threshold=3, cooldown_s=0.5, max_cooldown_s=2)
        return HealthBook(registry, model_config=config, store=store)

    yield book
    keys = list(clients[0].scan_iter(match=f"{prefix}*")) if clients else []
    if keys:
        clients[0].delete(*keys)
    for client in clients:
        client.close()


@pytest.fixture
def registry():
    from registry import load_registry

    return load_registry()


def test_failures_seen_by_one_book_open_the_breaker_for_all(books: Books):
    worker, other, api = books(), books(), books()
    for _ in range(3):
        worker.record_failure(MODEL, "transient")
    assert other.state(MODEL) is BreakerState.OPEN
    assert other.allow(MODEL) is False
    assert api.view().state(MODEL) is BreakerState.OPEN
    assert api.snapshot()["models"][MODEL]["state"] == "open"
    assert 0 < api.retry_in(MODEL) <= 0.5
    assert api.state("luma/ray-2") is BreakerState.CLOSED


def test_one_half_open_probe_across_books_then_recovery(books: Books):
    worker = books()
    for _ in range(3):
        worker.record_failure(MODEL, "provider_failure")
    time.sleep(0.6)
    racers = [books() for _ in range(8)]
    assert racers[0].state(MODEL) is BreakerState.HALF_OPEN
    barrier = threading.Barrier(len(racers))
    passed: list[bool] = []

    def race(book: HealthBook) -> None:
        barrier.wait()
        passed.append(book.allow(MODEL))

    threads = [threading.Thread(target=race, args=(book,)) for book in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(passed) == [False] * 7 + [True]
    racers[3].record_success(MODEL)
    assert worker.state(MODEL) is BreakerState.CLOSED
    assert worker.allow(MODEL) is True


def test_a_failed_probe_reopens_for_everyone(books: Books):
    one, two = books(), books()
    for _ in range(3):
        one.record_failure(MODEL, "timeout")
    time.sleep(0.6)
    assert two.allow(MODEL)
    two.record_failure(MODEL, "timeout")
    assert one.state(MODEL) is BreakerState.OPEN
    assert 0.5 < one.retry_in(MODEL) <= 1.0  # the cooldown doubled


def test_request_side_failures_do_not_count(books: Books):
    book = books()
    for _ in range(5):
        book.record_failure(MODEL, "safety_refusal")
    assert books().state(MODEL) is BreakerState.CLOSED


def test_an_unreachable_store_reads_closed_and_allows():
    store = RedisBreakerStore.from_url("redis://127.0.0.1:1/0", "x:")
    book = HealthBook(store=store)
    book.record_failure(MODEL, "transient")
    assert book.state(MODEL) is BreakerState.CLOSED
    assert book.allow(MODEL) is True
    assert book.snapshot() == {"models": {}, "providers": {}}


def test_the_store_follows_the_engine(redis_url, registry):
    local = build_health(Settings(engine="embedded", breaker_cooldown_s=7), registry)
    assert isinstance(local._store, MemoryBreakerStore)
    assert local._model_config.cooldown_s == 7
    shared = build_health(Settings(engine="celery", broker_url=redis_url), registry)
    assert isinstance(shared._store, RedisBreakerStore)
