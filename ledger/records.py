"""The per-attempt cost record (``AttemptCost``): one ledger row for every attempt, accepted or not.

A record is opened when the attempt's quote is reserved (``open_record``). From then on a
``before_flush`` hook copies the attempt's state into its record whenever the attempt changes, in any
session, so the record always commits in the same transaction as the attempt it describes: no code
path can move an attempt without its ledger row following. Settlement adds what the provider billed
and flags drift from the registry's computed price (``DRIFT_THRESHOLD``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation import money
from foundation.states import ATTEMPT_ACCEPTED, ATTEMPT_ENDED, ATTEMPT_GATED, AttemptStatus, Stage
from store.models import Attempt, AttemptCost, Job, Shot

if TYPE_CHECKING:
    from ledger.billing import Charge

DRIFT_THRESHOLD = 0.10
"""Relative difference between billed and computed cost above which an attempt is flagged."""


def verdict_of(attempt: Attempt) -> str:
    """``accepted | repaired | rejected | failed | cancelled | pending``."""
    if attempt.status in ATTEMPT_ENDED:
        return attempt.status
    return "pending"


def defects_of(attempt: Attempt) -> list[str]:
    """The finding codes that drove the gate's verdict (empty for a clean or ungated clip)."""
    if attempt.status not in ATTEMPT_GATED:
        return []
    drivers = (attempt.verdict or {}).get("drivers", [])
    return sorted({str(d.get("code")) for d in drivers if isinstance(d, dict) and d.get("code")})


def planned_seconds(storyboard: dict[str, Any], shot_key: str) -> float:
    for scene in storyboard.get("scenes", []):
        for spec in scene.get("shots", []):
            if spec.get("id") == shot_key:
                return float(spec.get("duration", 0.0))
    return 0.0


def _is_voice(attempt: Attempt) -> bool:
    """A try of a stage other than the shot's video (``pipeline.voice_stage``,
    ``pipeline.keyframe_stage``, ``pipeline.sheet_stage``, the job's ``pipeline.music_stage``): it
    renders no seconds of picture."""
    return attempt.stage in (Stage.TTS, Stage.KEYFRAME, Stage.SHEET, Stage.MUSIC)


def _is_fallback(session: Session, attempt: Attempt) -> bool:
    previous = session.scalar(
        select(Attempt.model_id).where(
            Attempt.shot_id == attempt.shot_id, Attempt.number == attempt.number - 1
        )
    )
    return previous is not None and previous != attempt.model_id


def hold(session: Session, record: AttemptCost) -> None:
    """Keep a record the caller read with its attempt, so ``_record`` needs no query for it."""
    session.info.setdefault("attempt_records", {})[record.attempt_id] = record


def _record(session: Session, attempt_id: int) -> AttemptCost | None:
    """The attempt's record, held by the session once read: the identity map keeps unchanged rows
    only weakly, and a record is looked up at every move and flush of its attempt. A record
    opened in this session and not flushed yet is found here too."""
    held: dict[int, AttemptCost] = session.info.setdefault("attempt_records", {})
    record = held.get(attempt_id)
    if record is not None and record in session:
        return record
    record = session.get(AttemptCost, attempt_id)
    if record is not None:
        held[attempt_id] = record
    return record


def open_record(session: Session, attempt: Attempt, reserved_usd: float = 0.0) -> AttemptCost:
    """The attempt's record, created on first sight (``reserved_usd`` is what was reserved)."""
    record = _record(session, attempt.id)
    if record is not None:
        record.reserved_usd = max(record.reserved_usd, reserved_usd)
        return record
    shot = session.get_one(Shot, attempt.shot_id)
    job = session.get_one(Job, shot.job_id)
    record = AttemptCost(
        attempt_id=attempt.id,
        job_id=job.id,
        tenant=job.tenant or "local",
        shot_key=shot.key,
        mode=job.mode,
        model_id=attempt.model_id,
        provider=attempt.provider,
        fallback=_is_fallback(session, attempt),
        quoted_usd=attempt.quoted_usd,
        reserved_usd=reserved_usd,
        computed_usd=attempt.quoted_usd,
        # a shot's tts stage renders no seconds of picture: its cost counts, its seconds do not
        seconds_planned=0.0
        if _is_voice(attempt)
        else planned_seconds(job.storyboard or {}, shot.key),
        judge_usd=0.0,
        drift_flagged=False,
        defects=[],
        verdict="pending",
        seconds_accepted=0.0,
        emulated=job.providers == "emulated",
    )
    if attempt.created_at is not None:
        record.created_at = attempt.created_at
    refresh(record, attempt)
    session.add(record)
    session.info.setdefault("attempt_records", {})[attempt.id] = record
    return record


def refresh(record: AttemptCost, attempt: Attempt) -> None:
    """Copy the attempt's current state into its record (pure: no queries)."""
    requested = float((attempt.request or {}).get("duration_s") or 0.0)
    record.seconds_requested = requested
    record.verdict = verdict_of(attempt)
    defects = defects_of(attempt)
    if record.defects != defects:
        record.defects = defects
    record.error_kind = attempt.error_kind
    record.render_seconds = attempt.render_seconds
    record.settled_usd = attempt.settled_usd
    if record.verdict in ATTEMPT_ACCEPTED and not _is_voice(attempt):
        planned = record.seconds_planned or requested
        record.seconds_accepted = min(requested, planned) if requested else planned
    else:
        record.seconds_accepted = 0.0


def note_settle(
    session: Session, attempt: Attempt, cost_usd: float, charge: Charge | None = None
) -> None:
    """Book the settled cost and the billing rule it came from (``charge``); for a delivered
    clip, compare the billed cost with the computed one."""
    record = open_record(session, attempt)
    refresh(record, attempt)
    if charge is not None:
        record.billing_outcome = str(charge.outcome) if charge.outcome else None
        record.billing_basis = charge.basis
        record.billing_uncertain = charge.uncertain
    if attempt.status != AttemptStatus.FETCHED:
        return
    record.reported_usd = cost_usd
    drift, flagged = drift_of(cost_usd, record.computed_usd)
    record.drift, record.drift_flagged = drift, flagged


def drift_of(
    reported: float, computed: float, threshold: float = DRIFT_THRESHOLD
) -> tuple[float | None, bool]:
    """Relative drift of ``reported`` from ``computed`` and whether it passes ``threshold``.
    A bill for a clip the registry prices at zero has no ratio and is always flagged."""
    if computed <= 0:
        return (None, True) if reported > 1e-9 else (0.0, False)
    drift = (reported - computed) / computed
    return drift, abs(drift) > threshold + 1e-12


def note_judge(session: Session, attempt: Attempt, amount_usd: float) -> None:
    record = open_record(session, attempt)
    record.judge_usd = money.stored(money.usd(record.judge_usd) + money.usd(amount_usd))


def follow(session: Session, attempt: Attempt) -> None:
    """Copy ``attempt``'s state into its record now (opened on first sight): what the flush hook
    does for the changes the ORM tracks, called by writers that change the row with a statement
    of their own (the transitions module's compare-and-set on the status)."""
    with session.no_autoflush:
        record = _record(session, attempt.id)
        if record is None:
            open_record(session, attempt)
        else:
            refresh(record, attempt)


@sa_event.listens_for(Session, "before_flush")
def _follow_attempts(session: Session, _context: object, _instances: object) -> None:
    for obj in list(session.dirty):
        if not isinstance(obj, Attempt) or obj.id is None:
            continue
        if not session.is_modified(obj, include_collections=False):
            continue
        follow(session, obj)
