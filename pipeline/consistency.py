"""Cross-shot consistency before stitching: colour and exposure continuity at each join and within
each scene. Reported always; with ``consistency: rerender`` the offending shots are re-rendered once
with a new seed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from pipeline import events
from pipeline.context import RunContext
from quality.consistency import check_joins
from quality.errors import QualityError
from store.db import session_scope
from store.models import Event, Job, Shot


def check(ctx: RunContext, job_id: str) -> list[int]:
    """Compare the accepted clips; record a ``job.consistency`` event; return offending shot pks."""
    with session_scope(ctx.db_url) as session:
        shots = list(
            session.scalars(select(Shot).where(Shot.job_id == job_id).order_by(Shot.position))
        )
    if len(shots) < 2 or any(not s.asset_path for s in shots):
        return []
    try:
        reports = check_joins(
            [Path(s.asset_path or "") for s in shots], [s.scene_id for s in shots]
        )
    except QualityError:
        return []
    offending = sorted(
        {shots[r.offending].id for r in reports if r.flagged and r.offending is not None}
    )
    with session_scope(ctx.db_url) as session:
        events.emit(
            session,
            job_id,
            "job.consistency",
            pairs=[
                {
                    "a": shots[r.a].key,
                    "b": shots[r.b].key,
                    "kind": r.kind,
                    "score": round(r.score, 3),
                    "flagged": r.flagged,
                    "message": r.message,
                }
                for r in reports
            ],
            offending=[s.key for s in shots if s.id in offending],
        )
    return offending


def already_rerendered(ctx: RunContext, job_id: str) -> bool:
    with session_scope(ctx.db_url) as session:
        return (
            session.scalar(
                select(Event.id).where(
                    Event.job_id == job_id, Event.kind == "shot.consistency_rerender"
                )
            )
            is not None
        )


def reset_for_rerender(ctx: RunContext, shot_pks: list[int]) -> None:
    """Send shots back to ``planned`` with a new seed, keeping their attempts and costs."""
    with session_scope(ctx.db_url) as session:
        for pk in shot_pks:
            shot = session.get_one(Shot, pk)
            route = dict(shot.route or {})
            route["seed"] = (int(route.get("seed") or 0) + 1) % 2**32
            shot.route, shot.status = route, "planned"
            shot.asset_path = shot.segment = shot.cache_key = shot.verdict = None
            events.emit(
                session, shot.job_id, "shot.consistency_rerender", shot.key, seed=route["seed"]
            )


def wants_rerender(ctx: RunContext, job_id: str) -> bool:
    with session_scope(ctx.db_url) as session:
        return session.get_one(Job, job_id).storyboard.get("consistency") == "rerender"
