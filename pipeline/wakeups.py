"""Wake a waiting poller early: a provider's webhook says its job changed, so the attempt polls
now instead of at its next interval. Polling stays the fallback when no webhook arrives."""

from __future__ import annotations

import threading

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
