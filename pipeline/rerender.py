"""Re-render one shot of a finished job, optionally with a new prompt or a pinned model.

The job's stored storyboard is updated, only that shot is re-routed, its row is reset (its attempts
are kept as history) and the job goes back to ``planned``; running the job again renders the shot
and re-stitches, reusing every other shot's normalised segment.

The new shot's first attempt is opened (and its quote reserved) here, so the re-routed primary
model renders it (not the model of the last attempt) and a budget that cannot take it is refused at
once (``BudgetExceededError``) instead of failing the job later.
"""

from __future__ import annotations

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
from pipeline.requests import request_record
from pipeline.transitions import attempt_opened, job_to, shot_to
from store import jobs
from store.db import session_scope
from store.models import Attempt, Job, Shot
from store.records import ShotRoute


def _edited_storyboard(
    job: Job, shot_key: str, prompt: str | None, model: str | None
) -> tuple[Storyboard, list[str]]:
    """The job's storyboard with the shot edited, and the stored shots the edit changed:
    ``shot_key``, or every part of a shot the job renders in parts (the stored board holds the
    parts, ``k0.part1`` ..., not the shot the user wrote; the prompt is each part's)."""
    stored = job.storyboard
    shots = [spec for scene in stored["scenes"] for spec in scene["shots"]]
    edited = router.stored_parts(shots, shot_key) or [shot_key]
    if edited[0] not in {spec["id"] for spec in shots}:
        raise NotFoundError(f"job {job.id} has no shot {shot_key!r}")
    if len(edited) > 1 and model is not None:
        raise InvalidInputError(
            f"shot {shot_key!r} cannot be re-rendered pinned to {model}",
            [Problem(shot_path(stored, edited[0]), _parts_refusal(shot_key, edited))],
        )
    data: dict[str, Any] = {**stored, "scenes": []}
    for scene in stored["scenes"]:
        shots = []
        for spec in scene["shots"]:
            if spec["id"] in edited:
                spec = dict(spec)
                spec["prompt"] = prompt if prompt is not None else spec["prompt"]
                spec["model"] = model if model is not None else spec.get("model")
            shots.append(spec)
        data["scenes"].append({**scene, "shots": shots})
    return parse_storyboard(data, "storyboard"), edited


def _parts_refusal(shot_key: str, parts: list[str]) -> str:
    return (
        f"the job renders it in {len(parts)} parts ({', '.join(parts)}), each routed on its own: "
        f"re-render it without a model (its parts keep their routes), pin a model on one part "
        f"({parts[0]}: the parts after it are rendered again after it), or render the storyboard "
        "again with the model pinned"
    )


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


def _open_attempt(ctx: RunContext, session: Session, job: Job, shot: Shot, number: int) -> Attempt:
    candidate = ShotRoute.from_json(shot.route).primary
    assert candidate is not None  # the shot was just routed
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
    attempt's id of the shot asked for. A shot the job renders in parts is asked for by the id
    the storyboard gave it: its parts are reset (the later ones continue from the first).

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
        board, edited = _edited_storyboard(job, shot_key, prompt, model)
        mode, tenant = Mode(job.mode), job.tenant
        first = edited[0]
        keys = _with_followers(session, job, first)
    decisions, variants = _route_keys(ctx, board, mode, keys, tenant)
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        if job.status not in JOB_RERENDERABLE:
            raise ConflictError(f"job {job_id} is {job.status}; only a finished job re-renders")
        _reset_job(session, job, board, first)
        opened = []
        for key in keys:
            shot = jobs.shot_by_key(session, job_id, key)
            assert shot is not None  # the storyboard has the shot
            number = jobs.last_attempt_number(session, shot.id) + 1
            edit: dict[str, Any] = {"prompt_changed": key in edited and prompt is not None}
            edit |= {"attempt": number} | ({} if key == first else {"follows": first})
            _reset(session, shot, (decisions[key], variants), edit)
            opened.append(_open_attempt(ctx, session, job, shot, number).id)
        return opened[0]
