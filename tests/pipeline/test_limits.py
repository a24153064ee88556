"""Provider limits: at most ``rpm`` submissions a minute, paced without blocking."""

from __future__ import annotations

from pipeline.limits import Limits, ProviderLimiter


def test_requests_per_minute_window(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("pipeline.limits.time.monotonic", lambda: clock[0])
    limiter = ProviderLimiter(rpm=2)
    assert limiter.reserve() == 0.0
    clock[0] += 10.0
    assert limiter.reserve() == 0.0
    wait = limiter.reserve()  # the third request in the same minute waits for the window to move
    assert wait == 50.0
    clock[0] += wait
    assert limiter.reserve() == 0.0
    assert limiter.reserve() > 0.0  # the second request of the first minute still counts


def test_limits_are_kept_per_model():
    limits = Limits()
    assert limits.get("runway/gen4.5", 60) is limits.get("runway/gen4.5", 60)
    assert limits.get("runway/gen4.5", 60) is not limits.get("runway/gen4_turbo", 60)
