"""What the router learns from: finished attempts in the database, as outcome records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from foundation.states import ATTEMPT_GATED
from pipeline.context import RunContext
from router import Outcome, StatsBook
from store.db import session_scope
from store.models import Attempt, Shot
from store.records import ShotRoute

HISTORY_WINDOW = 5000
DEFAULT_SHOT_TYPE = "broll"


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
