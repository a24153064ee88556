"""Admission of an attempt to its model's provider: a concurrency slot (a hard limit across every
process sharing ``ctx.limits``) and a place in the model's requests-per-minute window (its
``limits.window_s``).

The slot is held, under the attempt's name, from its submission until it leaves the in-flight
states (``release``); every poll renews it (``renew``), so the slot of an attempt nobody drives
any more (its worker died, its job was abandoned) frees itself after ``slot_lease_s``.

Slots are shared fairly among the tenants whose jobs want the model (``limits.fair_turn``): the
attempt asks as its job's tenant, and a refused attempt keeps its tenant counted as waiting for
``WAITING_RETRIES`` of its retry intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from pipeline.context import RunContext
from pipeline.limits import slot_lease_s
from registry import Limits
from store.db import session_scope
from store.models import Attempt, Job, Shot

WAITING_RETRIES = 4
"""A refused attempt's tenant counts as waiting for this many retry intervals after its last ask
(room for a late retry; a tenant that stopped asking soon stops counting)."""


@dataclass(frozen=True)
class _Seat:
    model_id: str
    holder: str
    tenant: str
    limits: Limits  # the model's, from the registry
    submitted: bool


def holder_of(attempt_id: int) -> str:
    return f"attempt:{attempt_id}"


def _seat(ctx: RunContext, attempt_id: int) -> _Seat | None:
    """The attempt's model limits and its job's tenant (one query); None for a model the
    registry no longer has (no limits)."""
    with session_scope(ctx.db_url) as session:
        model_id, job, tenant = session.execute(
            select(Attempt.model_id, Attempt.provider_job_id, Job.tenant)
            .join(Shot, Shot.id == Attempt.shot_id)
            .join(Job, Job.id == Shot.job_id)
            .where(Attempt.id == attempt_id)
        ).one()
    submitted = bool(job)
    if model_id not in ctx.registry:
        return None
    limits = ctx.registry.get(model_id).limits
    return _Seat(model_id, holder_of(attempt_id), tenant or "local", limits, submitted)


def admit(ctx: RunContext, attempt_id: int) -> float:
    """Take the attempt's slot and a place in its model's minute: 0 when it may submit now, else
    the seconds to wait before asking again (nothing is held then)."""
    seat = _seat(ctx, attempt_id)
    if seat is None or seat.submitted:
        return 0.0
    lease, retry = slot_lease_s(ctx.settings), max(0.5, ctx.settings.poll_interval_s)
    waiting = WAITING_RETRIES * retry
    limits = seat.limits
    if not ctx.limits.try_acquire(
        seat.model_id, seat.holder, limits.concurrency, lease, seat.tenant, waiting
    ):
        return retry
    wait = ctx.limits.try_take(seat.model_id, limits.rpm, seat.holder, limits.window_s)
    if wait > 0:
        ctx.limits.release(seat.model_id, seat.holder)
    return wait


def sent(ctx: RunContext, attempt_id: int, model_id: str) -> None:
    """The attempt's submission (to ``model_id``) has left: its minute in the RPM window counts
    from now."""
    if model_id in ctx.registry:
        ctx.limits.sent(model_id, holder_of(attempt_id))


def renew(ctx: RunContext, attempt_id: int, model_id: str) -> None:
    """Keep the slot of an attempt of ``model_id`` still in flight (a poll of a job the provider
    renders). The slot keeps the tenant it was taken for; one whose lease had already lapsed is
    taken again, when free, for no tenant (the tenant is not read on this path), and a refusal
    counts no tenant as waiting."""
    if model_id in ctx.registry:
        limit = ctx.registry.get(model_id).limits.concurrency
        lease = slot_lease_s(ctx.settings)
        ctx.limits.try_acquire(model_id, holder_of(attempt_id), limit, lease, waiting_s=0.0)


def release(ctx: RunContext, attempt_id: int, model_id: str | None = None) -> None:
    """The attempt has left the in-flight states (succeeded, failed, cancelled, timed out);
    ``model_id``: its model, when the caller has read it."""
    if model_id is None:
        with session_scope(ctx.db_url) as session:
            model_id = session.scalar(select(Attempt.model_id).where(Attempt.id == attempt_id))
    if model_id is not None:
        ctx.limits.release(model_id, holder_of(attempt_id))
