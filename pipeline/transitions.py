"""The only writer of a job's, shot's or attempt's status.

Each function checks the move against the transition table (``foundation.states``), assigns the
status and records the move's event in the same session, so the status and its event commit (or roll
back) together. A move the table does not list raises ``TransitionError`` and changes nothing.
Each move is a compare-and-set on the stored status: a row another transaction moved since it was
read raises ``StaleStatusError`` (a lost update under SQLite's deferred transactions otherwise).
``data`` becomes the event's payload; an attempt's events also carry its ``attempt`` number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from foundation.states import (
    ATTEMPT_TRANSITIONS,
    JOB_TRANSITIONS,
    SHOT_TRANSITIONS,
    AttemptStatus,
    E,
    JobStatus,
    ShotStatus,
    Transition,
)
from ledger import records
from pipeline import events
from pipeline.errors import StaleStatusError, TransitionError
from store.models import Attempt, Job, Shot, utcnow


def _event_of(
    table: tuple[Transition[E], ...],
    entity: str,
    source: E | None,
    target: E,
    event: str | None,
) -> str:
    """The event of the move ``source -> target``; ``event`` picks one where several are allowed
    (a shot goes back to ``planned`` by a consistency re-render or by a user's re-render)."""
    allowed = [t.event for t in table if t.source == source and t.target == target]
    if event is not None and event in allowed:
        return event
    if event is None and len(allowed) == 1:
        return allowed[0]
    where = "a new row" if source is None else str(source)
    detail = f" by {event}" if event else ""
    known = f" (allowed events: {', '.join(allowed)})" if allowed else ""
    raise TransitionError(f"{entity}: {where} -> {target}{detail} is not a transition{known}")


def _store(session: Session, row: Job | Shot | Attempt, source: E, target: E, entity: str) -> None:
    """Write ``target`` only where the stored status is still ``source``. The statement is the
    row's one write of the move: the ORM object is given the written status and ``updated_at`` as
    its committed state (no second UPDATE at commit), and an attempt's ledger record follows the
    move here, as the ledger's flush hook does for the changes the ORM tracks. The session's other
    pending changes (the move's event, the row's other columns) are not flushed for it: they are
    written together at the next flush (a row not inserted yet is flushed first)."""
    model = type(row)
    now = utcnow()
    if row in session.new:
        session.flush()
    moved = session.execute(
        update(model)
        .where(model.id == row.id, model.status == source)
        .values(status=target, updated_at=now)
        .execution_options(synchronize_session=False, autoflush=False)
    )
    if getattr(moved, "rowcount", 1) != 1:
        raise StaleStatusError(f"{entity}: no longer {source} (moved by another transaction)")
    set_committed_value(row, "status", target)
    set_committed_value(row, "updated_at", now)
    if isinstance(row, Attempt):
        records.follow(session, row)


def job_created(session: Session, job: Job, **data: Any) -> None:
    """Add a new job row, ``planned`` (its shots may be added first: ``job.created`` comes after
    their ``shot.planned`` events)."""
    kind = _event_of(JOB_TRANSITIONS, f"job {job.id}", None, JobStatus.PLANNED, None)
    job.status = JobStatus.PLANNED
    session.add(job)
    events.emit(session, job.id, kind, **data)


def job_to(
    session: Session,
    job: Job,
    to: JobStatus,
    *,
    event: str | None = None,
    shot: str | None = None,
    **data: Any,
) -> None:
    """Move ``job`` to ``to``; ``shot`` names the shot the event is about (a failed job's)."""
    source = JobStatus(job.status)
    kind = _event_of(JOB_TRANSITIONS, f"job {job.id}", source, to, event)
    _store(session, job, source, to, f"job {job.id}")
    events.emit(session, job.id, kind, shot, **data)


def shot_created(
    session: Session, shot: Shot, to: ShotStatus = ShotStatus.PLANNED, **data: Any
) -> None:
    """Add a new shot row: ``planned``, or ``accepted`` when it keeps a clip it already has."""
    kind = _event_of(SHOT_TRANSITIONS, f"shot {shot.key}", None, to, None)
    shot.status = to
    session.add(shot)
    events.emit(session, shot.job_id, kind, shot.key, **data)


def shot_to(
    session: Session, shot: Shot, to: ShotStatus, *, event: str | None = None, **data: Any
) -> None:
    """Move ``shot`` to ``to``."""
    source = ShotStatus(shot.status)
    where = f"shot {shot.key} of job {shot.job_id}"
    kind = _event_of(SHOT_TRANSITIONS, where, source, to, event)
    _store(session, shot, source, to, where)
    events.emit(session, shot.job_id, kind, shot.key, **data)


def attempt_opened(session: Session, attempt: Attempt, shot: Shot, **data: Any) -> None:
    """Add a new attempt row of ``shot``, ``reserved``, and flush it (it gets its id)."""
    where = f"attempt {attempt.number} of shot {shot.key}"
    kind = _event_of(ATTEMPT_TRANSITIONS, where, None, AttemptStatus.RESERVED, None)
    attempt.status = AttemptStatus.RESERVED
    session.add(attempt)
    session.flush()
    events.emit(session, shot.job_id, kind, shot.key, attempt=attempt.number, **data)


def attempt_to(
    session: Session,
    attempt: Attempt,
    to: AttemptStatus,
    *,
    shot: Shot | None = None,
    **data: Any,
) -> None:
    """Move ``attempt`` to ``to`` (``shot``: its shot, when the caller holds it already)."""
    shot = shot if shot is not None else session.get_one(Shot, attempt.shot_id)
    source = AttemptStatus(attempt.status)
    where = f"attempt {attempt.number} of shot {shot.key} of job {shot.job_id}"
    kind = _event_of(ATTEMPT_TRANSITIONS, where, source, to, None)
    _store(session, attempt, source, to, where)
    events.emit(session, shot.job_id, kind, shot.key, attempt=attempt.number, **data)


def following_moves(
    session: Session, row: Job | Shot | Attempt, wanted: Callable[[], bool], move: Callable[[], Any]
) -> bool:
    """Make ``move`` while ``wanted()`` (the row's status still calls for it). When another
    transaction moved the row first (``StaleStatusError``), the row is read again and the move is
    tried from its new status. Returns whether the move was made."""
    while wanted():
        try:
            move()
        except StaleStatusError:
            session.refresh(row)
            continue
        return True
    return False
