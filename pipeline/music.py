"""The job's music stage, planned: whether the storyboard asks for a generated bed
(``music.prompt``), which ``music`` model composes it (``router.route_stage``: the same filters,
ranking by health and cost, fallback chain and explanation as every stage), how long a bed each
model is asked for, at what quote; and the refusals before any spend.

The bed is asked for as long as the programme (whole seconds), within the model's
``min_seconds``-``max_seconds``: a shorter programme cuts it, a longer one loops it (the
stitcher), so a programme longer than every model's maximum is not refused; a prompt longer than
every model's ``max_prompt_chars`` is, at ``music.prompt``, and so is a bed no enabled model can
compose (``--providers live`` without an ElevenLabs key in a final render). Hosted models are
routed first; the free local bed (``local/music``) composes when the run is local or, in a
preview, when no hosted model can (at planning, or at run time: it ends a preview's chain).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from foundation.errors import InvalidInputError, Problem
from foundation.settings import Settings
from foundation.storyboard import Mode, Storyboard
from pipeline.context import RunContext
from registry import ModelKind, ModelSpec, Registry
from router import StageCandidate, StageDecision, hosted_first, route_stage, stage_providers

HOSTED_MUSIC = {"elevenlabs": "elevenlabs_api_key"}
PATH = "music.prompt"


@dataclass(frozen=True)
class Need:
    """A generated bed: its prompt and the programme's length in seconds."""

    prompt: str
    programme_s: float

    @property
    def key(self) -> str:
        """What the job needs, whatever model composes it (a re-render that edits the prompt or
        the programme's length needs a new bed)."""
        payload = {"prompt": self.prompt, "seconds": math.ceil(self.programme_s)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def need_of(board: Storyboard) -> Need | None:
    """The bed the storyboard asks a model for (None: no music, or a file)."""
    if board.music is None or board.music.prompt is None:
        return None
    return Need(" ".join(board.music.prompt.split()), board.planned_seconds())


def stored_need(storyboard: Mapping[str, Any]) -> Need | None:
    """``need_of`` a stored storyboard, cheap for one without a generated bed."""
    music = storyboard.get("music") or {}
    if not music.get("prompt"):
        return None
    return need_of(Storyboard.model_validate(storyboard))


def asked_seconds(caps: Mapping[str, Any], need: Need) -> float:
    """The bed's length asked of a model: the programme's, in whole seconds, within the model's
    limits."""
    low, high = float(caps.get("min_seconds") or 1), float(caps.get("max_seconds") or 600)
    return float(min(max(math.ceil(need.programme_s), math.ceil(low)), math.floor(high)))


def music_providers(choice: str, settings: Settings) -> frozenset[str]:
    """The providers the music stage may use under ``--providers`` (``router.stage_providers``)."""
    return stage_providers(choice, HOSTED_MUSIC, settings)


def _prompt_refusal(spec: ModelSpec, need: Need) -> str | None:
    limit = spec.caps.get("max_prompt_chars")
    if isinstance(limit, int) and len(need.prompt) > limit:
        return f"takes prompts of up to {limit} characters, the bed's has {len(need.prompt)}"
    return None


def route_bed(
    ctx: RunContext, need: Need, providers: Collection[str], mode: Mode | str
) -> StageDecision:
    """The music stage: hosted models first; the local bed when the run is local, or in a
    preview when no hosted model can compose it (it ends a preview's hosted chain)."""

    def route(among: Collection[str]) -> StageDecision:
        return route_stage(
            ctx.registry,
            ModelKind.MUSIC,
            among,
            usage=lambda spec: {"seconds": asked_seconds(spec.caps, need)},
            accepts=lambda spec: _prompt_refusal(spec, need),
            health=ctx.health,
            allow_unverified=ctx.settings.allow_unverified,
        )

    return hosted_first(route, providers, str(mode), stand_in=True)


def plan_music(ctx: RunContext, board: Storyboard, mode: Mode | str) -> StageDecision | None:
    """The job's music stage (None without a generated bed); raises ``InvalidInputError``
    (before any spend) at ``music.prompt`` when no enabled model can compose the bed."""
    need = need_of(board)
    if need is None:
        return None
    decision = route_bed(ctx, need, music_providers(ctx.providers, ctx.settings), mode)
    if not decision.chain:
        raise InvalidInputError(
            "the music bed cannot be composed; nothing was reserved or sent to a provider",
            [_problem(ctx.registry, need, decision)],
        )
    return decision


def _problem(registry: Registry, need: Need, decision: StageDecision) -> Problem:
    limits = [
        int(m.caps.get("max_prompt_chars") or 0)
        for m in registry.models
        if m.kind is ModelKind.MUSIC and m.enabled
    ]
    if limits and all(limits) and len(need.prompt) > max(limits):
        message = (
            f"the prompt is {len(need.prompt)} characters; the longest any music model takes "
            f"is {max(limits)}"
        )
        return Problem(PATH, message)
    return Problem(PATH, f"no music model can compose the bed: {decision.explain()}")


def cache_key(need: Need, candidate: StageCandidate) -> str:
    """The hash of what determines the bed: prompt, length asked and model; the same job
    rendered again (or another job of the tenant with the same bed) reuses it for nothing."""
    payload = {
        "prompt": need.prompt,
        "seconds": asked_seconds(candidate.caps, need),
        "model": candidate.model_id,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
