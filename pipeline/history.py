"""What the router learns from: finished attempts in the database, as outcome records."""

from __future__ import annotations

from sqlalchemy import select

from foundation.states import ATTEMPT_GATED, AttemptStatus
from pipeline.context import RunContext
from router import StatsBook
from store.db import session_scope
from store.models import Attempt, Shot

HISTORY_WINDOW = 5000


def stats_book(ctx: RunContext) -> StatsBook:
    """A stats book seeded with registry priors and the newest gated attempts."""
    book = StatsBook(ctx.registry)
    with session_scope(ctx.db_url) as session:
        rows = session.execute(
            select(Attempt, Shot.route)
            .join(Shot, Shot.id == Attempt.shot_id)
            .where(Attempt.status.in_(ATTEMPT_GATED))
            .order_by(Attempt.id.desc())
            .limit(HISTORY_WINDOW)
        ).all()
        records = [
            {
                "model_id": attempt.model_id,
                "shot_type": (route or {}).get("shot_type"),
                "accepted": attempt.status != AttemptStatus.REJECTED,
                "render_seconds": attempt.render_seconds,
                "cost_usd": attempt.settled_usd,
                "accepted_seconds": (attempt.request or {}).get("duration_s", 0.0),
            }
            for attempt, route in reversed(rows)
        ]
    book.ingest(records)
    return book
