"""Runs jobs in the background for a long-lived process (``shotline serve``) on the embedded engine:
submit, cancel, and resume every unfinished job at start."""

from __future__ import annotations

import logging
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import select

from foundation.states import JOB_UNFINISHED
from media.priority import make_nicer
from pipeline import wakeups
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from store.db import session_scope
from store.models import Job

log = logging.getLogger(__name__)


def background_priority(nice: int) -> None:
    """Make the calling thread ``nice`` nicer. On Linux niceness is per thread and inherited by the
    threads and processes it starts, so a job's shot threads and their FFmpeg runs yield the CPU to
    the API's event loop and request threads in the same process; elsewhere this does nothing."""
    if sys.platform == "linux":
        make_nicer(threading.get_native_id(), nice)


class JobRunner:
    def __init__(self, ctx: RunContext, max_jobs: int = 4) -> None:
        self.ctx = ctx
        self.engine = EmbeddedEngine(ctx)
        self._pool = ThreadPoolExecutor(
            max_jobs,
            thread_name_prefix="job",
            initializer=background_priority,
            initargs=(ctx.settings.pipeline_nice,),
        )
        self._running: dict[str, Future[str]] = {}
        self._lock = threading.Lock()

    def submit(self, job_id: str) -> None:
        """Start running a committed job (no-op when it is already running here)."""
        with self._lock:
            if job_id in self._running and not self._running[job_id].done():
                return
            self._running[job_id] = self._pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> str:
        try:
            return self.engine.run(job_id)
        except Exception:
            log.exception("job %s crashed; it stays resumable", job_id)
            raise

    def is_running(self, job_id: str) -> bool:
        with self._lock:
            future = self._running.get(job_id)
        return future is not None and not future.done()

    def cancel(self, job_id: str) -> None:
        self.engine.cancel(job_id)

    def wake(self, attempt_id: int, provider_job_id: str) -> None:
        """A verified webhook says the attempt's provider job changed: poll it now."""
        wakeups.notify(provider_job_id)

    def resume_unfinished(self) -> list[str]:
        """Submit every job a previous process left unfinished; returns their ids."""
        with session_scope(self.ctx.db_url) as session:
            ids = list(session.scalars(select(Job.id).where(Job.status.in_(JOB_UNFINISHED))))
        for job_id in ids:
            self.submit(job_id)
        return ids

    def wait(self, job_id: str, timeout: float | None = None) -> str:
        with self._lock:
            future = self._running[job_id]
        return future.result(timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
