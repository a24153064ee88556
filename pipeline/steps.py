"""Step cursors of the distributed engine: one ``pipeline_step`` row per shot and per job (and one
for a job's music stage) says what runs next, when it is due, and who holds it. Portable SQL (SQLite and PostgreSQL): every change is
one conditional UPDATE (or an INSERT guarded by the primary key), so concurrent workers, duplicate
messages and the reaper never run the same step twice at once. The statements run on a plain
connection, not an ORM session: a poll's claim and move are the engine's hottest path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from foundation.states import JobStatus
from store.db import connection_scope, session_scope
from store.models import Attempt, Job, PipelineStep

log = logging.getLogger(__name__)

# states no message carries: nothing to enqueue or reap ("resolve": a submission_unknown attempt)
WAITING = ("wait", "shots", "done", "resolve")
ABSENT = ""  # in ``Move.when``: the cursor row may not exist yet
ATTEMPT_STEPS = ("submit", "poll", "gate")  # steps whose ``ref`` is an attempt id


@dataclass(frozen=True)
class Cursor:
    key: str
    job_id: str
    name: str
    ref: str | None
    version: int
    since: float | None
    reaped: int
    cancelled: bool = False  # the job was cancelled, failed or deleted: the step only ends
    due_at: float | None = None  # when the step was due, plus the reaper's grace (None: waiting)


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


def music_key(job_id: str) -> str:
    """The cursor of the job's music stage (``pipeline.music_stage``), beside its shots'."""
    return f"music:{job_id}"


def _own_key(step: str, ref: str) -> str:
    """The cursor of a job step (``ref``: the job id), the job's music step (the job id) or a
    shot step (the shot's pk)."""
    if step == "music":
        return music_key(ref)
    return job_key(ref) if step in ("start", "finish") else shot_key(int(ref))


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


# The statements of claims and moves are built once, with bound parameters: building and hashing a
# statement costs several times what SQLite takes to run it.
_CLAIM = (
    update(PipelineStep)
    .where(
        PipelineStep.name == bindparam("step"),
        PipelineStep.version == bindparam("at_version"),
        or_(PipelineStep.lease_until.is_(None), PipelineStep.lease_until < bindparam("now")),
    )
    .values(lease_until=bindparam("until"), holder=bindparam("by"))
    .returning(  # the job's status rides along: one statement per claim, not two
        *COLUMNS,
        select(Job.status).where(Job.id == PipelineStep.job_id).scalar_subquery(),
        PipelineStep.due_at,
    )
)
_CLAIM_BY_KEY = _CLAIM.where(PipelineStep.key == bindparam("cursor"))
_CLAIM_BY_ATTEMPT = _CLAIM.where(  # an attempt step's cursor key, found in the same statement
    PipelineStep.key
    == select(literal("shot:", String) + cast(Attempt.shot_id, String))
    .where(Attempt.id == bindparam("attempt"))
    .scalar_subquery()
)
_MOVE = (  # bound names differ from the columns': an UPDATE reserves those for its SET clause
    update(PipelineStep)
    .where(PipelineStep.key == bindparam("to_key"))
    .values(
        version=PipelineStep.version + 1,
        name=bindparam("to_name"),
        ref=bindparam("to_ref"),
        due_at=bindparam("to_due_at"),
        since=bindparam("to_since"),
        lease_until=None,
        holder=None,
        reaped=0,
    )
    .returning(PipelineStep.version)
)
_MOVE_HELD = _MOVE.where(PipelineStep.version == bindparam("held"))
_MOVE_WHEN = _MOVE.where(PipelineStep.name.in_(bindparam("when", expanding=True)))


def claim(
    url: str, step: str, ref: str, version: int, lease_s: float, holder: str
) -> Cursor | None:
    """Lease the cursor for this message; None when the message is stale or another worker runs it."""
    now = time.time()
    params: dict[str, object] = {
        "step": step, "at_version": version, "now": now, "until": now + lease_s, "by": holder,
    }  # fmt: skip
    if step in ATTEMPT_STEPS:
        statement, params["attempt"] = _CLAIM_BY_ATTEMPT, int(ref)
    else:  # a job's or a shot's own cursor
        statement, params["cursor"] = _CLAIM_BY_KEY, _own_key(step, ref)
    with connection_scope(url) as conn:
        row = conn.execute(statement, params).first()
    if row is None:  # stale, taken, or its attempt is gone
        return None
    key, job_id, name, ref_, at, since, reaped, status, due_at = row
    cancelled = status in (None, JobStatus.CANCELLED, JobStatus.FAILED)
    return Cursor(key, job_id, name, ref_, at, since, reaped, cancelled=cancelled, due_at=due_at)


def known(url: str, step: str, ref: str) -> bool:
    """Whether this database holds what a message names (its job's cursor, or its attempt): a
    worker on another database than the process that sent it is given messages of jobs it has
    never heard of."""
    if step in ATTEMPT_STEPS and not ref.isdigit():
        return False
    query = (
        select(literal(1)).where(Attempt.id == int(ref))
        if step in ATTEMPT_STEPS
        else select(literal(1)).where(PipelineStep.key == _own_key(step, ref))
    )
    with connection_scope(url) as conn:
        return conn.execute(query).first() is not None


def apply(url: str, held: Cursor | None, moves: Iterable[Move], grace_s: float) -> list[Dispatch]:
    """Write the moves in one transaction; return the messages to send after it committed."""
    out: list[Dispatch] = []
    now = time.time()
    with connection_scope(url) as conn:
        for move in moves:
            version = _apply_one(conn, held, move, now, grace_s)
            if version is not None and move.name not in WAITING and move.ref is not None:
                out.append(Dispatch(move.name, move.ref, version, move.delay_s))
    return out


def _values(move: Move, now: float, grace_s: float) -> dict[str, object]:
    due = None if move.name in WAITING else now + move.delay_s + grace_s
    return {"name": move.name, "ref": move.ref, "due_at": due, "since": move.since}


def _apply_one(
    conn: Connection, held: Cursor | None, move: Move, now: float, grace_s: float
) -> int | None:
    values = _values(move, now, grace_s)
    params: dict[str, object] = {f"to_{k}": v for k, v in values.items()} | {"to_key": move.key}
    if held is not None and move.key == held.key:
        statement, params["held"] = _MOVE_HELD, held.version
    elif move.when is not None:
        statement, params["when"] = _MOVE_WHEN, sorted(move.when)
    else:
        statement = _MOVE
    version = conn.execute(statement, params).scalar_one_or_none()
    if (
        version is None
        and move.when
        and ABSENT in move.when
        and move.key != getattr(held, "key", None)
    ):
        return _insert(conn, move, values)
    return version


def _insert(conn: Connection, move: Move, values: dict[str, object]) -> int | None:
    row = {"key": move.key, "job_id": move.job_id, "version": 1, "reaped": 0} | values
    try:
        with conn.begin_nested():
            conn.execute(insert(PipelineStep).values(lease_until=None, holder=None, **row))
    except IntegrityError:  # another process created it first: that one drives the cursor
        return None
    return 1


_RENEW = (
    update(PipelineStep)
    .where(
        PipelineStep.key == bindparam("cursor"),
        PipelineStep.version == bindparam("at_version"),
        PipelineStep.holder == bindparam("by"),
    )
    .values(lease_until=bindparam("until"))
)


def renew(url: str, held: Cursor, holder: str, lease_s: float) -> bool:
    """Extend the lease of a step ``holder`` still holds by ``lease_s`` from now; False when the
    step moved on or another holder took it."""
    params = {"cursor": held.key, "at_version": held.version, "by": holder}
    with connection_scope(url) as conn:
        done = conn.execute(_RENEW, params | {"until": time.time() + lease_s})
    return getattr(done, "rowcount", 0) == 1


@contextmanager
def kept_alive(url: str, held: Cursor, holder: str, lease_s: float) -> Iterator[None]:
    """While the block runs, renew the step's lease every third of ``lease_s`` (a short lease
    that lives as long as the process running the step: once it dies, the reaper sends the step
    again within about ``lease_s`` instead of after the task's whole time limit)."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(lease_s / 3):
            try:
                if not renew(url, held, holder, lease_s):
                    return
            except Exception:  # a database hiccup: the next beat tries again
                log.warning("could not renew the lease of %s", held.key, exc_info=True)

    thread = threading.Thread(target=beat, name=f"lease {held.key}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=min(lease_s, 5.0))  # a renewal in flight cannot outlast the step


def release(url: str, held: Cursor, delay_s: float) -> None:
    """Give a held step back unfinished (e.g. on a database hiccup): the reaper retries it."""
    with connection_scope(url) as conn:
        conn.execute(
            update(PipelineStep)
            .where(PipelineStep.key == held.key, PipelineStep.version == held.version)
            .values(lease_until=None, holder=None, due_at=time.time() + delay_s)
        )


def get(url: str, key: str) -> Cursor | None:
    with session_scope(url) as session:
        row = session.get(PipelineStep, key)
        return None if row is None else cursor_of(row)


def shots_mid_step(url: str, job_id: str) -> int:
    """How many of the job's shot cursors are in a step (not waiting, not done). A shot's status
    is committed before its step moves its cursor, so a shot can have ended while its cursor has
    yet to reach ``done``."""
    with connection_scope(url) as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(PipelineStep)
                .where(
                    PipelineStep.job_id == job_id,
                    PipelineStep.key.startswith("shot:"),
                    PipelineStep.name.not_in(WAITING),
                )
            )
            or 0
        )
