"""Native variant renders: a shot rendered again in a variant's aspect, instead of a crop.

Planning keeps, on the shot's route, the chain of models that can render the shot in each native
variant's aspect (``ShotRoute.native``, chosen by ``router.with_variants``). After the shot's clip
is accepted and before it is normalised, the step ``native`` of the step graph
(``pipeline.flow``) drives those renders:

- each is an attempt row of the shot with ``stage == "native"``, numbered below zero (shared with
  the tts and keyframe tries) and tagged with its variant (``request.extra.variant``, which no
  adapter sends on). It is the shot's video request (same prompt, seed, inputs, chain) at the
  native size, so it goes through the very steps of a video attempt: its quote reserved when
  opened, ``attempts.submit`` (provider job id committed before the first poll, admission by the
  model's limits), ``polling.poll_once``, ``verdicts.fetch`` (settled by the ledger at what the
  provider bills) and ``verdicts.judge`` (the quality gate, against the native request's size).
  The gate never moves the shot: it is accepted already;
- the first model is the one whose clip the shot accepted when it is in the native chain, else
  the chain's first; each model is tried once, a failure or rejection moves to the next; with
  none left (or none fitting the budget) the variant is reframed for that shot, as the report
  says;
- its cache key (``request.extra.cache_key``: the shot's cache inputs with the native size)
  lets an unchanged shot rendered again in the tenant reuse an accepted native clip for $0.

The shot's normalise (``assembly.normalise_shot``) then makes each accepted native clip the
variant's segment (``stitching.native_segment``), recorded as that variant of the main segment,
so the variant's stitch uses it where it would have used the reframed one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select

import stitching
from foundation.errors import ShotlineError
from foundation.states import (
    ATTEMPT_ACCEPTED,
    ATTEMPT_AT_PROVIDER,
    ATTEMPT_ENDED,
    ATTEMPT_HELD,
    ATTEMPT_PROVIDER_DONE,
    AttemptStatus,
    ShotStatus,
    Stage,
)
from foundation.storyboard import Storyboard
from ledger import service as ledger
from pipeline import admission, attempts, polling, requests, verdicts
from pipeline.cache import own_copy, reused_path, shot_cache_key
from pipeline.context import RunContext
from pipeline.render_times import next_poll_s
from pipeline.transitions import attempt_opened, attempt_to
from store.db import connection_scope, session_scope
from store.models import Attempt, Job, Shot
from store.records import RouteCandidate, ShotRoute

log = logging.getLogger(__name__)
STAGE = Stage.NATIVE
MAX_MOVES = 12  # moves made in one step before it yields (each opens, submits, polls or gates)


@dataclass(frozen=True)
class _Try:
    id: int
    status: str
    model_id: str
    label: str
    created: float


def variant_of(attempt: Attempt) -> str:
    """The variant label a native attempt renders."""
    return str(((attempt.request or {}).get("extra") or {}).get("variant", ""))


def native_tries(session: Any, shot_pk: int) -> list[Attempt]:
    """The shot's native tries made for its current clip: opened after its last video attempt
    (a shot re-rendered since has its variants rendered again, or reframed)."""
    latest = session.scalar(
        select(func.max(Attempt.id)).where(Attempt.shot_id == shot_pk, Attempt.stage == Stage.VIDEO)
    )
    return list(
        session.scalars(
            select(Attempt)
            .where(Attempt.shot_id == shot_pk, Attempt.stage == STAGE, Attempt.id > (latest or 0))
            .order_by(Attempt.id)
        )
    )


_ROUTE = select(Shot.route).where(Shot.id == bindparam("shot"))


def planned(ctx: RunContext, shot_pk: int) -> bool:
    """Whether the shot has native variant renders to make (most shots have none: they go from
    their gate straight to their normalise, without a ``native`` step)."""
    with connection_scope(ctx.db_url) as conn:
        route = conn.execute(_ROUTE, {"shot": shot_pk}).scalar_one_or_none()
    return bool((route or {}).get("native"))


def advance(ctx: RunContext, shot_pk: int) -> float:
    """Move each of the shot's native renders on as far as it goes without waiting; returns the
    seconds until one needs a look again (0: every one has ended, accepted or given up)."""
    for _ in range(MAX_MOVES):
        with session_scope(ctx.db_url) as session:
            shot = session.get_one(Shot, shot_pk)
            route = ShotRoute.from_json(shot.route)
            if shot.status != ShotStatus.ACCEPTED or not route.native:
                return 0.0
            rows = [
                _Try(a.id, a.status, a.model_id, variant_of(a), a.created_at.timestamp())
                for a in native_tries(session, shot_pk)
            ]
            kept = shot.model_id
        waits, moved = [], False
        for label, chain in route.native.items():
            mine = [row for row in rows if row.label == label]
            wait = _advance_one(ctx, shot_pk, label, _ordered(chain, kept), mine)
            if wait is None:
                continue
            moved = moved or wait == 0
            if wait > 0:
                waits.append(wait)
        if not moved:
            return min(waits, default=0.0)
    return max(0.05, ctx.settings.poll_interval_s)


def _ordered(chain: Sequence[RouteCandidate], kept: str | None) -> list[RouteCandidate]:
    """The native chain, the model whose clip the shot accepted first when it is in it."""
    return sorted(chain, key=lambda c: c.model_id != kept)


def _advance_one(
    ctx: RunContext, shot_pk: int, label: str, chain: list[RouteCandidate], mine: list[_Try]
) -> float | None:
    """None: this variant's native render is over; 0: it moved (look again); else the wait."""
    if any(row.status in ATTEMPT_ACCEPTED for row in mine):
        return None
    if any(row.status in ATTEMPT_HELD for row in mine):
        return None  # an operator resolves it; the variant is reframed meanwhile
    live = next((row for row in mine if row.status not in ATTEMPT_ENDED), None)
    if live is None:
        tried = {row.model_id for row in mine}
        candidate = next((c for c in chain if c.model_id not in tried), None)
        if candidate is None:
            return None  # every model tried: reframed
        return 0.0 if _open(ctx, shot_pk, label, candidate) else None
    return _drive(ctx, live)


def _open(ctx: RunContext, shot_pk: int, label: str, candidate: RouteCandidate) -> bool:
    """Open a native try on ``candidate`` and reserve its quote (or reuse an accepted native clip
    of the same inputs for $0); False when the budget refuses it."""
    with session_scope(ctx.db_url) as session:
        shot = session.get_one(Shot, shot_pk)
        job = session.get_one(Job, shot.job_id)
        lowest = session.scalar(
            select(func.min(Attempt.number)).where(Attempt.shot_id == shot_pk, Attempt.number < 0)
        )
        number = (lowest or 0) - 1
        request = requests.request_record(ctx, session, job, shot, candidate, number)
        spec = requests.framed_spec(session, job, shot)
        key = shot_cache_key(session, spec, shot, candidate, ctx.assets.local)
        request["extra"] = dict(request.get("extra") or {}) | {"variant": label, "cache_key": key}
        reused = _cached(ctx, session, key, job.tenant)
        mine = own_copy(ctx.assets, reused.asset_path or "", _reused_at(ctx, job.id, reused),
                        f"{job.tenant}/{job.id}") if reused is not None else None  # fmt: skip
        reused = reused if mine is not None else None  # the clip went meanwhile: render it
        attempt = Attempt(
            shot_id=shot_pk, number=number, stage=STAGE, model_id=candidate.model_id,
            provider=candidate.provider, quoted_usd=0.0 if reused else candidate.quote_usd,
            request=request,
        )  # fmt: skip
        attempt_opened(session, attempt, shot, stage=STAGE, variant=label, model=attempt.model_id)
        refusal = f"reserving ${attempt.quoted_usd:.2f} would pass the job budget"
        if not attempts.reserve_or_refuse(session, job.id, attempt, shot, refusal, stage=STAGE):
            return False
        if reused is not None and mine is not None:
            _reuse(session, job.id, attempt, shot, reused, mine)
        return True


def _reused_at(ctx: RunContext, job_id: str, cached: Attempt) -> Path:
    """Where the reusing job keeps its own file of a cached clip (deleting the job that made it
    leaves this one)."""
    return reused_path(ctx.asset_dir(job_id), cached.asset_path or "clip")


def _cached(ctx: RunContext, session: Any, key: str, tenant: str) -> Attempt | None:
    """An accepted native try of the tenant with cache key ``key`` whose clip is still stored."""
    rows = session.scalars(
        select(Attempt)
        .join(Shot, Shot.id == Attempt.shot_id)
        .join(Job, Job.id == Shot.job_id)
        .where(Attempt.stage == STAGE, Attempt.status == AttemptStatus.ACCEPTED)
        .where(Job.tenant == tenant)
        .order_by(Attempt.id.desc())
    )
    for row in rows:
        same = ((row.request or {}).get("extra") or {}).get("cache_key") == key
        if same and row.asset_path and ctx.assets.exists(row.asset_path):
            return row  # type: ignore[no-any-return]
    return None


def _reuse(
    session: Any, job_id: str, attempt: Attempt, shot: Shot, cached: Attempt, own: str
) -> None:
    attempt.asset_path, attempt.verdict = own, cached.verdict
    attempt.provider_job_id = cached.provider_job_id
    attempt.request = dict(attempt.request or {}) | {"reused_from": cached.id}
    for status in (AttemptStatus.SUBMITTING, AttemptStatus.SUBMITTED, AttemptStatus.FETCHED):
        attempt_to(session, attempt, status, shot=shot, stage=STAGE)
    ledger.settle(session, job_id, attempt, 0.0)
    attempt_to(session, attempt, AttemptStatus.GATING, shot=shot, stage=STAGE)
    attempt_to(session, attempt, AttemptStatus.ACCEPTED, shot=shot, stage=STAGE, reused=True)


def _drive(ctx: RunContext, row: _Try) -> float:
    """One move of a live native try, through the video attempt's own steps; 0 when it moved,
    else the seconds to wait."""
    if row.status in (AttemptStatus.RESERVED, AttemptStatus.SUBMITTING):
        wait = admission.admit(ctx, row.id)
        if wait > 0:
            return wait
        left = attempts.submit(ctx, row.id)
        if left is None or left.status != AttemptStatus.SUBMITTED:
            admission.release(ctx, row.id, row.model_id)
            return 0.0
        admission.sent(ctx, row.id, row.model_id)
        return next_poll_s(ctx, row.model_id, 0.0, polls=0)
    if row.status in ATTEMPT_AT_PROVIDER:
        outcome = polling.poll_once(ctx, row.id, row.created)
        if outcome == "pending":
            admission.renew(ctx, row.id, row.model_id)
            return next_poll_s(ctx, row.model_id, _age(row), polls=1)
        admission.release(ctx, row.id, row.model_id)
        if outcome == "failed":
            return 0.0
    done = row.status in ATTEMPT_AT_PROVIDER or row.status in ATTEMPT_PROVIDER_DONE
    if done and verdicts.fetch(ctx, row.id):
        verdicts.judge(ctx, row.id)  # the shot is accepted: only the attempt is judged
    return 0.0


def _age(row: _Try) -> float:
    import time

    return max(0.0, time.time() - row.created)


def accepted_clips(ctx: RunContext, shot_pk: int) -> Mapping[str, str]:
    """The shot's accepted native clips (asset references) by variant label."""
    with session_scope(ctx.db_url) as session:
        planned = (session.get_one(Shot, shot_pk).route or {}).get("native") or {}
        return {
            variant_of(a): str(a.asset_path)
            for a in native_tries(session, shot_pk)
            if a.status in ATTEMPT_ACCEPTED and a.asset_path and variant_of(a) in planned
        }


def make_segments(
    ctx: RunContext,
    job_id: str,
    board: Storyboard,
    key: str,
    clips: Mapping[str, str],
    arrived: tuple[stitching.Segment, tuple[int, int], stitching.OutputProfile],
) -> None:
    """Shot ``key``'s accepted native clips made into their variants' segments, beside its new
    main segment (with its keyframe hints, in the main profile). A clip that cannot be made into
    one leaves the variant reframed for this shot (logged)."""
    segment, hints, profile = arrived
    for variant in board.output.variant_list():
        ref = clips.get(variant.label)
        if ref is None:
            continue
        out = stitching.variant_segment_path(ctx.work_dir(job_id), key, variant.label)
        try:
            stitching.native_segment(ctx.assets.local(ref), segment, hints, profile, variant, out)
        except ShotlineError as exc:
            log.warning(
                "job %s: shot %s's native %s clip not used: %s", job_id, key, variant.text, exc
            )
