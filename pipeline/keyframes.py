"""A shot's keyframe stage, planned: which shots get a generated first frame, which ``image``
model draws each (``router.route_image_stage``: the same filters, ranking by health and cost,
fallback chain and explanation as every stage), at what quote; and the refusals before any spend.

A shot is keyframed when ``foundation.characters.spec_keyframe`` says so (``keyframe: generate``,
by default a shot with characters and no first frame of its own). The image model draws the
video's frame (its aspect, at most ``MAX_CROP`` of it lost to the crop) from the composed shot
prompt (the characters' descriptions and the style, as the video stage is sent it), conditioned on
the featured characters' reference images. Hosted image models are routed first; the free local
one (``local/keyframe``) draws when the run is local or, in a preview, when no hosted model can.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation.characters import featured_references
from foundation.errors import InvalidInputError, Problem
from foundation.settings import Settings
from foundation.states import AttemptStatus, Stage
from foundation.storyboard import Mode, Storyboard
from pipeline.commit_types import preview_shot
from pipeline.context import RunContext
from pipeline.sheets import PLACEHOLDER, image_stage_providers, needing_sheets, route_image
from registry import ImageTarget, image_target
from router import ImageNeeds, StageCandidate, StageDecision
from store.models import Attempt, JobCommit, Shot

MAX_CROP = 0.2  # of the drawn image's pixels, lost to the crop to the video's aspect


@dataclass(frozen=True)
class Keyframe:
    """A shot's keyframe to draw: ``path`` is the shot's (``scenes[0].shots[1]``)."""

    shot_id: str
    path: str
    prompt: str
    references: tuple[str, ...]
    width: int
    height: int

    @property
    def needs(self) -> ImageNeeds:
        return ImageNeeds(
            width=self.width,
            height=self.height,
            references=len(self.references),
            prompt_chars=len(self.prompt),
            max_crop=MAX_CROP,
        )


def keyframes_of(board: Storyboard, drawn: Mapping[str, str] | None = None) -> list[Keyframe]:
    """Every keyframed shot's keyframe. A character without reference images has its reference
    sheet (``pipeline.sheets``) as its one reference: ``drawn[character]``, the stored sheet, or
    ``sheets.PLACEHOLDER + character`` while it is not drawn (planning counts it)."""
    images = {c.id: list(c.reference_images) for c in board.characters}
    for cid in needing_sheets(board):
        images[cid] = [(drawn or {}).get(cid) or f"{PLACEHOLDER}{cid}"]
    found: list[Keyframe] = []
    for path, shot in board.shot_paths():
        if not shot.draws_keyframe:
            continue
        found.append(
            Keyframe(
                shot.id, path, board.prompt_for(shot),
                tuple(featured_references(images, shot.characters)),
                board.output.width, board.output.height,
            )
        )  # fmt: skip
    return found


def keyframe_of(
    storyboard: Mapping[str, Any], key: str, drawn: Mapping[str, str] | None = None
) -> Keyframe | None:
    """The keyframe of shot ``key`` of a stored storyboard (None: the shot has none); ``drawn``:
    the job's character sheets (``keyframes_of``)."""
    board = Storyboard.model_validate(storyboard)
    return next((kf for kf in keyframes_of(board, drawn) if kf.shot_id == key), None)


def image_providers(choice: str, settings: Settings) -> frozenset[str]:
    """The providers an image stage may use under ``--providers`` (``router.stage_providers``)."""
    return image_stage_providers(choice, settings)


def route_keyframe(
    ctx: RunContext, keyframe: Keyframe, providers: Collection[str], mode: Mode | str
) -> StageDecision:
    """The keyframe stage of a shot (``sheets.route_image``)."""
    return route_image(ctx, keyframe.needs, providers, mode)


def plan_keyframes(
    ctx: RunContext, board: Storyboard, mode: Mode | str
) -> dict[str, StageDecision]:
    """Every keyframed shot's keyframe stage; raises ``InvalidInputError`` (before any spend)
    naming the ``keyframe`` of a shot no enabled image model can draw."""
    providers = image_providers(ctx.providers, ctx.settings)
    decisions: dict[str, StageDecision] = {}
    problems: list[Problem] = []
    for keyframe in keyframes_of(board):
        decision = route_keyframe(ctx, keyframe, providers, mode)
        decisions[keyframe.shot_id] = decision
        if not decision.chain:
            why = f"no image model can draw it: {decision.explain()}"
            problems.append(Problem(f"{keyframe.path}.keyframe", why))
    if problems:
        raise InvalidInputError(
            "some keyframes cannot be drawn; nothing was reserved or sent to a provider", problems
        )
    return decisions


def cache_key(keyframe: Keyframe, model_id: str, size: str, references: list[str]) -> str:
    """The hash of what determines the keyframe: the composed prompt, the references' content
    (``references``: their digests), the model and the size drawn; an unchanged shot reuses it,
    an edited character description draws the keyframes of exactly the shots featuring it."""
    payload = {
        "prompt": keyframe.prompt,
        "references": references,
        "model": model_id,
        "size": size,
        "frame": [keyframe.width, keyframe.height],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def keyed(ctx: RunContext, keyframe: Keyframe, model_id: str) -> tuple[ImageTarget, str]:
    """What model ``model_id`` is asked to draw for ``keyframe`` and the cache key of the result
    (its references' content read from the asset store): the one computation of the keyframe
    stage and of a commit's quote."""
    spec = ctx.registry.get(model_id)
    target = image_target(spec.caps, keyframe.width, keyframe.height)
    digests = [
        hashlib.sha256(ctx.assets.local(ref).read_bytes()).hexdigest()
        for ref in keyframe.references
    ]
    return target, cache_key(keyframe, model_id, target.size or target.aspect or "", digests)


def keyframe_attempts(session: Session, shot_id: int) -> list[Attempt]:
    """The shot's keyframe attempts, first first."""
    query = select(Attempt).where(Attempt.shot_id == shot_id, Attempt.stage == Stage.KEYFRAME)
    return list(session.scalars(query.order_by(Attempt.number.desc())))


def accepted_for(session: Session, shot_id: int, prompt: str) -> Attempt | None:
    """The shot's accepted keyframe drawn from ``prompt`` (the latest), else None."""
    return next(
        (
            a
            for a in reversed(keyframe_attempts(session, shot_id))
            if a.status == AttemptStatus.ACCEPTED and (a.request or {}).get("prompt") == prompt
        ),
        None,
    )


def keyframe_ref(session: Session, spec: Mapping[str, Any], shot_id: int) -> str | None:
    """The stored keyframe the shot's video animates (its first frame), or None. ``spec``: the
    shot as its video stage renders it (``requests.shot_spec``: its ``prompt`` composed). A shot
    without a keyframe stage costs no query."""
    from foundation.keyframes import spec_keyframe

    if not spec_keyframe(spec):
        return None
    accepted = accepted_for(session, shot_id, str(spec["prompt"]))
    return accepted.asset_path if accepted is not None else None


def approved_keyframe(session: Session, job_id: str, shot_key: str, prompt: str) -> Attempt | None:
    """The keyframe the reviewer approved for shot ``shot_key`` of a commit's final job ``job_id``:
    the preview shot's accepted keyframe drawn from the same ``prompt`` (the first segment of a
    shot the final splits draws the shot's); None for any other job."""
    row = session.execute(
        select(JobCommit.preview_job_id, JobCommit.quote).where(JobCommit.final_job_id == job_id)
    ).first()
    if row is None:
        return None
    preview_id, quote = row
    return preview_keyframe(session, preview_id, preview_shot(quote, shot_key), prompt)


def preview_keyframe(
    session: Session, preview_id: str, shot_key: str, prompt: str
) -> Attempt | None:
    """Shot ``shot_key``'s accepted keyframe in job ``preview_id``, drawn from ``prompt``."""
    shot_id = session.scalar(select(Shot.id).where(Shot.job_id == preview_id, Shot.key == shot_key))
    return None if shot_id is None else accepted_for(session, shot_id, prompt)


def approved_candidate(
    ctx: RunContext, found: Attempt | None, providers: str
) -> tuple[StageCandidate, str] | None:
    """The model (quoted $0) and cache key of ``found``, the approved keyframe a final job run on
    ``providers`` reuses; None when there is none, or for a placeholder of the local model when
    the final is not local (``local/keyframe`` draws a placeholder: the final draws a real one)."""
    key = (found.request or {}).get("cache_key") if found is not None else None
    if found is None or not key or found.model_id not in ctx.registry:
        return None
    if found.provider == "local" and providers != "local":
        return None
    spec = ctx.registry.get(found.model_id)
    candidate = StageCandidate(
        spec.id, spec.provider, spec.provider_model, 0.0, "closed", spec.caps
    )
    return candidate, str(key)
