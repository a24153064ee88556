"""The sentences of a decision's explanation: why each other model ranked lower or was rejected.
(The explanation itself is ``ShotDecision.explanation``, in ``router._types``.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from foundation import money
from router._candidate import Candidate

_LABEL = {
    "quality": "quality tier",
    "acceptance": "gate acceptance",
    "cost": "expected cost",
    "speed": "render time",
}


def brief(c: Candidate) -> dict[str, Any]:
    return {
        "model": c.model_id,
        "quote_usd": money.to_json(c.quote_usd),
        "expected_cost_usd": money.to_json(c.expected_cost_usd),
        "score": round(c.score, 3),
    }


def why_lower(primary: Candidate, other: Candidate, weights: Mapping[str, float]) -> str:
    """Why ``other`` is behind ``primary``: the components where it loses most, weighted."""
    if other.score > primary.score:
        return (
            f"scores higher ({other.score:.2f} vs {primary.score:.2f}) but the scene stays on "
            f"{primary.model_id}"
        )
    gaps = []
    for name, weight in weights.items():
        gap = weight * (primary.components.get(name, 0.0) - other.components.get(name, 0.0))
        if gap > 0.005:
            gaps.append((gap, _component_text(name, primary, other)))
    for name, value in other.components.items():
        if name.startswith("penalty_") and value < -0.005:
            gaps.append((-value, _penalty_text(name, other)))
    gaps.sort(reverse=True)
    detail = "; ".join(text for _, text in gaps[:3]) or "near tie"
    return f"score {other.score:.2f} vs {primary.score:.2f}: {detail}"


def _component_text(name: str, primary: Candidate, other: Candidate) -> str:
    if name == "cost":
        return f"expected cost ${other.expected_cost_usd:.2f} vs ${primary.expected_cost_usd:.2f}"
    if name == "speed":
        return f"slower (p50 {other.render_p50_s:.0f}s vs {primary.render_p50_s:.0f}s)"
    if name == "acceptance":
        return f"lower gate acceptance ({other.acceptance:.0%} vs {primary.acceptance:.0%})"
    if name == "quality":
        return f"lower tier ({other.tier} vs {primary.tier})"
    return _LABEL.get(name, name)


def _penalty_text(name: str, other: Candidate) -> str:
    kind = name.removeprefix("penalty_")
    if kind == "adaptations":
        return "needs " + ", ".join(other.adaptations)
    if kind == "health":
        return "provider or model circuit breaker not closed"
    if kind == "lifecycle":
        return "deprecated"
    if kind == "budget":
        return "over its share of the budget"
    return kind


def group_reasons(rejected: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """``{reason: [models]}`` so that twenty 'provider not enabled' lines read as one."""
    grouped: dict[str, list[str]] = {}
    for model_id, reasons in rejected.items():
        for reason in reasons:
            grouped.setdefault(reason, []).append(model_id)
    return grouped
