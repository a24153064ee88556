"""Provider request rates from the registry, per model: submissions per minute, paced without
blocking (the caller reschedules its step for the time this returns)."""

from __future__ import annotations

import threading
import time
from collections import deque


class ProviderLimiter:
    """A sliding one-minute window of submissions."""

    def __init__(self, rpm: int) -> None:
        self._rpm = max(1, rpm)
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Count one request now and return 0 when it fits the last minute's window; else count
        nothing and return the seconds until it would fit."""
        with self._lock:
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= 60.0:
                self._sent.popleft()
            if len(self._sent) < self._rpm:
                self._sent.append(now)
                return 0.0
            return max(0.01, 60.0 - (now - self._sent[0]))


class Limits:
    def __init__(self) -> None:
        self._by_key: dict[str, ProviderLimiter] = {}
        self._lock = threading.Lock()

    def get(self, key: str, rpm: int) -> ProviderLimiter:
        """The limiter for ``key`` (a model id: the registry's limits are per model)."""
        with self._lock:
            if key not in self._by_key:
                self._by_key[key] = ProviderLimiter(rpm)
            return self._by_key[key]
