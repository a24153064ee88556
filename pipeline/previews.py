"""A keyframes preview, planned (``preview: {kind: keyframes}``, ``foundation.previews``).

Every shot draws a keyframe (a shot with no first frame of its own is given ``keyframe:
generate``), its line is voiced by its tts stage, and its video stage is the local still
(``local/still``: the keyframe held for the shot's duration, routed by ``RoutingPolicy.stills``),
so no video model is paid and the clip goes through the same gate, normalisation and stitch as
any other: voices, music bed and captions are the real ones. What it cannot honour is refused
here, before any spend, with the storyboard path.
"""

from __future__ import annotations

from foundation.errors import Problem
from foundation.previews import keyframes_preview, kind_problem, shot_keyframe_problem
from foundation.previews import with_keyframes as _with_keyframes
from foundation.storyboard import Mode, Storyboard, StoryboardError

REFUSED = "the preview cannot be rendered as asked; nothing was reserved or sent to a provider"


def keyframed_board(board: Storyboard, mode: Mode | str) -> Storyboard:
    """``board`` as a job in ``mode`` renders it: in a keyframes preview every shot without a
    first frame of its own draws a keyframe; any other board is returned as it is. Raises
    ``StoryboardError`` naming ``preview.kind`` (a keyframes preview rendered at final) or a
    shot's ``keyframe`` (``none``, which a keyframes preview cannot show)."""
    problem = kind_problem(board.preview, mode)
    if problem is not None:
        raise StoryboardError(REFUSED, [problem])
    if not keyframes_preview(board.preview, mode):
        return board
    data = board.model_dump(mode="json")
    problems: list[Problem] = []
    for s_index, scene in enumerate(data["scenes"]):
        for k_index, spec in enumerate(scene["shots"]):
            found = shot_keyframe_problem(f"scenes[{s_index}].shots[{k_index}]", spec)
            if found is not None:
                problems.append(found)
            scene["shots"][k_index] = _with_keyframes(spec)
    if problems:
        raise StoryboardError(REFUSED, problems)
    return Storyboard.model_validate(data)


def final_of(board: Storyboard) -> Storyboard:
    """The storyboard a commit renders at final: the preview settings dropped (the keyframes a
    keyframes preview drew stay, and are animated)."""
    return board.model_copy(update={"preview": type(board.preview)(), "mode": Mode.FINAL})
