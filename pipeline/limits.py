"""Per-provider limits from the registry: concurrent jobs and requests per minute."""

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
        self._by_provider: dict[str, ProviderLimiter] = {}
        self._lock = threading.Lock()

    def get(self, provider: str, concurrency: int, rpm: int) -> ProviderLimiter:
        with self._lock:
            if provider not in self._by_provider:
                self._by_provider[provider] = ProviderLimiter(concurrency, rpm)
            return self._by_provider[provider]
