"""Circuit breakers per provider and per model, with half-open probing.

The pipeline feeds outcomes (``record_success`` / ``record_failure``) and asks ``allow(model_id)``
before it submits; the router reads ``state(model_id)`` (or one ``view()`` per plan) to rank models.

The state machine is written once, here; where its state lives is a ``BreakerStore``: this
process's memory (``MemoryBreakerStore``, the embedded engine) or a store every process shares (the
distributed engine injects one backed by Redis), so every worker and the API see the same breakers.
The router never reaches the network itself: a store is handed in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from registry import Registry

#: Failure kinds that say something about the provider's health (see ``adapters.errors``).
#: ``rejected_input`` and ``safety_refusal`` are about the request, not the provider.
HEALTH_KINDS = frozenset(
    {"transient", "rate_limited", "timeout", "provider_failure", "asset_error", "job_lost"}
)

T = TypeVar("T")
Record = dict[str, str]
"""A breaker's stored fields, as strings (the shape of a Redis hash); empty when never used."""


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


_SEVERITY = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True)
class BreakerConfig:
    """Open after ``failure_threshold`` consecutive failures; after ``cooldown_s`` let
    ``half_open_probes`` requests through; a probe success closes, a probe failure re-opens with
    the cooldown doubled (up to ``max_cooldown_s``). A probe that reports no outcome within
    ``cooldown_s`` (its worker died) frees its place for another probe."""

    failure_threshold: int = 3
    cooldown_s: float = 60.0
    max_cooldown_s: float = 900.0
    half_open_probes: int = 1


class Breaker:
    def __init__(self, config: BreakerConfig, record: Mapping[str, str] | None = None) -> None:
        self.config = config
        saved = record or {}
        self.state = BreakerState(saved.get("state", BreakerState.CLOSED))
        self.failures = int(saved.get("failures", 0))
        self.opened_at = float(saved.get("opened_at", 0.0))
        self.cooldown = float(saved.get("cooldown", config.cooldown_s))
        self.probes = int(saved.get("probes", 0))
        self.probed_at = float(saved.get("probed_at", 0.0))
        self.trips = int(saved.get("trips", 0))

    def record(self) -> Record:
        return {
            "state": str(self.state),
            "failures": str(self.failures),
            "opened_at": repr(self.opened_at),
            "cooldown": repr(self.cooldown),
            "probes": str(self.probes),
            "probed_at": repr(self.probed_at),
            "trips": str(self.trips),
        }

    def current(self, now: float) -> BreakerState:
        if self.state is BreakerState.OPEN and now - self.opened_at >= self.cooldown:
            self.state = BreakerState.HALF_OPEN
            self.probes = 0
        if self.state is BreakerState.HALF_OPEN and now - self.probed_at >= self.config.cooldown_s:
            self.probes = 0  # the probes in flight never reported: let another one through
        return self.state

    def can_pass(self, now: float) -> bool:
        state = self.current(now)
        if state is BreakerState.HALF_OPEN:
            return self.probes < self.config.half_open_probes
        return state is BreakerState.CLOSED

    def allow(self, now: float) -> bool:
        state = self.current(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and self.probes < self.config.half_open_probes:
            self.probes += 1
            self.probed_at = now
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


class BreakerStore(Protocol):
    """Where breakers live. Keys are ``model:<id>`` and ``provider:<name>``; ``now`` is the
    store's clock (one clock for every process that shares the store)."""

    def read(self, keys: Sequence[str]) -> tuple[list[Record], float]:
        """The records of ``keys`` (empty ones for keys never written) and the time now."""
        ...

    def read_all(self) -> tuple[dict[str, Record], float]: ...

    def update(self, keys: Sequence[str], change: Callable[[list[Record], float], T]) -> T:
        """Atomically: read the records of ``keys``, let ``change`` edit them in place (with the
        time now), write them back; returns what ``change`` returned."""
        ...


class MemoryBreakerStore:
    """Breakers in this process's memory (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, Record] = {}

    def read(self, keys: Sequence[str]) -> tuple[list[Record], float]:
        with self._lock:
            return [dict(self._records.get(k, {})) for k in keys], self._clock()

    def read_all(self) -> tuple[dict[str, Record], float]:
        with self._lock:
            return {k: dict(v) for k, v in self._records.items()}, self._clock()

    def update(self, keys: Sequence[str], change: Callable[[list[Record], float], T]) -> T:
        with self._lock:
            records = [dict(self._records.get(k, {})) for k in keys]
            result = change(records, self._clock())
            for key, record in zip(keys, records, strict=True):
                if record:
                    self._records[key] = record
            return result


class HealthSource(Protocol):
    """What the router reads: a model's breaker state (the worse of its own and its provider's)."""

    def state(self, model_id: str) -> BreakerState: ...


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
        store: BreakerStore | None = None,
    ) -> None:
        self._registry = registry
        self._model_config = model_config or BreakerConfig()
        self._provider_config = provider_config or BreakerConfig(failure_threshold=5)
        self._store: BreakerStore = store or MemoryBreakerStore(clock)

    def provider_of(self, model_id: str) -> str:
        if self._registry is not None and model_id in self._registry:
            return self._registry.get(model_id).provider
        return model_id.split("/", 1)[0]

    def _keys(self, model_id: str) -> list[str]:
        return [f"model:{model_id}", f"provider:{self.provider_of(model_id)}"]

    def _pair(self, records: Sequence[Mapping[str, str]]) -> list[Breaker]:
        model, provider = records
        return [Breaker(self._model_config, model), Breaker(self._provider_config, provider)]

    def _change(self, model_id: str, edit: Callable[[list[Breaker], float], T]) -> T:
        def change(records: list[Record], now: float) -> T:
            breakers = self._pair(records)
            result = edit(breakers, now)
            for record, breaker in zip(records, breakers, strict=True):
                record.update(breaker.record())
            return result

        return self._store.update(self._keys(model_id), change)

    def record_success(self, model_id: str) -> None:
        self._change(model_id, _succeed)

    def record_failure(self, model_id: str, kind: str = "provider_failure") -> None:
        """Count a failure of ``kind`` (an ``adapters.errors`` kind); request-side kinds such as
        ``rejected_input`` and ``safety_refusal`` do not count against health."""
        if kind in HEALTH_KINDS:
            self._change(model_id, _fail)

    def force_open(self, model_id: str, cooldown_s: float) -> None:
        """Open ``model_id``'s own breaker now, whatever its failure count (its provider no longer
        lists it), for ``cooldown_s``; then it half-opens like any open breaker. Forcing an open
        breaker again restarts its cooldown without counting another trip. The provider's
        breaker is left alone: its other models are fine."""

        def change(records: list[Record], now: float) -> None:
            breaker = Breaker(self._model_config, records[0])
            if breaker.current(now) is BreakerState.OPEN:
                breaker.opened_at = now
            else:
                breaker._open(now)
            breaker.cooldown = cooldown_s
            records[0].update(breaker.record())

        self._store.update([f"model:{model_id}"], change)

    def state(self, model_id: str) -> BreakerState:
        records, now = self._store.read(self._keys(model_id))
        return _worst(b.current(now) for b in self._pair(records))

    def allow(self, model_id: str) -> bool:
        """May the pipeline submit to ``model_id`` now? In half-open this takes a probe slot."""

        def edit(pair: list[Breaker], now: float) -> bool:
            return all(b.can_pass(now) for b in pair) and all([b.allow(now) for b in pair])

        return self._change(model_id, edit)

    def retry_in(self, model_id: str) -> float:
        records, now = self._store.read(self._keys(model_id))
        return max(b.retry_in(now) for b in self._pair(records))

    def view(self) -> HealthView:
        """Every breaker as it is now, read at once: one plan ranks all its shots on one view."""
        records, now = self._store.read_all()
        return HealthView(self, records, now)

    def snapshot(self) -> dict[str, Any]:
        return self.view().snapshot()


class HealthView:
    """A read-only copy of a health book's breakers at one moment."""

    def __init__(self, book: HealthBook, records: dict[str, Record], now: float) -> None:
        self._book = book
        self._records = records
        self._now = now

    def state(self, model_id: str) -> BreakerState:
        records = [self._records.get(k, {}) for k in self._book._keys(model_id)]
        return _worst(b.current(self._now) for b in self._book._pair(records))

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {"models": {}, "providers": {}}
        configs = {"models": self._book._model_config, "providers": self._book._provider_config}
        for key, record in sorted(self._records.items()):
            kind, _, name = key.partition(":")
            group = "models" if kind == "model" else "providers"
            out[group][name] = _describe(Breaker(configs[group], record), self._now)
        return out


def _succeed(pair: list[Breaker], now: float) -> None:
    for breaker in pair:
        breaker.success(now)


def _fail(pair: list[Breaker], now: float) -> None:
    for breaker in pair:
        breaker.failure(now)


def _worst(states: Iterable[BreakerState]) -> BreakerState:
    return max(states, key=_SEVERITY.__getitem__)


def _describe(breaker: Breaker, now: float) -> dict[str, Any]:
    return {
        "state": str(breaker.current(now)),
        "consecutive_failures": breaker.failures,
        "trips": breaker.trips,
        "retry_in_s": round(breaker.retry_in(now), 1),
    }
