"""One non-blocking poll of an attempt's provider job: both engines reschedule a pending poll
instead of sleeping."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from adapters.base import JobState, ProviderAdapter
from adapters.errors import JobLostError, ProviderError, ProviderTimeoutError
from foundation.states import ATTEMPT_AT_PROVIDER, ATTEMPT_PAST_RENDER, AttemptStatus
from pipeline.attempts import mark_rendering, record_failure
from pipeline.context import RunContext
from store.db import connection_scope
from store.models import Attempt

PollOutcome = Literal["pending", "succeeded", "failed"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Polled:
    """The columns of an attempt a poll reads (and the poll step after it: its model's limits
    and render times), read once per poll."""

    status: str
    provider: str
    provider_job_id: str | None
    model_id: str
    created_at: datetime


def polled(ctx: RunContext, attempt_id: int) -> Polled:
    """The attempt's row as a poll needs it (``NoResultFound`` when it is gone)."""
    with connection_scope(ctx.db_url) as conn:
        row = conn.execute(
            select(
                Attempt.status, Attempt.provider, Attempt.provider_job_id, Attempt.model_id,
                Attempt.created_at,
            ).where(Attempt.id == attempt_id)
        ).one()  # fmt: skip
    return Polled(*row)


def poll_once(
    ctx: RunContext, attempt_id: int, started_at: float | None = None, row: Polled | None = None
) -> PollOutcome:
    """Ask the provider once where the attempt's job is.

    ``pending``: poll again later. ``succeeded``: the job's result can be fetched (or already was).
    ``failed``: the failure is recorded, or the attempt is not rendering (any more). ``started_at``
    (epoch seconds, default: when the attempt was opened) starts the attempt's timeout. ``row``:
    the attempt as ``polled`` just read it (default: read it now).
    """
    row = row if row is not None else polled(ctx, attempt_id)
    state, provider, provider_job, created = (
        row.status, row.provider, row.provider_job_id, row.created_at,
    )  # fmt: skip
    if state not in ATTEMPT_AT_PROVIDER:
        return "succeeded" if state in ATTEMPT_PAST_RENDER else "failed"
    job_id = provider_job or ""
    started = started_at if started_at is not None else created.timestamp()
    adapter = ctx.adapter(provider)
    try:
        result = adapter.poll(job_id)
    except ProviderError as exc:
        # a lost job ends the attempt (retriable: the next attempt renders the shot again); any
        # other retriable error is about this poll, and the next poll asks again
        if not exc.retriable or isinstance(exc, JobLostError):
            record_failure(ctx, attempt_id, exc)
            return "failed"
        result = None
    if result is not None and result.state is JobState.SUCCEEDED:
        if state == AttemptStatus.SUBMITTED:  # it ran: a close before the fetch is not "queued"
            mark_rendering(ctx, attempt_id, 1.0)
        return "succeeded"
    if result is not None and result.state in (JobState.FAILED, JobState.CANCELED):
        error = result.error or ProviderError(f"job ended {result.state}", provider)
        record_failure(ctx, attempt_id, error)
        return "failed"
    if time.time() - started > ctx.settings.attempt_timeout_s:
        record_failure(ctx, attempt_id, _timed_out(adapter, provider, job_id))
        return "failed"
    if state == AttemptStatus.SUBMITTED and result is not None and result.state is JobState.RUNNING:
        # only a job seen under way: one still queued (Runway PENDING, fal IN_QUEUE) stays
        # submitted, so a cancel settles it by the provider's cancel_queued rule (fal: free)
        mark_rendering(ctx, attempt_id, result.progress)
    return "pending"


def _timed_out(adapter: ProviderAdapter, provider: str, job_id: str) -> ProviderTimeoutError:
    """Cancel a job past the attempt's timeout; the error to record. A cancel that fails (the
    provider down, rate limited) or that the provider cannot make does not keep the attempt open:
    it is given up all the same, and since the job may still run and be billed, it settles as
    ``lost`` (uncertain)."""
    try:
        stopped = adapter.cancel(job_id)
    except ProviderError as exc:
        log.warning("%s: the cancel of job %s past its timeout failed: %s", provider, job_id, exc)
        error = ProviderTimeoutError(
            f"job did not finish in time, and its cancel failed ({exc}): it may still run", provider
        )
        error.billing_hint = "lost"
        return error
    if not stopped:  # a provider without a cancel (Kling, OpenAI's videos), or it ended meanwhile
        error = ProviderTimeoutError(
            "job did not finish in time, and it cannot be cancelled: it may still run", provider
        )
        error.billing_hint = "lost"
        return error
    return ProviderTimeoutError("job did not finish in time", provider)
