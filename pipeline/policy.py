"""Retry and fallback policy: given a shot's chain and its attempts so far, what comes next.

One attempt budget per shot covers retries and fallbacks alike, except a create the provider
throttled (429, nothing created, nothing billed), which waits and tries again without using it.
Random failures (transient errors, a job the provider lost, a defect the gate calls random) retry
the same model with exponential backoff and jitter, honouring the provider's retry hint; systematic
ones (rejected input, low score) move down the chain; a safety refusal is never retried on the same
model, and falls back only when the policy allows it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from foundation.states import ATTEMPT_ACCEPTED, AttemptStatus
from store.records import RouteCandidate, ShotRoute

# not_submitted: an operator said a lost create never reached the provider: the model did not fail
RETRY_SAME = {"transient", "rate_limited", "timeout", "provider_failure", "asset_error"}
RETRY_SAME |= {"job_lost"}  # the provider lost the job: the same input may well render
RETRY_SAME |= {"not_submitted"}
MAX_SAME_MODEL = 3


class AttemptLike(Protocol):
    model_id: str
    status: str
    provider_job_id: str | None
    error_kind: str | None
    verdict: dict[str, Any] | None


class PolicySettings(Protocol):
    max_attempts_per_shot: int
    fallback_on_safety: bool
    backoff_base_s: float
    backoff_max_s: float


@dataclass(frozen=True)
class NextStep:
    candidate: RouteCandidate | None
    reason: str
    delay_s: float = 0.0


def _index_of(candidates: Sequence[RouteCandidate], model_id: str) -> int:
    for index, candidate in enumerate(candidates):
        if candidate.model_id == model_id:
            return index
    return -1


def backoff_s(settings: PolicySettings, same_model_tries: int, hint: float | None) -> float:
    """The wait before another try of a model that failed ``same_model_tries`` times: exponential
    with jitter, at least the provider's ``hint``."""
    delay = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** max(0, same_model_tries - 1))
    delay = random.uniform(delay / 2, delay)
    return max(delay, hint or 0.0)


def _throttled(attempt: AttemptLike) -> bool:
    """A create the provider refused with 429: it made no job and cost nothing, so it does not use
    the shot's attempt budget (it still counts as a try of its model: three in a row move on)."""
    return (
        attempt.status == AttemptStatus.FAILED
        and attempt.error_kind == "rate_limited"
        and not attempt.provider_job_id
    )


def _outcome(last: AttemptLike) -> str:
    if last.status == AttemptStatus.FAILED:
        return last.error_kind or "provider_failure"
    return str((last.verdict or {}).get("action", "retry"))


def next_step(
    route: ShotRoute, attempts: Sequence[AttemptLike], settings: PolicySettings
) -> NextStep:
    candidates = route.candidates
    if not candidates:
        return NextStep(None, "no model can take this shot")
    if not attempts:
        return NextStep(candidates[0], "primary")
    last = attempts[-1]
    if last.status in ATTEMPT_ACCEPTED:
        index = max(0, _index_of(candidates, last.model_id))
        return NextStep(candidates[index], f"re-render of an accepted clip from {last.model_id}")
    if sum(not _throttled(a) for a in attempts) >= settings.max_attempts_per_shot:
        return NextStep(None, f"attempt budget of {settings.max_attempts_per_shot} used up")
    last = attempts[-1]
    outcome = _outcome(last)
    index = _index_of(candidates, last.model_id)
    same_tries = sum(1 for a in attempts if a.model_id == last.model_id)
    if outcome == "over_budget":
        return NextStep(None, "over budget")
    if outcome == "give_up":
        return NextStep(None, "the quality gate gave up on this shot")
    if outcome == "safety_refusal" and not settings.fallback_on_safety:
        return NextStep(None, "safety refusal, and the policy does not fall back after one")
    if (outcome in RETRY_SAME or outcome == "retry") and same_tries < MAX_SAME_MODEL:
        hint = (
            (last.verdict or {}).get("retry_after") if last.status == AttemptStatus.FAILED else None
        )
        delay = backoff_s(settings, same_tries, hint)
        return NextStep(candidates[index], f"retry {last.model_id} after {outcome}", delay)
    if index + 1 < len(candidates):
        nxt = candidates[index + 1]
        return NextStep(nxt, f"fall back from {last.model_id} to {nxt.model_id} after {outcome}")
    return NextStep(None, f"fallback chain exhausted after {outcome} on {last.model_id}")
