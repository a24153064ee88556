"""Wake a waiting poller early: a provider's webhook says its job changed, so the attempt polls
now instead of at its next interval. Polling stays the fallback when no webhook arrives.

``notify``/``wait`` wake a thread that sleeps between polls (the thread-per-shot engine);
``hasten_poll`` moves a scheduled poll step to now (engines whose polls are scheduled steps).
"""

from __future__ import annotations

import threading
import time
from typing import Literal

from sqlalchemy import or_, update

from pipeline.steps import Dispatch, shot_key
from store.db import session_scope
from store.models import Attempt, PipelineStep

_events: dict[str, threading.Event] = {}
_lock = threading.Lock()


def _event(provider_job_id: str) -> threading.Event:
    with _lock:
        return _events.setdefault(provider_job_id, threading.Event())


def notify(provider_job_id: str) -> None:
    _event(provider_job_id).set()


def wait(provider_job_id: str, timeout: float) -> bool:
    """Sleep up to ``timeout`` seconds or until notified; True when a webhook woke us."""
    event = _event(provider_job_id)
    woken = event.wait(timeout)
    event.clear()
    return woken


def forget(provider_job_id: str) -> None:
    with _lock:
        _events.pop(provider_job_id, None)


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
