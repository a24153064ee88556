"""The tries of a stage run before a shot's video (``voice_stage``, ``keyframe_stage``) or of the
job's own music stage (``music_stage``): each is an attempt row of a shot with its ``stage``,
numbered below zero, reserved and settled by the ledger like a video attempt. What the stages
share is written here once: opening, sending, failing and closing a try, finding a cached one,
and walking the routed chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.errors import NO_JOB_ID, ProviderError
from foundation.states import ATTEMPT_ENDED, AttemptStatus, Stage
from ledger import service as ledger
from pipeline import admission
from pipeline.attempts import fail_shot_in, reserve_or_refuse
from pipeline.cache import own_copy, reused_path
from pipeline.context import RunContext
from pipeline.policy import MAX_SAME_MODEL, RETRY_SAME, backoff_s
from pipeline.transitions import attempt_opened, attempt_to
from router import StageCandidate, StageDecision
from store.db import session_scope
from store.models import Attempt, Job, Shot

T = TypeVar("T")

NO_MORE = (AttemptStatus.FAILED, AttemptStatus.REJECTED)
"""A try in these states is not asked again on the same input."""

JOB_FLOOR = -1_000_000
"""The job's own stages (music) keep their tries on the job's first shot, numbered from here
down, so they never race that shot's own stages (above it, from -1 down) for a number."""
JOB_STAGES = frozenset({Stage.MUSIC})


class Retry(NamedTuple):
    """A try failed in a way another try of the same model may not meet (``policy.RETRY_SAME``:
    a 503, a 429, a job the provider lost), with the provider's hint of how long to wait."""

    reason: str
    hint_s: float | None


Outcome = tuple[str, bool] | Retry | float | None
"""One model's try: None when the stage is done, the seconds to wait for the model's slot,
``Retry``, or (reason, whether to stop trying)."""


@dataclass(frozen=True)
class Owner:
    """The job a try belongs to, as the stage needs it outside the session."""

    id: str
    tenant: str
    providers: str
    mode: str
    shot_key: str

    @staticmethod
    def of(job: Job, shot: Shot) -> Owner:
        return Owner(job.id, job.tenant or "local", job.providers, job.mode, shot.key)


def spec_entry(storyboard: dict[str, Any], key: str) -> dict[str, Any]:
    """The shot's entry in the stored storyboard ({} when absent)."""
    return next((s for sc in storyboard["scenes"] for s in sc["shots"] if s["id"] == key), {})


class Tried(dict[str, str | None]):
    """The models a need's tries ended on, each with its last error; ``failures`` counts the
    ``Retry`` failures of the models that may still be tried again."""

    def __init__(self, ended: dict[str, str | None], failures: dict[str, int]) -> None:
        super().__init__(ended)
        self.failures = failures


def ended_on(tries: list[Attempt]) -> Tried:
    """The models a need's tries ended on (failed or rejected): at once on a refusal or a
    rejected output, after ``MAX_SAME_MODEL`` failures a later try may not meet (a 503, a 429),
    as the video stage retries its model (``policy.next_step``)."""
    ended: dict[str, str | None] = {}
    failures: dict[str, int] = {}
    for attempt in tries:
        if attempt.status not in NO_MORE:
            continue
        model = attempt.model_id
        if attempt.status == AttemptStatus.FAILED and attempt.error_kind in RETRY_SAME:
            failures[model] = failures.get(model, 0) + 1
            if failures[model] < MAX_SAME_MODEL:
                continue
        ended[model] = attempt.error
    return Tried(ended, {m: n for m, n in failures.items() if m not in ended})


def reserved_by_model(tries: list[Attempt]) -> dict[str, int]:
    """The tries reserved but not sent yet (waiting for their model's slot), by model."""
    return {a.model_id: a.id for a in tries if a.status == AttemptStatus.RESERVED}


def last_reason(tried: dict[str, str | None], otherwise: str) -> str:
    """Why the need is not met: the last model's error, else ``otherwise`` (the routing's
    explanation)."""
    return next((f"{m}: {e}" for m, e in reversed(tried.items()) if e), otherwise)


def close_interrupted(session: Session, job_id: str, tries: list[Attempt], stage: Stage) -> None:
    """A try a crash left after it was sent may have been billed: it is settled at its quote and
    failed (a reserved one, not sent yet, waits for its slot again)."""
    for attempt in tries:
        if attempt.status not in ATTEMPT_ENDED and attempt.status != AttemptStatus.RESERVED:
            ledger.settle(session, job_id, attempt, attempt.quoted_usd)
            attempt.error = "interrupted: the process stopped during the call"
            attempt_to(session, attempt, AttemptStatus.FAILED, stage=stage)


def open_try(
    ctx: RunContext,
    shot_pk: int,
    owner: Owner,
    candidate: StageCandidate,
    request: dict[str, Any],
    stage: Stage,
) -> int | None:
    """Open a try (``reserved``) and reserve its quote (none for a reused output, whose
    ``request.saved_usd`` is the quote); None (and the try failed) over budget."""
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        reused = bool(request.get("reused_from"))
        quote = 0.0 if reused else candidate.estimate_usd
        # a reused output saves the quote it would have cost (the report's ``reused.saved_usd``)
        request = request | {"saved_usd": round(candidate.estimate_usd, 6) if reused else 0.0}
        number = _next_number(session, shot_pk, stage)
        attempt = Attempt(
            shot_id=shot_pk, number=number, stage=stage, model_id=candidate.model_id,
            provider=candidate.provider, quoted_usd=quote, request=request,
        )  # fmt: skip
        attempt_opened(session, attempt, shot, stage=stage, model=candidate.model_id)
        refusal = f"the {stage} quote does not fit the budget"
        if not reserve_or_refuse(session, owner.id, attempt, shot, refusal, stage=stage):
            return None
        return attempt.id


@dataclass(frozen=True)
class Admitted:
    """A try opened, marked sent and holding its model's slot: the provider is called next."""

    attempt_id: int


def admit_try(
    ctx: RunContext,
    shot_pk: int,
    owner: Owner,
    candidate: StageCandidate,
    request: dict[str, Any],
    stage: Stage,
    reserved: int | None,
    cached: tuple[int, str, dict[str, Any]] | None,
    reuse: Callable[[int, str], Outcome],
) -> Admitted | Outcome:
    """Open a try (or take the one ``reserved`` earlier), then end it here when its quote passes
    the budget, or when its output is ``cached`` (``cached_try``; ``reuse`` takes the attempt and
    the stored output's key, for nothing); else wait for the model's slot, or mark it sent and return ``Admitted``."""
    attempt_id = reserved or open_try(ctx, shot_pk, owner, candidate, request, stage)
    if attempt_id is None:
        return f"the {stage} quote does not fit the budget", True
    mine = _own_copy(ctx, owner, cached[1]) if cached is not None else None
    if mine is not None:
        sending(ctx, attempt_id, request, stage)
        return reuse(attempt_id, mine)
    wait = admission.admit(ctx, attempt_id)
    if wait > 0:
        return wait
    sending(ctx, attempt_id, request, stage)
    return Admitted(attempt_id)


def _own_copy(ctx: RunContext, owner: Owner, ref: str) -> str | None:
    """A cached output made a file of the reusing job (``cache.own_copy``: deleting the job that
    made it leaves this one's sheet, keyframe, line or bed); None when it went meanwhile."""
    at = reused_path(ctx.asset_dir(owner.id), ref)
    return own_copy(ctx.assets, ref, at, f"{owner.tenant}/{owner.id}")


def _next_number(session: Session, shot_pk: int, stage: Stage) -> int:
    """The stages before the video share the numbers from -1 down; the job's own stages theirs
    from ``JOB_FLOOR`` down."""
    query = select(func.min(Attempt.number)).where(Attempt.shot_id == shot_pk)
    if stage in JOB_STAGES:
        lowest = session.scalar(query.where(Attempt.number <= JOB_FLOOR))
        return JOB_FLOOR if lowest is None else lowest - 1
    lowest = session.scalar(query.where(Attempt.number < 0, Attempt.number > JOB_FLOOR))
    return (lowest or 0) - 1


def sending(ctx: RunContext, attempt_id: int, request: dict[str, Any], stage: Stage) -> None:
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        attempt.request = dict(attempt.request or {}) | request
        attempt_to(session, attempt, AttemptStatus.SUBMITTING, stage=stage)


def call(
    ctx: RunContext,
    attempt_id: int,
    owner: Owner,
    model_id: str,
    stage: Stage,
    send: Callable[[], T],
) -> T | tuple[str, bool] | Retry:
    """An admitted try's provider call: ``send``'s answer, or, when the provider refuses or fails,
    the try failed and (reason, False) so the next model may take it, or ``Retry`` when another
    try of this model may well succeed. The model's slot is released either way."""
    try:
        admission.sent(ctx, attempt_id, model_id)
        return send()
    except ProviderError as exc:
        failed(ctx, attempt_id, owner, exc, stage)
        if exc.kind in RETRY_SAME:
            return Retry(f"{model_id}: {exc}", getattr(exc, "retry_after", None))
        return f"{model_id}: {exc}", False
    finally:
        admission.release(ctx, attempt_id, model_id)


def keep_output(
    ctx: RunContext, attempt_id: int, owner: Owner, raw: Path, job_ref: str, **extra: Any
) -> str:
    """Store a try's output among the job's assets and record it on the attempt (``source``,
    ``extra``, and ``job_ref`` as its provider job id, which the cache finds); the stored ref."""
    ref = ctx.assets.put(raw, f"{owner.tenant}/{owner.id}", alone=True)
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        attempt.request = dict(attempt.request or {}) | {"source": ref} | extra
        attempt.provider_job_id = job_ref
    return ref


def failed(
    ctx: RunContext, attempt_id: int, owner: Owner, exc: ProviderError, stage: Stage
) -> None:
    """A provider refusal or failure, settled by the provider's billing rules as a video
    attempt's is (``ledger.service.settle_failure``): nothing when the provider made nothing (an
    error status, a refused request), else what its rules say for how the error's
    ``provider_job`` ended (its id is kept as the try's ``provider_job_id``)."""
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        attempt.error, attempt.error_kind = str(exc), exc.kind
        if exc.provider_job and exc.provider_job not in NO_JOB_ID:
            attempt.provider_job_id = exc.provider_job
        rules = ctx.registry.billing(attempt.provider)
        ledger.settle_failure(
            session, owner.id, attempt, rules, exc,
            was_running=exc.was_running, had_job=exc.provider_job is not None,
        )  # fmt: skip
        attempt_to(session, attempt, AttemptStatus.FAILED, stage=stage, error=str(exc))


def cached_try(
    ctx: RunContext, key: str, tenant: str, stage: Stage
) -> tuple[int, str, dict[str, Any]] | None:
    """An accepted try of the tenant with this cache key whose output is still stored: its id,
    the stored output and its request."""
    with session_scope(ctx.db_url) as session:
        rows = session.execute(
            select(Attempt.id, Attempt.request)
            .join(Shot, Shot.id == Attempt.shot_id)
            .join(Job, Job.id == Shot.job_id)
            .where(Attempt.provider_job_id == f"{stage}:{key}", Job.tenant == tenant)
            .where(Attempt.status == AttemptStatus.ACCEPTED)
            .order_by(Attempt.id.desc())
        ).all()
    for attempt_id, request in rows:
        source = (request or {}).get("source")
        if source and ctx.assets.exists(source):
            return attempt_id, str(source), dict(request or {})
    return None


def walk_chain(
    ctx: RunContext,
    shot_pk: int,
    decision: StageDecision,
    tried: Tried,
    waiting: dict[str, int],
    attempt_one: Callable[[StageCandidate, int | None], Outcome],
    stage: Stage,
    give_up: Callable[[str], None] | None = None,
) -> float:
    """Try the decision's models not ``tried`` yet, in order (each with its try ``waiting`` for
    its slot, if any), until one delivers (0), one has to wait for its slot or for another try
    after a ``Retry`` failure (the seconds), or a failure ends the stage; with none left the shot
    fails with the last reason (stage ``stage``), before its video is paid for (``give_up``,
    when given, is told the reason instead)."""
    reason = last_reason(tried, decision.explain())
    chain = decision.chain
    for candidate in chain:
        if candidate.model_id in tried:
            continue
        outcome = attempt_one(candidate, waiting.get(candidate.model_id))
        if isinstance(outcome, float):
            return outcome
        if outcome is None:
            return 0.0
        if isinstance(outcome, Retry):
            failures = tried.failures.get(candidate.model_id, 0) + 1
            if failures < MAX_SAME_MODEL:
                return backoff_s(ctx.settings, failures, outcome.hint_s)
            reason = outcome.reason
            continue
        reason, final = outcome
        if final:
            break
    if give_up is not None:
        give_up(reason)
        return 0.0
    with session_scope(ctx.db_url) as session:
        fail_shot_in(session, session.get_one(Shot, shot_pk), f"{stage}: {reason}", stage)
    return 0.0


_DELIVERED = (AttemptStatus.SUBMITTED, AttemptStatus.FETCHED)


def conclude(
    ctx: RunContext,
    attempt_id: int,
    owner: Owner,
    stage: Stage,
    delivered: tuple[str, float],
    why: str | None,
    *,
    asset: Path | None = None,
    details: dict[str, Any] | None = None,
    in_event: bool = False,
    stop: bool = False,
) -> tuple[str, bool] | None:
    """A stage try's end once its output is checked: the attempt records the output's store key
    (``delivered``: key and cost; the cache key is its job id when it has none), walks through
    submitted and fetched to gating, and is settled at the cost. Then it is rejected with ``why``
    (returned with ``stop``: whether to try no other model), or accepted with its asset (``asset``
    stored now, else the delivered key) and ``details`` on its verdict (and its event when
    ``in_event``). A try its job closed while it was drawn ends there, closed, settled at what
    the drawing cost."""
    ref, cost = delivered
    details = details or {}
    with session_scope(ctx.db_url) as session:
        attempt = session.get_one(Attempt, attempt_id)
        if attempt.status in ATTEMPT_ENDED:  # its job was cancelled while the model drew
            rules = ctx.registry.billing(attempt.provider)
            ledger.settle_answered_after_close(session, owner.id, attempt, rules, cost)
            return f"{stage} try closed by its job", True
        attempt.request = dict(attempt.request or {}) | {"source": ref}
        key = attempt.request["cache_key"]
        attempt.provider_job_id = attempt.provider_job_id or f"{stage}:{key}"
        for status in _DELIVERED:
            attempt_to(session, attempt, status, stage=stage)
        ledger.settle(session, owner.id, attempt, cost)
        attempt_to(session, attempt, AttemptStatus.GATING, stage=stage)
        if why is not None:
            attempt.error = why
            attempt.verdict = {"stage": stage, "reason": why}
            attempt_to(session, attempt, AttemptStatus.REJECTED, stage=stage, reason=why)
            return why, stop
        stored = ctx.assets.put(asset, f"{owner.tenant}/{owner.id}", alone=True) if asset else ref
        attempt.asset_path = stored
        attempt.verdict = {"stage": stage, **details}
        attempt_to(
            session, attempt, AttemptStatus.ACCEPTED, stage=stage, **(details if in_event else {})
        )
    return None
