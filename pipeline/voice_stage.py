"""A shot's tts stage, run: the step ``voice`` of the step graph (``pipeline.flow``), before the
shot's video stage, so a line that cannot be voiced or does not fit the shot fails the shot
before its video is paid for.

Each try is an attempt row of the shot with ``stage == "tts"``, numbered below zero (-1, -2, ...,
shared with any other stage run before the video; video attempts count from 1; migration
``0007_attempt_stage``), with its quote reserved and its cost settled by the ledger like a video attempt's, its events
and its ``AttemptCost`` record, and ``request.stage == "tts"``. The speech is cached by the hash of
its inputs (``voices.cache_key``, kept as the attempt's ``provider_job_id``): an unchanged line
re-rendered in the tenant reuses the stored speech for nothing. The check: speech is present in
the clip (the gate's VAD, ``quality.speech``) and it fits the shot (``stitching.voiceover``:
retimed up to ``MAX_TEMPO``, else the shot fails with the reason).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.speech import SpeechClient, SpeechRequest
from foundation.characters import spec_voice
from foundation.states import SHOT_ENDED, AttemptStatus, Stage
from media.runner import run_ffmpeg
from pipeline import kept_voice, stage_tries, voices
from pipeline.context import RunContext
from quality.policy import DetectorConfig
from quality.speech import VAD_RATE, speech_segments
from router import StageCandidate
from stitching.captions import speech_span
from stitching.voiceover import RATE, VoiceFit, fit_line, fitted_argv, longest_heard, read_mono
from store.db import session_scope
from store.models import Attempt, Job, Shot

STAGE = Stage.TTS


def voice_attempts(session: Session, shot_id: int) -> list[Attempt]:
    """The shot's tts attempts, first first."""
    query = select(Attempt).where(Attempt.shot_id == shot_id, Attempt.stage == Stage.TTS)
    return list(session.scalars(query.order_by(Attempt.number.desc())))


def _done_for(attempt: Attempt, line: voices.Line) -> bool:
    request = attempt.request or {}
    return (
        attempt.status == AttemptStatus.ACCEPTED
        and request.get("text") == line.text
        and request.get("voice_description") == line.voice
    )


def pending(session: Session, shot: Shot, storyboard: dict[str, Any]) -> bool:
    """Whether the shot's line still has to be voiced (cheap for a shot without a voice). A shot
    that has ended is not; an accepted one may be: a commit's kept shot arrives accepted with its
    preview clip, and its line is voiced in the final job (the preview's speech, from the cache,
    when the same model speaks it)."""
    if shot.status in SHOT_ENDED:
        return False
    if spec_voice(storyboard, stage_tries.spec_entry(storyboard, shot.key)) is None:
        return False
    line = voices.line_of(storyboard, shot.key)
    return line is not None and not any(
        _done_for(a, line) for a in voice_attempts(session, shot.id)
    )


def speak(ctx: RunContext, shot_pk: int) -> float:
    """Voice the shot's line along its tts chain; the shot fails (stage ``tts``) when no model
    delivers speech that fits. Returns 0 when the stage is over, else the seconds to wait for a
    slot of the model (``admission``: its concurrency and requests a minute; the reserved try
    waits). Idempotent: a voiced line is left as it is, a model already tried on it is not asked
    again."""
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        job = session.get_one(Job, shot.job_id)
        if not pending(session, shot, job.storyboard):
            return 0.0
        line = voices.line_of(job.storyboard, shot.key)
        assert line is not None
        tries = voice_attempts(session, shot.id)
        stage_tries.close_interrupted(session, job.id, tries, STAGE)
        owner = stage_tries.Owner.of(job, shot)
        mine = [a for a in tries if (a.request or {}).get("text") == line.text]
        tried = stage_tries.ended_on(mine)
        waiting = stage_tries.reserved_by_model(mine)
    providers = voices.tts_providers(owner.providers, ctx.settings)
    decision = voices.route_line(ctx, line, providers, owner.mode)
    preview_id = kept_voice.preview_of_kept(owner.id, owner.shot_key, ctx.db_url)
    if preview_id and (kept := kept_voice.kept_speech(ctx, line, preview_id, owner.tenant)):
        decision = kept_voice.first(kept, decision)

    def attempt_one(candidate: StageCandidate, reserved: int | None) -> stage_tries.Outcome:
        return _try(ctx, shot_pk, owner, line, candidate, reserved)

    return stage_tries.walk_chain(ctx, shot_pk, decision, tried, waiting, attempt_one, STAGE)


def _try(
    ctx: RunContext,
    shot_pk: int,
    owner: stage_tries.Owner,
    line: voices.Line,
    candidate: StageCandidate,
    reserved: int | None,
) -> stage_tries.Outcome:
    """One model's try: None when the line is voiced, the seconds to wait for the model's slot,
    or (reason, whether to stop trying). ``reserved``: this model's try waiting for its slot."""
    choice, key = voices.keyed(ctx.registry, line, candidate)
    cached = stage_tries.cached_try(ctx, key, owner.tenant, STAGE)
    if cached is None and candidate.health == kept_voice.KEPT:
        return "the preview's speech is no longer stored", False  # never a call at $0 reserved
    request = {
        "stage": STAGE, "text": line.text, "voice_description": line.voice,
        "voice": choice.voice, "instructions": choice.instructions, "cache_key": key,
        "reused_from": cached[0] if cached else None,
        "note": cached[2].get("note") if cached else None,
    }  # fmt: skip
    admitted = stage_tries.admit_try(
        ctx, shot_pk, owner, candidate, request, STAGE, reserved, cached,
        lambda attempt_id, ref: _check(
            ctx, attempt_id, owner, line, ctx.assets.local(ref), ref, lambda _: 0.0
        ),
    )  # fmt: skip
    if not isinstance(admitted, stage_tries.Admitted):
        return admitted
    attempt_id = admitted.attempt_id
    said = SpeechRequest(line.text, candidate.provider_model, choice.voice, choice.instructions)
    with closing(speech_client(ctx, candidate.provider)) as client:
        speech = stage_tries.call(
            ctx, attempt_id, owner, candidate.model_id, STAGE, lambda: client.speak(said)
        )
    if isinstance(speech, tuple):
        return speech
    raw = ctx.work_dir(owner.id) / f"voice-{owner.shot_key}-{key[:12]}.wav"
    raw.write_bytes(speech.wav)
    ref = stage_tries.keep_output(ctx, attempt_id, owner, raw, f"{STAGE}:{key}", note=speech.note)
    spec = ctx.registry.get(candidate.model_id)
    price = spec.usage_price
    assert price is not None

    def cost(seconds: float) -> float:
        return price.cost(voices.usage_for(spec, line.text, seconds)).usd

    return _check(ctx, attempt_id, owner, line, raw, ref, cost)


def speech_client(ctx: RunContext, provider: str) -> SpeechClient:
    """The provider's speech client: at the emulator when emulated, else with its key."""
    if provider == "local":
        return SpeechClient("local")
    if ctx.emulated:
        return SpeechClient(provider, "emulated", ctx.base_urls[provider] + _EMULATED[provider])
    field = voices.HOSTED_TTS[provider]
    secret = getattr(ctx.settings, field)
    return SpeechClient(provider, secret.get_secret_value() if secret else "")


_EMULATED = {"openai": "/v1", "elevenlabs": ""}


def _check(
    ctx: RunContext,
    attempt_id: int,
    owner: stage_tries.Owner,
    line: voices.Line,
    raw: Path,
    ref: str,
    cost_of: Callable[[float], float],
) -> tuple[str, bool] | None:
    """Speech present, and fitted to the shot; the attempt accepted (or rejected) and settled at
    ``cost_of`` the seconds the clip lasts (decoded once for both)."""
    longest = longest_heard(line.shot_s)
    spoken_s = float(read_mono(raw, max_s=longest).size) / RATE
    cost = cost_of(spoken_s)
    heard = spoken_s <= longest and _speech_heard(raw, longest)
    fit: VoiceFit | str = "no speech was heard in the voice clip"
    if spoken_s > longest:
        fit = f"the voice clip runs over {longest:g} s for a {line.shot_s:g} s shot (not decoded further)"
    elif heard:
        fit = fit_line(spoken_s, line.shot_s)
    fitted = placement = None
    if isinstance(fit, VoiceFit):
        fitted = ctx.work_dir(owner.id) / f"voice-{owner.shot_key}-{attempt_id}-fitted.wav"
        run_ffmpeg(fitted_argv(raw, fitted, fit.tempo), timeout=120)
        placement = _placement(fitted, fit)
    why = None if placement is not None and fitted is not None else str(fit)
    return stage_tries.conclude(
        ctx, attempt_id, owner, STAGE, (ref, cost), why,
        asset=fitted, details=placement, in_event=True, stop=heard,
    )  # fmt: skip


def _speech_heard(path: Path, max_s: float) -> bool:
    pcm = (np.clip(read_mono(path, VAD_RATE, max_s), -1, 1) * 32767).astype(np.int16)
    with contextlib.suppress(ValueError):
        return bool(speech_segments(pcm, DetectorConfig()))
    return False


def _placement(fitted: Path, fit: VoiceFit) -> dict[str, Any]:
    """Where the speech plays in the shot (seconds from the shot's start)."""
    samples = read_mono(fitted)
    span = speech_span(samples.reshape(-1, 1), RATE) or (0, samples.size)
    return {
        "offset_s": fit.offset_s,
        "seconds": round(samples.size / RATE, 3),
        "tempo": fit.tempo,
        "speech_s": [
            round(fit.offset_s + span[0] / RATE, 3),
            round(fit.offset_s + span[1] / RATE, 3),
        ],
    }


def placements(ctx: RunContext, job_id: str) -> dict[str, dict[str, Any]]:
    """The accepted voice clip of every voiced shot of the job, by shot key (``Captions.voices``
    and the mix read them): ``path``, ``model``, ``offset_s``, ``speech_s``, ``tempo``."""
    with session_scope(ctx.db_url) as session:
        rows = session.execute(
            select(Shot.key, Attempt.asset_path, Attempt.model_id, Attempt.verdict)
            .join(Attempt, Attempt.shot_id == Shot.id)
            .where(Shot.job_id == job_id, Attempt.stage == Stage.TTS)
            .where(Attempt.status == AttemptStatus.ACCEPTED)
            .order_by(Attempt.number.desc())
        ).all()
    found: dict[str, dict[str, Any]] = {}
    for key, path, model, verdict in rows:
        found[key] = {
            "path": path,
            "model": model,
            **{k: v for k, v in (verdict or {}).items() if k != "stage"},
        }
    return found
