"""Runs jobs in the background for a long-lived process (``shotline serve``) on the embedded engine:
submit, cancel, and resume every unfinished job at start. Every job shares the process's
scheduler, so there is no thread per job or per shot."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from sqlalchemy import select

from foundation.states import JOB_UNFINISHED
from pipeline import driver, wakeups
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from store.db import session_scope
from store.models import Job

log = logging.getLogger(__name__)


class JobRunner:
    left_to_others: Sequence[str] = ()
    """The unfinished jobs ``resume_unfinished`` left to the processes running them."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.engine = EmbeddedEngine(ctx, nice=ctx.settings.pipeline_nice)
        self._running: dict[str, Future[str]] = {}
        self._lock = threading.Lock()

    def submit(self, job_id: str) -> None:
        """Start running a committed job (no-op when it is already running here)."""
        with self._lock:
            if job_id in self._running and not self._running[job_id].done():
                return
            self._running[job_id] = self._start(job_id)

    def _start(self, job_id: str) -> Future[str]:
        failed: Future[str] = Future()
        try:
            return self.engine.start(job_id)
        except driver.DrivenElsewhereError as exc:
            log.warning("%s; this process leaves it", exc)
            failed.set_exception(exc)
        except Exception as exc:
            log.exception("job %s could not start; it stays resumable", job_id)
            failed.set_exception(exc)
        return failed

    def is_running(self, job_id: str) -> bool:
        with self._lock:
            future = self._running.get(job_id)
        return future is not None and not future.done()

    def cancel(self, job_id: str) -> None:
        """Cancel the job's rows; its steps in this process end at once."""
        self.engine.cancel(job_id)

    def wake(self, attempt_id: int, provider_job_id: str) -> None:
        """A verified webhook says the attempt's provider job changed: its poll runs now."""
        wakeups.notify(attempt_id)

    def resume_unfinished(self) -> list[str]:
        """Submit every job a previous process left unfinished (not those another process on
        this machine runs now, ``pipeline.driver``); returns their ids."""
        with session_scope(self.ctx.db_url) as session:
            ids = list(session.scalars(select(Job.id).where(Job.status.in_(JOB_UNFINISHED))))
        busy = {job_id for job_id in ids if driver.holder_elsewhere(self.ctx.settings, job_id)}
        self.left_to_others = sorted(busy)
        resumed = [job_id for job_id in ids if job_id not in busy]
        for job_id in resumed:
            self.submit(job_id)
        return resumed

    def wait(self, job_id: str, timeout: float | None = None) -> str:
        with self._lock:
            future = self._running[job_id]
        return future.result(timeout)

    def shutdown(self) -> None:
        """Nothing to stop: the process's scheduler outlives the runner, and every step is
        resumable by the next process."""
