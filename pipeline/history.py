"""What the router learns from: finished attempts in the database, as outcome records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from foundation.states import ATTEMPT_GATED
from pipeline.context import RunContext
from router import Outcome, StatsBook
from store.db import session_scope
from store.models import Attempt, Job, Shot
from store.records import ShotRoute

HISTORY_WINDOW = 5000
DEFAULT_SHOT_TYPE = "broll"


def stats_book(ctx: RunContext, tenant: str | None = None) -> StatsBook:
    """A stats book seeded with registry priors and the newest gated attempts of ``tenant``'s
    jobs (every tenant's when None): what one tenant's renders taught the router is not shown to,
    or used for, another (their plans' acceptance, render times and expected costs), unless
    ``SHOTLINE_SHARE_ROUTING_STATS`` shares them."""
    book = StatsBook(ctx.registry)
    query = (
        select(Attempt, Shot.route)
        .join(Shot, Shot.id == Attempt.shot_id)
        .where(Attempt.status.in_(ATTEMPT_GATED))
    )
    if tenant is not None and not ctx.settings.share_routing_stats:
        query = query.join(Job, Job.id == Shot.job_id).where(Job.tenant == tenant)
    with session_scope(ctx.db_url) as session:
        rows = session.execute(query.order_by(Attempt.id.desc()).limit(HISTORY_WINDOW)).all()
        records = [_outcome(attempt, route) for attempt, route in reversed(rows)]
    book.ingest(records)
    return book


def _outcome(attempt: Attempt, route: dict[str, Any] | None) -> Outcome:
    """A gated attempt as the router learns from it."""
    return Outcome(
        model_id=attempt.model_id,
        shot_type=ShotRoute.from_json(route).shot_type or DEFAULT_SHOT_TYPE,
        accepted=attempt.status != "rejected",
        render_seconds=attempt.render_seconds or 0.0,
        cost_usd=attempt.settled_usd or 0.0,
        accepted_seconds=float((attempt.request or {}).get("duration_s") or 0.0),
    )
