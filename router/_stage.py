"""Routing a non-video stage (a storyboard draft, a shot's voice; later keyframes, music).

The same rules as a shot's video stage, reduced to what such a stage has: filter by kind, enabled
and lifecycle, provider, verification and required capabilities (each rejection with its reason),
rank healthy before half-open before open breakers, then by the estimated cost of the expected
usage from the registry's usage prices, and keep a fallback chain.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from foundation import clock
from registry import LifecycleStatus, ModelKind, ModelSpec, Registry
from router._health import BreakerState, HealthSource

_RANK = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True)
class StageCandidate:
    model_id: str
    provider: str
    provider_model: str
    estimate_usd: float
    health: str
    caps: Mapping[str, Any]


@dataclass(frozen=True)
class StageDecision:
    """``chain``: the primary then its fallbacks; ``rejected``: model id -> reasons."""

    kind: ModelKind
    chain: tuple[StageCandidate, ...]
    rejected: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def quote_usd(self) -> float:
        """The stage's quote: its first model's estimate (0 when no model can serve). The one
        figure ``shotline plan`` prints, the budget check counts and a commit's quote bills."""
        return self.chain[0].estimate_usd if self.chain else 0.0

    def explain(self) -> str:
        if self.chain:
            head = self.chain[0]
            rest = ", ".join(c.model_id for c in self.chain[1:]) or "none"
            return (
                f"{self.kind}: {head.model_id} (est. ${head.estimate_usd:.4f}, {head.health}); "
                f"fallbacks: {rest}"
            )
        reasons = "; ".join(f"{m}: {', '.join(r)}" for m, r in sorted(self.rejected.items()))
        return f"no {self.kind} model can serve: {reasons or 'none in the registry'}"


def _reasons(
    spec: ModelSpec,
    providers: Collection[str],
    requires: Mapping[str, Any],
    day: date,
    allow_unverified: bool,
    at_least: Mapping[str, float] | None = None,
) -> list[str]:
    why: list[str] = []
    if not spec.enabled:
        why.append("disabled in the registry")
    status = spec.lifecycle.status(day)
    if status in (LifecycleStatus.RETIRED, LifecycleStatus.UPCOMING):
        why.append(f"lifecycle {status}")
    if spec.provider not in providers:
        why.append(f"provider {spec.provider} is not enabled")
    if spec.lifecycle.unverified and not allow_unverified:
        why.append("unverified in the registry (set SHOTLINE_ALLOW_UNVERIFIED=1 to route to it)")
    for key, wanted in requires.items():
        if spec.caps.get(key) != wanted:
            why.append(f"{key} is {spec.caps.get(key)!r}, the stage needs {wanted!r}")
    for key, least in (at_least or {}).items():
        have = spec.caps.get(key)
        if not isinstance(have, int | float) or have < least:
            why.append(f"{key} is {have!r}, the stage needs at least {least:g}")
    return why


def route_stage(
    registry: Registry,
    kind: ModelKind,
    providers: Collection[str],
    *,
    usage: Mapping[str, float] | Callable[[ModelSpec], Mapping[str, float]],
    requires: Mapping[str, Any] | None = None,
    at_least: Mapping[str, float] | None = None,
    accepts: Callable[[ModelSpec], str | None] | None = None,
    health: HealthSource | None = None,
    pin: str | None = None,
    today: date | None = None,
    allow_unverified: bool = False,
    max_fallbacks: int = 2,
) -> StageDecision:
    """Route one ``kind`` stage expected to use ``usage`` (meter -> units, or a function of the
    model giving them on the meters it prices). A ``pin`` that can
    serve goes first; ``requires`` names capabilities that must equal (``structured_output``),
    ``at_least`` numeric capabilities that must reach a value (``max_input_chars``), and
    ``accepts`` returns why a model cannot serve this stage's input (None: it can)."""
    day = today or clock.today()
    rejected: dict[str, list[str]] = {}
    ranked: list[tuple[tuple[int, int, float], StageCandidate]] = []
    for spec in registry.models:
        if spec.kind is not kind:
            continue
        why = _reasons(spec, providers, requires or {}, day, allow_unverified, at_least)
        refusal = accepts(spec) if accepts is not None else None
        if refusal:
            why.append(refusal)
        if spec.usage_price is None:
            why.append("no usage price")
        if why:
            rejected[spec.id] = why
            continue
        assert spec.usage_price is not None
        try:
            used = usage(spec) if callable(usage) else usage
            estimate = spec.usage_price.cost(used, on=day).usd
        except KeyError as exc:
            rejected[spec.id] = [f"cannot be priced: {exc.args[0]}"]
            continue
        state = health.state(spec.id) if health else BreakerState.CLOSED
        candidate = StageCandidate(
            spec.id, spec.provider, spec.provider_model, estimate, str(state), spec.caps
        )
        ranked.append(((0 if spec.id == pin else 1, _RANK[state], estimate), candidate))
    if pin and pin not in {c.model_id for _, c in ranked}:
        rejected.setdefault(pin, []).append(f"pinned but cannot serve the {kind} stage")
    ranked.sort(key=lambda pair: pair[0])
    chain = tuple(c for _, c in ranked[: 1 + max(max_fallbacks, 0)])
    return StageDecision(kind, chain, rejected)


def stage_providers(choice: str, hosted: Mapping[str, str], settings: Any) -> frozenset[str]:
    """The providers a shot's stage may use under ``--providers``: every one when emulated, the
    local model alone when local, the ``hosted`` ones whose key field is set in ``settings`` when
    live (and local too with auto). ``hosted``: provider -> its settings key field."""
    if choice == "emulated":
        return frozenset({*hosted, "local"})
    if choice == "local":
        return frozenset({"local"})
    keyed = {p for p, key in hosted.items() if getattr(settings, key, None) is not None}
    return frozenset(keyed | ({"local"} if choice == "auto" else set()))


def hosted_first(
    route: Callable[[Collection[str]], StageDecision],
    providers: Collection[str],
    mode: str,
    *,
    stand_in: bool = False,
) -> StageDecision:
    """A stage routed among the hosted providers; the local model instead when the run is local,
    or in a preview when no hosted model can serve (the hosted models' reasons kept, and the local
    models' own: the hosted route only says their provider was left out). ``stand_in``: the
    local model's output is a fair stand-in in a preview (nothing paid is made from it), so in a
    preview it also ends the hosted chain, the fallback when every hosted model fails at run
    time."""
    hosted = set(providers) - {"local"}
    decision = route(hosted)
    if "local" not in providers or (hosted and mode != "preview"):
        return decision
    if decision.chain and not stand_in:
        return decision
    local = route({"local"})
    chain = decision.chain + local.chain
    chosen = {c.model_id for c in chain}
    local_why = {m: r for m, r in local.rejected.items() if m.startswith("local/")}
    why = {**local.rejected, **decision.rejected, **local_why}
    return StageDecision(decision.kind, chain, {m: r for m, r in why.items() if m not in chosen})
