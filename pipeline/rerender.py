"""Re-render one shot of a finished job, optionally with a new prompt or a pinned model.

The job's stored storyboard is updated, only that shot is re-routed, its row is reset (its attempts
are kept as history) and the job goes back to ``planned``; running the job again renders the shot
and re-stitches, reusing every other shot's normalised segment.

The new shot's first attempt is opened (and its quote reserved) here, so the re-routed primary
model renders it (not the model of the last attempt) and a budget that cannot take it is refused at
once (``BudgetExceededError``) instead of failing the job later.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

import router
from foundation.errors import (
    BudgetExceededError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    Problem,
)
from foundation.states import JOB_RERENDERABLE, JobStatus, ShotStatus
from foundation.storyboard import Mode, Storyboard, parse_storyboard
from ledger import service as ledger
from pipeline.context import RunContext
from pipeline.planning import route, route_record
from pipeline.requests import build_request, shot_spec
from pipeline.transitions import attempt_opened, job_to, shot_to
from store import jobs
from store.db import session_scope
from store.models import Attempt, Job, Shot
from store.records import ShotRoute, StoredRequest


def _edited_storyboard(
    job: Job, shot_key: str, prompt: str | None, model: str | None
) -> tuple[Storyboard, str]:
    data: dict[str, Any] = {**job.storyboard, "scenes": []}
    path = ""
    for s_index, scene in enumerate(job.storyboard["scenes"]):
        shots = []
        for k_index, spec in enumerate(scene["shots"]):
            spec = dict(spec)
            if spec["id"] == shot_key:
                path = f"scenes[{s_index}].shots[{k_index}]"
                spec["prompt"] = prompt if prompt is not None else spec["prompt"]
                spec["model"] = model if model is not None else spec.get("model")
            shots.append(spec)
        data["scenes"].append({**scene, "shots": shots})
    if not path:
        raise NotFoundError(f"job {job.id} has no shot {shot_key!r}")
    return parse_storyboard(data, "storyboard"), path


def _route_one(
    ctx: RunContext, board: Storyboard, mode: Mode, shot_key: str, path: str, tenant: str
) -> tuple[router.ShotDecision, tuple[router.VariantChoice, ...]]:
    """The shot's new decision, and the plan's variant choices (its native renders)."""
    plan = route(ctx, board, mode, tenant)
    decision = plan.decisions[shot_key]
    if not decision.candidates:
        problems = [
            Problem(f"{path}.model", f"{model}: {'; '.join(reasons)}")
            for model, reasons in sorted(decision.rejected.items())
        ]
        raise InvalidInputError(f"no model can re-render shot {shot_key!r}", problems[:20])
    return decision, plan.variants


def _open_attempt(
    session: Session, job: Job, shot: Shot, spec: dict[str, Any], number: int
) -> Attempt:
    route = ShotRoute.from_json(shot.route)
    candidate = route.primary
    assert candidate is not None  # the shot was just routed
    request = build_request(spec, candidate, route)
    attempt = Attempt(
        shot_id=shot.id,
        number=number,
        model_id=candidate.model_id,
        provider=candidate.provider,
        quoted_usd=candidate.quote_usd,
        request=StoredRequest.from_json(asdict(request)).to_json(),
    )
    attempt_opened(
        session,
        attempt,
        shot,
        model=attempt.model_id,
        quoted_usd=attempt.quoted_usd,
        reason="re-render",
    )
    if not ledger.reserve(session, job.id, attempt):
        raise BudgetExceededError(
            f"re-rendering shot {shot.key} (${attempt.quoted_usd:.2f}) would pass the job budget"
        )
    return attempt


def _reset(
    session: Session,
    job: Job,
    shot: Shot,
    board: Storyboard,
    routed: tuple[router.ShotDecision, tuple[router.VariantChoice, ...]],
    edit: dict[str, Any],
) -> None:
    """The job back to ``planned`` with the edited storyboard; the shot back to a fresh route."""
    job.storyboard = board.model_dump(mode="json")
    job.stage, job.error, job.error_shot = "planned", None, None
    job.verification = None
    job_to(session, job, JobStatus.PLANNED, shot=shot.key)
    shot.asset_path, shot.segment = None, None
    shot.verdict, shot.error, shot.cache_key = None, None, None
    decision, variants = routed
    shot.model_id = decision.candidates[0].model_id
    shot.route = route_record(decision, variants).to_json()
    shot_to(
        session,
        shot,
        ShotStatus.PLANNED,
        event="shot.rerender",
        model=shot.model_id,
        **edit,
    )


def rerender_shot(
    ctx: RunContext,
    job_id: str,
    shot_key: str,
    *,
    prompt: str | None = None,
    model: str | None = None,
) -> int:
    """Reset one shot of a delivered or failed job for a new render; returns the new attempt's id.

    Raises ``NotFoundError`` (no such job or shot), ``ConflictError`` (the job is not finished, or
    was cancelled), ``StoryboardError``/``InvalidInputError`` (the edit is invalid or unroutable)
    and ``BudgetExceededError`` (the new attempt does not fit the job's budget); nothing changes then.
    """
    with session_scope(ctx.db_url) as session:
        job = jobs.find_job(session, job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        if job.status not in JOB_RERENDERABLE:
            raise ConflictError(f"job {job_id} is {job.status}; only a finished job re-renders")
        board, path = _edited_storyboard(job, shot_key, prompt, model)
        mode, tenant = Mode(job.mode), job.tenant
    decision, variants = _route_one(ctx, board, mode, shot_key, path, tenant)
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        if job.status not in JOB_RERENDERABLE:
            raise ConflictError(f"job {job_id} is {job.status}; only a finished job re-renders")
        shot = jobs.shot_by_key(session, job_id, shot_key)
        assert shot is not None  # the storyboard has the shot
        number = jobs.last_attempt_number(session, shot.id) + 1
        edit = {"prompt_changed": prompt is not None, "attempt": number}
        _reset(session, job, shot, board, (decision, variants), edit)
        return _open_attempt(session, job, shot, shot_spec(job, shot_key), number).id
