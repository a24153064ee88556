"""The job's music stage, run: the step ``music`` of the step graph (``pipeline.flow``), started
with the shots and run beside them (off the critical path); the job's ``finish`` waits for it
before stitching, and the generated bed then takes the path a ``music.file`` takes (looped or cut
to the programme, ducked under the shots' sound, the programme brought to its loudness target).

One bed per job. Its tries are attempt rows with ``stage == "music"`` kept on the job's first
shot (the attempt table hangs off shots; a job-level owner would need a new table and a second
copy of the ledger's, events' and cache's queries), numbered from ``stage_tries.JOB_FLOOR`` down
so they never race that shot's own stages for a number. Each is quoted, reserved and settled by
the ledger like every try, with its events (``stage: music``) and ``AttemptCost`` record. The bed
is cached by the hash of (prompt, length asked, model) per tenant (``music.cache_key``, kept as
the attempt's ``provider_job_id``): rendering an unchanged job again reuses the stored bed for
nothing. The check: the bed decodes, has an audio stream and is not silent. When no model of the
chain delivers one, a ``music.failed`` event records why, and the music step ends the job at once
at stage ``music`` (``flow.music``: its shots still rendering or not sent yet are cancelled, not
paid for) instead of delivering it without the bed it asked for; ``finish`` checks it again.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.music import MusicClient, MusicRequest
from foundation.states import SHOT_ENDED, AttemptStatus, Stage
from pipeline import events, music, stage_tries
from pipeline.context import RunContext
from pipeline.steps import ABSENT, Cursor, Move, job_key, music_key
from router import StageCandidate
from stitching import music_problem
from stitching.audio import SILENT_RMS, not_finite
from stitching.voiceover import RATE, longest_heard, read_mono
from store.db import session_scope
from store.models import Attempt, Event, Job, Shot

STAGE = Stage.MUSIC
FAILED = "music.failed"
_EMULATED = {"elevenlabs": ""}


def music_attempts(session: Session, job_id: str) -> list[Attempt]:
    """The job's music tries, first first."""
    query = (
        select(Attempt)
        .join(Shot, Shot.id == Attempt.shot_id)
        .where(Shot.job_id == job_id, Attempt.stage == STAGE)
    )
    return list(session.scalars(query.order_by(Attempt.number.desc())))


def outcome(session: Session, job_id: str, storyboard: dict[str, Any]) -> str:
    """``none`` (no generated bed), ``done`` (a bed for the job's prompt and length is
    accepted), ``failed`` (no model delivered one) or ``pending``."""
    need = music.stored_need(storyboard)
    if need is None:
        return "none"
    if _accepted(session, job_id, need) is not None:
        return "done"
    failures = session.scalars(
        select(Event.data).where(Event.job_id == job_id, Event.kind == FAILED)
    )
    if any((data or {}).get("need") == need.key for data in failures):
        return "failed"
    return "pending"


def _accepted(session: Session, job_id: str, need: music.Need) -> Attempt | None:
    return next(
        (
            a
            for a in reversed(music_attempts(session, job_id))
            if a.status == AttemptStatus.ACCEPTED and (a.request or {}).get("need") == need.key
        ),
        None,
    )


def bed_of(ctx: RunContext, job_id: str) -> tuple[str | None, str | None]:
    """The job's accepted bed (its stored reference) and, without one, why (the last failure)."""
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        need = music.stored_need(job.storyboard)
        if need is None:
            return None, "the storyboard asks for no generated bed"
        accepted = _accepted(session, job_id, need)
        if accepted is not None:
            return accepted.asset_path, None
        failures = session.scalars(
            select(Event.data).where(Event.job_id == job_id, Event.kind == FAILED)
        ).all()
    reasons = [str(d.get("reason")) for d in failures if (d or {}).get("need") == need.key]
    return None, (reasons[-1] if reasons else "no music model delivered a bed")


def failure(ctx: RunContext, job_id: str) -> str | None:
    """Why the job's bed failed (no model of its chain delivered one), else None (composed,
    pending, or no generated bed; no query of the tries for a job without one)."""
    with session_scope(ctx.db_url) as session:
        board = session.scalar(select(Job.storyboard).where(Job.id == job_id)) or {}
        state = outcome(session, job_id, board)
    return (
        (bed_of(ctx, job_id)[1] or "no music model delivered a bed") if state == "failed" else None
    )


def step(ctx: RunContext, cur: Cursor) -> list[Move]:
    """The step ``music`` (``ref``: the job id): compose the bed, or ask again after the wait
    for the model's slot; then, when every shot has ended too (read after the bed's commit, as
    ``flow.shot_over`` reads the bed after its shot's, so one of the two always sees both), move
    the job on to ``finish``."""
    if cur.cancelled:
        return [Move(cur.key, cur.job_id, "done", cur.ref)]
    wait = compose(ctx, cur.job_id)
    if wait > 0:
        return [Move(cur.key, cur.job_id, "music", cur.ref, wait)]
    return [Move(cur.key, cur.job_id, "done", cur.ref), *_then_finish(ctx, cur.job_id)]


def abandon(ctx: RunContext, cur: Cursor, reason: str) -> list[Move]:
    """End a music step that cannot run: the stage fails with ``reason`` (``finish`` fails the
    job at stage ``music``)."""
    with session_scope(ctx.db_url) as session:
        need = music.stored_need(session.get_one(Job, cur.job_id).storyboard)
        if need is not None:
            events.emit(
                session, cur.job_id, FAILED, None, stage=STAGE, need=need.key, reason=reason
            )
    return [Move(cur.key, cur.job_id, "done", cur.ref), *_then_finish(ctx, cur.job_id)]


MUSIC_POLL_S = 1.0
_FRESH = frozenset({ABSENT, "done", "wait"})


def launch(ctx: RunContext, job_id: str) -> list[Move]:
    """The move that starts the music step beside the shots, when the job's bed is still to
    compose (none otherwise)."""
    with session_scope(ctx.db_url) as session:
        board = session.scalar(select(Job.storyboard).where(Job.id == job_id)) or {}
        if outcome(session, job_id, board) != "pending":
            return []
    return [Move(music_key(job_id), job_id, "music", job_id, when=_FRESH)]


def before_finish(ctx: RunContext, cur: Cursor) -> list[Move] | str | None:
    """What ``finish`` (cursor ``cur``) does about the job's bed: None when it is ready (or the
    job has none); the moves while it is composed (``finish`` looks again in ``MUSIC_POLL_S``,
    and the music step runs if it is not running); or why no model delivered it."""
    with session_scope(ctx.db_url) as session:
        board = session.scalar(select(Job.storyboard).where(Job.id == cur.job_id)) or {}
        state = outcome(session, cur.job_id, board)
    if state == "failed":
        return bed_of(ctx, cur.job_id)[1] or "no music model delivered a bed"
    if state != "pending":
        return None
    return [
        Move(cur.key, cur.job_id, "finish", cur.job_id, MUSIC_POLL_S),
        Move(music_key(cur.job_id), cur.job_id, "music", cur.job_id, when=_FRESH),
    ]


def _then_finish(ctx: RunContext, job_id: str) -> list[Move]:
    with session_scope(ctx.db_url) as session:
        statuses = session.scalars(select(Shot.status).where(Shot.job_id == job_id)).all()
    if all(status in SHOT_ENDED for status in statuses):
        return [Move(job_key(job_id), job_id, "finish", job_id, when=frozenset({"shots"}))]
    return []


def compose(ctx: RunContext, job_id: str) -> float:
    """Compose the job's bed along its music chain. Returns 0 when the stage is over (a bed
    accepted, or a ``music.failed`` event), else the seconds to wait for a slot of the model.
    Idempotent: an accepted bed is left as it is, a model already tried on it is not asked
    again."""
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        need = music.stored_need(job.storyboard)
        if need is None or outcome(session, job_id, job.storyboard) != "pending":
            return 0.0
        shot = session.scalars(
            select(Shot).where(Shot.job_id == job_id).order_by(Shot.position).limit(1)
        ).one()
        tries = music_attempts(session, job_id)
        stage_tries.close_interrupted(session, job_id, tries, STAGE)
        owner, shot_pk = stage_tries.Owner.of(job, shot), shot.id
        mine = [a for a in tries if (a.request or {}).get("need") == need.key]
        tried = stage_tries.ended_on(mine)
        waiting = stage_tries.reserved_by_model(mine)
    providers = music.music_providers(owner.providers, ctx.settings)
    decision = music.route_bed(ctx, need, providers, owner.mode)

    def attempt_one(candidate: StageCandidate, reserved: int | None) -> stage_tries.Outcome:
        return _try(ctx, shot_pk, owner, need, candidate, reserved)

    def give_up(why: str) -> None:
        with session_scope(ctx.db_url) as session:
            events.emit(session, job_id, FAILED, None, stage=STAGE, need=need.key, reason=why)

    return stage_tries.walk_chain(
        ctx, shot_pk, decision, tried, waiting, attempt_one, STAGE, give_up
    )


def _try(
    ctx: RunContext,
    shot_pk: int,
    owner: stage_tries.Owner,
    need: music.Need,
    candidate: StageCandidate,
    reserved: int | None,
) -> stage_tries.Outcome:
    """One model's try: None when the bed is accepted, the seconds to wait for the model's
    slot, or (reason, whether to stop trying)."""
    spec = ctx.registry.get(candidate.model_id)
    seconds = music.asked_seconds(spec.caps, need)
    key = music.cache_key(need, candidate)
    cached = stage_tries.cached_try(ctx, key, owner.tenant, STAGE)
    request = {
        "stage": STAGE, "prompt": need.prompt, "need": need.key, "seconds": seconds,
        "programme_s": round(need.programme_s, 3), "cache_key": key,
        "reused_from": cached[0] if cached else None,
    }  # fmt: skip
    admitted = stage_tries.admit_try(
        ctx, shot_pk, owner, candidate, request, STAGE, reserved, cached,
        lambda attempt_id, ref: _check(
            ctx, attempt_id, owner, (ctx.assets.local(ref), seconds), ref, 0.0
        ),
    )  # fmt: skip
    if not isinstance(admitted, stage_tries.Admitted):
        return admitted
    attempt_id = admitted.attempt_id
    asked = MusicRequest(need.prompt, candidate.provider_model, seconds)
    with closing(music_client(ctx, candidate.provider)) as client:
        bed = stage_tries.call(
            ctx, attempt_id, owner, candidate.model_id, STAGE, lambda: client.compose(asked)
        )
    if isinstance(bed, tuple):
        return bed
    raw = ctx.work_dir(owner.id) / f"music-{key[:12]}{bed.suffix}"
    raw.write_bytes(bed.audio)
    ref = stage_tries.keep_output(ctx, attempt_id, owner, raw, f"{STAGE}:{key}", note=bed.note)
    assert spec.usage_price is not None
    cost = spec.usage_price.cost({"seconds": seconds}).usd
    return _check(ctx, attempt_id, owner, (raw, seconds), ref, cost)


def music_client(ctx: RunContext, provider: str) -> MusicClient:
    """The provider's music client: at the emulator when emulated, else with its key."""
    if provider == "local":
        return MusicClient("local")
    if ctx.emulated:
        return MusicClient(provider, "emulated", ctx.base_urls[provider] + _EMULATED[provider])
    secret = getattr(ctx.settings, music.HOSTED_MUSIC[provider], None)
    return MusicClient(provider, secret.get_secret_value() if secret else "")


def problem(path: Path, asked_s: float) -> tuple[str | None, float]:
    """Why the bed asked for ``asked_s`` seconds cannot go under the programme (None: it can), and
    its length in seconds (decoded no further than ``longest_heard``)."""
    why = music_problem(path)
    if why is not None:
        return why, 0.0
    longest = longest_heard(asked_s)
    samples = read_mono(path, max_s=longest)
    seconds = samples.size / RATE
    if seconds > longest:
        return (
            f"the bed runs over {longest:g} s for {asked_s:g} s asked (not decoded further)",
            seconds,
        )
    if (bad := not_finite(samples)) is not None:
        return f"the bed {bad}", seconds
    rms = float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0
    if rms < SILENT_RMS:
        return "the bed is silent", seconds
    return None, seconds


def _check(
    ctx: RunContext,
    attempt_id: int,
    owner: stage_tries.Owner,
    bed: tuple[Path, float],
    ref: str,
    cost: float,
) -> tuple[str, bool] | None:
    """The bed (its file and the seconds asked) checked; the attempt accepted (or rejected) and
    settled."""
    why, seconds = problem(*bed)
    details = {"seconds": round(seconds, 3)}
    return stage_tries.conclude(
        ctx, attempt_id, owner, STAGE, (ref, cost), why, details=details, in_event=True
    )
