"""The embedded engine: the step graph of ``pipeline.flow`` dispatched in-process by this
process's scheduler (``pipeline.dispatch``) instead of as Celery tasks. Steps, cursors, leases,
rows and events are the distributed engine's, so a killed process resumes where it stopped: the
next run re-dispatches the cursors it left (as the reaper does), and a cancellation is the job row
that every step reads."""

from __future__ import annotations

import time
from concurrent.futures import Future
from functools import partial

from sqlalchemy import select

from foundation import stopping
from foundation.states import JOB_ENDED, JobStatus
from pipeline import assembly, closing, dispatch, driver, reaper
from pipeline import steps as cursors
from pipeline.context import RunContext
from pipeline.recovery import HELD_STEP
from pipeline.steps import ABSENT, WAITING, Dispatch, Move, job_key
from store.db import session_scope
from store.models import Job, PipelineStep

WAIT_SLICE_S = 0.25
"""The longest a signal waits for ``EmbeddedEngine.run``'s caller to handle it."""


class EmbeddedEngine:
    def __init__(self, ctx: RunContext, nice: int = 0) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self.scheduler = dispatch.scheduler(settings.io_workers, settings.cpu_workers, nice)

    def start(self, job_id: str) -> Future[str]:
        """Start (or resume) driving a job; the future holds its final status.
        ``driver.DrivenElsewhereError`` when another process on this machine drives it."""
        with session_scope(self.ctx.db_url) as session:
            status = session.get_one(Job, job_id).status
        if status in JOB_ENDED:
            done: Future[str] = Future()
            done.set_result(status)
            return done
        held = driver.claim(self.ctx.settings, job_id)  # one process drives a job
        future = self.scheduler.drive(
            self.ctx, job_id, partial(resume, self.ctx, job_id), partial(ended, self.ctx, job_id)
        )
        future.add_done_callback(lambda _: held.release())
        return future

    def run(self, job_id: str) -> str:
        """Run (or resume) a job to its end; returns the final status. The caller waits in slices
        of ``WAIT_SLICE_S``: a signal the kernel handed to another thread of the process (any
        thread not blocking it may get it) runs its Python handler only once the main thread
        runs Python again, and a wait with no end would hold a Ctrl-C or SIGTERM until the job
        ended. ``stopping.DiskFull`` when a step met a full disk (the job is left resumable)."""
        future = self.start(job_id)
        while True:
            try:
                return future.result(timeout=WAIT_SLICE_S)
            except TimeoutError:
                if (why := stopping.halted_by()) is not None:  # a step met a full disk
                    raise stopping.DiskFull(why) from None

    def cancel(self, job_id: str) -> None:
        """Cancel the job's rows (as the API does under either engine), then run its queued steps
        now: each one finds the job cancelled and ends."""
        assembly.cancel_job(self.ctx, job_id)
        self.scheduler.expedite(job_id)


def resume(ctx: RunContext, job_id: str) -> list[Dispatch]:
    """The messages that drive a job on: its cursors' current steps (leases of dead processes on
    this machine freed first; due ones now, backoffs kept) and, when its job cursor is absent or
    done, ``start``."""
    reaper.release_dead(ctx, dispatch.holder_node())
    now, grace = time.time(), ctx.settings.reap_after_s
    with session_scope(ctx.db_url) as session:
        rows = session.execute(
            select(PipelineStep.name, PipelineStep.ref, PipelineStep.version, PipelineStep.due_at)
            .where(PipelineStep.job_id == job_id, PipelineStep.name.not_in(WAITING))
        ).all()  # fmt: skip
    pending = [
        Dispatch(name, ref or "", version, max(0.0, (due or now) - grace - now))
        for name, ref, version, due in rows
    ]
    start = Move(job_key(job_id), job_id, "start", job_id, when=frozenset({ABSENT, "done"}))
    return pending + cursors.apply(ctx.db_url, None, [start], grace)


HELD = "held"
"""What ``run`` returns for a job that can go no further until an operator resolves its
``submission_unknown`` attempts (``pipeline.recovery``); it stays resumable."""


def ended(ctx: RunContext, job_id: str) -> str | None:
    """The job's final status once it has ended, ``HELD`` once nothing but attempts waiting for an
    operator is left (None before). A cancelled or failed job's attempts that steps opened or
    fetched while its end was written are closed here."""
    with session_scope(ctx.db_url) as session:
        status = session.scalar(select(Job.status).where(Job.id == job_id)) or JobStatus.CANCELLED
        names = set(session.scalars(select(PipelineStep.name).where(PipelineStep.job_id == job_id)))
    if status in (JobStatus.CANCELLED, JobStatus.FAILED):
        closing.cancel_inflight(ctx, job_id, past_provider=True)
    if status in JOB_ENDED:
        return status
    return HELD if HELD_STEP in names and names <= set(WAITING) else None
