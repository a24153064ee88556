"""Closing a job's open work: its unfinished attempts cancelled at their providers (best effort),
their reservations released, and its unfinished shots cancelled; for a cancel, or for a job that
failed or was delivered with attempts still open."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.errors import ProviderError
from foundation.states import (
    ATTEMPT_ENDED,
    ATTEMPT_HELD,
    ATTEMPT_IN_FLIGHT,
    ATTEMPT_PROVIDER_DONE,
    SHOT_CANCELLABLE,
    AttemptStatus,
    ShotStatus,
)
from ledger import service as ledger
from pipeline.context import RunContext
from pipeline.transitions import attempt_to, following_moves, shot_to
from store.db import session_scope
from store.models import Attempt, Shot


def cancel_inflight(ctx: RunContext, job_id: str, *, past_provider: bool = False) -> int:
    """Cancel a job's unfinished attempts at their providers and release their reservations;
    see ``close_open`` for ``past_provider``."""
    with session_scope(ctx.db_url) as session:
        return cancel_open_work(ctx, session, job_id, past_provider=past_provider)


def cancel_open_work(
    ctx: RunContext, session: Session, job_id: str, *, past_provider: bool = False
) -> int:
    """``cancel_inflight`` in the caller's transaction, and the job's unfinished shots cancelled;
    returns how many attempts it closed."""
    closed = close_open(ctx, session, job_id, "job cancelled", past_provider=past_provider)
    cancel_shots(session, job_id)
    return closed


def cancel_shots(session: Session, job_id: str) -> None:
    """Cancel the job's shots that have not ended (planned, or rendering), in the caller's
    transaction: every step that drives one then ends."""
    for shot in session.scalars(select(Shot).where(Shot.job_id == job_id)):
        _cancel_shot(session, shot)


def _cancel_shot(session: Session, shot: Shot) -> None:
    """Cancel ``shot`` unless it has ended, from whatever a step moved it to meanwhile."""
    following_moves(
        session,
        shot,
        lambda: shot.status in SHOT_CANCELLABLE,
        lambda: shot_to(session, shot, ShotStatus.CANCELLED),
    )


def close_open(
    ctx: RunContext, session: Session, job_id: str, reason: str, *, past_provider: bool = True
) -> int:
    """Close every attempt of the job not in a terminal state: cancel its provider job (best
    effort), mark it ``cancelled`` (a ``submission_unknown`` one stays held for its operator, with
    its reservation), release its reservation (a fetched clip keeps the cost it
    settled) and record an ``attempt.closed`` event with ``reason``. Returns how many it closed.

    ``past_provider`` also closes attempts the provider has finished (``fetched``, ``gating``):
    right once the job has ended, wrong while a worker may still be gating them.
    """
    skip = (
        ATTEMPT_ENDED if past_provider else ATTEMPT_ENDED | ATTEMPT_PROVIDER_DONE
    ) | ATTEMPT_HELD
    rows = session.execute(
        select(Attempt, Shot)
        .join(Shot, Shot.id == Attempt.shot_id)
        .where(Shot.job_id == job_id, Attempt.status.not_in(skip))
    ).all()
    closed = 0
    for attempt, shot in rows:
        closed += _close(ctx, session, attempt, shot, skip, reason)
    return closed


def _close(
    ctx: RunContext,
    session: Session,
    attempt: Attempt,
    shot: Shot,
    skip: frozenset[AttemptStatus],
    reason: str,
) -> bool:
    """Cancel one attempt, following a step that moves it meanwhile (``submitted`` ->
    ``rendering``) until it is closed or has ended on its own; its provider is asked once."""
    asked: list[bool] = []

    def close() -> None:
        was = attempt.status
        if attempt.provider_job_id and was in ATTEMPT_IN_FLIGHT and not asked:
            cancel_at_provider(ctx, attempt)
            asked.append(True)
        attempt_to(session, attempt, AttemptStatus.CANCELLED, shot=shot, was=was, reason=reason)
        rules = ctx.registry.billing(attempt.provider)
        running = was == AttemptStatus.RENDERING
        ledger.settle_close(session, shot.job_id, attempt, rules, was_running=running)

    return following_moves(session, attempt, lambda: attempt.status not in skip, close)


def cancel_at_provider(ctx: RunContext, attempt: Attempt) -> None:
    """Best effort: a provider that refuses the cancel leaves its reason on the attempt."""
    try:
        ctx.adapter(attempt.provider).cancel(attempt.provider_job_id or "")
    except ProviderError as exc:
        attempt.error = f"cancel failed: {exc.message}"
