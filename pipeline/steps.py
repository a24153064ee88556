"""Step cursors of the distributed engine: one ``pipeline_step`` row per shot and per job says what
runs next, when it is due, and who holds it. Portable SQL (SQLite and PostgreSQL): every change is
one conditional UPDATE (or an INSERT guarded by the primary key), so concurrent workers, duplicate
messages and the reaper never run the same step twice at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from foundation.states import JobStatus
from store.db import session_scope
from store.models import Attempt, Job, PipelineStep

# states no message carries: nothing to enqueue or reap ("resolve": a submission_unknown attempt)
WAITING = ("wait", "shots", "done", "resolve")
ABSENT = ""  # in ``Move.when``: the cursor row may not exist yet


@dataclass(frozen=True)
class Cursor:
    key: str
    job_id: str
    name: str
    ref: str | None
    version: int
    since: float | None
    reaped: int
    cancelled: bool = False  # the job was cancelled (or deleted): the step only ends


@dataclass(frozen=True)
class Move:
    """Set cursor ``key`` to step ``name`` (on ``ref``) due in ``delay_s``.

    ``when`` guards a cursor the step does not hold: the move applies only while that cursor is in
    one of these states (``ABSENT``: not created yet). The held cursor is guarded by its version.
    """

    key: str
    job_id: str
    name: str
    ref: str | None = None
    delay_s: float = 0.0
    since: float | None = None
    when: frozenset[str] | None = None


@dataclass(frozen=True)
class Dispatch:
    """A message to send once the moves are committed: run ``step`` on ``ref`` at ``version``."""

    step: str
    ref: str
    version: int
    delay_s: float = 0.0


def shot_key(shot_pk: int) -> str:
    return f"shot:{shot_pk}"


def job_key(job_id: str) -> str:
    return f"job:{job_id}"


def key_for(session: Session, step: str, ref: str) -> str | None:
    """The cursor a message for ``step`` on ``ref`` belongs to (None: the row is gone)."""
    if step in ("start", "finish"):
        return job_key(ref)
    if step in ("submit", "poll", "gate"):
        shot_pk = session.scalar(select(Attempt.shot_id).where(Attempt.id == int(ref)))
        return None if shot_pk is None else shot_key(shot_pk)
    return shot_key(int(ref))


COLUMNS = (
    PipelineStep.key,
    PipelineStep.job_id,
    PipelineStep.name,
    PipelineStep.ref,
    PipelineStep.version,
    PipelineStep.since,
    PipelineStep.reaped,
)


def cursor_of(row: PipelineStep) -> Cursor:
    return Cursor(row.key, row.job_id, row.name, row.ref, row.version, row.since, row.reaped)


def claim(
    url: str, step: str, ref: str, version: int, lease_s: float, holder: str
) -> Cursor | None:
    """Lease the cursor for this message; None when the message is stale or another worker runs it."""
    now = time.time()
    with session_scope(url) as session:
        key = key_for(session, step, ref)
        if key is None:
            return None
        row = session.execute(
            update(PipelineStep)
            .where(
                PipelineStep.key == key,
                PipelineStep.name == step,
                PipelineStep.version == version,
                or_(PipelineStep.lease_until.is_(None), PipelineStep.lease_until < now),
            )
            .values(lease_until=now + lease_s, holder=holder)
            .returning(*COLUMNS)
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:
            return None
        status = session.scalar(select(Job.status).where(Job.id == row.job_id))
        return Cursor(*row, cancelled=status in (None, JobStatus.CANCELLED))


def apply(url: str, held: Cursor | None, moves: Iterable[Move], grace_s: float) -> list[Dispatch]:
    """Write the moves in one transaction; return the messages to send after it committed."""
    out: list[Dispatch] = []
    now = time.time()
    with session_scope(url) as session:
        for move in moves:
            version = _apply_one(session, held, move, now, grace_s)
            if version is not None and move.name not in WAITING and move.ref is not None:
                out.append(Dispatch(move.name, move.ref, version, move.delay_s))
    return out


def _values(move: Move, now: float, grace_s: float) -> dict[str, object]:
    due = None if move.name in WAITING else now + move.delay_s + grace_s
    return {
        "name": move.name,
        "ref": move.ref,
        "due_at": due,
        "since": move.since,
        "lease_until": None,
        "holder": None,
        "reaped": 0,
    }


def _apply_one(
    session: Session, held: Cursor | None, move: Move, now: float, grace_s: float
) -> int | None:
    values = _values(move, now, grace_s)
    if held is not None and move.key == held.key:
        guard = PipelineStep.version == held.version
    elif move.when is not None:
        guard = PipelineStep.name.in_(move.when)
    else:
        guard = PipelineStep.key == move.key
    version = session.execute(
        update(PipelineStep)
        .where(PipelineStep.key == move.key, guard)
        .values(version=PipelineStep.version + 1, **values)
        .returning(PipelineStep.version)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if (
        version is None
        and move.when
        and ABSENT in move.when
        and move.key != getattr(held, "key", None)
    ):
        return _insert(session, move, values)
    return version


def _insert(session: Session, move: Move, values: dict[str, object]) -> int | None:
    try:
        with session.begin_nested():
            session.add(PipelineStep(key=move.key, job_id=move.job_id, version=1, **values))
    except IntegrityError:  # another process created it first: that one drives the cursor
        return None
    return 1


def release(url: str, held: Cursor, delay_s: float) -> None:
    """Give a held step back unfinished (e.g. on a database hiccup): the reaper retries it."""
    with session_scope(url) as session:
        session.execute(
            update(PipelineStep)
            .where(PipelineStep.key == held.key, PipelineStep.version == held.version)
            .values(lease_until=None, holder=None, due_at=time.time() + delay_s)
            .execution_options(synchronize_session=False)
        )


def get(url: str, key: str) -> Cursor | None:
    with session_scope(url) as session:
        row = session.get(PipelineStep, key)
        return None if row is None else cursor_of(row)
