"""The dry run over a whole storyboard: decisions per shot, unroutable shots, and the forecast of
cost (with expected retakes), wall time and budget headroom. Nothing here calls a provider."""

from __future__ import annotations

import math
from collections.abc import Mapping

from foundation import money
from foundation.errors import Problem
from foundation.storyboard import Mode, Storyboard
from registry import Registry
from router._explain import group_reasons
from router._health import HealthBook, HealthSource
from router._long_shots import split_long_shots
from router._policy import RoutingPolicy
from router._route import Router, shot_need
from router._stats import StatsSource
from router._types import Forecast, Plan, QuoteLine, ShotDecision, Unroutable
from router.errors import UnroutableShotsError

CONFIDENCE = 0.95


def plan(
    board: Storyboard,
    registry: Registry,
    *,
    mode: Mode,
    providers: set[str] | frozenset[str],
    stats: StatsSource | None = None,
    health: HealthBook | HealthSource | None = None,
    policy: RoutingPolicy | None = None,
    unavailable: Mapping[str, str] | None = None,
) -> Plan:
    """Route every shot of ``board``. ``unavailable`` maps a provider left out of ``providers`` to
    the reason (e.g. missing credentials), which then appears in the rejection reasons. A
    ``HealthBook`` is read once (``view``), so every shot is ranked on the same breaker states."""
    if isinstance(health, HealthBook):
        health = health.view()
    router = Router(
        registry,
        mode=mode,
        providers=providers,
        stats=stats,
        health=health,
        policy=policy,
        unavailable=unavailable,
    )
    paths = _paths(board)
    board, long_shots = split_long_shots(board, router)
    for split in long_shots:  # a segment's problems are named at the shot the user wrote
        paths |= dict.fromkeys(split.segment_ids, paths[split.shot_id])
    decisions = _route_all(board, router, paths)
    unroutable = [
        Unroutable(d.shot_id, d.path, _reasons(d)) for d in decisions.values() if not d.routable
    ]
    return Plan(
        title=board.title,
        mode=mode,
        providers=frozenset(providers),
        decisions=decisions,
        unroutable=unroutable,
        forecast=forecast(decisions, registry, router.policy, board.budget_usd, _chains(board)),
        board=board,
        long_shots=tuple(long_shots),
    )


def _paths(board: Storyboard) -> dict[str, str]:
    return {shot.id: path for path, shot in board.shot_paths()}


def _route_all(
    board: Storyboard, router: Router, paths: Mapping[str, str]
) -> dict[str, ShotDecision]:
    """Scene by scene; each shot's budget share is the remaining budget pro rata of seconds.
    ``paths``: where each shot is in the storyboard as written."""
    decisions: dict[str, ShotDecision] = {}
    remaining_budget = board.budget_usd
    remaining_seconds = board.shots_s
    for scene in board.scenes:
        needs = [shot_need(board, scene, shot, paths[shot.id]) for shot in scene.shots]
        shares: list[float | None] = [
            None
            if remaining_budget is None
            else max(remaining_budget, 0.0) * need.duration_s / max(remaining_seconds, 1e-6)
            for need in needs
        ]
        for decision in router.route_scene(needs, shares):
            decisions[decision.shot_id] = decision
            remaining_seconds -= decision.need.duration_s
            if remaining_budget is not None and decision.primary is not None:
                remaining_budget -= decision.primary.expected_cost_usd
    return decisions


def attempts_for_confidence(acceptance: float, cap: int, confidence: float = CONFIDENCE) -> int:
    """How many attempts reach ``confidence`` that one is accepted (capped)."""
    if acceptance >= 1.0:
        return 1
    if acceptance <= 0.0:
        return cap
    needed = math.ceil(math.log(1 - confidence) / math.log(1 - acceptance))
    return max(1, min(needed, cap))


def _shot_forecast(decision: ShotDecision, policy: RoutingPolicy) -> QuoteLine | None:
    primary = decision.primary
    if primary is None:
        return None
    cap = policy.max_attempts_per_model
    n_high = attempts_for_confidence(primary.acceptance, cap)
    high = primary.quote_usd * n_high
    if 1 - (1 - primary.acceptance) ** cap < CONFIDENCE and len(decision.candidates) > 1:
        high += decision.candidates[1].quote_usd
    return QuoteLine(
        shot_id=decision.shot_id,
        model_id=primary.model_id,
        quote_usd=money.stored(primary.quote_usd),
        expected_usd=money.stored(primary.expected_cost_usd),
        high_usd=money.stored(high),
        expected_attempts=primary.expected_attempts,
        expected_render_s=primary.expected_attempts * primary.render_p50_s,
        high_render_s=n_high * primary.render_p95_s,
        provider=primary.provider,
        tier=primary.tier,
        seconds=primary.duration_s,
    )


def forecast(
    decisions: Mapping[str, ShotDecision],
    registry: Registry,
    policy: RoutingPolicy,
    budget_usd: float | None,
    chains: list[list[str]] | None = None,
) -> Forecast:
    """``chains``: runs of shots that each wait for the one before (``continues``: a long shot's
    parts), rendered one after another, so the wall time is at least the longest run's."""
    shots = [f for d in decisions.values() if (f := _shot_forecast(d, policy)) is not None]
    by_id = {s.shot_id: s for s in shots}

    def serial(high: bool) -> float:
        runs = [[by_id[k] for k in run if k in by_id] for run in chains or []]
        return max(
            (sum(s.high_render_s if high else s.expected_render_s for s in run) for run in runs),
            default=0.0,
        )

    return Forecast(
        cost_low_usd=money.stored(money.total(s.quote_usd for s in shots)),
        cost_expected_usd=money.stored(money.total(s.expected_usd for s in shots)),
        cost_high_usd=money.stored(money.total(s.high_usd for s in shots)),
        wall_time_s=max(_wall_time(shots, registry, high=False), serial(False)),
        wall_time_high_s=max(_wall_time(shots, registry, high=True), serial(True)),
        budget_usd=budget_usd,
        shots=shots,
    )


def _chains(board: Storyboard) -> list[list[str]]:
    """Runs of two or more shots, each after the first ``continues`` from the one before it."""
    runs: list[list[str]] = []
    for _, shot in board.shots():
        if shot.continues and runs:
            runs[-1].append(shot.id)
        else:
            runs.append([shot.id])
    return [run for run in runs if len(run) > 1]


def _wall_time(shots: list[QuoteLine], registry: Registry, *, high: bool) -> float:
    """Shots render in parallel within each model's concurrency limit; models run side by side.
    ``high`` uses the p95 render time and the 95%-confidence attempt count."""
    work: dict[str, list[float]] = {}
    for s in shots:
        work.setdefault(s.model_id, []).append(s.high_render_s if high else s.expected_render_s)
    longest = 0.0
    for model_id, times in work.items():
        lanes = registry.get(model_id).limits.concurrency if model_id in registry else 1
        longest = max(longest, max(times), sum(times) / lanes)
    return longest


def _reasons(decision: ShotDecision) -> dict[str, list[str]]:
    """Why no model takes the shot: each model's filter refusals, and the policy's reasons for
    feasible models it would not use (the animatic in a final render)."""
    ranked_out = {m: [why] for m, why in decision.ranked_out.items()}
    return {**decision.rejected, **ranked_out}


def raise_if_unroutable(plan: Plan) -> None:
    """Raise ``UnroutableShotsError`` (exit code 2) with one problem per shot no model can take."""
    if not plan.unroutable:
        return
    problems = [Problem(u.path, unroutable_message(u)) for u in plan.unroutable]
    count = len(plan.unroutable)
    raise UnroutableShotsError(
        f"{count} shot{'s' if count > 1 else ''} cannot be rendered by any enabled model",
        problems,
    )


def unroutable_message(item: Unroutable) -> str:
    groups = group_reasons(item.reasons)
    parts = [f"{reason} ({_named(reason, models)})" for reason, models in groups.items()]
    return f"shot {item.shot_id!r}: no model can take it: " + "; ".join(parts)


def _named(reason: str, models: list[str]) -> str:
    """The models a reason holds for; those a pin leaves out are counted, not listed (the 24 ids
    buried the pin's own reason)."""
    if reason.startswith("the shot pins model"):
        return f"the other {len(models)} models"
    return ", ".join(models)
