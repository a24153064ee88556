"""The router's records: what a shot needs, each candidate model, and the decision for a shot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from foundation.storyboard import AudioNeed, Mode


@dataclass(frozen=True)
class ShotNeed:
    """One storyboard shot reduced to what routing needs. ``seed`` is fixed here, so every
    fallback renders with the same seed, prompt and reference image."""

    shot_id: str
    scene_id: str
    path: str
    prompt: str
    duration_s: float
    width: int
    height: int
    fps: float
    audio: AudioNeed
    shot_type: str
    type_inferred: bool
    seed: int
    has_image: bool = False
    reference_image: str | None = None
    pinned_model: str | None = None
    dialogue: str | None = None
    negative_prompt: str | None = None

    @property
    def prompt_chars(self) -> int:
        return len(self.prompt) + len(self.dialogue or "")


@dataclass(frozen=True)
class Candidate:
    """One model able to take the shot, with the request after adaptations and its score."""

    model_id: str
    provider: str
    provider_model: str
    quote_usd: float
    duration_s: float
    width: int
    height: int
    fps: float
    audio: bool
    adaptations: list[str]
    score: float
    resolution: str = ""
    tier: str = ""
    expected_cost_usd: float = 0.0
    acceptance: float = 1.0
    render_p50_s: float = 0.0
    render_p95_s: float = 0.0
    seed_supported: bool = False
    expected_attempts: float = 1.0
    health: str = "closed"
    components: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "provider": self.provider,
            "provider_model": self.provider_model,
            "quote_usd": round(self.quote_usd, 4),
            "expected_cost_usd": round(self.expected_cost_usd, 4),
            "duration_s": self.duration_s,
            "size": f"{self.width}x{self.height}",
            "resolution": self.resolution,
            "fps": self.fps,
            "audio": self.audio,
            "adaptations": list(self.adaptations),
            "score": round(self.score, 4),
            "acceptance": round(self.acceptance, 3),
            "render_p50_s": round(self.render_p50_s, 1),
            "render_p95_s": round(self.render_p95_s, 1),
            "tier": self.tier,
            "health": self.health,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ShotDecision:
    """The router's answer for one shot: the primary and ordered fallbacks, and why.

    ``rejected`` holds the hard-filter reasons per model; ``ranked_out`` feasible models that did
    not make the chain, with the reason. ``explanation`` is a JSON-serialisable dict.
    """

    shot_id: str
    scene_id: str
    path: str
    mode: Mode
    need: ShotNeed
    candidates: list[Candidate]
    rejected: dict[str, list[str]]
    ranked_out: dict[str, str] = field(default_factory=dict)
    continuity_break: bool = False
    continuity_reason: str | None = None
    scene_model: str | None = None
    weights: Mapping[str, float] = field(default_factory=dict)
    chain_origin: Mapping[str, str] = field(default_factory=dict)

    @property
    def primary(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def routable(self) -> bool:
        return bool(self.candidates)

    @property
    def shot_type(self) -> str:
        return self.need.shot_type

    @cached_property
    def explanation(self) -> dict[str, Any]:
        from router._explain import explain

        return explain(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shot_id": self.shot_id,
            "scene_id": self.scene_id,
            "path": self.path,
            "shot_type": self.need.shot_type,
            "shot_type_inferred": self.need.type_inferred,
            "seed": self.need.seed,
            "candidates": [c.to_dict() for c in self.candidates],
            "rejected": {k: list(v) for k, v in self.rejected.items()},
            "ranked_out": dict(self.ranked_out),
            "continuity_break": self.continuity_break,
            "continuity_reason": self.continuity_reason,
            "scene_model": self.scene_model,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class Unroutable:
    shot_id: str
    path: str
    reasons: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {"shot_id": self.shot_id, "path": self.path, "reasons": self.reasons}


@dataclass(frozen=True)
class ShotForecast:
    shot_id: str
    model_id: str
    quote_usd: float
    expected_usd: float
    high_usd: float
    expected_attempts: float
    expected_render_s: float
    high_render_s: float = 0.0


@dataclass(frozen=True)
class Forecast:
    """Dry-run figures: cost range with expected retakes, wall time, budget headroom."""

    cost_low_usd: float
    cost_expected_usd: float
    cost_high_usd: float
    wall_time_s: float
    wall_time_high_s: float
    budget_usd: float | None
    shots: list[ShotForecast]

    @property
    def headroom_usd(self) -> float | None:
        return None if self.budget_usd is None else self.budget_usd - self.cost_expected_usd

    @property
    def worst_case_headroom_usd(self) -> float | None:
        return None if self.budget_usd is None else self.budget_usd - self.cost_high_usd

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost_low_usd": round(self.cost_low_usd, 4),
            "cost_expected_usd": round(self.cost_expected_usd, 4),
            "cost_high_usd": round(self.cost_high_usd, 4),
            "wall_time_s": round(self.wall_time_s, 1),
            "wall_time_high_s": round(self.wall_time_high_s, 1),
            "budget_usd": self.budget_usd,
            "headroom_usd": _round(self.headroom_usd),
            "worst_case_headroom_usd": _round(self.worst_case_headroom_usd),
            "shots": [
                {
                    "shot_id": s.shot_id,
                    "model": s.model_id,
                    "quote_usd": round(s.quote_usd, 4),
                    "expected_usd": round(s.expected_usd, 4),
                    "high_usd": round(s.high_usd, 4),
                    "expected_attempts": round(s.expected_attempts, 2),
                    "expected_render_s": round(s.expected_render_s, 1),
                }
                for s in self.shots
            ],
        }


@dataclass(frozen=True)
class Plan:
    """A dry run over a storyboard: decisions in storyboard order, unroutable shots, forecast."""

    title: str
    mode: Mode
    providers: frozenset[str]
    decisions: dict[str, ShotDecision]
    unroutable: list[Unroutable]
    forecast: Forecast

    @property
    def ok(self) -> bool:
        return not self.unroutable

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "mode": str(self.mode),
            "providers": sorted(self.providers),
            "shots": [d.to_dict() for d in self.decisions.values()],
            "unroutable": [u.to_dict() for u in self.unroutable],
            "forecast": self.forecast.to_dict(),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
