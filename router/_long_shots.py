"""Long shots as chains: a shot longer than any enabled model renders is planned as a chain of
parts joined by cuts: the provider's own extend operation where an enabled model offers one
(``router._extend_chain``: a first part, then extensions of it), else, and for what the extensions
cannot reach, consecutive segments each starting from the previous one's last frame
(``continues``).

A shot is split only when no model takes it whole and every segment of the split finds a model:
otherwise it stays as written and the plan reports it unroutable with each model's reasons. The
split is a pure function of the storyboard and the enabled models, so a plan, its render, a
re-render and a commit split a shot the same way.

Segment ``i`` (from 1) of shot ``arrival`` is the shot ``arrival.part{i}``. The first segment keeps
the shot's transition in, reference image, ``continues`` and dialogue; the others continue from
the segment before them with a cut. Lengths: the longest length some model renders, repeated,
then the rest; when the rest is too short for any model, equal parts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from foundation.storyboard import Scene, Shot, Storyboard, frame_problems
from registry import ModelKind, Tier
from router._extend_chain import (
    CONTINUE,
    chain_shots,
    extend_models,
    extension_parts,
    later_part,
)
from router._route import Router, shot_need
from router._types import LongShot

MAX_SEGMENTS = 40
SEGMENT_SUFFIX = ".part"
ID_MAX = 64


@dataclass(frozen=True)
class _Splitting:
    """What every shot's split is checked against, read once per storyboard."""

    board: Storyboard
    router: Router
    lengths: list[float]  # the longest clip of each enabled model, longest first
    taken: frozenset[str]  # the storyboard's shot ids
    problems: int  # stitching problems the written storyboard already has


def split_long_shots(board: Storyboard, router: Router) -> tuple[Storyboard, list[LongShot]]:
    """``board`` with every shot no model takes whole replaced by its segments, when a split
    routes; the board itself when nothing is split."""
    splits: list[LongShot] = []
    scenes: list[Scene] = []
    taken = frozenset(s.id for _, s in board.shots())
    ctx = _Splitting(board, router, _longest_lengths(router), taken, len(frame_problems(board)))
    for s_index, scene in enumerate(board.scenes):
        shots: list[Shot] = []
        for k_index, shot in enumerate(scene.shots):
            path = f"scenes[{s_index}].shots[{k_index}]"
            found = _split(ctx, scene, shot, path)
            if found is None:
                shots.append(shot)
                continue
            split, segments = found
            splits.append(split)
            shots.extend(segments)
        scenes.append(scene.model_copy(update={"shots": shots}))
    if not splits:
        return board, []
    return board.model_copy(update={"scenes": scenes}), splits


def stored_parts(shots: Sequence[Mapping[str, Any]], shot_id: str) -> list[str]:
    """The parts of the written shot ``shot_id`` among a split board's stored ``shots``, in order:
    ``shot_id.part1`` and the parts that continue it (``continues``, its prompt), as
    ``_segments`` and ``chain_shots`` make them. None when the board holds the shot itself (a
    split never takes an id the storyboard has), or when the ``.partN`` shots are the user's own
    (a later one that does not continue the first: the storyboard wrote them, not a split)."""
    by_id = {str(spec["id"]): spec for spec in shots}
    if shot_id in by_id:
        return []
    parts: list[str] = []
    while (part := f"{shot_id}{SEGMENT_SUFFIX}{len(parts) + 1}") in by_id:
        parts.append(part)
    if len(parts) < 2:
        return []
    prompt = by_id[parts[0]].get("prompt")
    later = [by_id[part] for part in parts[1:]]
    if not all(spec.get("continues") and spec.get("prompt") == prompt for spec in later):
        return []
    return parts


def _longest_lengths(router: Router) -> list[float]:
    """The longest length each enabled generative video model renders, longest first."""
    highs = {
        spec.durations.high
        for spec in router.registry.models
        if spec.kind is ModelKind.VIDEO
        and spec.tier is not Tier.DRAFT
        and spec.provider in router.ctx.providers
        and spec.durations.high > 0
    }
    return sorted(highs, reverse=True)


def _split(
    ctx: _Splitting, scene: Scene, shot: Shot, path: str
) -> tuple[LongShot, list[Shot]] | None:
    board, router = ctx.board, ctx.router
    if not ctx.lengths or shot.duration <= ctx.lengths[-1]:
        return None
    if len(shot.id) + len(SEGMENT_SUFFIX) + len(str(MAX_SEGMENTS)) > ID_MAX:
        return None
    if router.can_take(shot_need(board, scene, shot, path)):
        return None
    if not shot.extends:
        extended = _extension_split(ctx, scene, shot, path)
        if extended is not None:
            return extended
    for seconds in _candidate_splits(shot.duration, ctx.lengths):
        segments = _segments(shot, seconds)
        if any(s.id in ctx.taken for s in segments):
            return None
        if all(router.can_take(shot_need(board, scene, s, path)) for s in segments) and (
            not _stitch_problems(ctx, scene, shot, segments)
        ):
            ids = tuple(s.id for s in segments)
            return LongShot(shot.id, ids, tuple(seconds)), segments
    return None


def _extension_split(
    ctx: _Splitting, scene: Scene, shot: Shot, path: str
) -> tuple[LongShot, list[Shot]] | None:
    """The first chain of render + extensions (+ continuing parts for the rest) that routes."""

    def takes(part: Shot) -> bool:
        """Some model renders the part at its length exactly (no padded tail is paid for)."""
        need = shot_need(ctx.board, scene, part, path)
        exact = any(
            abs(c.duration_s - part.duration) < 1e-6 for c in ctx.router.evaluate(need).feasible
        )
        return exact and ctx.router.can_take(need)

    for spec in extend_models(ctx.board, ctx.router, scene, shot, path):
        for parts, rest in extension_parts(shot.duration, spec):
            tails = [()] if rest <= 0 else [(rest,), *_candidate_splits(rest, ctx.lengths)]
            for tail in tails:
                planned = (*parts, *((CONTINUE, s) for s in tail))
                if len(planned) > MAX_SEGMENTS:
                    continue
                segments = chain_shots(shot, spec.id, planned, SEGMENT_SUFFIX)
                if any(s.id in ctx.taken for s in segments):
                    return None
                if all(takes(s) for s in segments) and not _stitch_problems(
                    ctx, scene, shot, segments
                ):
                    ids = tuple(s.id for s in segments)
                    operations = tuple(op for op, _ in planned)
                    seconds = tuple(s for _, s in planned)
                    split = LongShot(shot.id, ids, seconds, operations, spec.id)
                    return split, segments
    return None


def _candidate_splits(total: float, lengths: list[float]) -> Iterator[tuple[float, ...]]:
    """Fewest segments first: the longest length repeated and the rest, then equal parts."""
    for longest in lengths:
        count = math.ceil(total / longest - 1e-9)
        if count < 2 or count > MAX_SEGMENTS:
            continue
        rest = round(total - longest * (count - 1), 6)
        if rest > 0:
            yield (*([longest] * (count - 1)), rest)
        yield tuple([round(total / count, 6)] * count)


def _segments(shot: Shot, seconds: tuple[float, ...]) -> list[Shot]:
    segments = []
    for index, length in enumerate(seconds, start=1):
        update: dict[str, object] = {"id": f"{shot.id}{SEGMENT_SUFFIX}{index}", "duration": length}
        if index > 1:
            update |= later_part(shot)
        segments.append(shot.model_copy(update=update))
    return segments


def _stitch_problems(ctx: _Splitting, scene: Scene, shot: Shot, segments: list[Shot]) -> bool:
    """Whether the split board breaks a stitching rule the written one kept (a transition out of
    the shot longer than its last segment)."""
    board = ctx.board
    scenes = [
        s.model_copy(
            update={"shots": [x for k in s.shots for x in (segments if k is shot else [k])]}
        )
        if s is scene
        else s
        for s in board.scenes
    ]
    return len(frame_problems(board.model_copy(update={"scenes": scenes}))) > ctx.problems
