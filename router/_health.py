"""Circuit breakers per provider and per model, with half-open probing.

The pipeline feeds outcomes (``record_success`` / ``record_failure``) and asks ``allow(model_id)``
before it submits; the router reads ``state(model_id)`` to rank models. Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from registry import Registry

#: Failure kinds that say something about the provider's health (see ``adapters.errors``).
#: ``rejected_input`` and ``safety_refusal`` are about the request, not the provider.
HEALTH_KINDS = frozenset(
    {"transient", "rate_limited", "timeout", "provider_failure", "asset_error"}
)


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


_SEVERITY = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True)
class BreakerConfig:
    """Open after ``failure_threshold`` consecutive failures; after ``cooldown_s`` let
    ``half_open_probes`` requests through; a probe success closes, a probe failure re-opens with
    the cooldown doubled (up to ``max_cooldown_s``)."""

    failure_threshold: int = 3
    cooldown_s: float = 60.0
    max_cooldown_s: float = 900.0
    half_open_probes: int = 1


class Breaker:
    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.cooldown = config.cooldown_s
        self.probes = 0
        self.trips = 0

    def current(self, now: float) -> BreakerState:
        if self.state is BreakerState.OPEN and now - self.opened_at >= self.cooldown:
            self.state = BreakerState.HALF_OPEN
            self.probes = 0
        return self.state

    def allow(self, now: float) -> bool:
        state = self.current(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and self.probes < self.config.half_open_probes:
            self.probes += 1
            return True
        return False

    def success(self, now: float) -> None:
        self.current(now)
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.probes = 0
        self.cooldown = self.config.cooldown_s

    def failure(self, now: float) -> None:
        state = self.current(now)
        self.failures += 1
        if state is BreakerState.HALF_OPEN:
            self.cooldown = min(self.cooldown * 2, self.config.max_cooldown_s)
            self._open(now)
        elif state is BreakerState.CLOSED and self.failures >= self.config.failure_threshold:
            self._open(now)

    def _open(self, now: float) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = now
        self.probes = 0
        self.trips += 1

    def retry_in(self, now: float) -> float:
        if self.current(now) is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown - now)


class HealthBook:
    """Breakers keyed by model id and by provider. A model is as unhealthy as the worse of its
    own breaker and its provider's."""

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        model_config: BreakerConfig | None = None,
        provider_config: BreakerConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._model_config = model_config or BreakerConfig()
        self._provider_config = provider_config or BreakerConfig(failure_threshold=5)
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[str, Breaker] = {}
        self._providers: dict[str, Breaker] = {}

    def provider_of(self, model_id: str) -> str:
        if self._registry is not None and model_id in self._registry:
            return self._registry.get(model_id).provider
        return model_id.split("/", 1)[0]

    def _pair(self, model_id: str) -> tuple[Breaker, Breaker]:
        model = self._models.get(model_id)
        if model is None:
            model = self._models[model_id] = Breaker(self._model_config)
        provider_id = self.provider_of(model_id)
        provider = self._providers.get(provider_id)
        if provider is None:
            provider = self._providers[provider_id] = Breaker(self._provider_config)
        return model, provider

    def record_success(self, model_id: str) -> None:
        with self._lock:
            now = self._clock()
            for breaker in self._pair(model_id):
                breaker.success(now)

    def record_failure(self, model_id: str, kind: str = "provider_failure") -> None:
        """Count a failure of ``kind`` (an ``adapters.errors`` kind); request-side kinds such as
        ``rejected_input`` and ``safety_refusal`` do not count against health."""
        if kind not in HEALTH_KINDS:
            return
        with self._lock:
            now = self._clock()
            for breaker in self._pair(model_id):
                breaker.failure(now)

    def state(self, model_id: str) -> BreakerState:
        with self._lock:
            if model_id not in self._models and self.provider_of(model_id) not in self._providers:
                return BreakerState.CLOSED
            now = self._clock()
            states = [b.current(now) for b in self._pair(model_id)]
        return max(states, key=_SEVERITY.__getitem__)

    def allow(self, model_id: str) -> bool:
        """May the pipeline submit to ``model_id`` now? In half-open this takes a probe slot."""
        with self._lock:
            now = self._clock()
            model, provider = self._pair(model_id)
            pair = (model, provider)
            if not all(_can_pass(b, now) for b in pair):
                return False
            return all([b.allow(now) for b in pair])

    def retry_in(self, model_id: str) -> float:
        with self._lock:
            now = self._clock()
            return max(b.retry_in(now) for b in self._pair(model_id))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            return {
                "models": {k: _describe(b, now) for k, b in sorted(self._models.items())},
                "providers": {k: _describe(b, now) for k, b in sorted(self._providers.items())},
            }


def _can_pass(breaker: Breaker, now: float) -> bool:
    state = breaker.current(now)
    if state is BreakerState.HALF_OPEN:
        return breaker.probes < breaker.config.half_open_probes
    return state is BreakerState.CLOSED


def _describe(breaker: Breaker, now: float) -> dict[str, Any]:
    return {
        "state": str(breaker.current(now)),
        "consecutive_failures": breaker.failures,
        "trips": breaker.trips,
        "retry_in_s": round(breaker.retry_in(now), 1),
    }
