"""The Celery app of the distributed engine, the sending side, and ``CeleryRunner`` (what
``shotline serve`` uses with ``SHOTLINE_ENGINE=celery``: it only writes a step cursor and enqueues).

Queues: ``io`` (provider calls and polls: many small tasks) and ``cpu`` (gate, normalise, stitch),
both prefixed with ``SHOTLINE_QUEUE_PREFIX``. Messages are JSON ``(ref, version)``; workers ack
late; the beat schedule runs the reaper and the provider check (``pipeline.provider_check``). ``celery -A pipeline.celery_app worker`` works too.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Celery
from sqlalchemy import select

from foundation.errors import ShotlineError
from foundation.settings import Settings, get_settings
from pipeline import assembly, provider_check, reaper, wakeups
from pipeline import steps as cursors
from pipeline.context import RunContext
from pipeline.engine import ended
from pipeline.flow import STEP_PRIORITY, STEP_QUEUE
from pipeline.runner import JobRunner
from pipeline.steps import ABSENT, Dispatch, Move, job_key
from store.db import session_scope
from store.models import Job

log = logging.getLogger(__name__)

QUEUES = ("io", "cpu")
WAKE_PATIENCE_S = 5.0


def queue_name(settings: Settings, queue: str) -> str:
    return f"{settings.queue_prefix}{queue}"


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The reaper, and the provider check when it is on (an interval and a provider key)."""
    io_queue = queue_name(settings, "io")
    schedule: dict[str, dict[str, Any]] = {
        "pipeline.reap": {
            "task": "pipeline.reap",
            "schedule": settings.reap_interval_s,
            "options": {"queue": io_queue, "expires": max(1.0, settings.reap_interval_s)},
        }
    }
    if provider_check.check_enabled(settings):
        every = settings.provider_check_interval_s
        schedule["pipeline.check_providers"] = {
            "task": "pipeline.check_providers",
            "schedule": every,
            "options": {"queue": io_queue, "expires": max(1.0, every)},
        }
    return schedule


def create_celery(settings: Settings) -> Celery:
    app = Celery("shotline", broker=settings.broker_url, include=["pipeline.tasks"])
    io_queue = queue_name(settings, "io")
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_default_queue=io_queue,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_s},
        beat_schedule=beat_schedule(settings),
    )
    return app


_apps: dict[tuple[str, str, float, float, bool, float], Celery] = {}
_apps_lock = threading.Lock()


def celery_for(settings: Settings) -> Celery:
    """One app per broker, queue prefix and schedule in this process."""
    key = (
        settings.broker_url,
        settings.queue_prefix,
        settings.reap_interval_s,
        settings.broker_visibility_timeout_s,
        provider_check.check_enabled(settings),
        settings.provider_check_interval_s,
    )
    with _apps_lock:
        if key not in _apps:
            _apps[key] = create_celery(settings)
        return _apps[key]


def __getattr__(name: str) -> Celery:  # ``celery -A pipeline.celery_app`` finds ``app``
    if name in ("app", "celery"):
        return celery_for(get_settings())
    raise AttributeError(name)


BROKER_CHECK_TIMEOUT_S = 5


class BrokerUnavailableError(ShotlineError):
    """The Celery engine's broker cannot be reached: nothing can be queued."""

    status_code = 503
    retriable = True


def check_broker(settings: Settings) -> None:
    """Connect to the broker once (``kombu.Connection.ensure_connection``, one retry):
    ``BrokerUnavailableError`` naming it, its password hidden, before a job is made. Before, a
    render under the Celery engine made its job, then ended in kombu's traceback."""
    from kombu.exceptions import OperationalError

    with celery_for(settings).connection_for_write() as connection:
        try:
            connection.ensure_connection(max_retries=1, timeout=BROKER_CHECK_TIMEOUT_S)
        except (OperationalError, OSError) as exc:
            raise BrokerUnavailableError(
                f"the broker {connection.as_uri()} (SHOTLINE_BROKER_URL) cannot be reached: {exc}"
            ) from None


def send(app: Celery, settings: Settings, message: Dispatch) -> None:
    """Enqueue one step message (call only after the moves that produced it are committed)."""
    app.send_task(
        f"pipeline.{message.step}",
        args=[message.ref, message.version],
        queue=queue_name(settings, STEP_QUEUE[message.step]),
        countdown=message.delay_s if message.delay_s > 0 else None,
        priority=STEP_PRIORITY.get(message.step),
    )


class CeleryRunner(JobRunner):
    """The job runner of the API process under the Celery engine: starting a job writes its
    ``start`` cursor, commits, then enqueues; workers do the rest. Cancelling goes through the
    rows (``is_running`` is always False here), which every step checks."""

    def __init__(self, ctx: RunContext, app: Celery | None = None) -> None:
        self.ctx = ctx
        self.app = app or celery_for(ctx.settings)

    def _send_all(self, messages: list[Dispatch]) -> None:
        """``BrokerUnavailableError`` when the broker cannot take them (the API's 503; the
        cursors are committed, so the reaper sends them again once the broker is back)."""
        from kombu.exceptions import OperationalError

        try:
            for message in messages:
                send(self.app, self.ctx.settings, message)
        except OperationalError as exc:  # the broker's address is for the log, not a client
            log.error("the broker cannot be reached: %s", exc)
            raise BrokerUnavailableError(
                "the broker cannot be reached; the job is sent again once it is back"
            ) from None

    def submit(self, job_id: str) -> None:
        """Enqueue a committed job (no-op when its cursor shows it is already being driven)."""
        start = Move(job_key(job_id), job_id, "start", job_id, when=frozenset({ABSENT, "done"}))
        self._send_all(
            cursors.apply(self.ctx.db_url, None, [start], self.ctx.settings.reap_after_s)
        )

    def is_running(self, job_id: str) -> bool:
        return False

    def cancel(self, job_id: str) -> None:
        """Cancel the job's rows; the workers' steps read them and end."""
        assembly.cancel_job(self.ctx, job_id)

    def wake(self, attempt_id: int, provider_job_id: str) -> None:
        """Send the attempt's scheduled poll now, however far away it was due; while its submit
        or poll step runs, ask again for up to ``WAKE_PATIENCE_S``."""
        deadline = time.monotonic() + WAKE_PATIENCE_S
        while True:
            due = wakeups.hasten_poll(self.ctx.db_url, attempt_id, self.ctx.settings.reap_after_s)
            if isinstance(due, Dispatch):
                send(self.app, self.ctx.settings, due)
                return
            if due == "idle" or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def resume_unfinished(self) -> list[str]:
        """Enqueue API jobs that were committed but never enqueued; returns their ids."""
        messages = reaper.adopt(self.ctx, time.time())
        self._send_all(messages)
        return [message.ref for message in messages]

    def wait(self, job_id: str, timeout: float | None = None) -> str:
        """Block until the job ends or waits for an operator (polling its rows); returns its
        status, or ``held`` (``engine.ended``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with session_scope(self.ctx.db_url) as session:
                status = session.scalar(select(Job.status).where(Job.id == job_id)) or "missing"
            if status == "missing":
                return status
            outcome = ended(self.ctx, job_id)
            if outcome is not None:
                return outcome
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {status}")
            time.sleep(0.2)

    def shutdown(self) -> None:
        """Nothing to shut down: the workers own the work."""
