"""Provider limits from the registry, per model: concurrent jobs and requests per minute.

``ProviderLimits`` is the one interface; two backends keep the counts: ``LocalLimits`` in this
process (the embedded engine) and ``pipeline.shared_limits.RedisLimits`` in Redis (the distributed
engine and its API, so every process counts the same slots and the same minute).
``shared_limits.build_health`` and ``shared_limits.build_limits`` pick the backend from the settings; the breakers (``router.HealthBook``) get
the matching ``BreakerStore``.

Both checks are non-blocking: a step that is refused reschedules itself after the returned wait.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from foundation.settings import Settings

WINDOW_S = 60.0
"""RPM counts the submissions of the last minute (a sliding log, not a bucket: never more than
``rpm`` in any 60 s window, as a provider counting arrivals sees them)."""


class ProviderLimits(Protocol):
    def try_acquire(self, model_id: str, holder: str, limit: int, lease_s: float) -> bool:
        """Take (or renew) one of ``limit`` concurrency slots of ``model_id`` for ``holder``.
        Idempotent for the same holder; a slot not renewed within ``lease_s`` frees itself (its
        process died). False when every slot is held by others."""
        ...

    def release(self, model_id: str, holder: str) -> None: ...

    def try_take(self, model_id: str, rpm: int, holder: str = "") -> float:
        """Count one submission of ``holder`` in the model's minute: 0 when allowed, else the
        seconds until one fits (nothing is counted then). A holder that already took one in the
        window takes no second."""
        ...

    def sent(self, model_id: str, holder: str) -> None:
        """The holder's request has left: its minute starts now (not when it was allowed), so
        the provider never sees ``rpm + 1`` arrivals in 60 s however long the request took."""
        ...


class LocalLimits:
    """Slots and windows in this process's memory (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, dict[str, float]] = {}
        self._sent: dict[str, deque[tuple[float, str]]] = {}

    def try_acquire(self, model_id: str, holder: str, limit: int, lease_s: float) -> bool:
        with self._lock:
            now = self._clock()
            slots = self._slots.setdefault(model_id, {})
            for other, until in list(slots.items()):
                if until <= now:
                    del slots[other]
            if holder not in slots and len(slots) >= max(1, limit):
                return False
            slots[holder] = now + lease_s
            return True

    def release(self, model_id: str, holder: str) -> None:
        with self._lock:
            self._slots.get(model_id, {}).pop(holder, None)

    def try_take(self, model_id: str, rpm: int, holder: str = "") -> float:
        with self._lock:
            now = self._clock()
            window = self._sent.setdefault(model_id, deque())
            while window and now - window[0][0] >= WINDOW_S:
                window.popleft()
            if holder and any(who == holder for _, who in window):
                return 0.0
            if len(window) < max(1, rpm):
                window.append((now, holder))
                return 0.0
            return max(0.001, window[0][0] + WINDOW_S - now)

    def sent(self, model_id: str, holder: str) -> None:
        with self._lock:
            window = self._sent.get(model_id)
            if window is None or not holder:
                return
            kept = [(at, who) for at, who in window if who != holder]
            if len(kept) < len(window):
                window.clear()
                window.extend(sorted([*kept, (self._clock(), holder)]))


def slot_lease_s(settings: Settings) -> float:
    """How long a slot outlives its last renewal (each poll renews it): long enough for the gap
    between two polls of a live attempt, short enough that a dead one frees its slot soon."""
    longest_poll_gap = settings.poll_max_interval_s or 15 * settings.poll_interval_s
    return max(settings.slot_lease_min_s, 2 * longest_poll_gap, 2 * settings.reap_after_s)
