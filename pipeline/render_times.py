"""A model's measured render times (the attempts' ``render_seconds``, written when a clip is
fetched), as the poll schedule wants them, and the schedule's bounds from settings. Read at most
once per model every ``REFRESH_S`` per process: a thousand pending polls cost one query."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from pipeline.context import RunContext
from pipeline.poll_schedule import PollBounds, RenderTimes, backoff_s, poll_delay
from store.db import session_scope
from store.models import Attempt

REFRESH_S = 10.0
WINDOW = 200  # the newest measured renders of a model that count
MAX_INTERVAL_FACTOR = 15.0  # default longest interval, in poll intervals

_cache: dict[tuple[str, str], tuple[float, RenderTimes]] = {}
_lock = threading.Lock()


def quantile(ordered: list[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measured(seconds: list[float]) -> RenderTimes:
    ordered = sorted(s for s in seconds if s >= 0)
    if not ordered:
        return RenderTimes(0, 0.0, 0.0)
    return RenderTimes(len(ordered), quantile(ordered, 0.5), quantile(ordered, 0.95))


def render_times(ctx: RunContext, model_id: str) -> RenderTimes:
    """The model's newest measured render times (count 0: none; the registry's prior is not
    used, see ``poll_schedule``). A render time counts from the attempt's submission
    (``verdicts.fetch``), so a wait for a concurrency slot does not lengthen it."""
    key, now = (ctx.db_url, model_id), time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    with session_scope(ctx.db_url) as session:
        seconds = session.scalars(
            select(Attempt.render_seconds)
            .where(Attempt.model_id == model_id, Attempt.render_seconds.is_not(None))
            .order_by(Attempt.id.desc())
            .limit(WINDOW)
        ).all()
    times = measured([float(s) for s in seconds if s is not None])
    with _lock:
        _cache[key] = (now + REFRESH_S, times)
    return times


def bounds(ctx: RunContext) -> PollBounds:
    settings = ctx.settings
    longest = settings.poll_max_interval_s or settings.poll_interval_s * MAX_INTERVAL_FACTOR
    return PollBounds(settings.poll_interval_s, longest, settings.attempt_timeout_s)


def finished_after(ctx: RunContext, model_id: str, elapsed_s: float, first_poll: bool) -> float:
    """Seconds from submission to when a render most likely finished, seen done by a poll
    ``elapsed_s`` after submission: halfway back to the poll before it, or for a first poll to the
    model's earliest plausible finish, after which the schedule placed it (to the submission when
    nothing is measured, or the poll came before that earliest finish). Taking the poll's own time would feed the poll's lateness and queueing back into the
    schedule that sets them, and measured render times would creep up under load."""
    if first_poll:
        earliest = render_times(ctx, model_id).earliest_s()
        return (earliest + elapsed_s) / 2 if earliest < elapsed_s else elapsed_s / 2
    return max(elapsed_s / 2, elapsed_s - backoff_s(elapsed_s, bounds(ctx)) / 2)


def next_poll_s(ctx: RunContext, model_id: str, elapsed_s: float, polls: int) -> float:
    """Seconds to the next poll of an attempt of ``model_id`` submitted ``elapsed_s`` ago."""
    return poll_delay(render_times(ctx, model_id), elapsed_s, polls, bounds(ctx))
