"""Cancelling a job that no runner of this process is running: its in-flight attempts are closed
(provider jobs cancelled, reservations released) and a job not yet ended is marked cancelled."""

from __future__ import annotations

from foundation.states import JOB_UNFINISHED, JobStatus
from pipeline.attempts import cancel_inflight
from pipeline.context import RunContext
from pipeline.transitions import job_to
from store.db import session_scope
from store.models import Job


def cancel_idle(ctx: RunContext, job_id: str) -> None:
    cancel_inflight(ctx, job_id)
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        if job.status in JOB_UNFINISHED:
            job_to(session, job, JobStatus.CANCELLED)
