"""A shot's tts stage, planned: which shots have a voiced line, which ``tts`` model speaks each
(``router.route_stage``: the same filters, ranking by health and cost, fallback chain and
explanation as every stage), in which provider voice, at what quote; and the refusals before
any spend.

A line is voiced when the shot has ``dialogue`` and a ``speaker`` whose character has a ``voice``.
Hosted tts models are routed first; the free local voice (``local/voice``) speaks when the run is
local (``--providers local``, a free preview) or, in a preview, when no hosted model can (at
planning, or at run time: it ends a preview's chain). A line
longer than every tts model's ``max_input_chars`` is refused at its ``dialogue``; a voice no
enabled model can honour (``openai:onyx`` with OpenAI disabled) at the character's ``voice``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.voices import VoiceChoice, choose_voice
from foundation.errors import InvalidInputError, Problem
from foundation.settings import Settings
from foundation.spoken import spoken_words
from foundation.storyboard import Mode, Storyboard
from pipeline.context import RunContext
from registry import ModelKind, ModelSpec, Registry
from router import StageCandidate, StageDecision, hosted_first, route_stage, stage_providers
from stitching.voiceover import room_problem

WORDS_PER_S = 2.5  # the expected speaking rate, for quotes
AUDIO_TOKENS_PER_S = 1250 / 60  # gpt-4o-mini-tts audio output tokens (UNCERTAIN: ~$0.015/min)
HOSTED_TTS = {"openai": "openai_api_key", "elevenlabs": "elevenlabs_api_key"}


@dataclass(frozen=True)
class Line:
    """A voiced line: ``path`` is the shot's (``scenes[0].shots[1]``), ``voice_path`` the
    speaking character's ``voice``."""

    shot_id: str
    path: str
    text: str
    voice: str
    voice_path: str
    shot_s: float


def lines_of(board: Storyboard) -> list[Line]:
    where = {c.id: f"characters[{i}].voice" for i, c in enumerate(board.characters)}
    found: list[Line] = []
    for path, shot in board.shot_paths():
        voice = board.voice_for(shot)
        if voice is None:
            continue
        text = " ".join((shot.dialogue or "").split())
        found.append(Line(shot.id, path, text, voice, where[str(shot.speaker)], shot.duration))
    return found


def line_of(storyboard: Mapping[str, Any], key: str) -> Line | None:
    """The voiced line of shot ``key`` of a stored storyboard (None: the shot has none)."""
    board = Storyboard.model_validate(storyboard)
    return next((line for line in lines_of(board) if line.shot_id == key), None)


def usage_for(spec: ModelSpec, text: str, seconds: float) -> dict[str, float]:
    """The usage a model bills for ``text`` spoken in ``seconds``, on the meters it prices:
    characters, or tokens (input ~4 characters a token and audio output tokens, both estimates:
    the speech endpoint reports no usage) or seconds."""
    meters = {r.meter for r in spec.usage_price.rates} if spec.usage_price else set()
    usage: dict[str, float] = {}
    if "characters" in meters:
        usage["characters"] = len(text)
    if "input_tokens" in meters:
        usage["input_tokens"] = math.ceil(len(text) / 4)
    if "output_tokens" in meters:
        usage["output_tokens"] = math.ceil(seconds * AUDIO_TOKENS_PER_S)
    if "seconds" in meters:
        usage["seconds"] = round(seconds, 3)
    return usage


def expected_seconds(text: str) -> float:
    return max(0.5, spoken_words(text) / WORDS_PER_S)


def voice_of(spec: ModelSpec, description: str) -> VoiceChoice | None:
    voices = [str(v) for v in spec.caps.get("voices") or []]
    instructions = bool(spec.caps.get("instructions"))
    return choose_voice(spec.provider, voices, description, instructions)


def tts_providers(choice: str, settings: Settings) -> frozenset[str]:
    """The providers a tts stage may use under ``--providers`` (``router.stage_providers``)."""
    return stage_providers(choice, HOSTED_TTS, settings)


def route_line(
    ctx: RunContext, line: Line, providers: Collection[str], mode: Mode | str
) -> StageDecision:
    """The tts stage of ``line``: hosted models first; the local voice when the run is local, or
    in a preview when no hosted model can speak the line (it ends a preview's hosted chain)."""
    seconds = expected_seconds(line.text)

    def route(among: Collection[str]) -> StageDecision:
        return route_stage(
            ctx.registry,
            ModelKind.TTS,
            among,
            usage=lambda spec: usage_for(spec, line.text, seconds),
            at_least={"max_input_chars": len(line.text)},
            accepts=lambda spec: (
                None
                if voice_of(spec, line.voice) is not None
                else f"cannot speak the voice {line.voice!r}"
            ),
            health=ctx.health,
            allow_unverified=ctx.settings.allow_unverified,
        )

    return hosted_first(route, providers, str(mode), stand_in=True)


def plan_voices(ctx: RunContext, board: Storyboard, mode: Mode | str) -> dict[str, StageDecision]:
    """Every voiced shot's tts stage; raises ``InvalidInputError`` (before any spend) naming the
    ``dialogue`` no tts model can take or no voice can fit in its shot (``room_problem``), or the
    ``voice`` no enabled model can honour."""
    providers = tts_providers(ctx.providers, ctx.settings)
    decisions: dict[str, StageDecision] = {}
    problems: list[Problem] = []
    for line in lines_of(board):
        decision = route_line(ctx, line, providers, mode)
        decisions[line.shot_id] = decision
        if not decision.chain:
            problems.append(_problem(ctx.registry, line, decision))
        elif (why := room_problem(spoken_words(line.text), line.shot_s)) is not None:
            problems.append(Problem(f"{line.path}.dialogue", why))  # was paid for, then failed
    if problems:
        raise InvalidInputError(
            "some lines cannot be voiced; nothing was reserved or sent to a provider", problems
        )
    return decisions


def _problem(registry: Registry, line: Line, decision: StageDecision) -> Problem:
    limits = [
        int(m.caps.get("max_input_chars") or 0) for m in registry.models if m.kind is ModelKind.TTS
    ]
    if limits and len(line.text) > max(limits):
        message = (
            f"the line is {len(line.text)} characters; the longest any tts model takes is "
            f"{max(limits)}: split it over shots"
        )
        return Problem(f"{line.path}.dialogue", message)
    return Problem(line.voice_path, f"shot {line.shot_id}: {decision.explain()}")


def stage_record(decision: StageDecision, stage: str = "tts") -> dict[str, Any]:
    """A stage (the tts stage, a keyframe stage) as ``shotline plan --json`` shows it."""
    head = decision.chain[0] if decision.chain else None
    return {
        "stage": stage,
        "model": head.model_id if head else None,
        "quote_usd": round(decision.quote_usd, 6) if head else None,
        "fallbacks": [c.model_id for c in decision.chain[1:]],
        "explanation": decision.explain(),
        "rejected": dict(decision.rejected),
    }


def keyed(registry: Registry, line: Line, candidate: StageCandidate) -> tuple[VoiceChoice, str]:
    """The provider voice ``candidate`` speaks ``line`` in and the cache key of the speech: the
    one computation of the tts stage and of a commit's quote."""
    choice = voice_of(registry.get(candidate.model_id), line.voice)
    assert choice is not None  # the route kept only models that honour the voice
    return choice, cache_key(line, candidate, choice)


def cache_key(line: Line, candidate: StageCandidate, choice: VoiceChoice) -> str:
    """The hash of what determines the speech: text, voice description, model and provider voice
    (and instructions); the same line re-rendered unchanged reuses the clip."""
    payload = {
        "text": line.text,
        "voice": line.voice,
        "model": candidate.model_id,
        "provider_voice": choice.voice,
        "instructions": choice.instructions,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
