"""One attempt of one shot, as short idempotent steps of ids: begin, submit (polling: ``polling``;
fetch and gate: ``verdicts``).

Every step reads its rows, does one thing and writes the result. The provider job id is committed
before the first poll, so a restarted process polls the same paid job instead of paying again.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import GenerationRequest
from adapters.errors import ProviderError
from ledger import service as ledger
from pipeline import continuity, events
from pipeline.cache import cache_key, find_cached
from pipeline.context import RunContext
from pipeline.errors import CircuitOpenError, redact_paths
from pipeline.policy import NextStep, next_step
from store.db import session_scope
from store.models import Attempt, Job, Shot

TERMINAL = {"accepted", "repaired", "rejected", "failed", "cancelled"}


def build_request(
    shot_spec: dict[str, Any], candidate: dict[str, Any], route: dict[str, Any]
) -> GenerationRequest:
    """The provider request for one candidate; every fallback gets the same prompt, seed and refs."""
    return GenerationRequest(
        shot_id=shot_spec["id"],
        prompt=shot_spec["prompt"],
        duration_s=candidate["duration_s"],
        width=candidate["width"],
        height=candidate["height"],
        fps=candidate["fps"],
        model=candidate["model_id"],
        provider_model=candidate["provider_model"],
        audio=candidate["audio"],
        dialogue=shot_spec.get("dialogue"),
        seed=route.get("seed", shot_spec.get("seed")),
        reference_image=Path(shot_spec["reference_image"])
        if shot_spec.get("reference_image")
        else None,
        negative_prompt=shot_spec.get("negative_prompt"),
        shot_type=route.get("shot_type", shot_spec.get("type")),
        extra=dict(candidate.get("params", {})),
    )


def shot_spec(job: Job, key: str) -> dict[str, Any]:
    for scene in job.storyboard["scenes"]:
        for spec in scene["shots"]:
            if spec["id"] == key:
                return dict(spec)
    raise KeyError(key)


def begin(ctx: RunContext, shot_pk: int) -> tuple[int | None, float]:
    """Open the shot's current attempt, or start the next one; ``(None, 0)`` when the shot is done.

    Returns the attempt id and how long to wait before submitting it (backoff).
    """
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        if shot.status in ("accepted", "normalised", "failed", "cancelled"):
            return None, 0.0
        attempts = list(
            session.scalars(
                select(Attempt).where(Attempt.shot_id == shot_pk).order_by(Attempt.number)
            )
        )
        if attempts and attempts[-1].status not in TERMINAL:
            return attempts[-1].id, 0.0
        job = session.get_one(Job, shot.job_id)
        if not attempts and _reuse_cached(session, job, shot, ctx.settings.share_shot_cache):
            return None, 0.0
        step: NextStep = next_step(shot.route or {}, attempts, ctx.settings)
        if step.candidate is None:
            _fail_shot(session, job, shot, step.reason)
            return None, 0.0
        attempt = Attempt(
            shot_id=shot_pk,
            number=len(attempts) + 1,
            model_id=step.candidate["model_id"],
            provider=step.candidate["provider"],
            quoted_usd=step.candidate["quote_usd"],
            request=_request_record(ctx, job, shot, step.candidate, len(attempts) + 1),
        )
        session.add(attempt)
        session.flush()
        if not ledger.reserve(session, job.id, attempt):
            attempt.status = "failed"
            attempt.error_kind = "over_budget"
            attempt.error = f"reserving ${attempt.quoted_usd:.2f} would pass the job budget"
            _fail_shot(session, job, shot, attempt.error, stage="reserve")
            return None, 0.0
        shot.status = "rendering"
        events.emit(
            session,
            job.id,
            "attempt.reserved",
            shot.key,
            attempt=attempt.number,
            model=attempt.model_id,
            quoted_usd=attempt.quoted_usd,
            reason=step.reason,
        )
        return attempt.id, step.delay_s


WEBHOOK_PROVIDERS = ("replicate", "fal", "google")


def _request_record(
    ctx: RunContext, job: Job, shot: Shot, candidate: dict[str, Any], number: int
) -> dict[str, Any]:
    """The stored request of an attempt, with its idempotency key and, when the platform is
    reachable (``SHOTLINE_PUBLIC_URL``), the webhook the provider should call (the reference image
    is added when submitting, from the storyboard or the previous shot's last frame)."""
    request = asdict(build_request(shot_spec(job, shot.key), candidate, shot.route or {}))
    extra = {"idempotency_key": f"{job.id}-{shot.key}-{number}"}
    provider, public = candidate["provider"], ctx.settings.public_url
    if public and provider in WEBHOOK_PROVIDERS:
        extra["webhook_url"] = f"{public.rstrip('/')}/v1/providers/{provider}/webhook"
    request["extra"] = request["extra"] | extra
    return request | {"reference_image": None}


def _reuse_cached(session: Any, job: Job, shot: Shot, shared: bool) -> bool:
    """Reuse an accepted clip of the same inputs: the job's tenant's own, or any tenant's when the
    platform shares its cache."""
    spec = shot_spec(job, shot.key)
    tenant = None if shared else job.tenant
    for candidate in (shot.route or {}).get("candidates", []):
        key = cache_key(spec, candidate)
        found = find_cached(session, key, shot.id, tenant)
        if found is not None:
            cached, saved = found
            shot.status, shot.asset_path, shot.model_id = (
                "accepted",
                cached.asset_path,
                cached.model_id,
            )
            shot.verdict, shot.cache_key = cached.verdict, key
            events.emit(
                session, job.id, "shot.cached", shot.key, model=cached.model_id, saved_usd=saved
            )
            return True
    return False


def fail_shot(ctx: RunContext, shot_pk: int, reason: str, stage: str = "attempts") -> None:
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        _fail_shot(session, session.get_one(Job, shot.job_id), shot, reason, stage)


def _fail_shot(session: Any, job: Job, shot: Shot, reason: str, stage: str = "attempts") -> None:
    shot.status = "failed"
    shot.error = reason
    events.emit(session, job.id, "shot.failed", shot.key, reason=reason, stage=stage)


def _request_of(
    ctx: RunContext, session: Any, attempt: Attempt, job: Job, shot: Shot
) -> GenerationRequest:
    data = dict(attempt.request or {})
    spec = shot_spec(job, shot.key)
    data["reference_image"] = Path(spec["reference_image"]) if spec.get("reference_image") else None
    if spec.get("continues"):
        clip = continuity.previous_clip(session, shot)
        if clip is not None:
            out = ctx.work_dir(job.id) / f"lastframe-{shot.key}.png"
            data["reference_image"] = continuity.last_frame(clip, out)
    return GenerationRequest(**data)


def submit(ctx: RunContext, attempt_id: int) -> None:
    """Submit once: a stored provider job id means the job exists and is never submitted again."""
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        if attempt.provider_job_id or attempt.status not in ("reserved", "submitting"):
            return
        shot = session.get_one(Shot, attempt.shot_id)
        job = session.get_one(Job, shot.job_id)
        request = _request_of(ctx, session, attempt, job, shot)
        # Committed before the call: a process killed during it resumes by submitting again
        # with the same idempotency key, which providers that honour one answer with the same job.
        attempt.status = "submitting"
    if not ctx.health.allow(attempt.model_id):
        _record_failure(ctx, attempt_id, CircuitOpenError("circuit breaker open", attempt.provider))
        return
    adapter = ctx.adapter(attempt.provider)
    try:
        job_id = adapter.submit(request)
    except ProviderError as exc:
        _record_failure(ctx, attempt_id, exc)
        return
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        attempt.provider_job_id = job_id
        attempt.status = "submitted"
        events.emit(
            session,
            job.id,
            "attempt.submitted",
            shot.key,
            attempt=attempt.number,
            model=attempt.model_id,
            provider_job_id=job_id,
        )


def _record_failure(ctx: RunContext, attempt_id: int, exc: ProviderError) -> None:
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        shot = session.get_one(Shot, attempt.shot_id)
        attempt.status = "failed"
        ctx.health.record_failure(attempt.model_id, exc.kind)
        attempt.error_kind = exc.kind
        attempt.error = redact_paths(exc.message)[:2000]
        if exc.kind == "rate_limited":
            attempt.verdict = {"retry_after": getattr(exc, "retry_after", None)}
        ledger.settle(session, shot.job_id, attempt, 0.0)
        events.emit(
            session,
            shot.job_id,
            "attempt.failed",
            shot.key,
            attempt=attempt.number,
            model=attempt.model_id,
            error_kind=exc.kind,
            error=attempt.error,
        )


def _mark_rendering(ctx: RunContext, attempt_id: int, progress: float | None) -> None:
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        if attempt.status == "submitted":
            attempt.status = "rendering"
            shot = session.get_one(Shot, attempt.shot_id)
            events.emit(
                session,
                shot.job_id,
                "attempt.rendering",
                shot.key,
                attempt=attempt.number,
                progress=progress,
            )


def cancel_inflight(ctx: RunContext, job_id: str, *, past_provider: bool = False) -> int:
    """Cancel a job's unfinished attempts at their providers and release their reservations;
    see ``close_open`` for ``past_provider``."""
    with session_scope(ctx.db_url) as session:
        closed = close_open(ctx, session, job_id, "job cancelled", past_provider=past_provider)
        for shot in session.scalars(select(Shot).where(Shot.job_id == job_id)):
            if shot.status in ("planned", "rendering"):
                shot.status = "cancelled"
        return closed


def close_open(
    ctx: RunContext, session: Session, job_id: str, reason: str, *, past_provider: bool = True
) -> int:
    """Close every attempt of the job not in a terminal state: cancel its provider job (best
    effort), mark it ``cancelled``, release its reservation (a fetched clip keeps the cost it
    settled) and record an ``attempt.closed`` event with ``reason``. Returns how many it closed.

    ``past_provider`` also closes attempts the provider has finished (``fetched``, ``gating``):
    right once the job has ended, wrong while a worker may still be gating them.
    """
    skip = TERMINAL if past_provider else TERMINAL | {"fetched", "gating"}
    rows = session.execute(
        select(Attempt, Shot.key)
        .join(Shot, Shot.id == Attempt.shot_id)
        .where(Shot.job_id == job_id, Attempt.status.not_in(skip))
    ).all()
    for attempt, key in rows:
        was = attempt.status
        if attempt.provider_job_id and was in ("submitting", "submitted", "rendering"):
            try:
                ctx.adapter(attempt.provider).cancel(attempt.provider_job_id)
            except ProviderError as exc:
                attempt.error = f"cancel failed: {exc.message}"
        attempt.status = "cancelled"
        ledger.settle(session, job_id, attempt, 0.0)
        events.emit(
            session, job_id, "attempt.closed", key, attempt=attempt.number, was=was, reason=reason
        )
    return len(rows)
