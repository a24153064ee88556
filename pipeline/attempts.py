"""One attempt of one shot, as short idempotent steps of ids: begin, submit (polling: ``polling``;
fetch and gate: ``verdicts``).

Every step reads its rows, does one thing and writes the result. The provider job id is committed
before the first poll, so a restarted process polls the same paid job instead of paying again.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import GenerationRequest
from adapters.errors import ProviderError, RejectedInputError
from foundation import money
from foundation.states import (
    ATTEMPT_ENDED,
    ATTEMPT_SUBMITTABLE,
    SHOT_FAILABLE,
    SHOT_NO_MORE_ATTEMPTS,
    AttemptStatus,
    ShotStatus,
    Stage,
)
from ledger import records
from ledger import service as ledger
from pipeline import continuity, faults, recovery, refusals
from pipeline.cache import find_cached, own_copy, shot_cache_key
from pipeline.closing import cancel_at_provider
from pipeline.context import RunContext
from pipeline.errors import CircuitOpenError, StaleStatusError, TransitionError, redact_paths
from pipeline.policy import NextStep, next_step
from pipeline.requests import framed_spec, request_record, shot_spec
from pipeline.transitions import attempt_opened, attempt_to, shot_to
from store.db import session_scope
from store.models import Attempt, AttemptCost, Job, Shot
from store.records import RouteCandidate, ShotRoute


def begin(ctx: RunContext, shot_pk: int) -> tuple[int | None, float]:
    """Open the shot's current attempt, or start the next one; ``(None, 0)`` when the shot is done.

    Returns the attempt id and how long to wait before submitting it (backoff).
    """
    with session_scope(ctx.db_url) as session:
        attempt, delay = begin_in(ctx, session, session.get_one(Shot, shot_pk))
        return (attempt.id if attempt is not None else None), delay


def begin_in(ctx: RunContext, session: Session, shot: Shot) -> tuple[Attempt | None, float]:
    """``begin`` in the caller's transaction, on the shot row it holds: the attempt row (None
    when the shot is done) and the wait before submitting it."""
    if shot.status in SHOT_NO_MORE_ATTEMPTS:
        return None, 0.0
    attempts = list(
        session.scalars(
            select(Attempt)
            .where(Attempt.shot_id == shot.id, Attempt.stage == Stage.VIDEO)
            .order_by(Attempt.number)
        )
    )
    if attempts and attempts[-1].status not in ATTEMPT_ENDED:
        if shot.status == ShotStatus.PLANNED:  # opened by a re-render
            shot_to(session, shot, ShotStatus.RENDERING, attempt=attempts[-1].number)
        return attempts[-1], 0.0
    job = session.get_one(Job, shot.job_id)
    if not attempts and _reuse_cached(ctx, session, job, shot):
        return None, 0.0
    step: NextStep = next_step(ShotRoute.from_json(shot.route), attempts, ctx.settings)
    if step.candidate is None:
        _fail_shot(session, job, shot, _with_last_error(step.reason, attempts))
        return None, 0.0
    reason = refusals.opening_reason(step.reason, attempts)
    opened = (step.candidate, reason, len(attempts) + 1)
    attempt = _open_next(ctx, session, job, shot, *opened)
    return attempt, step.delay_s if attempt is not None else 0.0


def reserve_or_refuse(
    session: Session, owner_id: str, attempt: Attempt, shot: Shot, refusal: str, **event: Any
) -> bool:
    """Reserve the opened ``attempt``'s quote against ``owner_id``'s budget (a job, or a draft's
    owner); when it does not fit, the attempt fails ``over_budget`` with ``refusal``, the one
    error kind by which ``render`` and ``commit`` exit 3 (every kind of try opens through here)."""
    if ledger.reserve(session, owner_id, attempt):
        return True
    attempt.error_kind, attempt.error = "over_budget", refusal
    attempt_to(
        session, attempt, AttemptStatus.FAILED, shot=shot,
        error_kind="over_budget", error=refusal, **event,
    )  # fmt: skip
    return False


def _open_next(
    ctx: RunContext,
    session: Session,
    job: Job,
    shot: Shot,
    candidate: RouteCandidate,
    reason: str,
    number: int,
) -> Attempt | None:
    """Open attempt ``number`` on ``candidate`` and reserve its quote; None (and the shot failed)
    when the budget refuses it."""
    attempt = Attempt(
        shot_id=shot.id,
        number=number,
        model_id=candidate.model_id,
        provider=candidate.provider,
        quoted_usd=candidate.quote_usd,
        request=request_record(ctx, session, job, shot, candidate, number),
    )
    attempt_opened(
        session,
        attempt,
        shot,
        model=attempt.model_id,
        quoted_usd=attempt.quoted_usd,
        reason=reason,
    )
    refusal = f"reserving ${attempt.quoted_usd:.2f} would pass the job budget"
    if not reserve_or_refuse(session, job.id, attempt, shot, refusal, model=attempt.model_id):
        _fail_shot(session, job, shot, refusal, stage="reserve")
        return None
    if shot.status != ShotStatus.RENDERING:
        shot_to(session, shot, ShotStatus.RENDERING, attempt=attempt.number)
    return attempt


def _reuse_cached(ctx: RunContext, session: Any, job: Job, shot: Shot) -> bool:
    """Reuse an accepted clip of the same inputs: the job's tenant's own, or any tenant's when the
    platform shares its cache; the job keeps its own copy (``own_copy``)."""
    spec = framed_spec(session, job, shot)
    tenant = None if ctx.settings.share_shot_cache else job.tenant
    for candidate in ShotRoute.from_json(shot.route).candidates:
        key = shot_cache_key(session, spec, shot, candidate, ctx.assets.local)
        found = find_cached(session, key, shot.id, tenant, ctx.assets.exists)
        if found is not None:
            cached, saved = found
            if session.get_one(Job, cached.job_id).tenant != job.tenant:
                saved = money.stored(
                    candidate.quote_usd
                )  # what it shares is the clip, not its spend
            name = f"cached-{shot.id}{Path(str(cached.asset_path)).suffix}"
            scope = f"{job.tenant}/{job.id}"
            copy = own_copy(ctx.assets, str(cached.asset_path), ctx.asset_dir(job.id) / name, scope)
            if copy is None:
                continue
            shot.asset_path, shot.model_id = copy, cached.model_id
            shot.verdict, shot.cache_key = cached.verdict, key
            shot_to(session, shot, ShotStatus.ACCEPTED, model=cached.model_id, saved_usd=saved)
            return True
    return False


def fail_shot(ctx: RunContext, shot_pk: int, reason: str, stage: str = "attempts") -> None:
    with session_scope(ctx.db_url) as session:
        fail_shot_in(session, session.get_one(Shot, shot_pk), reason, stage)


def fail_shot_in(session: Session, shot: Shot, reason: str, stage: str = "attempts") -> None:
    """``fail_shot`` in the caller's transaction, on the shot row it holds."""
    _fail_shot(session, None, shot, reason, stage)


def _with_last_error(reason: str, attempts: list[Attempt]) -> str:
    """Why the shot has no next attempt, with the last attempt's error when it failed: "attempt
    budget of 4 used up" alone hid a provider no request reached (``connection refused``)."""
    last = attempts[-1] if attempts else None
    if last is None or last.status != AttemptStatus.FAILED or not last.error:
        return reason
    return f"{reason}; the last attempt: {last.error}"


def _fail_shot(
    session: Any, job: Job | None, shot: Shot, reason: str, stage: str = "attempts"
) -> None:
    """Fail the shot, unless it has ended already (normalised, failed or cancelled)."""
    if shot.status not in SHOT_FAILABLE:
        return
    shot.error = reason
    shot_to(session, shot, ShotStatus.FAILED, reason=reason, stage=stage)


def _request_of(
    ctx: RunContext, session: Any, attempt: Attempt, job: Job, shot: Shot
) -> GenerationRequest:
    data = dict(attempt.request or {})
    spec = framed_spec(session, job, shot)
    reference, local = spec.get("reference_image"), ctx.assets.local
    data["reference_image"] = local(reference) if reference else None
    data["reference_images"] = tuple(local(p) for p in spec.get("reference_images") or ())
    clip = continuity.previous_clip(session, shot) if spec.get("continues") else None
    if clip is not None and spec.get("extends"):  # the clip (or its generation) is extended
        data["extend_video"], data["reference_image"] = ctx.assets.local(clip), None
        data["extend_job"] = continuity.extended_job(session, shot, attempt.model_id)
    elif clip is not None:
        data["reference_image"] = continuity.last_frame(
            ctx.assets.local(clip), ctx.work_dir(job.id) / continuity.frame_name(shot.key, clip)
        )
    return GenerationRequest(**data)


def _frame_refusal(ctx: RunContext, job: Job, shot: Shot, request: GenerationRequest) -> str | None:
    """A continuing shot's reference image is a frame the pipeline made: screen it like the
    storyboard's own reference images, which ``screen_storyboard`` screened before the job."""
    spec = shot_spec(job, shot.key)
    if request.extend_video is not None:
        return _extension_refusal(ctx, shot, request)
    if not spec.get("continues") or spec.get("reference_image") or request.reference_image is None:
        return None  # (an extension sends the previous clip, already gated, and no frame)
    path = refusals.shot_path(job.storyboard, shot.key)
    return continuity.frame_refusal(ctx.settings, request.reference_image, path)


def _extension_refusal(ctx: RunContext, shot: Shot, request: GenerationRequest) -> str | None:
    """An extension whose model extends the provider's own generation by id (registry
    ``extend.input: generation``) needs the id of the generation that made the previous part's
    clip as accepted; without it nothing is sent."""
    model = next((m for m in ctx.registry.models if m.id == request.model), None)
    extend = model.extend if model is not None else None
    if extend is None or extend.input != "generation" or request.extend_job:
        return None
    return (
        f"{shot.key}: {request.model} extends its own generation of the previous part, and no "
        "attempt of it made that part's accepted clip as it is (the gate repaired it, or another "
        "model made it); nothing was sent"
    )


def _refuse_before_spend(
    ctx: RunContext, session: Session, attempt: Attempt, shot: Shot, reason: str
) -> None:
    """Fail the attempt (never submitted: its reservation is released) and the shot: every model
    of its chain would be sent the same frame."""
    error = RejectedInputError(reason, attempt.provider)
    attempt.error_kind, attempt.error = error.kind, reason[:2000]
    attempt_to(
        session, attempt, AttemptStatus.FAILED, shot=shot, model=attempt.model_id,
        error_kind=error.kind, error=attempt.error,
    )  # fmt: skip
    rules = ctx.registry.billing(attempt.provider)
    ledger.settle_failure(session, shot.job_id, attempt, rules, error, was_running=False)
    _fail_shot(session, None, shot, reason, "screening")


class Submitted(NamedTuple):
    """An attempt as ``submit`` left it: its status, shot and model."""

    status: str
    shot_id: int
    model_id: str


def attempt_and_shot(session: Session, attempt_id: int) -> tuple[Attempt, Shot]:
    """The attempt's row and its shot's, in one statement (``NoResultFound`` when it is gone),
    with the attempt's cost record, which every change of the attempt updates."""
    attempt, shot, record = session.execute(
        select(Attempt, Shot, AttemptCost)
        .join(Shot, Shot.id == Attempt.shot_id)
        .outerjoin(AttemptCost, AttemptCost.attempt_id == Attempt.id)
        .where(Attempt.id == attempt_id)
    ).one()
    if record is not None:
        records.hold(session, record)
    return attempt, shot


def submit(ctx: RunContext, attempt_id: int) -> Submitted | None:
    """Submit once: a stored provider job id means the job exists and is never submitted again.
    An attempt found in ``submitting`` may have reached the provider before its process died:
    ``recovery.find_lost`` finds its job, allows a new create, or holds it as
    ``submission_unknown``. Returns the attempt as this call left it (None where another step
    may have moved it: read it again)."""
    with session_scope(ctx.db_url) as session:
        attempt, shot = attempt_and_shot(session, attempt_id)
        if attempt.provider_job_id or attempt.status not in ATTEMPT_SUBMITTABLE:
            return Submitted(attempt.status, attempt.shot_id, attempt.model_id)
        job = session.get_one(Job, shot.job_id)
        request = _request_of(ctx, session, attempt, job, shot)
        lost = attempt.status == AttemptStatus.SUBMITTING
        refusal = None if lost else _frame_refusal(ctx, job, shot, request)  # lost: screened then
        if refusal is not None:
            _refuse_before_spend(ctx, session, attempt, shot, refusal)
            return Submitted(attempt.status, attempt.shot_id, attempt.model_id)
        if not lost:  # committed before the call, so a restart knows the call may have been made
            attempt_to(session, attempt, AttemptStatus.SUBMITTING, shot=shot)
    if lost:
        found = recovery.find_lost(ctx, attempt_id, request)
        if found.job_id is not None:
            _store_job_id(ctx, attempt_id, found.job_id, shot, recovered=True)
        if not found.resubmit:
            return None
    if not ctx.health.allow(attempt.model_id):
        record_failure(ctx, attempt_id, CircuitOpenError("circuit breaker open", attempt.provider))
        return None
    adapter = ctx.adapter(attempt.provider)
    try:
        job_id = adapter.submit(request)
    except ProviderError as exc:
        record_failure(ctx, attempt_id, exc)
        return None
    faults.after_create(attempt_id)
    status = _store_job_id(ctx, attempt_id, job_id, shot)
    return Submitted(status, attempt.shot_id, attempt.model_id)


def _store_job_id(
    ctx: RunContext, attempt_id: int, job_id: str, shot: Shot, recovered: bool = False
) -> str:
    """Store the provider's job id and move the attempt to ``submitted``; returns its status."""
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        attempt.provider_job_id = job_id
        extra = {"recovered": True} if recovered else {}
        try:
            attempt_to(
                session,
                attempt,
                AttemptStatus.SUBMITTED,
                shot=shot,
                model=attempt.model_id,
                provider_job_id=job_id,
                **extra,
            )
        except TransitionError:  # its job was cancelled during the call: stop this one too
            session.refresh(attempt, ["status"])
            if attempt.status not in ATTEMPT_ENDED:
                raise
            cancel_at_provider(ctx, attempt)
            if attempt.status == AttemptStatus.CANCELLED:  # closed with no job: nothing settled
                rules = ctx.registry.billing(attempt.provider)
                ledger.settle_late_job(session, shot.job_id, attempt, rules)
        return attempt.status


def record_failure(ctx: RunContext, attempt_id: int, exc: ProviderError) -> None:
    with session_scope(ctx.db_url) as session:
        attempt, shot = attempt_and_shot(session, attempt_id)
        if attempt.status in ATTEMPT_ENDED:  # closed by its job meanwhile: that stands, and the
            return  # failure (a cancelled job's 404, say) is not held against the model
        ctx.health.record_failure(attempt.model_id, exc.kind)
        was_running = attempt.status == AttemptStatus.RENDERING
        attempt.error_kind = exc.kind
        attempt.error = redact_paths(exc.message)[:2000]
        if exc.kind == "rate_limited":
            attempt.verdict = {"retry_after": getattr(exc, "retry_after", None)}
        if exc.kind == "safety_refusal":
            refusals.record(session, attempt, shot)
        attempt_to(
            session,
            attempt,
            AttemptStatus.FAILED,
            shot=shot,
            model=attempt.model_id,
            error_kind=exc.kind,
            error=attempt.error,
        )
        rules = ctx.registry.billing(attempt.provider)
        ledger.settle_failure(session, shot.job_id, attempt, rules, exc, was_running=was_running)


def mark_rendering(ctx: RunContext, attempt_id: int, progress: float | None) -> None:
    with session_scope(ctx.db_url) as session:
        attempt, shot = attempt_and_shot(session, attempt_id)
        if attempt.status == AttemptStatus.SUBMITTED:
            with contextlib.suppress(StaleStatusError):  # closed meanwhile: that stands
                attempt_to(session, attempt, AttemptStatus.RENDERING, shot=shot, progress=progress)
