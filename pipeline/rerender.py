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
from pipeline import continuity
from pipeline.context import RunContext
from pipeline.planning import route, route_record
from pipeline.refusals import shot_path
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


def _route_keys(
    ctx: RunContext, board: Storyboard, mode: Mode, keys: list[str], tenant: str
) -> tuple[dict[str, router.ShotDecision], tuple[router.VariantChoice, ...]]:
    """The shots' new decisions, and the plan's variant choices (their native renders)."""
    plan = route(ctx, board, mode, tenant)
    stored = board.model_dump(mode="json")
    for split in plan.long_shots:
        if split.shot_id in keys:
            problem = Problem(
                shot_path(stored, split.shot_id),
                f"{split.explain()}; a re-render keeps one clip per shot: pin a model that "
                f"renders {sum(split.seconds):g}s in one clip, or render the storyboard again",
            )
            raise InvalidInputError(
                f"shot {split.shot_id!r} cannot be re-rendered whole", [problem]
            )
    for key in keys:
        decision = plan.decisions[key]
        if not decision.candidates:
            path = shot_path(stored, key)
            problems = [
                Problem(f"{path}.model", f"{model}: {'; '.join(reasons)}")
                for model, reasons in sorted(decision.rejected.items())
            ]
            raise InvalidInputError(f"no model can re-render shot {key!r}", problems[:20])
    return {key: plan.decisions[key] for key in keys}, plan.variants


def _with_followers(session: Session, job: Job, shot_key: str) -> list[str]:
    """``shot_key`` and the shots continuing from it, directly or through another, in order: each
    started from the frame (or extends the clip) of the shot before it, which the re-render
    replaces, so it is rendered again after it."""
    board, shots = continuity.placed_shots(session, job.id)
    by_pk = {shot.id: shot for shot in shots}
    asked = next(shot.id for shot in shots if shot.key == shot_key)
    chosen = continuity.with_followers(continuity.dependencies(board, shots), [asked])
    return [by_pk[pk].key for pk in sorted(chosen, key=lambda pk: by_pk[pk].position)]


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


def _reset_job(session: Session, job: Job, board: Storyboard, shot_key: str) -> None:
    """The job back to ``planned`` with the edited storyboard."""
    job.storyboard = board.model_dump(mode="json")
    job.stage, job.error, job.error_shot = "planned", None, None
    job.verification = None
    job_to(session, job, JobStatus.PLANNED, shot=shot_key)


def _reset(
    session: Session,
    shot: Shot,
    routed: tuple[router.ShotDecision, tuple[router.VariantChoice, ...]],
    edit: dict[str, Any],
) -> None:
    """The shot back to a fresh route."""
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
    """Reset one shot of a delivered or failed job for a new render, with the shots continuing
    from it (``continues``: each is rendered again after it, from its new clip); returns the new
    attempt's id of the shot asked for.

    Raises ``NotFoundError`` (no such job or shot), ``ConflictError`` (the job is not finished, or
    was cancelled), ``StoryboardError``/``InvalidInputError`` (the edit is invalid or unroutable)
    and ``BudgetExceededError`` (the new attempts do not fit the job's budget); nothing changes then.
    """
    with session_scope(ctx.db_url) as session:
        job = jobs.find_job(session, job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        if job.status not in JOB_RERENDERABLE:
            raise ConflictError(f"job {job_id} is {job.status}; only a finished job re-renders")
        board, _ = _edited_storyboard(job, shot_key, prompt, model)
        mode, tenant = Mode(job.mode), job.tenant
        keys = _with_followers(session, job, shot_key)
    decisions, variants = _route_keys(ctx, board, mode, keys, tenant)
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        if job.status not in JOB_RERENDERABLE:
            raise ConflictError(f"job {job_id} is {job.status}; only a finished job re-renders")
        _reset_job(session, job, board, shot_key)
        opened = []
        for key in keys:
            shot = jobs.shot_by_key(session, job_id, key)
            assert shot is not None  # the storyboard has the shot
            number = jobs.last_attempt_number(session, shot.id) + 1
            edit: dict[str, Any] = {"prompt_changed": key == shot_key and prompt is not None}
            edit |= {"attempt": number} | ({} if key == shot_key else {"follows": shot_key})
            _reset(session, shot, (decisions[key], variants), edit)
            opened.append(_open_attempt(session, job, shot, shot_spec(job, key), number).id)
        return opened[0]
