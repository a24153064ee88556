"""Provider limits: at most ``concurrency`` jobs in flight and ``rpm`` submissions a minute."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from pipeline.limits import Limits, ProviderLimiter


def test_concurrency_is_never_exceeded():
    limiter = ProviderLimiter(concurrency=3, rpm=10_000)
    inside, peak, lock = 0, 0, threading.Lock()

    def job() -> None:
        nonlocal inside, peak
        with limiter.slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda _: job(), range(24)))
    assert peak == 3


def test_requests_per_minute_window(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("pipeline.limits.time.monotonic", lambda: clock[0])
    slept: list[float] = []

    def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr("pipeline.limits.time.sleep", fake_sleep)
    limiter = ProviderLimiter(concurrency=1, rpm=2)
    limiter.pace()
    limiter.pace()
    assert slept == []
    limiter.pace()  # the third request in the same minute waits for the window to move
    assert sum(slept) >= 59.0


def test_limits_are_kept_per_model():
    limits = Limits()
    assert limits.get("runway/gen4.5", 2, 60) is limits.get("runway/gen4.5", 2, 60)
    assert limits.get("runway/gen4.5", 2, 60) is not limits.get("runway/gen4_turbo", 2, 60)
