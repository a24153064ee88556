"""Scoring of the models that passed the filter: intent weights over quality, acceptance, cost and
speed, minus penalties for adaptations, lifecycle, breaker state and budget pressure."""

from __future__ import annotations

from dataclasses import dataclass

from registry import LifecycleStatus, ModelSpec, Tier
from router._candidate import ShotNeed
from router._filter import Fit
from router._health import BreakerState
from router._policy import RoutingPolicy
from router._stats import ModelStats

QUALITY = {Tier.DRAFT: 0.1, Tier.STANDARD: 0.5, Tier.HIGH: 0.75, Tier.PREMIUM: 1.0}
COST_REF_USD_PER_S = 0.10  # expected cost per second scoring 0.5
SPEED_REF_S = 60.0  # p50 render time scoring 0.5
HEALTH_PENALTY = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 0.2, BreakerState.OPEN: 1.0}
DEPRECATED_PENALTY = 0.1
BUDGET_PENALTY = 0.3


@dataclass(frozen=True)
class Score:
    value: float
    components: dict[str, float]
    expected_cost_usd: float
    expected_attempts: float


def expected_attempts(acceptance: float, policy: RoutingPolicy) -> float:
    return min(1.0 / max(acceptance, 1e-3), float(policy.max_attempts_per_model))


def score_fit(
    spec: ModelSpec,
    fit: Fit,
    need: ShotNeed,
    stats: ModelStats,
    health: BreakerState,
    policy: RoutingPolicy,
    budget_share: float | None,
) -> Score:
    attempts = expected_attempts(stats.acceptance_rate, policy)
    expected = fit.quote_usd * attempts
    if stats.cost_per_accepted_s is not None and stats.attempts:
        observed = stats.cost_per_accepted_s * need.duration_s
        w, n = stats.prior_weight, stats.attempts
        # never below one render at this shot's quote: history at a cheaper size, without audio
        # or reused for $0 put the expected cost under the plan's own "if every shot passes"
        expected = max((w * expected + n * observed) / (w + n), fit.quote_usd)
    per_second = expected / max(need.duration_s, 0.1)
    components = {
        "quality": QUALITY[spec.tier],
        "acceptance": stats.acceptance_rate,
        "cost": 1.0 / (1.0 + per_second / COST_REF_USD_PER_S),
        "speed": 1.0 / (1.0 + stats.render_p50_s / SPEED_REF_S),
    }
    value = sum(policy.weights.get(name, 0.0) * v for name, v in components.items())
    penalties = {
        "adaptations": fit.penalty,
        "health": HEALTH_PENALTY[health],
        "lifecycle": DEPRECATED_PENALTY
        if spec.lifecycle.status(policy.day) is LifecycleStatus.DEPRECATED
        else 0.0,
        "budget": _budget_penalty(expected, budget_share),
    }
    for name, amount in penalties.items():
        if amount:
            components[f"penalty_{name}"] = -amount
            value -= amount
    return Score(value, components, expected, attempts)


def _budget_penalty(expected: float, share: float | None) -> float:
    if share is None or expected <= share:
        return 0.0
    return BUDGET_PENALTY * min(1.0, (expected - share) / max(share, 0.01))
