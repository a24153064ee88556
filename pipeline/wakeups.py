"""Wake a waiting poll early: a provider's verified webhook says its job changed, so the attempt
polls now instead of at its next scheduled time. Polling stays the fallback when no webhook
arrives. The embedded engine's scheduler listens in-process; Celery workers poll on schedule."""

from __future__ import annotations

import threading
from collections.abc import Callable

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
