from dataclasses import dataclass
from typing import Any

import pytest

from pipeline.policy import next_step
from store.records import RouteCandidate, ShotRoute


@dataclass
class FakeAttempt:
    model_id: str
    status: str = "failed"
    error_kind: str | None = None
    verdict: dict[str, Any] | None = None
    provider_job_id: str | None = None


@dataclass
class FakeSettings:
    max_attempts_per_shot: int = 4
    fallback_on_safety: bool = True
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0


def _candidate(model_id: str) -> RouteCandidate:
    return RouteCandidate(model_id, "local", model_id, 0.0, 1.0, 160, 90, 24.0, False)


ROUTE = ShotRoute(tuple(_candidate(model_id) for model_id in ("a", "b", "c")))


def _next(attempts, **settings):
    return next_step(ROUTE, attempts, FakeSettings(**settings))


class TestNextStep:
    def test_primary_first(self):
        step = _next([])
        assert step.candidate == _candidate("a")
        assert step.delay_s == 0

    def test_transient_retries_same_model_with_backoff(self):
        step = _next([FakeAttempt("a", error_kind="transient")])
        assert step.candidate.model_id == "a"
        assert 0.5 <= step.delay_s <= 1.0

    def test_backoff_grows_and_honours_retry_hint(self):
        step = _next(
            [FakeAttempt("a", error_kind="transient"), FakeAttempt("a", error_kind="transient")]
        )
        assert 1.0 <= step.delay_s <= 2.0
        hinted = _next([FakeAttempt("a", error_kind="rate_limited", verdict={"retry_after": 7.5})])
        assert hinted.delay_s == pytest.approx(7.5)

    def test_same_model_retries_are_capped_then_fall_back(self):
        tries = [FakeAttempt("a", error_kind="transient")] * 3
        step = _next(tries, max_attempts_per_shot=6)
        assert step.candidate.model_id == "b"

    def test_safety_refusal_never_retries_same_model(self):
        step = _next([FakeAttempt("a", error_kind="safety_refusal")])
        assert step.candidate.model_id == "b"

    def test_safety_refusal_without_fallback_policy_gives_up(self):
        step = _next([FakeAttempt("a", error_kind="safety_refusal")], fallback_on_safety=False)
        assert step.candidate is None
        assert "safety" in step.reason

    def test_gate_escalate_moves_down_the_chain(self):
        step = _next([FakeAttempt("a", status="rejected", verdict={"action": "escalate"})])
        assert step.candidate.model_id == "b"

    def test_gate_retry_keeps_model(self):
        step = _next([FakeAttempt("a", status="rejected", verdict={"action": "retry"})])
        assert step.candidate.model_id == "a"

    def test_give_up(self):
        assert (
            _next([FakeAttempt("a", status="rejected", verdict={"action": "give_up"})]).candidate
            is None
        )

    def test_attempt_budget_covers_retries_and_fallbacks(self):
        tries = [
            FakeAttempt("a", error_kind="transient"),
            FakeAttempt("b", error_kind="rejected_input"),
        ]
        assert _next(tries, max_attempts_per_shot=2).candidate is None

    def test_a_throttled_create_does_not_use_the_attempt_budget(self):
        throttled = FakeAttempt("a", error_kind="rate_limited", verdict={"retry_after": 2.0})
        tries = [throttled, throttled, throttled, FakeAttempt("b", error_kind="transient")]
        step = _next(tries, max_attempts_per_shot=2)
        assert step.candidate is not None
        assert step.candidate.model_id == "b"
        assert (
            _next(
                [*tries, FakeAttempt("b", error_kind="transient")], max_attempts_per_shot=2
            ).candidate
            is None
        )

    def test_three_throttled_creates_move_to_the_next_model(self):
        throttled = FakeAttempt("a", error_kind="rate_limited", verdict={"retry_after": 2.0})
        step = _next([throttled] * 3)
        assert step.candidate is not None
        assert step.candidate.model_id == "b"

    def test_a_429_after_the_provider_made_the_job_uses_the_budget(self):
        made = FakeAttempt("a", error_kind="rate_limited", provider_job_id="job-1")
        assert _next([made, made], max_attempts_per_shot=2).candidate is None

    def test_chain_exhausted(self):
        step = _next([FakeAttempt("c", error_kind="rejected_input")])
        assert step.candidate is None
        assert "exhausted" in step.reason

    def test_no_candidates(self):
        assert next_step(ShotRoute(), [], FakeSettings()).candidate is None

    def test_rerender_of_accepted_shot_keeps_model(self):
        step = _next([FakeAttempt("b", status="accepted", verdict={"action": "accept"})] * 4)
        assert step.candidate.model_id == "b"
