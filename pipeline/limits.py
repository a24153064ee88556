"""Provider limits from the registry, per model: concurrent jobs and requests per minute (or per
the model's ``limits.window_s``).

``ProviderLimits`` is the one interface; two backends keep the counts: ``LocalLimits`` in this
process (the embedded engine) and ``pipeline.shared_limits.RedisLimits`` in Redis (the distributed
engine and its API, so every process counts the same slots and the same minute).
``shared_limits.build_health`` and ``shared_limits.build_limits`` pick the backend from the settings; the breakers (``router.HealthBook``) get
the matching ``BreakerStore``.

Both checks are non-blocking: a step that is refused reschedules itself after the returned wait.

A model's slots are shared fairly among the groups (tenants) that want them: ``fair_turn`` decides
who may take a free slot, in both backends (the Redis script mirrors it). A running job is never
pre-empted; fairness only picks who gets the next free slot.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from foundation.settings import Settings

WINDOW_S = 60.0
"""RPM counts the submissions of the last minute (a sliding log, not a bucket: never more than
``rpm`` in any 60 s window, as a provider counting arrivals sees them), unless the registry gives
the model another window (``Limits.window_s``)."""

WAITING_S = 5.0
"""How long a holder refused a slot keeps its group counted as waiting for the model, unless it
asks again (``admission`` passes a few of its retry intervals instead)."""


def fair_turn(group: str, held: Mapping[str, int], waiting: Collection[str], limit: int) -> bool:
    """Whether ``group`` may take a free one of a model's ``limit`` slots, ``held`` counting the
    slots each group holds and ``waiting`` naming the groups refused one recently.

    A free slot goes to ``group`` unless another waiting group holds fewer slots than it does and
    fewer than the fair share, ``ceil(limit / n)`` with ``n`` the groups holding or waiting
    (``group`` included). So while the slots are contended no group takes more than its share,
    the waiting groups that hold fewest are served first, and a group alone, or whose rivals wait
    for nothing more, may take every slot (none is left idle).
    """
    if sum(held.values()) >= limit:
        return False
    share = math.ceil(limit / len({*held, *waiting, group}))
    floor = min(share, held.get(group, 0))
    return all(held.get(other, 0) >= floor for other in waiting if other != group)


class ProviderLimits(Protocol):
    def try_acquire(
        self,
        model_id: str,
        holder: str,
        limit: int,
        lease_s: float,
        group: str = "",
        waiting_s: float = WAITING_S,
    ) -> bool:
        """Take (or renew) one of ``limit`` concurrency slots of ``model_id`` for ``holder`` of
        ``group`` (its tenant). Idempotent for the same holder; a slot not renewed within
        ``lease_s`` frees itself (its process died). False when every slot is held by others, or
        when it is not ``group``'s turn (``fair_turn``): the holder then counts its group as
        waiting for ``waiting_s`` (until it asks again, is given a slot or is released)."""
        ...

    def release(self, model_id: str, holder: str) -> None:
        """Free the holder's slot, and forget that it was waiting for one."""
        ...

    def try_take(
        self, model_id: str, rpm: int, holder: str = "", window_s: float = WINDOW_S
    ) -> float:
        """Count one submission of ``holder`` in the model's minute (its last ``window_s``
        seconds): 0 when allowed, else the seconds until one fits (nothing is counted then). A
        holder that already took one in the window takes no second."""
        ...

    def sent(self, model_id: str, holder: str) -> None:
        """The holder's request has left: its minute starts now (not when it was allowed), so
        the provider never sees ``rpm + 1`` arrivals in 60 s however long the request took."""
        ...


@dataclass
class _Slots:
    """One model's slots: holder -> lease end, holder refused one -> when it stops waiting, and
    each of those holders' group."""

    held: dict[str, float] = field(default_factory=dict)
    waiting: dict[str, float] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)

    def expire(self, now: float) -> None:
        for entries in (self.held, self.waiting):
            for holder in [h for h, until in entries.items() if until <= now]:
                self.forget(holder, entries)

    def forget(self, holder: str, *entries: dict[str, float]) -> None:
        for kept in entries:
            kept.pop(holder, None)
        if holder not in self.held and holder not in self.waiting:
            self.groups.pop(holder, None)


class LocalLimits:
    """Slots and windows in this process's memory (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, _Slots] = {}
        self._sent: dict[str, deque[tuple[float, str]]] = {}

    def try_acquire(
        self,
        model_id: str,
        holder: str,
        limit: int,
        lease_s: float,
        group: str = "",
        waiting_s: float = WAITING_S,
    ) -> bool:
        with self._lock:
            now = self._clock()
            slots = self._slots.setdefault(model_id, _Slots())
            slots.expire(now)
            if holder in slots.held:
                slots.held[holder] = now + lease_s
                return True
            held = Counter(slots.groups[h] for h in slots.held)
            waiting = {slots.groups[h] for h in slots.waiting}
            slots.groups[holder] = group
            if not fair_turn(group, held, waiting, max(1, limit)):
                slots.waiting[holder] = now + waiting_s
                return False
            slots.waiting.pop(holder, None)
            slots.held[holder] = now + lease_s
            return True

    def release(self, model_id: str, holder: str) -> None:
        with self._lock:
            if (slots := self._slots.get(model_id)) is not None:
                slots.forget(holder, slots.held, slots.waiting)

    def try_take(
        self, model_id: str, rpm: int, holder: str = "", window_s: float = WINDOW_S
    ) -> float:
        with self._lock:
            now = self._clock()
            window = self._sent.setdefault(model_id, deque())
            while window and now - window[0][0] >= window_s:
                window.popleft()
            if holder and any(who == holder for _, who in window):
                return 0.0
            if len(window) < max(1, rpm):
                window.append((now, holder))
                return 0.0
            return max(0.001, window[0][0] + window_s - now)

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
