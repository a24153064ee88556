"""Long shots as chains: a shot longer than any enabled model renders is planned as consecutive
segments, each starting from the previous segment's last frame (``continues``), joined by cuts.

A shot is split only when no model takes it whole and every segment of the split finds a model:
otherwise it stays as written and the plan reports it unroutable with each model's reasons. The
split is a pure function of the storyboard and the enabled models, so a plan, its render, a
re-render and a commit split a shot the same way.

Segment ``i`` (from 1) of shot ``arrival`` is the shot ``arrival.part{i}``. The first segment keeps
the shot's transition in, reference image, ``continues`` and dialogue; the others continue from
the segment before them with a cut. Lengths: the longest length some model renders, repeated,
then the rest; when the rest is too short for any model, equal parts. None of the providers'
own extend operations is used yet (the README says so).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from foundation.storyboard import Scene, Shot, Storyboard, frame_problems
from registry import ModelKind, Tier
from router._route import Router, shot_need
from router._types import LongShot

MAX_SEGMENTS = 40
SEGMENT_SUFFIX = ".part"
ID_MAX = 64


def split_long_shots(board: Storyboard, router: Router) -> tuple[Storyboard, list[LongShot]]:
    """``board`` with every shot no model takes whole replaced by its segments, when a split
    routes; the board itself when nothing is split."""
    splits: list[LongShot] = []
    scenes: list[Scene] = []
    lengths = _longest_lengths(router)
    for s_index, scene in enumerate(board.scenes):
        shots: list[Shot] = []
        for k_index, shot in enumerate(scene.shots):
            path = f"scenes[{s_index}].shots[{k_index}]"
            found = _split(board, scene, shot, path, router, lengths)
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
    board: Storyboard, scene: Scene, shot: Shot, path: str, router: Router, lengths: list[float]
) -> tuple[LongShot, list[Shot]] | None:
    if not lengths or shot.duration <= lengths[-1]:
        return None
    if len(shot.id) + len(SEGMENT_SUFFIX) + len(str(MAX_SEGMENTS)) > ID_MAX:
        return None
    if router.can_take(shot_need(board, scene, shot, path)):
        return None
    taken = {s.id for _, s in board.shots()}
    for seconds in _candidate_splits(shot.duration, lengths):
        segments = _segments(shot, seconds)
        if any(s.id in taken for s in segments[1:]):
            return None
        if all(router.can_take(shot_need(board, scene, s, path)) for s in segments) and (
            not _stitch_problems(board, scene, shot, segments)
        ):
            ids = tuple(s.id for s in segments)
            return LongShot(shot.id, ids, tuple(seconds)), segments
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
            update |= {"continues": True, "reference_image": None, "transition": "cut",
                       "dialogue": None, "speaker": None}  # fmt: skip
        segments.append(shot.model_copy(update=update))
    return segments


def _stitch_problems(board: Storyboard, scene: Scene, shot: Shot, segments: list[Shot]) -> bool:
    """Whether the split board breaks a stitching rule the written one kept (a transition out of
    the shot longer than its last segment)."""
    scenes = [
        s.model_copy(
            update={"shots": [x for k in s.shots for x in (segments if k is shot else [k])]}
        )
        if s is scene
        else s
        for s in board.scenes
    ]
    before = len(frame_problems(board))
    return len(frame_problems(board.model_copy(update={"scenes": scenes}))) > before
