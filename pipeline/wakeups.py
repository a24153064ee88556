"""Wake a waiting poll early: a provider's verified webhook says its job changed, so the attempt
polls now instead of at its next scheduled time. Polling stays the fallback when no webhook
arrives. The embedded engine's scheduler listens in-process (``listen``/``notify``); under Celery
``hasten_poll`` makes the attempt's scheduled poll step due now."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from sqlalchemy import or_, update

from pipeline.steps import Dispatch, shot_key
from store.db import session_scope
from store.models import Attempt, PipelineStep

Listener = Callable[[int], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def listen(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` with the attempt id of every webhook; returns the unsubscribe."""
    with _lock:
        _listeners.append(listener)

    def stop() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return stop


def notify(attempt_id: int) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(attempt_id)


EndedListener = Callable[[str], None]
_ended_listeners: list[EndedListener] = []


def listen_ended(listener: EndedListener) -> None:
    """Call ``listener`` with the id of every job a step ends early (the embedded engine's
    scheduler then runs the job's queued steps now: each one finds the job over and ends)."""
    with _lock:
        _ended_listeners.append(listener)


def job_ended(job_id: str) -> None:
    """A step ended the job while other steps of it wait (its music bed failed): tell the
    in-process engines, so the job's run ends now, not at its shots' next polls. Under Celery
    the waiting messages run at their time and end."""
    with _lock:
        listeners = list(_ended_listeners)
    for listener in listeners:
        listener(job_id)


def hasten_poll(url: str, attempt_id: int, grace_s: float) -> Dispatch | Literal["busy", "idle"]:
    """Make the attempt's scheduled poll step due now (the step engines): returns the message to
    send (the delayed one it replaces is stale from now on); ``busy`` while the attempt's submit or
    poll step runs (ask again shortly: its next poll may not be written yet); ``idle`` when the
    attempt waits for no poll."""
    now = time.time()
    with session_scope(url) as session:
        attempt = session.get(Attempt, attempt_id)
        if attempt is None:
            return "idle"
        key, ref = shot_key(attempt.shot_id), str(attempt_id)
        version = session.execute(
            update(PipelineStep)
            .where(
                PipelineStep.key == key,
                PipelineStep.name == "poll",
                PipelineStep.ref == ref,
                or_(PipelineStep.lease_until.is_(None), PipelineStep.lease_until < now),
            )
            .values(version=PipelineStep.version + 1, due_at=now + grace_s)
            .returning(PipelineStep.version)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if version is not None:
            return Dispatch("poll", ref, version)
        row = session.get(PipelineStep, key)
        running = row is not None and row.ref == ref and row.name in ("submit", "poll")
        return "busy" if running else "idle"
