"""A character's reference sheet, planned: which characters get one, which ``image`` model draws
it (``router.route_image_stage``, as a keyframe), at what quote, the refusals before any spend,
and where its tries live.

A character gets a sheet when it has no ``reference_images`` and at least one shot featuring it
draws a keyframe (``Shot.draws_keyframe``). The sheet is drawn once per job, from a neutral
full-figure prompt built from the character's description and the storyboard's style, and is then
the character's reference image for every keyframe featuring it, exactly as a given
``reference_images`` entry would be (``keyframes.keyframes_of``).

Where the tries live: attempts belong to shots, so a sheet's tries are attempts (``stage ==
"sheet"``) of the character's *owner*: the first shot, in storyboard order, that features the
character, draws a keyframe and has not ended. The owner draws the sheet before its own keyframe;
the other shots featuring the character wait (a short re-check of ``begin``) until the job holds
an accepted sheet for the character's current prompt, so shots not featuring it are never held
up. Should the owner fail (no model could draw the sheet), the next unfinished shot featuring the
character becomes the owner, finds every model already tried on that prompt (the tries are looked
up across the job) and fails with the same reason, before any of their videos is paid for. With
"first unfinished" rather than "first", a re-render of one shot whose character was edited draws
the new sheet on that shot.

The sheet is cached per tenant by the hash of (description, style, model, size) — the prompt is
built from the first two — so an unchanged character costs $0 on a re-render, and an edited
description draws exactly that character's sheet again; its new content changes the cache keys of
the keyframes featuring the character (they hash their references' content), hence their videos'.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation.errors import InvalidInputError, Problem
from foundation.keyframes import spec_keyframe
from foundation.settings import Settings
from foundation.states import SHOT_ENDED, AttemptStatus, Stage
from foundation.storyboard import Mode, Storyboard
from pipeline.context import RunContext
from registry import ImageTarget, Registry, image_target
from router import ImageNeeds, StageDecision, hosted_first, route_image_stage, stage_providers
from store.models import Attempt, Shot

HOSTED_IMAGES = {"openai": "openai_api_key", "fal": "fal_key", "gemini": "gemini_api_key"}
"""The hosted image providers and the setting holding each one's key (keyframes and sheets)."""
MAX_CROP = 1.0  # a sheet is used as drawn, whatever its aspect: no crop is refused
PLACEHOLDER = "sheet:"
"""A reference not drawn yet (``sheet:<character id>``): counted at planning, never read."""
WAIT_S = 0.5
"""How soon a shot waiting for another shot's sheet looks again."""


@dataclass(frozen=True)
class Sheet:
    """A character's sheet to draw: ``path`` is the character's (``characters[0]``); a square
    frame of ``side`` pixels (the video frame's short side)."""

    character: str
    path: str
    description: str
    style: str | None
    side: int

    @property
    def prompt(self) -> str:
        return sheet_prompt(self.character, self.description, self.style)

    @property
    def needs(self) -> ImageNeeds:
        return ImageNeeds(
            width=self.side, height=self.side, prompt_chars=len(self.prompt), max_crop=MAX_CROP
        )


def sheet_prompt(character: str, description: str, style: str | None) -> str:
    """A neutral full-figure character reference: the description, the style, nothing else in
    the picture (a keyframe conditioned on it should take the character, not a scene)."""
    text = description.strip().rstrip(".")
    parts = [
        f"Character reference sheet of {character}: {text}.",
        "Full figure, front view, standing in a neutral pose, even soft light, plain neutral "
        "background, no other people, no text.",
    ]
    if style:
        parts.append(f"Style: {style.strip().rstrip('.')}.")
    return " ".join(parts)


def needing_sheets(board: Storyboard) -> set[str]:
    """The ids of the characters without reference images featured by a keyframed shot."""
    bare = {c.id for c in board.characters if not c.reference_images}
    return {
        cid for _, shot in board.shots() if shot.draws_keyframe for cid in shot.characters
    } & bare


def sheets_of(board: Storyboard) -> list[Sheet]:
    """Every sheet the board needs, in the order its characters are declared."""
    wanted = needing_sheets(board)
    side = min(board.output.width, board.output.height)
    return [
        Sheet(c.id, f"characters[{i}]", c.description, board.style, side)
        for i, c in enumerate(board.characters)
        if c.id in wanted
    ]


def sheet_of(storyboard: Mapping[str, Any], character: str) -> Sheet | None:
    """The sheet of ``character`` in a stored storyboard (None: it needs none)."""
    board = Storyboard.model_validate(storyboard)
    return next((s for s in sheets_of(board) if s.character == character), None)


def image_stage_providers(choice: str, settings: Settings) -> frozenset[str]:
    """The providers an image stage may use under ``--providers`` (``router.stage_providers``)."""
    return stage_providers(choice, HOSTED_IMAGES, settings)


def route_image(
    ctx: RunContext, needs: ImageNeeds, providers: Collection[str], mode: Mode | str
) -> StageDecision:
    """An image stage (a sheet, a keyframe): hosted models first; the local one when the run is
    local, or in a preview when no hosted model can draw it."""

    def route(among: Collection[str]) -> StageDecision:
        return route_image_stage(
            ctx.registry,
            among,
            needs,
            health=ctx.health,
            allow_unverified=ctx.settings.allow_unverified,
        )

    return hosted_first(route, providers, str(mode))


def route_sheet(
    ctx: RunContext, sheet: Sheet, providers: Collection[str], mode: Mode | str
) -> StageDecision:
    """A sheet's stage (``route_image``)."""
    return route_image(ctx, sheet.needs, providers, mode)


def plan_sheets(ctx: RunContext, board: Storyboard, mode: Mode | str) -> dict[str, StageDecision]:
    """Every sheet's stage by character id; raises ``InvalidInputError`` (before any spend)
    naming ``characters[i]`` for a sheet no enabled image model can draw."""
    providers = image_stage_providers(ctx.providers, ctx.settings)
    decisions: dict[str, StageDecision] = {}
    problems: list[Problem] = []
    for sheet in sheets_of(board):
        decision = route_sheet(ctx, sheet, providers, mode)
        decisions[sheet.character] = decision
        if not decision.chain:
            why = f"no image model can draw its reference sheet: {decision.explain()}"
            problems.append(Problem(sheet.path, why))
    if problems:
        raise InvalidInputError(
            "some character sheets cannot be drawn; nothing was reserved or sent to a provider",
            problems,
        )
    return decisions


def cache_key(sheet: Sheet, model_id: str, size: str) -> str:
    """The hash of what determines the sheet: description, style, model and size drawn."""
    payload = {
        "stage": "sheet",
        "description": sheet.description,
        "style": sheet.style,
        "model": model_id,
        "size": size,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def keyed(registry: Registry, sheet: Sheet, model_id: str) -> tuple[ImageTarget, str]:
    """What model ``model_id`` is asked to draw for ``sheet`` and the cache key of the result:
    the one computation of the sheet stage and of a commit's quote."""
    target = image_target(registry.get(model_id).caps, sheet.side, sheet.side)
    return target, cache_key(sheet, model_id, target.size or target.aspect or "")


# --- the job's sheets, as rows -----------------------------------------------------------------


def job_tries(session: Session, job_id: str, character: str, prompt: str) -> list[Attempt]:
    """The job's sheet tries for ``character`` drawn from ``prompt``, first first (whichever
    shot owns them)."""
    query = (
        select(Attempt)
        .join(Shot, Shot.id == Attempt.shot_id)
        .where(Shot.job_id == job_id, Attempt.stage == Stage.SHEET)
        .order_by(Attempt.id)
    )
    return [
        a
        for a in session.scalars(query)
        if (a.request or {}).get("character") == character
        and (a.request or {}).get("prompt") == prompt
    ]


def drawn(session: Session, job_id: str, sheets: Iterable[Sheet]) -> dict[str, str]:
    """The stored sheet of each of ``sheets`` the job has drawn (accepted, on its current
    prompt), by character id."""
    wanted = {s.character: s.prompt for s in sheets}
    if not wanted:
        return {}
    query = (
        select(Attempt.request, Attempt.asset_path)
        .join(Shot, Shot.id == Attempt.shot_id)
        .where(Shot.job_id == job_id, Attempt.stage == Stage.SHEET)
        .where(Attempt.status == AttemptStatus.ACCEPTED)
        .order_by(Attempt.id)
    )
    found: dict[str, str] = {}
    for request, asset in session.execute(query):
        character = (request or {}).get("character")
        if asset and character in wanted and (request or {}).get("prompt") == wanted[character]:
            found[character] = asset
    return found


def drawn_for(session: Session, job_id: str, storyboard: Mapping[str, Any]) -> dict[str, str]:
    """``drawn`` of every sheet a stored storyboard needs (no query when it needs none)."""
    if all(c.get("reference_images") for c in storyboard.get("characters") or []):
        return {}
    return drawn(session, job_id, sheets_of(Storyboard.model_validate(storyboard)))


def owner(
    session: Session, job_id: str, storyboard: Mapping[str, Any], character: str
) -> int | None:
    """The shot that draws ``character``'s sheet: the first unfinished keyframed shot featuring
    it, in storyboard order (None: every such shot has ended)."""
    featuring = [
        spec["id"]
        for scene in storyboard["scenes"]
        for spec in scene["shots"]
        if character in (spec.get("characters") or []) and spec_keyframe(spec)
    ]
    if not featuring:
        return None
    rows = session.execute(
        select(Shot.id, Shot.key, Shot.status).where(Shot.job_id == job_id, Shot.key.in_(featuring))
    ).all()
    open_ = {key: pk for pk, key, status in rows if status not in SHOT_ENDED}
    return next((open_[key] for key in featuring if key in open_), None)
