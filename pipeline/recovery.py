"""Exactly-once submission: what to do with an attempt found in ``submitting`` (its create may
have reached the provider; the process died before the job id was stored), and the operator's
resolution of one whose outcome could not be found out.

Per provider the registry names the strongest mechanism it offers
(``providers.<p>.submission.mechanism``):

- ``client_reference`` / ``reconcile``: the adapter looks the create up (``FindsLostSubmissions``).
  One job found: it is the attempt's, stored, and polled. None: the create never arrived, so it is
  submitted again (a client-reference provider would refuse a duplicate anyway). Several, or a
  failed lookup: the attempt's job cannot be told apart, so it becomes ``submission_unknown``.
- ``resubmit``: a repeat bills nothing (the local renderer): submit again.
- ``none``: ``submission_unknown``. It is never resubmitted automatically, is never closed by its
  job, keeps its (worst-case) reservation, and its shot waits for ``resolve``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import FindsLostSubmissions, GenerationRequest
from adapters.errors import ProviderError
from foundation import money
from foundation.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from foundation.states import JOB_ENDED, AttemptStatus, Stage
from ledger import service as ledger
from pipeline import closing
from pipeline import steps as cursors
from pipeline.context import RunContext
from pipeline.steps import shot_key
from pipeline.transitions import attempt_to
from store import jobs as store_jobs
from store.db import session_scope
from store.models import Attempt, Job, Shot

HELD_STEP = "resolve"
"""The shot cursor's waiting step while its attempt is ``submission_unknown``."""


@dataclass(frozen=True)
class Lost:
    """What a restart does with an attempt left in ``submitting``: adopt ``job_id``, submit again
    (``resubmit``), or neither (it was moved to ``submission_unknown``)."""

    job_id: str | None = None
    resubmit: bool = False


def find_lost(ctx: RunContext, attempt_id: int, request: GenerationRequest) -> Lost:
    """Decide for an attempt found in ``submitting`` with no provider job id (see the module)."""
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        provider, since = attempt.provider, attempt.created_at.timestamp()
    mechanism = ctx.registry.submission(provider).mechanism
    if mechanism == "resubmit":
        return Lost(resubmit=True)
    adapter = ctx.adapter(provider)
    if mechanism == "none" or not isinstance(adapter, FindsLostSubmissions):
        why = f"{provider} offers no way to find a create whose answer was lost"
        return _unknown(ctx, attempt_id, why)
    try:
        listed = adapter.find_submission(request, since)
    except ProviderError as exc:
        return _unknown(ctx, attempt_id, f"looking the create up failed: {exc.message}"[:500])
    with session_scope(ctx.db_url) as session:
        known = _held_jobs(session, provider, listed)
    found = [job for job in listed if job not in known]
    if len(found) == 1:
        return Lost(job_id=found[0])
    if not found:
        return Lost(resubmit=True)
    return _unknown(ctx, attempt_id, f"{len(found)} {provider} jobs match the lost create")


def _held_jobs(session: Session, provider: str, provider_jobs: Collection[str]) -> set[str]:
    """The provider jobs among ``provider_jobs`` that attempts hold already. The provider's
    account is the platform's: its job list has every tenant's creates, and a job an attempt holds
    is that attempt's, never a lost create of another (of another tenant's job least of all)."""
    if not provider_jobs:
        return set()
    rows = session.scalars(
        select(Attempt.provider_job_id).where(
            Attempt.provider == provider, Attempt.provider_job_id.in_(sorted(set(provider_jobs)))
        )
    )
    return {row for row in rows if row is not None}


def _unknown(ctx: RunContext, attempt_id: int, why: str) -> Lost:
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        if attempt.status == AttemptStatus.SUBMITTING:
            attempt.error_kind, attempt.error = "submission_unknown", why
            attempt_to(session, attempt, AttemptStatus.SUBMISSION_UNKNOWN, reason=why)
    return Lost()


def _close(ctx: RunContext, session: Session, attempt: Attempt, shot: Shot) -> None:
    """Cancel a found create whose job ended meanwhile and settle it as any cancelled attempt is:
    by its provider's rule for a job cancelled while queued (no poll has seen it run)."""
    closing.cancel_at_provider(ctx, attempt)
    attempt_to(session, attempt, AttemptStatus.CANCELLED, shot=shot, reason="job cancelled")
    rules = ctx.registry.billing(attempt.provider)
    ledger.settle_close(session, shot.job_id, attempt, rules, was_running=False)


def unknown_attempts(
    ctx: RunContext, job_id: str | None = None, tenant: str | None = None
) -> list[dict[str, object]]:
    """The attempts waiting for an operator (of one job, one tenant's, or all), with what resolving
    needs."""
    with session_scope(ctx.db_url) as session:
        return held_attempts(session, job_id=job_id, tenant=tenant)


def held_attempts(
    session: Session, *, job_id: str | None = None, tenant: str | None = None
) -> list[dict[str, object]]:
    """``unknown_attempts`` in the caller's session."""
    rows = store_jobs.attempts_with_status(
        session, AttemptStatus.SUBMISSION_UNKNOWN, job_id=job_id, tenant=tenant
    )
    return [
        {
            "attempt_id": attempt.id,
            "job_id": shot.job_id,
            "shot": shot.key,
            "number": attempt.number,
            "provider": attempt.provider,
            "model": attempt.model_id,
            "reserved_usd": money.to_json(attempt.quoted_usd),
            "since": attempt.updated_at.isoformat(),
            "reason": attempt.error,
        }
        for attempt, shot in rows
    ]


_JOB_ID = re.compile(r"[A-Za-z0-9_.:-]+(?:/[A-Za-z0-9_.:-]+)*")


_CACHE_KEYED = tuple(f"{stage}:" for stage in (Stage.TTS, Stage.KEYFRAME, Stage.MUSIC, Stage.SHEET))
"""The form a stage try answered at once stores in place of a provider job id (``stage:key``,
``pipeline.stage_tries``): its key is a hash of its inputs, which another tenant could guess."""


def provider_job_id_problem(provider_job_id: str) -> str | None:
    """Why a claimed provider job id is not one. It is polled in the provider's URL path with the
    operator's key (``/v1/tasks/{id}``; Veo's is an operation name with slashes), so only id
    characters and ``/`` between parts, never a ``.`` or ``..`` part, ``?``, ``#`` or ``%``; and
    never a stage's cache key, which no provider job has (asked of ``resolve``, whether one is
    held would tell a tenant that another drew that character or spoke that line)."""
    if provider_job_id.startswith(_CACHE_KEYED):
        return f"{provider_job_id[:60]!r} is a stage's cache key, not a provider job id"
    parts = provider_job_id.split("/")
    if _JOB_ID.fullmatch(provider_job_id) and not {".", ".."} & set(parts):
        return None
    allowed = "letters, digits, '_', '.', ':', '-'; '/' between parts"
    return f"{provider_job_id[:60]!r} is not a provider job id ({allowed})"


def resolve(ctx: RunContext, attempt_id: int, provider_job_id: str | None) -> str:
    """Resolve a ``submission_unknown`` attempt; returns its job's id (to drive it on).

    ``provider_job_id``: the create did reach the provider (found in its dashboard): the attempt
    takes that job and is polled. ``None``: it did not: the attempt fails as ``not_submitted``, its
    reservation is released, and the shot goes on to its next attempt (the same model again).
    """
    if provider_job_id and (problem := provider_job_id_problem(provider_job_id)):
        raise InvalidInputError(
            "the provider job id cannot be used", [Problem("provider_job_id", problem)]
        )
    with session_scope(ctx.db_url) as session:
        attempt = session.get(Attempt, attempt_id)
        if attempt is None:
            raise NotFoundError(f"no attempt {attempt_id}")
        if attempt.status != AttemptStatus.SUBMISSION_UNKNOWN:
            raise ConflictError(f"attempt {attempt_id} is {attempt.status}, not submission_unknown")
        shot = session.get_one(Shot, attempt.shot_id)
        job = session.get_one(Job, shot.job_id)
        job_id, shot_pk, ended = job.id, shot.id, job.status in JOB_ENDED
        if provider_job_id and _held_jobs(session, attempt.provider, [provider_job_id]):
            raise ConflictError(
                f"{attempt.provider} job {provider_job_id} belongs to another attempt, not to "
                f"attempt {attempt_id}"
            )
        if provider_job_id:
            attempt.provider_job_id, attempt.error_kind, attempt.error = provider_job_id, None, None
            attempt_to(
                session,
                attempt,
                AttemptStatus.SUBMITTED,
                shot=shot,
                provider_job_id=provider_job_id,
            )
            if ended:  # its job was cancelled meanwhile: stop the provider job too
                _close(ctx, session, attempt, shot)
        else:
            attempt.error_kind = "not_submitted"
            attempt.error = "resolved: the create never reached the provider"
            attempt_to(
                session, attempt, AttemptStatus.FAILED, shot=shot, error_kind="not_submitted"
            )
            ledger.settle(session, job_id, attempt, 0.0)
    if not ended:  # the waiting shot begins again: it polls the job, or opens the next attempt
        held = frozenset({HELD_STEP})
        move = cursors.Move(shot_key(shot_pk), job_id, "begin", str(shot_pk), when=held)
        cursors.apply(ctx.db_url, None, [move], ctx.settings.reap_after_s)
    return job_id
