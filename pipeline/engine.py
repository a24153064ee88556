"""The embedded engine: drives the state machine in-process with a pool of threads for provider I/O
and a smaller bounded pool for CPU work (gate, normalise, stitch), so a long render never blocks
polling. It only reads rows and calls steps, so a killed process resumes where it stopped."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from foundation.states import JOB_ENDED, SHOT_HAS_CLIP, JobStatus
from pipeline import assembly, attempts, consistency, continuity, verdicts
from pipeline.admission import holder_of
from pipeline.context import RunContext
from pipeline.errors import public_message
from pipeline.limits import holding_slot, pace
from pipeline.transitions import job_to
from store.db import session_scope
from store.models import Attempt, Job, Shot

log = logging.getLogger(__name__)


class EmbeddedEngine:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.cpu = threading.BoundedSemaphore(max(1, ctx.settings.cpu_workers))
        self._cancelled: set[str] = set()

    def cancel(self, job_id: str) -> None:
        self._cancelled.add(job_id)

    def run(self, job_id: str) -> str:
        """Run (or resume) a job to its end; returns the final status."""
        with session_scope(self.ctx.db_url) as session:
            job = session.get_one(Job, job_id)
            if job.status in JOB_ENDED:
                return job.status
            job.stage = "shots"
            job_to(session, job, JobStatus.RUNNING)
            pks = list(
                session.scalars(
                    select(Shot.id).where(Shot.job_id == job_id).order_by(Shot.position)
                )
            )
            waits_for = continuity.dependencies(
                job, list(session.scalars(select(Shot).where(Shot.job_id == job_id)))
            )
        self._drive_all(job_id, pks, waits_for)
        self._consistency(job_id)
        return self._finish(job_id)

    def _drive_all(self, job_id: str, pks: list[int], waits_for: dict[int, int]) -> None:
        done = {pk: threading.Event() for pk in pks}
        for pk in waits_for.values():
            if pk not in done:  # a dependency outside this batch has already finished
                done[pk] = threading.Event()
                done[pk].set()
        workers = max(1, min(len(pks), self.ctx.settings.io_workers))
        with ThreadPoolExecutor(workers, thread_name_prefix="shot") as pool:
            futures = [
                pool.submit(self._drive_shot, job_id, pk, done, waits_for.get(pk)) for pk in pks
            ]
            for future in futures:
                future.result()

    def _consistency(self, job_id: str) -> None:
        """Report colour continuity; re-render the offending shots once when the storyboard asks."""
        with self.cpu:
            offending = consistency.check(self.ctx, job_id)
        if not offending or job_id in self._cancelled:
            return
        if not consistency.wants_rerender(self.ctx, job_id):
            return
        if consistency.already_rerendered(self.ctx, job_id):
            return
        consistency.reset_for_rerender(self.ctx, offending)
        self._drive_all(job_id, offending, {})
        with self.cpu:
            consistency.check(self.ctx, job_id)

    def _drive_shot(
        self, job_id: str, shot_pk: int, done: dict[int, threading.Event], after: int | None
    ) -> None:
        try:
            if after is not None:
                done[after].wait()
                if not self._accepted(after):
                    attempts.fail_shot(self.ctx, shot_pk, "the shot it continues from has no clip")
                    return
            self._attempt_until_done(job_id, shot_pk)
        except Exception as exc:  # a bug must fail the shot, not hang the job
            log.exception("shot %s of job %s crashed", shot_pk, job_id)
            reason = f"internal error: {public_message(exc)}"
            attempts.fail_shot(self.ctx, shot_pk, reason, stage="internal")
        finally:
            done[shot_pk].set()

    def _accepted(self, shot_pk: int) -> bool:
        with session_scope(self.ctx.db_url) as session:
            return session.get_one(Shot, shot_pk).status in SHOT_HAS_CLIP

    def _attempt_until_done(self, job_id: str, shot_pk: int) -> None:
        while job_id not in self._cancelled:
            attempt_id, delay = attempts.begin(self.ctx, shot_pk)
            if attempt_id is None:
                break
            time.sleep(delay)
            if self._render(job_id, attempt_id) and self._gate(attempt_id):
                break
        with self.cpu:
            assembly.normalise_shot(self.ctx, shot_pk)
            consistency.warm(self.ctx, shot_pk)

    def _render(self, job_id: str, attempt_id: int) -> bool:
        with session_scope(self.ctx.db_url) as session:
            attempt = session.get_one(Attempt, attempt_id)
            model = self.ctx.registry.get(attempt.model_id)
        limits, holder = self.ctx.limits, holder_of(attempt_id)
        lease = self.ctx.settings.attempt_timeout_s + 60  # held by this thread until it returns
        with holding_slot(limits, model.id, holder, model.limits.concurrency, lease):
            if attempt.provider_job_id is None:
                pace(limits, model.id, model.limits.rpm, holder)
                attempts.submit(self.ctx, attempt_id)
                limits.sent(model.id, holder)
            return attempts.wait(self.ctx, attempt_id, lambda: job_id in self._cancelled)

    def _gate(self, attempt_id: int) -> bool:
        with self.cpu:
            if not verdicts.fetch(self.ctx, attempt_id):
                return False
            return verdicts.judge(self.ctx, attempt_id) in ("accept", "repair")

    def _finish(self, job_id: str) -> str:
        with self.cpu:
            return assembly.conclude(self.ctx, job_id, cancelled=job_id in self._cancelled)
