"""Cross-shot consistency before stitching: colour and exposure continuity at each join and within
each scene. Reported always; with ``consistency: rerender`` the offending shots are re-rendered once
with a new seed."""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache
from pathlib import Path

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased

from foundation.errors import NotFoundError
from foundation.states import ShotStatus
from pipeline import events
from pipeline.context import RunContext
from pipeline.transitions import shot_to
from quality.consistency import ColourProfile, check_joins, profile
from quality.errors import QualityError
from store import jobs
from store.db import connection_scope, session_scope
from store.models import Event, Job, Shot
from store.records import ShotRoute


@lru_cache(maxsize=512)
def _profile(path: str, mtime_ns: int) -> ColourProfile:
    return profile(Path(path))


def profile_of(path: Path) -> ColourProfile:
    """The clip's colour profile, decoded once per file version and remembered."""
    return _profile(str(path), path.stat().st_mtime_ns)


_SIBLINGS = aliased(Shot)
_WARM = select(  # the clip, and whether its job has no other shot (built once: a hot path)
    Shot.asset_path,
    select(func.count(_SIBLINGS.id)).where(_SIBLINGS.job_id == Shot.job_id).scalar_subquery() == 1,
).where(Shot.id == bindparam("shot"))


def warm(ctx: RunContext, shot_pk: int) -> None:
    """Profile an accepted clip as soon as it arrives, so the check before stitching (on the
    critical path) only compares remembered profiles instead of decoding every clip again."""
    with connection_scope(ctx.db_url) as conn:
        path, alone = conn.execute(_WARM, {"shot": shot_pk}).one()
    if path and not alone:  # a one-shot job has nothing to compare
        with suppress(QualityError, OSError):
            profile_of(Path(path))


def check(ctx: RunContext, job_id: str) -> list[int]:
    """Compare the accepted clips; record a ``job.consistency`` event; return offending shot pks."""
    with session_scope(ctx.db_url) as session:
        shots = jobs.shots_of(session, job_id)
    if len(shots) < 2 or any(not s.asset_path for s in shots):
        return []
    try:
        paths = [ctx.assets.local(s.asset_path or "") for s in shots]
        profiles = [profile_of(path) for path in paths]
        reports = check_joins(paths, [s.scene_id for s in shots], profiles=profiles)
    except (QualityError, NotFoundError, OSError):
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
            route = ShotRoute.from_json(shot.route)
            seed = ((route.seed or 0) + 1) % 2**32
            shot.route = route.with_seed(seed).to_json()
            shot.asset_path = shot.segment = shot.cache_key = shot.verdict = None
            shot_to(session, shot, ShotStatus.PLANNED, event="shot.consistency_rerender", seed=seed)


def wants_rerender(ctx: RunContext, job_id: str) -> bool:
    with session_scope(ctx.db_url) as session:
        return session.get_one(Job, job_id).storyboard.get("consistency") == "rerender"
