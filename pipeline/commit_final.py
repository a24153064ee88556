"""What a commit's final renders: the final routing of a preview's storyboard, the storyboard the
final job keeps (an approved shot no final model renders in one clip replaced by its segments),
its quote lines, and the shots it cannot take (no final model, a keyframe no final image model
draws), read by the commit, by its quote and by ``shotline plan`` of a preview before it is paid."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import router
from foundation.errors import InvalidInputError, Problem
from foundation.storyboard import Mode, Storyboard, StoryboardError
from pipeline import keyframes, previews
from pipeline.context import RunContext
from pipeline.planning import route


def final_route(
    ctx: RunContext, board: Storyboard, tenant: str, kept_voices: Collection[str] = ()
) -> router.Plan:
    """Final-mode routing of ``board``; the budget is enforced by the quote, not by routing
    (``kept_voices``: the kept shots said in their preview's speech, ``kept_voice.kept_lines``)."""
    final = previews.final_of(board).model_copy(update={"budget_usd": None})
    return route(ctx, final, Mode.FINAL, tenant, kept_voices)


def unroutable(plan: router.Plan, keys: Collection[str]) -> list[Problem]:
    return [
        Problem(u.path, router.unroutable_message(u)) for u in plan.unroutable if u.shot_id in keys
    ]


def parts_of(plan: router.Plan, keys: Collection[str]) -> dict[str, tuple[str, ...]]:
    """The segments of each shot of ``keys`` the final splits (``router.LongShot``)."""
    return {s.shot_id: s.segment_ids for s in plan.long_shots if s.shot_id in keys}


def committed_board(
    written: Storyboard, plan: router.Plan, approved: Collection[str]
) -> Storyboard:
    """The storyboard of a commit's final job: ``written`` (the preview's, at final) with each
    approved shot the final splits replaced by its segments as ``plan`` routed them. Every other
    shot stays as written: an unapproved one keeps its preview clip, however long."""
    parts = parts_of(plan, approved)
    if not parts:
        return written
    routed = {shot.id: shot for _, shot in plan.board.shots()}
    placed = {key: [routed[part] for part in ids] for key, ids in parts.items()}
    scenes = [
        scene.model_copy(
            update={"shots": [p for shot in scene.shots for p in placed.get(shot.id, [shot])]}
        )
        for scene in written.scenes
    ]
    return written.model_copy(update={"scenes": scenes})


def _final_lines(plan: router.Plan, keys: Collection[str]) -> dict[str, router.QuoteLine]:
    """Each routable shot of ``keys``'s final line: its model's, or its segments' added up
    (``QuoteLine.summed``) for one the final splits."""
    lines = {line.shot_id: line for line in plan.forecast.shots}
    parts = parts_of(plan, keys)
    found = {}
    for key in keys:
        mine = [lines[part] for part in parts.get(key, (key,)) if part in lines]
        if key not in parts and mine:
            found[key] = mine[0]
        elif key in parts and len(mine) == len(parts[key]):
            found[key] = router.QuoteLine.summed(key, mine)
    return found


def quote_lines(
    plan: router.Plan, approved: list[str], framed: Collection[str]
) -> tuple[router.QuoteLine, ...]:
    """One line per approved shot, in order (``_final_lines``); ``framed`` start from the
    preview's first frame. Raises ``StoryboardError`` naming every approved shot no final model
    takes."""
    if found := unroutable(plan, approved):
        raise StoryboardError("some approved shots cannot be rendered at final", found)
    lines = _final_lines(plan, approved)
    return tuple(
        lines[key] if lines[key].segments else replace(lines[key], first_frame=key in framed)
        for key in approved
    )


def final_prices(plan: router.Plan, keys: Collection[str]) -> dict[str, float]:
    """Each routable shot's expected final cost (``_final_lines``): what declining it at a commit
    avoids."""
    return {key: line.expected_usd for key, line in _final_lines(plan, keys).items()}


def uncommittable(ctx: RunContext, board: Storyboard, tenant: str = "local") -> list[Problem]:
    """What a commit of a preview of ``board`` could not take to final, each with its path and
    why: shots routed at final as the commit routes them (without the preview's first frames),
    sheets and keyframes planned at final as the commit and its quote plan them. A preview of
    them is spent on nothing a commit can use. A shot the final splits is not one: the final
    renders its segments (``committed_board``)."""
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
    return unroutable(plan, keys) + undrawn
