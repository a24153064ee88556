"""Circuit breakers: opening, half-open probing, recovery, and what the router does with them."""

from __future__ import annotations

import router
from foundation.storyboard import Mode
from router import BreakerConfig, BreakerState, HealthBook
from tests.router.conftest import board, plan_for, shot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def book(registry, clock: Clock) -> HealthBook:
    return HealthBook(
        registry,
        model_config=BreakerConfig(failure_threshold=3, cooldown_s=60, max_cooldown_s=300),
        provider_config=BreakerConfig(failure_threshold=5, cooldown_s=60),
        clock=clock,
    )


class TestBreaker:
    def test_opens_after_consecutive_failures(self, registry):
        clock = Clock()
        health = book(registry, clock)
        for _ in range(2):
            health.record_failure("runway/gen4.5", "transient")
        assert health.state("runway/gen4.5") is BreakerState.CLOSED
        health.record_failure("runway/gen4.5", "timeout")
        assert health.state("runway/gen4.5") is BreakerState.OPEN
        assert health.allow("runway/gen4.5") is False
        assert health.retry_in("runway/gen4.5") == 60
        assert health.state("runway/gen4_turbo") is BreakerState.CLOSED

    def test_success_resets_the_count(self, registry):
        health = book(registry, Clock())
        for _ in range(2):
            health.record_failure("luma/ray-2", "provider_failure")
        health.record_success("luma/ray-2")
        for _ in range(2):
            health.record_failure("luma/ray-2", "provider_failure")
        assert health.state("luma/ray-2") is BreakerState.CLOSED

    def test_request_side_failures_do_not_count(self, registry):
        health = book(registry, Clock())
        for _ in range(10):
            health.record_failure("luma/ray-2", "safety_refusal")
            health.record_failure("luma/ray-2", "rejected_input")
        assert health.state("luma/ray-2") is BreakerState.CLOSED

    def test_half_open_probe_then_recovery(self, registry):
        clock = Clock()
        health = book(registry, clock)
        for _ in range(3):
            health.record_failure("kling/v3-pro", "transient")
        clock.now += 61
        assert health.state("kling/v3-pro") is BreakerState.HALF_OPEN
        assert health.allow("kling/v3-pro") is True  # the one probe
        assert health.allow("kling/v3-pro") is False  # no second probe in flight
        health.record_success("kling/v3-pro")
        assert health.state("kling/v3-pro") is BreakerState.CLOSED
        assert health.allow("kling/v3-pro") is True

    def test_a_probe_that_never_reports_frees_its_place(self, registry):
        clock = Clock()
        health = book(registry, clock)
        for _ in range(3):
            health.record_failure("kling/v3-pro", "transient")
        clock.now += 61
        assert health.allow("kling/v3-pro") is True  # its worker dies before an outcome
        clock.now += 30
        assert health.allow("kling/v3-pro") is False
        clock.now += 31
        assert health.allow("kling/v3-pro") is True  # a cooldown later, another probe

    def test_a_view_reads_every_breaker_at_once(self, registry):
        clock = Clock()
        health = book(registry, clock)
        for _ in range(3):
            health.record_failure("kling/v3-pro", "transient")
        view = health.view()
        health.record_success("kling/v3-pro")
        assert view.state("kling/v3-pro") is BreakerState.OPEN  # as it was when read
        assert health.view().state("kling/v3-pro") is BreakerState.CLOSED
        assert health.view().state("luma/ray-2") is BreakerState.CLOSED

    def test_failed_probe_reopens_with_longer_cooldown(self, registry):
        clock = Clock()
        health = book(registry, clock)
        for _ in range(3):
            health.record_failure("kling/v3-pro", "transient")
        clock.now += 61
        assert health.allow("kling/v3-pro")
        health.record_failure("kling/v3-pro", "transient")
        assert health.state("kling/v3-pro") is BreakerState.OPEN
        assert health.retry_in("kling/v3-pro") == 120
        clock.now += 121
        assert health.state("kling/v3-pro") is BreakerState.HALF_OPEN

    def test_provider_breaker_trips_across_models(self, registry):
        health = book(registry, Clock())
        for model in ("google/veo-3.1", "google/veo-3.1-fast", "google/veo-3.1-lite") * 2:
            health.record_failure(model, "rate_limited")
        assert health.state("google/veo-3.1-lite") is BreakerState.OPEN
        snapshot = health.snapshot()
        assert snapshot["providers"]["google"]["state"] == "open"
        assert snapshot["models"]["google/veo-3.1-lite"]["state"] == "closed"

    def test_force_open_opens_only_the_model_for_the_given_cooldown(self, registry):
        clock = Clock()
        health = book(registry, clock)
        health.force_open("runway/gen4.5", cooldown_s=7200)
        assert health.state("runway/gen4.5") is BreakerState.OPEN
        assert health.allow("runway/gen4.5") is False
        assert health.retry_in("runway/gen4.5") == 7200
        assert health.state("runway/gen4_turbo") is BreakerState.CLOSED  # provider untouched
        clock.now += 7200
        assert health.state("runway/gen4.5") is BreakerState.HALF_OPEN

    def test_forcing_an_open_breaker_again_restarts_its_cooldown_without_a_trip(self, registry):
        clock = Clock()
        health = book(registry, clock)
        health.force_open("fal/veo3.1", cooldown_s=100)
        clock.now += 90
        health.force_open("fal/veo3.1", cooldown_s=100)
        clock.now += 90
        assert health.state("fal/veo3.1") is BreakerState.OPEN
        described = health.snapshot()["models"]["fal/veo3.1"]
        assert described["trips"] == 1
        assert described["retry_in_s"] == 10


class TestRouting:
    def test_open_breaker_demotes_the_model(self, registry):
        b = board([shot(duration=8)])
        before = plan_for(b, registry, Mode.FINAL).decisions["shot1"]
        chosen = before.candidates[0].model_id
        clock = Clock()
        health = book(registry, clock)
        for _ in range(3):
            health.record_failure(chosen, "transient")
        after = plan_for(b, registry, Mode.FINAL, health=health).decisions["shot1"]
        assert after.candidates[0].model_id != chosen
        ids = [c.model_id for c in after.candidates]
        assert chosen not in ids[:-1]
        demoted = [c for c in after.candidates if c.model_id == chosen]
        if demoted:
            assert "circuit breaker open" in demoted[0].notes[0]
            assert demoted[0].components["penalty_health"] == -1.0

    def test_half_open_model_is_penalised_then_recovers(self, registry):
        b = board([shot(duration=8)])
        chosen = plan_for(b, registry, Mode.FINAL).decisions["shot1"].candidates[0].model_id
        clock = Clock()
        health = book(registry, clock)
        for _ in range(3):
            health.record_failure(chosen, "transient")
        clock.now += 61
        probing = plan_for(b, registry, Mode.FINAL, health=health).decisions["shot1"]
        entry = next(c for c in probing.candidates if c.model_id == chosen)
        assert entry.components["penalty_health"] == -0.2
        assert "half-open" in entry.notes[-1]
        assert health.allow(chosen)
        health.record_success(chosen)
        healed = plan_for(b, registry, Mode.FINAL, health=health).decisions["shot1"]
        assert healed.candidates[0].model_id == chosen

    def test_health_kinds_match_the_adapter_taxonomy(self):
        from adapters.errors import ERROR_KINDS

        assert set(router.HEALTH_KINDS) <= set(ERROR_KINDS)


def test_scene_avoids_a_model_behind_an_open_breaker(registry):
    b = board([shot("aerial skyline", 8), shot("harbour at night", 8)])
    before = plan_for(b, registry, Mode.FINAL)
    scene_model = before.decisions["shot1"].scene_model
    assert scene_model is not None
    health = book(registry, Clock())
    for _ in range(3):
        health.record_failure(scene_model, "provider_failure")
    after = plan_for(b, registry, Mode.FINAL, health=health)
    decisions = list(after.decisions.values())
    assert decisions[0].scene_model not in (None, scene_model)
    assert {d.candidates[0].model_id for d in decisions} == {decisions[0].scene_model}
    assert not any(d.continuity_break for d in decisions)
    demoted = [c for d in decisions for c in d.candidates if c.model_id == scene_model]
    assert all(c.health == "open" for c in demoted)
