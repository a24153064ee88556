"""Provider limits from the registry, per model: concurrent jobs and requests per minute."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class ProviderLimiter:
    """A semaphore for in-flight jobs plus a sliding one-minute window for submissions."""

    def __init__(self, concurrency: int, rpm: int) -> None:
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._rpm = max(1, rpm)
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            yield

    def pace(self) -> None:
        """Block until one more request fits in the last minute's window."""
        while True:
            with self._lock:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= 60.0:
                    self._sent.popleft()
                if len(self._sent) < self._rpm:
                    self._sent.append(now)
                    return
                wait = 60.0 - (now - self._sent[0])
            time.sleep(min(wait, 1.0))


class Limits:
    def __init__(self) -> None:
        self._by_key: dict[str, ProviderLimiter] = {}
        self._lock = threading.Lock()

    def get(self, key: str, concurrency: int, rpm: int) -> ProviderLimiter:
        """The limiter for ``key`` (a model id: the registry's limits are per model)."""
        with self._lock:
            if key not in self._by_key:
                self._by_key[key] = ProviderLimiter(concurrency, rpm)
            return self._by_key[key]
