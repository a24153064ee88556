"""The reaper (run periodically by Celery beat): a lost message or a dead worker delays work but
never loses it.

A step whose due time has passed, and which no live worker holds (no lease, or an expired one),
is sent again with the same version: if the first message was only slow, whichever runs first
does the step and the other finds a newer version and stops. Each resend doubles the wait before
the next one; after ``max_reaps`` resends the step is abandoned (its shot or job fails with the
reason). Jobs the API committed but never managed to enqueue are adopted.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import and_, or_, select, update

from foundation.states import JobStatus
from pipeline import flow
from pipeline import steps as cursors
from pipeline.context import RunContext
from pipeline.steps import ABSENT, WAITING, Cursor, Dispatch, Move, job_key
from store.db import session_scope
from store.models import Job, JobApi, PipelineStep

BATCH = 500
MAX_WAIT_S = 3600.0


def reap(ctx: RunContext, now: float | None = None) -> list[Dispatch]:
    """Overdue steps to resend, abandoned steps' follow-ups and adopted jobs' first messages."""
    now = time.time() if now is None else now
    out: list[Dispatch] = []
    for cur in _overdue(ctx, now):
        if cur.reaped >= ctx.settings.max_reaps:
            out += _abandon(ctx, cur)
        elif _bump(ctx, cur, now):
            out.append(Dispatch(cur.name, cur.ref or "", cur.version))
    return out + adopt(ctx, now - ctx.settings.reap_after_s)


def _overdue(ctx: RunContext, now: float) -> list[Cursor]:
    with session_scope(ctx.db_url) as session:
        rows = session.scalars(
            select(PipelineStep)
            .where(
                PipelineStep.due_at < now,
                PipelineStep.name.not_in(WAITING),
                or_(PipelineStep.lease_until.is_(None), PipelineStep.lease_until < now),
            )
            .order_by(PipelineStep.due_at)
            .limit(BATCH)
        )
        return [cursors.cursor_of(row) for row in rows]


def _bump(ctx: RunContext, cur: Cursor, now: float) -> bool:
    wait = min(MAX_WAIT_S, ctx.settings.reap_after_s * 2 ** (cur.reaped + 1))
    with session_scope(ctx.db_url) as session:
        result = session.execute(
            update(PipelineStep)
            .where(
                PipelineStep.key == cur.key,
                PipelineStep.version == cur.version,
                PipelineStep.due_at < now,
                or_(PipelineStep.lease_until.is_(None), PipelineStep.lease_until < now),
            )
            .values(due_at=now + wait, reaped=PipelineStep.reaped + 1)
            .execution_options(synchronize_session=False)
        )
        return getattr(result, "rowcount", 0) == 1


def _abandon(ctx: RunContext, cur: Cursor) -> list[Dispatch]:
    lease = ctx.settings.cpu_time_limit_s
    held = cursors.claim(ctx.db_url, cur.name, cur.ref or "", cur.version, lease, "reaper")
    if held is None:
        return []
    reason = f"step {cur.name} made no progress after {cur.reaped} resends"
    moves = flow.abandon(ctx, held, reason)
    return cursors.apply(ctx.db_url, held, moves, ctx.settings.reap_after_s)


def adopt(ctx: RunContext, before: float) -> list[Dispatch]:
    """Start API jobs left without a running cursor (the API died between commit and enqueue):
    planned ones whose cursor is absent or done, running ones with no cursor at all."""
    with session_scope(ctx.db_url) as session:
        ids = list(
            session.scalars(
                select(Job.id)
                .join(JobApi, JobApi.job_id == Job.id)
                .outerjoin(PipelineStep, PipelineStep.key == "job:" + Job.id)
                .where(
                    or_(
                        and_(
                            Job.status == JobStatus.PLANNED,
                            or_(PipelineStep.key.is_(None), PipelineStep.name == "done"),
                        ),
                        and_(Job.status == JobStatus.RUNNING, PipelineStep.key.is_(None)),
                    ),
                )
                .limit(BATCH)
            )
        )
        fresh = {
            job.id
            for job in session.scalars(select(Job).where(Job.id.in_(ids)))
            if _epoch(job.updated_at) < before
        }
    moves = [
        Move(job_key(job_id), job_id, "start", job_id, when=frozenset({ABSENT, "done"}))
        for job_id in sorted(fresh)
    ]
    return cursors.apply(ctx.db_url, None, moves, ctx.settings.reap_after_s)


def release_dead(ctx: RunContext, node: str) -> int:
    """Free the leases a previous run of worker ``node`` (on this machine) held when it died, so
    its steps are resent at their due time instead of after the lease expires."""
    now, freed = time.time(), 0
    with session_scope(ctx.db_url) as session:
        rows = list(
            session.scalars(
                select(PipelineStep).where(
                    PipelineStep.holder.is_not(None), PipelineStep.lease_until > now
                )
            )
        )
        for row in rows:
            if not (row.holder or "").startswith(f"{node}|"):
                continue
            pid = int((row.holder or "|0").rsplit("|", 1)[1] or 0)
            if pid and not _alive(pid):
                row.lease_until, row.holder = None, None
                freed += 1
    return freed


def _epoch(moment: datetime) -> float:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs. A zombie does not: a killed worker's pool children stay zombies
    until whoever inherited them reaps them, which a container's PID 1 may do late or never."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """``pid`` has exited and waits to be reaped (``/proc/PID/stat`` state ``Z`` or ``X``; False
    where ``/proc`` cannot tell)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rpartition(")")[2].split()  # the name before it may hold spaces and parentheses
    return bool(fields) and fields[0] in ("Z", "X")
