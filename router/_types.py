"""The router's decisions: the decision for a shot and its explanation, the plan of a storyboard."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from foundation import money
from foundation.storyboard import Mode, Storyboard
from router._candidate import Candidate, ShotNeed
from router._explain import brief, group_reasons, why_lower


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
class QuoteLine:
    """One shot's quote: the primary model, its price, the expected retakes (and what they cost at
    95% confidence), the render time, and whether the preview's first frame is its reference
    image (a commit's final quote). The dry run's forecast and a commit's quote are made of these.
    A commit's line for a shot the final splits sums its ``segments``' lines (``summed``).
    """

    shot_id: str
    model_id: str
    quote_usd: float
    expected_usd: float
    high_usd: float
    expected_attempts: float
    expected_render_s: float
    high_render_s: float = 0.0
    provider: str = ""
    tier: str = ""
    seconds: float = 0.0
    first_frame: bool = False
    segments: tuple[QuoteLine, ...] = ()

    @classmethod
    def summed(cls, shot_id: str, parts: Sequence[QuoteLine]) -> QuoteLine:
        """One line for a shot rendered as ``parts`` one after another (each continues from the
        one before): their prices, retakes and render times added up, their models named once
        each in order."""

        def named(values: Iterable[str]) -> str:
            return " + ".join(dict.fromkeys(values))

        def added(values: Iterable[float]) -> float:
            return money.stored(money.total(values))

        return cls(
            shot_id=shot_id,
            model_id=named(p.model_id for p in parts),
            quote_usd=added(p.quote_usd for p in parts),
            expected_usd=added(p.expected_usd for p in parts),
            high_usd=added(p.high_usd for p in parts),
            expected_attempts=sum(p.expected_attempts for p in parts),
            expected_render_s=sum(p.expected_render_s for p in parts),
            high_render_s=sum(p.high_render_s for p in parts),
            provider=named(p.provider for p in parts),
            tier=named(p.tier for p in parts),
            seconds=round(sum(p.seconds for p in parts), 6),
            segments=tuple(parts),
        )

    def to_dict(self) -> dict[str, Any]:
        """The line as a commit's quote shows it."""
        return {
            "shot_id": self.shot_id,
            "provider": self.provider,
            "tier": self.tier,
            "seconds": self.seconds,
            "quote_usd": money.to_json(self.quote_usd),
            "expected_attempts": round(self.expected_attempts, 4),
            "expected_usd": money.to_json(self.expected_usd),
            "high_usd": money.to_json(self.high_usd),
            "first_frame": self.first_frame,
            "model": self.model_id,
            "segments": [part.to_dict() for part in self.segments],
        }

    def forecast_dict(self) -> dict[str, Any]:
        """The line as the dry run's forecast shows it."""
        return {
            "shot_id": self.shot_id,
            "model": self.model_id,
            "quote_usd": money.to_json(self.quote_usd),
            "expected_usd": money.to_json(self.expected_usd),
            "high_usd": money.to_json(self.high_usd),
            "expected_attempts": round(self.expected_attempts, 2),
            "expected_render_s": round(self.expected_render_s, 1),
        }


@dataclass(frozen=True)
class Forecast:
    """Dry-run figures: cost range with expected retakes, wall time, budget headroom."""

    cost_low_usd: float
    cost_expected_usd: float
    cost_high_usd: float
    wall_time_s: float
    wall_time_high_s: float
    budget_usd: float | None
    shots: list[QuoteLine]

    @property
    def headroom_usd(self) -> float | None:
        return None if self.budget_usd is None else self.budget_usd - self.cost_expected_usd

    @property
    def worst_case_headroom_usd(self) -> float | None:
        return None if self.budget_usd is None else self.budget_usd - self.cost_high_usd

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost_low_usd": money.to_json(self.cost_low_usd),
            "cost_expected_usd": money.to_json(self.cost_expected_usd),
            "cost_high_usd": money.to_json(self.cost_high_usd),
            "wall_time_s": round(self.wall_time_s, 1),
            "wall_time_high_s": round(self.wall_time_high_s, 1),
            "budget_usd": money.to_json(self.budget_usd),
            "headroom_usd": money.to_json(self.headroom_usd),
            "worst_case_headroom_usd": money.to_json(self.worst_case_headroom_usd),
            "shots": [s.forecast_dict() for s in self.shots],
        }


@dataclass(frozen=True)
class LongShot:
    """How one shot was split: its parts' ids, lengths and operations (``render``, ``extend``:
    the provider's own extend operation of ``model``, ``continue``: from the previous part's last
    frame; the first part of a plain split renders too), and why."""

    shot_id: str
    segment_ids: tuple[str, ...]
    seconds: tuple[float, ...]
    operations: tuple[str, ...] = ()
    model: str | None = None  # the model whose extend operation the chain uses

    @property
    def parts(self) -> list[tuple[str, str, float]]:
        ops = self.operations or ("render", *(["continue"] * (len(self.seconds) - 1)))
        return list(zip(self.segment_ids, ops, self.seconds, strict=True))

    def explain(self) -> str:
        total = f"no model that can take it renders {sum(self.seconds):g}s in one clip: "
        if "extend" in self.operations:
            extended = [s for _, op, s in self.parts if op == "extend"]
            rest = [s for _, op, s in self.parts if op == "continue"]
            tail = (
                f", then {len(rest)} part(s) ({', '.join(f'{s:g}s' for s in rest)}) each from "
                "the previous part's last frame"
                if rest
                else ""
            )
            return (
                f"{total}{self.model} renders {self.seconds[0]:g}s and extends it "
                f"{len(extended)} time(s) by {extended[0]:g}s with its own extend operation"
                f"{tail}; each extension starts at the frame after the one before it"
            )
        lengths = ", ".join(f"{s:g}s" for s in self.seconds)
        return (
            f"{total}{len(self.seconds)} segments ({lengths}), each from the previous one's last "
            "frame, joined by cuts"
        )

    def to_dict(self) -> dict[str, object]:
        parts = [{"shot_id": k, "operation": op, "seconds": s} for k, op, s in self.parts]
        return {"shot_id": self.shot_id, "segments": list(self.segment_ids),
                "seconds": list(self.seconds), "operations": [p["operation"] for p in parts],
                "parts": parts, "model": self.model, "why": self.explain()}  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """A dry run over a storyboard: decisions in storyboard order, unroutable shots, forecast."""

    title: str
    mode: Mode
    providers: frozenset[str]
    decisions: dict[str, ShotDecision]
    unroutable: list[Unroutable]
    forecast: Forecast
    board: Storyboard  # as routed: long shots replaced by their segments (``long_shots``)
    long_shots: tuple[LongShot, ...] = ()
    variants: tuple[Any, ...] = ()
    """Per variant and shot, reframe or native: ``router.VariantChoice``s (``with_variants``)."""

    @property
    def ok(self) -> bool:
        return not self.unroutable

    def _quoted(self, split: dict[str, Any]) -> dict[str, Any]:
        """A long shot's dict with each part's routed model and quote."""
        return {**split, "parts": [_part_quote(self, part) for part in split["parts"]]}

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "mode": str(self.mode),
            "providers": sorted(self.providers),
            "shots": [d.to_dict() for d in self.decisions.values()],
            "unroutable": [u.to_dict() for u in self.unroutable],
            "long_shots": [self._quoted(s.to_dict()) for s in self.long_shots],
            "forecast": self.forecast.to_dict(),
            "variants": [choice.to_dict() for choice in self.variants],
        }


def _part_quote(plan: Plan, part: dict[str, Any]) -> dict[str, Any]:
    decision = plan.decisions.get(str(part["shot_id"]))
    primary = decision.primary if decision is not None else None
    if primary is None:
        return {**part, "model": None, "quote_usd": None}
    return {**part, "model": primary.model_id, "quote_usd": money.to_json(primary.quote_usd)}


def explain(decision: ShotDecision) -> dict[str, Any]:
    need = decision.need
    out: dict[str, Any] = {
        "shot": decision.shot_id,
        "scene": decision.scene_id,
        "mode": str(decision.mode),
        "shot_type": {"value": need.shot_type, "inferred": need.type_inferred},
        "seed": need.seed,
        "rejected": group_reasons(decision.rejected),
        "ranked_out": dict(decision.ranked_out),
    }
    primary = decision.primary
    if primary is None:
        out["chosen"] = None
        out["fallbacks"] = []
        out["summary"] = f"no enabled model can take shot {decision.shot_id}"
        return out
    out["chosen"] = {
        **brief(primary),
        "components": {k: round(v, 3) for k, v in primary.components.items()},
        "adaptations": list(primary.adaptations),
        "notes": list(primary.notes),
        "why": decision.chain_origin.get(primary.model_id, "best score"),
    }
    out["fallbacks"] = [
        {
            **brief(c),
            "adaptations": list(c.adaptations),
            "origin": decision.chain_origin.get(c.model_id, ""),
            "why_lower": why_lower(primary, c, decision.weights),
        }
        for c in decision.candidates[1:]
    ]
    out["continuity"] = {
        "scene_model": decision.scene_model,
        "break": decision.continuity_break,
        "reason": decision.continuity_reason,
    }
    out["summary"] = _summary(decision, primary)
    return out


def _summary(decision: ShotDecision, primary: Candidate) -> str:
    adapt = f", adapted: {', '.join(primary.adaptations)}" if primary.adaptations else ""
    cont = " (continuity break)" if decision.continuity_break else ""
    return (
        f"{primary.model_id} for ${primary.quote_usd:.2f} "
        f"({primary.duration_s:g}s {primary.width}x{primary.height}){adapt}{cont}; "
        f"{len(decision.candidates) - 1} fallbacks, {len(decision.rejected)} models rejected"
    )
