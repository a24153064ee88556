"""Planning the variants: for each variant and shot, reframe or render natively
(``router.with_variants``: the rule and its reasons), refused before any spend when a ``native``
variant cannot be rendered; the native chains kept on the shot's route (``ShotRoute.native``);
and how ``shotline plan`` and the job report show the choices."""

from __future__ import annotations

from typing import Any

import router
from foundation.errors import InvalidInputError
from foundation.storyboard import Storyboard
from pipeline.context import RunContext


def cheapest_usd(plan: router.Plan) -> float:
    """The shots' video stages on their primaries."""
    return sum(d.candidates[0].quote_usd for d in plan.decisions.values() if d.candidates)


def native_usd(plan: router.Plan) -> float:
    """The extra quotes of the plan's native variant renders."""
    return sum(float(c.quote_usd) for c in plan.variants if c.render == "native")


def first_time_usd(plan: router.Plan, stages_usd: float) -> float:
    """The plan's first-time quote, the figure admission holds against the budget and ``shotline
    plan`` prints as its total: the shots' videos on their primaries, the other stages' quotes
    (``stages_usd``) and the native variant renders."""
    return cheapest_usd(plan) + stages_usd + native_usd(plan)


def choose(
    ctx: RunContext,
    plan: router.Plan,
    availability: router.Availability,
    policy: router.RoutingPolicy,
    spent_usd: float,
) -> router.Plan:
    """``plan`` with its variant choices; raises ``InvalidInputError`` (``output.variants[i]``)
    when a ``native`` variant has a shot no model of its chain can render in that aspect."""
    if not plan.board.output.variants:
        return plan
    judge = router.Router(
        ctx.registry, mode=plan.mode, providers=availability.enabled, policy=policy,
        unavailable=availability.unavailable,
    )  # fmt: skip
    budget = plan.board.budget_usd
    headroom = None if budget is None else budget - spent_usd
    chosen, problems = router.with_variants(plan, judge, headroom)
    if problems:
        raise InvalidInputError(
            "a variant cannot be rendered natively; nothing was reserved or sent to a provider",
            problems,
        )
    return chosen


def variants_of(board: Storyboard, plan: router.Plan) -> list[dict[str, Any]]:
    """How each variant of ``output.variants`` is made, shot by shot: ``reframe`` (a crop of its
    rendered clip that follows the subject, $0) or ``native`` (an extra render in the variant's
    aspect, at its quote), with the reason; and the variant's extra provider cost."""
    items = []
    for index, variant in enumerate(board.output.variant_list()):
        mine = [c for c in plan.variants if c.index == index]
        items.append({
            "variant": variant.text, "file": f"OUT.{variant.label}.mp4",
            "size": f"{variant.width}x{variant.height}",
            "crop": f"{variant.crop_width}x{variant.crop_height}",
            "render": board.output.variant_specs()[index].render,
            "shots": {c.shot_id: c.render for c in mine}
            or {shot.id: "reframe" for _, shot in board.shots()},
            "choices": [c.to_dict() for c in mine],
            "extra_provider_usd": round(sum(c.quote_usd for c in mine), 6),
        })  # fmt: skip
    return items
