"""Celery tasks: one thin, named task per step of the state machine, taking ``(ref, version)``.

``ref`` is the id the step works on (a job id for start/finish, a shot id for begin/voice/keyframe/normalise, an
attempt id for submit/poll/gate); ``version`` is the step cursor's version when the message was
sent, so a stale or duplicated message does nothing. Provider I/O runs on the ``io`` queue, the
gate, normalisation and stitching on ``cpu``. Time limits come from settings; a step's lease lasts
its hard time limit plus a margin, so no lease outlives the task that holds it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_init, worker_process_init, worker_ready

from foundation import stopping
from foundation.settings import Settings, get_settings
from pipeline import flow, provider_check, reaper
from pipeline.celery_app import celery_for, send
from pipeline.context import RunContext
from store.db import get_engine, migrate

log = logging.getLogger(__name__)
_ctx: list[RunContext] = []
_ctx_lock = threading.Lock()


def install_context(ctx: RunContext) -> None:
    """Use ``ctx`` for this worker process (the ``shotline worker`` command builds it, pointing the
    adapters at ``SHOTLINE_EMULATOR_URL`` when set); call before the pool forks."""
    with _ctx_lock:
        _ctx[:] = [ctx]


def worker_context() -> RunContext:
    """This process's context: the installed one, else settings from the environment with the
    hosted providers."""
    with _ctx_lock:
        if not _ctx:
            _ctx.append(RunContext.create("auto", get_settings()))
        return _ctx[0]


def time_limit(settings: Settings, queue: str) -> float:
    return settings.cpu_time_limit_s if queue == "cpu" else settings.io_time_limit_s


def _options(queue: str) -> dict[str, Any]:
    settings = get_settings()
    hard = time_limit(settings, queue)
    return {
        "bind": True,
        "acks_late": True,
        "time_limit": hard,
        "soft_time_limit": hard * 0.9,
        # an FFmpeg run ended by a stop (``_on_process_init``) is retried too, by the next worker
        "autoretry_for": (*flow.RETRY_LATER, stopping.Stopped),
        "retry_backoff": True,
        "retry_jitter": True,
        "max_retries": 5,
    }


def _run(task: Task[Any, Any], step: str, ref: str, version: int) -> None:
    _stop_on_sigint()
    ctx = worker_context()
    lease = ctx.settings.step_lease_s  # renewed while the step runs (a dead worker's ends soon)
    holder = f"{task.request.hostname}|{os.getpid()}"
    app = celery_for(ctx.settings)
    for message in flow.run_step(ctx, step, ref, version, holder, lease, renewed=True):
        send(app, ctx.settings, message)


@shared_task(name="pipeline.start", **_options("io"))
def start(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "start", ref, version)


@shared_task(name="pipeline.begin", **_options("io"))
def begin(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "begin", ref, version)


@shared_task(name="pipeline.voice", **_options("io"))
def voice(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "voice", ref, version)


@shared_task(name="pipeline.keyframe", **_options("io"))
def keyframe(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "keyframe", ref, version)


@shared_task(name="pipeline.sheet", **_options("io"))
def sheet(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "sheet", ref, version)


@shared_task(name="pipeline.music", **_options("io"))
def music(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "music", ref, version)


@shared_task(name="pipeline.submit", **_options("io"))
def submit(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "submit", ref, version)


@shared_task(name="pipeline.poll", **_options("io"))
def poll(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "poll", ref, version)


@shared_task(name="pipeline.gate", **_options("cpu"))
def gate(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "gate", ref, version)


@shared_task(name="pipeline.native", **_options("io"))
def native(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "native", ref, version)


@shared_task(name="pipeline.normalise", **_options("cpu"))
def normalise(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "normalise", ref, version)


@shared_task(name="pipeline.finish", **_options("cpu"))
def finish(self: Task[Any, Any], ref: str, version: int) -> None:
    _run(self, "finish", ref, version)


@shared_task(name="pipeline.reap", bind=True, acks_late=True, time_limit=120, soft_time_limit=100)
def reap(self: Task[Any, Any]) -> int:
    """Resend overdue steps and adopt orphaned jobs; returns how many messages were sent."""
    ctx = worker_context()
    app = celery_for(ctx.settings)
    messages = reaper.reap(ctx)
    for message in messages:
        send(app, ctx.settings, message)
    if messages:
        log.info("reaper resent %d steps", len(messages))
    return len(messages)


@shared_task(
    name="pipeline.check_providers", bind=True, acks_late=True, time_limit=300, soft_time_limit=270
)
def check_providers(self: Task[Any, Any]) -> dict[str, Any]:
    """The beat's provider check: free endpoints only; opens the breaker of every routed model a
    provider no longer lists. Returns each provider's report."""
    reports = provider_check.check_and_trip(worker_context())
    return {report.provider: report.to_dict() for report in reports}


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    """A restarted worker frees the leases its dead predecessor (same node name) still held."""
    node = getattr(sender, "hostname", None)
    if node:
        freed = reaper.release_dead(worker_context(), str(node))
        if freed:
            log.warning("released %d steps held by a dead run of %s", freed, node)


@worker_init.connect
def _on_worker_init(**_: Any) -> None:
    """Before the pool forks: upgrade the schema and load the context once, so the children
    inherit both instead of each running Alembic and loading the registry on its first task."""
    settings = get_settings()
    migrate(settings.db_url)
    worker_context()


@worker_process_init.connect
def _on_process_init(**_: Any) -> None:
    """A pool child never reuses the database connections of the parent it was forked from:
    sharing one socket between processes corrupts both sides' sessions."""
    get_engine(get_settings().db_url).dispose(close=False)


def _mark_stop(_signum: int, _frame: object) -> None:
    stopping.request()


def _stop_on_sigint() -> None:
    """Pool children ignore SIGINT (billiard sets it after Celery's initializer: the main process
    does the warm shutdown), but a terminal's Ctrl-C reaches their FFmpeg runs too. A child running
    a task marks the stop instead of ignoring it, so such a run is a stop (``foundation.stopping``:
    retried by the next worker), not a failed shot or job. The child carries on as before."""
    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGINT) is not _mark_stop:
        signal.signal(signal.SIGINT, _mark_stop)
