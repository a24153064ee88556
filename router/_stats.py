"""Observed statistics per (model, shot type), starting from the registry's priors.

The pipeline (or the lead's loader from the database) feeds ``Outcome`` records: one per finished
attempt. Each figure is a blend of the prior, weighted as ``prior_weight`` pseudo-attempts, and of
what was observed, so a few bad renders move the estimate and many bad renders dominate it.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from registry import Registry, TypePrior

_NEUTRAL = TypePrior(acceptance=0.8, render_p50_s=80.0, render_p95_s=240.0)


@dataclass(frozen=True)
class Outcome:
    """One finished attempt: did the gate accept it, how long it rendered, what it cost."""

    model_id: str
    shot_type: str
    accepted: bool
    render_seconds: float
    cost_usd: float
    accepted_seconds: float = 0.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Outcome:
        return cls(
            model_id=str(data["model_id"]),
            shot_type=str(data.get("shot_type") or "broll"),
            accepted=bool(data["accepted"]),
            render_seconds=float(data.get("render_seconds") or 0.0),
            cost_usd=float(data.get("cost_usd") or 0.0),
            accepted_seconds=float(data.get("accepted_seconds") or 0.0),
        )


@dataclass(frozen=True)
class ModelStats:
    """What the router believes about a model for one shot type."""

    model_id: str
    shot_type: str
    attempts: int
    accepted: int
    acceptance_rate: float
    render_p50_s: float
    render_p95_s: float
    cost_per_accepted_s: float | None = None
    prior_weight: float = 5.0

    @property
    def from_prior(self) -> bool:
        return self.attempts == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "shot_type": self.shot_type,
            "attempts": self.attempts,
            "accepted": self.accepted,
            "acceptance_rate": round(self.acceptance_rate, 4),
            "render_p50_s": round(self.render_p50_s, 1),
            "render_p95_s": round(self.render_p95_s, 1),
            "cost_per_accepted_s": None
            if self.cost_per_accepted_s is None
            else round(self.cost_per_accepted_s, 4),
        }


class StatsSource(Protocol):
    """Anything the router can ask for a model's statistics on a shot type."""

    def stats_for(self, model_id: str, shot_type: str) -> ModelStats: ...


@dataclass
class _Tally:
    attempts: int = 0
    accepted: int = 0
    cost_usd: float = 0.0
    accepted_seconds: float = 0.0
    recent: deque[float] = field(default_factory=deque)
    ordered: list[float] = field(default_factory=list)


class StatsBook:
    """Learns from job history; ``stats_for`` answers from priors until there is history."""

    def __init__(
        self, registry: Registry | None = None, *, prior_weight: float = 5.0, window: int = 500
    ) -> None:
        self._registry = registry
        self.prior_weight = prior_weight
        self._window = window
        self._lock = threading.Lock()
        self._tallies: dict[tuple[str, str], _Tally] = {}
        self._cache: dict[tuple[str, str], ModelStats] = {}

    def prior(self, model_id: str, shot_type: str) -> TypePrior:
        if self._registry is not None and model_id in self._registry:
            return self._registry.get(model_id).priors.for_type(shot_type)
        return _NEUTRAL

    def record(self, outcome: Outcome) -> None:
        key = (outcome.model_id, outcome.shot_type)
        with self._lock:
            tally = self._tallies.setdefault(key, _Tally())
            tally.attempts += 1
            tally.accepted += outcome.accepted
            tally.cost_usd += outcome.cost_usd
            tally.accepted_seconds += outcome.accepted_seconds if outcome.accepted else 0.0
            tally.recent.append(outcome.render_seconds)
            bisect.insort(tally.ordered, outcome.render_seconds)
            if len(tally.recent) > self._window:
                old = tally.recent.popleft()
                del tally.ordered[bisect.bisect_left(tally.ordered, old)]
            self._cache.pop(key, None)

    def ingest(self, records: Iterable[Outcome | Mapping[str, Any]]) -> int:
        """Feed many records (``Outcome`` or mappings with the same keys); returns the count."""
        count = 0
        for item in records:
            self.record(item if isinstance(item, Outcome) else Outcome.from_mapping(item))
            count += 1
        return count

    def stats_for(self, model_id: str, shot_type: str) -> ModelStats:
        key = (model_id, shot_type)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        with self._lock:
            stats = self._compute(model_id, shot_type, self._tallies.get(key))
            self._cache[key] = stats
        return stats

    def _compute(self, model_id: str, shot_type: str, tally: _Tally | None) -> ModelStats:
        prior = self.prior(model_id, shot_type)
        w = self.prior_weight
        if tally is None or tally.attempts == 0:
            return ModelStats(
                model_id,
                shot_type,
                0,
                0,
                prior.acceptance,
                prior.render_p50_s,
                prior.render_p95_s,
                None,
                w,
            )
        n = tally.attempts
        acceptance = (tally.accepted + w * prior.acceptance) / (n + w)
        seen = len(tally.ordered)
        p50 = (w * prior.render_p50_s + seen * _quantile(tally.ordered, 0.5)) / (w + seen)
        p95 = (w * prior.render_p95_s + seen * _quantile(tally.ordered, 0.95)) / (w + seen)
        cpas = tally.cost_usd / tally.accepted_seconds if tally.accepted_seconds > 0 else None
        return ModelStats(
            model_id, shot_type, n, tally.accepted, acceptance, p50, max(p95, p50), cpas, w
        )

    def snapshot(self) -> list[dict[str, Any]]:
        keys = sorted(self._tallies)
        return [self.stats_for(model, kind).to_dict() for model, kind in keys]


class PriorStats:
    """A ``StatsSource`` that only knows the registry's priors (used when no history is given)."""

    def __init__(self, registry: Registry) -> None:
        self._book = StatsBook(registry)

    def stats_for(self, model_id: str, shot_type: str) -> ModelStats:
        return self._book.stats_for(model_id, shot_type)


def _quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
