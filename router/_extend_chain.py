"""Long shots by the provider's own extend operation: a first part rendered normally by a model
whose registry entry has ``extend``, then extension steps of that model (each adds
``extend.seconds``, the total staying within ``extend.max_total_s``), then, when the take is
longer still, parts that continue from the last frame (``router._long_shots``).

An extension part is a shot with ``continues`` and ``extends`` set and the model pinned (the
first part too: the operation is that model's own, so the chain is one model's and has no
fallback to another). The pipeline sends the previous part's clip as the video to extend and keeps
the new tail of what comes back (``pipeline.continuity.extension_head``).

The choice is a pure function of the storyboard and the enabled models: the shot's pinned model
when it can extend, else the extend-capable model with the lowest quote for the first part (ties
by id); the fewest parts first, then the longest first part.
"""

from __future__ import annotations

from collections.abc import Iterator

from foundation.storyboard import AudioNeed, Scene, Shot, Storyboard
from registry import ModelKind, ModelSpec
from router._filter import Fit, assess
from router._route import Router, shot_need

RENDER, EXTEND, CONTINUE = "render", "extend", "continue"
Parts = tuple[tuple[str, float], ...]  # (operation, seconds) per part


def extend_models(
    board: Storyboard, router: Router, scene: Scene, shot: Shot, path: str
) -> list[ModelSpec]:
    """Extend-capable video models that take the first part, cheapest first (pin: only it)."""
    found: list[tuple[float, str, ModelSpec]] = []
    for spec in router.registry.models:
        if spec.kind is not ModelKind.VIDEO or spec.extend is None:
            continue
        if shot.model and spec.id != shot.model:
            continue
        longest = spec.durations.high
        first = shot.model_copy(update={"model": spec.id, "duration": longest})
        fit = assess(spec, shot_need(board, scene, first, path), router.ctx)
        if isinstance(fit, Fit) and fit.resolution in spec.extend.resolutions:
            found.append((fit.quote_usd, spec.id, spec))
    return [spec for _, _, spec in sorted(found, key=lambda item: (item[0], item[1]))]


def extension_parts(total: float, spec: ModelSpec) -> Iterator[tuple[Parts, float]]:
    """(render + extend parts, the rest left for continuing parts), fewest parts first, then the
    longest first part. The rest is 0 when the chain makes the whole take."""
    assert spec.extend is not None
    step, cap = spec.extend.seconds, min(spec.extend.max_total_s, total)
    firsts = sorted(set(spec.durations.grid or (spec.durations.high,)), reverse=True)
    options: list[tuple[int, float, float]] = []
    for first in firsts:
        if first > spec.extend.max_input_s:
            continue
        steps = int((cap - first) // step + 1e-9)
        for count in range(steps, 0, -1):
            rest = round(total - first - count * step, 6)
            if rest >= 0:
                options.append((count, first, rest))
    # the whole take from the chain first; then the longest chain (fewest continuing parts)
    options.sort(key=lambda o: (o[2] > 0, -(o[0] * step + o[1]), -o[1]))
    for count, first, rest in options:
        yield ((RENDER, first), *([(EXTEND, step)] * count)), rest


def later_part(shot: Shot) -> dict[str, object]:
    """What a part after the first changes: it continues the part before it through a cut, with
    no reference image and no keyframe (a part that kept ``keyframe: generate`` was sent the
    shot's keyframe, its opening picture, as its first frame instead of the part before it's
    last), and leaves
    the line to the first part: no line, no speaker, and ambient sound where the shot asked for
    dialogue (``audio: dialogue`` needs a line: a part kept it, failed validation when the stored
    board was read, and every step of the job crashed after its first parts were paid for)."""
    audio = AudioNeed.AMBIENT if shot.audio is AudioNeed.DIALOGUE else shot.audio
    return {"continues": True, "reference_image": None, "keyframe": None, "transition": "cut",
            "dialogue": None, "speaker": None, "audio": audio}  # fmt: skip


def chain_shots(shot: Shot, model: str, parts: Parts, suffix: str) -> list[Shot]:
    """The parts as shots: the first keeps the shot's transition in, reference image and
    dialogue; each extension continues from and extends the part before it (a cut)."""
    out = []
    for index, (operation, seconds) in enumerate(parts, start=1):
        update: dict[str, object] = {"id": f"{shot.id}{suffix}{index}", "duration": seconds}
        if operation in (RENDER, EXTEND):
            update["model"] = model
        if index > 1:
            update |= later_part(shot) | {"extends": operation == EXTEND}
        out.append(shot.model_copy(update=update))
    return out
