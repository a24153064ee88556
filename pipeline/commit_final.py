"""What a commit's final could render: the final routing of a preview's storyboard and the shots
it cannot take (no final model, split into segments, a keyframe no final image model draws),
read by the commit, by its quote and by ``shotline plan`` of a preview before it is paid."""

from __future__ import annotations

from collections.abc import Collection

import router
from foundation.errors import InvalidInputError, Problem
from foundation.storyboard import Mode, Storyboard
from pipeline import keyframes, previews
from pipeline.context import RunContext
from pipeline.planning import route


def final_route(ctx: RunContext, board: Storyboard, tenant: str) -> router.Plan:
    """Final-mode routing of ``board``; the budget is enforced by the quote, not by routing."""
    final = previews.final_of(board).model_copy(update={"budget_usd": None})
    return route(ctx, final, Mode.FINAL, tenant)


def unroutable(plan: router.Plan, keys: Collection[str]) -> list[Problem]:
    return [
        Problem(u.path, router.unroutable_message(u)) for u in plan.unroutable if u.shot_id in keys
    ]


def split(plan: router.Plan, keys: Collection[str]) -> list[Problem]:
    return [
        Problem(
            f"shots.{s.shot_id}",
            f"{s.explain()}; a commit keeps one final shot per preview shot, so render this "
            "storyboard at final (`render --mode final`) for a shot the final splits",
        )
        for s in plan.long_shots
        if s.shot_id in keys
    ]


def uncommittable(ctx: RunContext, board: Storyboard, tenant: str = "local") -> list[Problem]:
    """What a commit of a preview of ``board`` could not take to final, each with its path and
    why: shots routed at final as the commit routes them (without the preview's first frames),
    sheets and keyframes planned at final as the commit and its quote plan them. A preview of
    them is spent on nothing a commit can use."""
    try:
        plan = final_route(ctx, board, tenant)
    except InvalidInputError as exc:  # the final cannot be planned (a sheet no model draws)
        return list(exc.problems)
    keys = [shot.id for _, shot in board.shots()]
    try:
        keyframes.plan_keyframes(ctx, previews.final_of(board), Mode.FINAL)
        undrawn: list[Problem] = []
    except InvalidInputError as exc:
        undrawn = list(exc.problems)
    return unroutable(plan, keys) + split(plan, keys) + undrawn
