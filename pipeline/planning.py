"""From a validated storyboard to rows: route every shot, check the budget, persist the job."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import router
from foundation.errors import BudgetExceededError
from foundation.storyboard import Mode, Storyboard
from pipeline import history
from pipeline.context import RunContext
from pipeline.transitions import job_created, shot_created
from store.db import session_scope
from store.models import Job, Shot


def candidate_record(candidate: Any) -> dict[str, Any]:
    """The part of a router candidate the pipeline needs to run and resume an attempt."""
    return {
        "model_id": candidate.model_id,
        "provider": candidate.provider,
        "provider_model": candidate.provider_model,
        "quote_usd": float(candidate.quote_usd),
        "duration_s": float(candidate.duration_s),
        "width": int(candidate.width),
        "height": int(candidate.height),
        "fps": float(candidate.fps),
        "audio": bool(candidate.audio),
        "adaptations": list(candidate.adaptations),
        "params": dict(candidate.params),
    }


def preview_providers(board: Storyboard, mode: Mode, providers: str) -> str:
    """The providers a job renders on: ``local`` for a free preview, else ``providers``."""
    return "local" if mode is Mode.PREVIEW and board.preview.free else providers


def route_storyboard(ctx: RunContext, board: Storyboard, mode: Mode) -> Any:
    """Route every shot; raise (exit code 2) when some shot has no model, before any spend."""
    availability = router.provider_availability(ctx.providers, ctx.settings)
    plan = router.plan(
        board,
        ctx.registry,
        mode=mode,
        providers=availability.enabled,
        unavailable=availability.unavailable,
        stats=history.stats_book(ctx),
        health=ctx.health,
    )
    router.raise_if_unroutable(plan)
    return plan


def check_budget(board: Storyboard, plan: Any) -> None:
    if board.budget_usd is None:
        return
    cheapest = sum(d.candidates[0].quote_usd for d in plan.decisions.values())
    if cheapest > board.budget_usd + 1e-9:
        raise BudgetExceededError(
            f"the cheapest routing costs ${cheapest:.2f}, over the budget of ${board.budget_usd:.2f}"
        )


def create_job(
    ctx: RunContext,
    board: Storyboard,
    *,
    mode: Mode | None = None,
    output: Path | None = None,
    tenant: str = "local",
    fingerprint: str = "",
) -> str:
    """Plan and persist a job; nothing is spent yet. Returns the job id."""
    mode = mode or board.mode
    ctx = replace(ctx, providers=preview_providers(board, mode, ctx.providers))
    plan = route_storyboard(ctx, board, mode)
    check_budget(board, plan)
    job_id = uuid.uuid4().hex
    with session_scope(ctx.db_url) as session:
        job = Job(
            id=job_id,
            tenant=tenant,
            title=board.title,
            mode=str(mode),
            providers=ctx.providers,
            storyboard=board.model_dump(mode="json"),
            output_path=str(output.resolve()) if output else None,
            budget_usd=board.budget_usd,
            fingerprint=fingerprint,
        )
        session.add(job)
        session.flush()
        for position, (scene, shot) in enumerate(board.shots()):
            decision = plan.decisions[shot.id]
            route = {
                "candidates": [candidate_record(c) for c in decision.candidates],
                "seed": decision.need.seed,
                "shot_type": str(decision.need.shot_type),
                "explanation": decision.to_dict(),
            }
            row = Shot(
                job_id=job_id,
                key=shot.id,
                scene_id=scene.id,
                position=position,
                route=route,
                model_id=decision.candidates[0].model_id,
            )
            shot_created(session, row, model=row.model_id)
        job_created(session, job, mode=str(mode), shots=len(plan.decisions))
    return job_id
