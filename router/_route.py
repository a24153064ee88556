"""Per-shot routing: filter every model, score the survivors, keep scenes on one model, and order
the fallback chain (configured chain of the primary's tier first, then derived candidates)."""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from foundation.storyboard import AudioNeed, Mode, Scene, Shot, Storyboard
from registry import ModelKind, ModelSpec, Registry, Tier
from router._candidate import Candidate, ShotNeed
from router._filter import FilterContext, Fit, assess
from router._health import BreakerState, HealthSource
from router._policy import RoutingPolicy
from router._score import score_fit
from router._shot_type import infer_shot_type
from router._stats import PriorStats, StatsSource
from router._types import ShotDecision

_DRAFT_OUT = "draft tier (animatic) is used only when no generative model can take the shot"
_NO_STAND_IN = (
    "the local animatic does not stand in for a hosted model in a final render "
    "(pin `model: local/animatic` on the shot to ask for it)"
)


@dataclass(frozen=True)
class Evaluation:
    need: ShotNeed
    feasible: list[Candidate]
    rejected: dict[str, list[str]]


def shot_need(board: Storyboard, scene: Scene, shot: Shot, path: str) -> ShotNeed:
    shot_type, inferred = infer_shot_type(shot)
    seed = shot.seed
    # a voiced line is spoken by the shot's tts stage and mixed over the clip: the video model
    # renders the shot's own sound and is not asked to speak (``characters.video_spec``)
    voiced = board.voice_for(shot) is not None
    audio = AudioNeed.AMBIENT if voiced and shot.audio is AudioNeed.DIALOGUE else shot.audio
    if seed is None:
        seed = zlib.crc32(f"{board.title}/{shot.id}".encode()) & 0x7FFFFFFF
    return ShotNeed(
        shot_id=shot.id,
        scene_id=scene.id,
        path=path,
        prompt=board.prompt_for(shot),
        duration_s=shot.duration,
        width=board.output.width,
        height=board.output.height,
        fps=board.output.fps,
        audio=audio,
        shot_type=str(shot_type),
        type_inferred=inferred,
        seed=seed,
        has_image=bool(shot.reference_image) or shot.continues or shot.draws_keyframe,
        keyframe=shot.draws_keyframe,
        extends=shot.extends,
        reference_image=shot.reference_image,
        pinned_model=shot.model,
        dialogue=None if voiced else shot.dialogue,
        speaker=None if voiced else shot.speaker,
        negative_prompt=shot.negative_prompt,
        reference_images=len(board.references_for(shot)),
    )


def pin_ignored(registry: Registry, pin: str | None, providers: Collection[str]) -> bool:
    """A pin to a hosted model means nothing in a local-only run (``--providers local``, or
    ``auto`` with no hosted key set): the local animatic stands in."""
    if not pin or pin not in registry or frozenset(providers) != frozenset({"local"}):
        return False
    return registry.get(pin).provider != "local"


class Router:
    """Routes shots against one registry, provider set, policy, stats source and health book."""

    def __init__(
        self,
        registry: Registry,
        *,
        mode: Mode,
        providers: set[str] | frozenset[str],
        stats: StatsSource | None = None,
        health: HealthSource | None = None,
        policy: RoutingPolicy | None = None,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self.registry = registry
        self.mode = mode
        self.policy = policy or RoutingPolicy.for_mode(mode)
        self.ctx = FilterContext(self.policy, frozenset(providers), dict(unavailable or {}))
        self.stats: StatsSource = stats or PriorStats(registry)
        self.health = health
        # a shot's video stage is routed to video models only: llm/image/tts/music models serve
        # other stages (registry ``kind``) and never appear among a shot's candidates
        self._video = [m for m in registry.models if m.kind is ModelKind.VIDEO]

    def evaluate(self, need: ShotNeed, budget_share: float | None = None) -> Evaluation:
        feasible: list[Candidate] = []
        rejected: dict[str, list[str]] = {}
        pin = need.pinned_model
        if pin and self.policy.stills:
            rejected[pin] = ["pin kept for the final: a keyframes preview holds the keyframe"]
            need = replace(need, pinned_model=None)
        elif pin_ignored(self.registry, pin, self.ctx.providers):
            provider = self.registry.get(str(pin)).provider
            why = self.ctx.unavailable.get(provider, f"{provider} is not enabled")
            rejected[str(pin)] = [f"pin ignored, the local renderer takes the shot: {why}"]
            need = replace(need, pinned_model=None)
        for spec in self._video:
            fit = assess(spec, need, self.ctx)
            if isinstance(fit, list):
                rejected[spec.id] = [*rejected.get(spec.id, []), *fit]
            else:
                feasible.append(self._candidate(spec, fit, need, budget_share))
        feasible.sort(key=lambda c: c.score, reverse=True)
        pin = need.pinned_model
        if pin and pin not in self.registry:
            close = difflib.get_close_matches(pin, [m.id for m in self._video], n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            rejected[pin] = [f"pinned by the shot but not in the registry{hint}"]
        elif pin and self.registry.get(pin).kind is not ModelKind.VIDEO:
            kind = self.registry.get(pin).kind
            rejected[pin] = [f"pinned by the shot but {pin} is a {kind} model, not a video model"]
        return Evaluation(need, feasible, rejected)

    def _candidate(
        self, spec: ModelSpec, fit: Fit, need: ShotNeed, budget_share: float | None
    ) -> Candidate:
        stats = self.stats.stats_for(spec.id, need.shot_type)
        health = self.health.state(spec.id) if self.health else BreakerState.CLOSED
        score = score_fit(spec, fit, need, stats, health, self.policy, budget_share)
        notes = fit.notes
        if health is BreakerState.OPEN:
            notes = (*notes, "circuit breaker open: ranked last until it recovers")
        elif health is BreakerState.HALF_OPEN:
            notes = (*notes, "circuit breaker half-open: probing")
        return Candidate(
            model_id=spec.id,
            provider=spec.provider,
            provider_model=spec.provider_model,
            quote_usd=fit.quote_usd,
            duration_s=fit.duration_s,
            width=fit.width,
            height=fit.height,
            fps=fit.fps,
            audio=fit.audio,
            adaptations=fit.adaptations,
            score=score.value,
            resolution=fit.resolution,
            tier=str(spec.tier),
            expected_cost_usd=score.expected_cost_usd,
            acceptance=stats.acceptance_rate,
            render_p50_s=stats.render_p50_s,
            render_p95_s=stats.render_p95_s,
            seed_supported=spec.seed,
            expected_attempts=score.expected_attempts,
            health=str(health),
            components=score.components,
            notes=notes,
            params=spec.params,
        )

    def _eligible(self, ev: Evaluation) -> tuple[list[Candidate], dict[str, str]]:
        if not self.policy.draft_last_resort:
            return ev.feasible, {}
        better = [c for c in ev.feasible if c.tier != Tier.DRAFT]
        drafts = [c for c in ev.feasible if c.tier == Tier.DRAFT]
        if not better and self._no_draft_stand_in(ev.need, drafts):
            return [], {c.model_id: _NO_STAND_IN for c in drafts}
        if not better:
            return ev.feasible, {}
        return better, {c.model_id: _DRAFT_OUT for c in drafts}

    def _no_draft_stand_in(self, need: ShotNeed, drafts: Sequence[Candidate]) -> bool:
        """A final render with a hosted provider enabled never puts the animatic (a text card) in
        the middle of a paid video: the shot is refused at planning unless it pins a draft model."""
        pinned = any(c.model_id == need.pinned_model for c in drafts)
        hosted = bool(self.ctx.providers - {"local"})
        return self.mode is Mode.FINAL and hosted and not pinned

    def can_take(self, need: ShotNeed) -> bool:
        """Whether some model would render this shot (filters and the policy's draft rule)."""
        eligible, _ = self._eligible(self.evaluate(need))
        return bool(eligible)

    def _is_open(self, model_id: str) -> bool:
        return self.health is not None and self.health.state(model_id) is BreakerState.OPEN

    def decide(self, ev: Evaluation, scene_model: str | None = None) -> ShotDecision:
        eligible, ranked_out = self._eligible(ev)
        if not eligible:
            return self._decision(ev, [], ranked_out, scene_model, {})
        by_id = {c.model_id: c for c in eligible}
        use_scene = self.policy.continuity and scene_model in by_id
        primary = by_id[scene_model] if use_scene and scene_model else eligible[0]
        origin = {primary.model_id: "scene continuity" if use_scene else "best score"}
        chain = self._chain(primary, eligible, origin)
        limit = 1 + max(self.policy.max_fallbacks, 0)
        for index, extra in enumerate(chain[limit:], start=limit + 1):
            ranked_out[extra.model_id] = (
                f"ranked #{index}, past the {self.policy.max_fallbacks}-fallback limit"
            )
        return self._decision(ev, chain[:limit], ranked_out, scene_model, origin)

    def _decision(
        self,
        ev: Evaluation,
        chain: list[Candidate],
        ranked_out: dict[str, str],
        scene_model: str | None,
        origin: dict[str, str],
    ) -> ShotDecision:
        broke = bool(chain) and scene_model is not None and chain[0].model_id != scene_model
        return ShotDecision(
            shot_id=ev.need.shot_id,
            scene_id=ev.need.scene_id,
            path=ev.need.path,
            mode=self.mode,
            need=ev.need,
            candidates=chain,
            rejected=ev.rejected,
            ranked_out=ranked_out,
            continuity_break=broke,
            continuity_reason=self._break_reason(ev, scene_model, ranked_out) if broke else None,
            scene_model=scene_model,
            weights=self.policy.weights,
            chain_origin=origin,
        )

    def _chain(
        self, primary: Candidate, eligible: list[Candidate], origin: dict[str, str]
    ) -> list[Candidate]:
        by_id = {c.model_id: c for c in eligible}
        tier = Tier(primary.tier)
        chain = [primary]
        for model_id in self.registry.chain(tier):
            candidate = by_id.get(model_id)
            if candidate and model_id not in origin and not self._is_open(model_id):
                chain.append(candidate)
                origin[model_id] = f"configured fallback for tier {tier}"
        for candidate in eligible:
            if candidate.model_id not in origin:
                chain.append(candidate)
                origin[candidate.model_id] = "derived: next best score"
        return chain

    @staticmethod
    def _break_reason(
        ev: Evaluation, scene_model: str | None, ranked_out: Mapping[str, str]
    ) -> str:
        if scene_model in ev.rejected:
            return f"scene model {scene_model} cannot take this shot: {ev.rejected[scene_model][0]}"
        if scene_model is not None and scene_model in ranked_out:
            return f"scene model {scene_model}: {ranked_out[scene_model]}"
        return f"scene model {scene_model} is not available for this shot"

    def scene_model(self, evaluations: Sequence[Evaluation]) -> str | None:
        """The model that can take the most shots of the scene, then the best total score.
        Models behind an open breaker are not picked while another model can serve."""
        if not self.policy.continuity:
            return None
        tally: dict[str, tuple[int, float]] = {}
        open_ids: set[str] = set()
        for ev in evaluations:
            eligible, _ = self._eligible(ev)
            for c in eligible:
                covered, total = tally.get(c.model_id, (0, 0.0))
                tally[c.model_id] = (covered + 1, total + c.score)
                if c.health == BreakerState.OPEN:
                    open_ids.add(c.model_id)
        if not tally:
            return None
        pool = [m for m in tally if m not in open_ids] or list(tally)
        return max(pool, key=lambda m: tally[m])

    def route_scene(
        self, needs: Sequence[ShotNeed], shares: Sequence[float | None] | None = None
    ) -> list[ShotDecision]:
        budget = shares or [None] * len(needs)
        evaluations = [
            self.evaluate(need, share) for need, share in zip(needs, budget, strict=True)
        ]
        chosen = self.scene_model(evaluations)
        return [self.decide(ev, chosen) for ev in evaluations]
