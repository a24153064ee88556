"""Per shot and per variant: reframe the rendered shot, or render it again natively in the
variant's aspect.

The rule, for each variant of ``output.variants`` and each shot it applies to (``shots``, default
all), in storyboard order:

- ``render: reframe`` (a plain string): reframe, $0.
- the *native chain* is the shot's own chain (primary first) kept to the models the hard filter
  (``assess``) lets render the shot at the variant's aspect, at the main output's pixel count
  (16:9 1280x720 -> 9:16 720x1280), with the same duration, fps, audio and inputs.
- ``render: native``: native on the first model of that chain; no such model refuses the
  storyboard at planning (``output.variants[i]``), before any spend.
- ``render: auto``: native only when the crop would keep less than ``KEEP_MIN`` of the rendered
  picture's area (16:9 -> 9:16 keeps 32%, -> 1:1 keeps 56%, -> 4:5 keeps 45%), the native chain
  is not empty, and the extra quote fits the budget's headroom (after the cheapest routing, the
  other stages and every ``native`` render); else reframed, with the reason.

A native render's cost is its first model's quote, on top of the shot's; a reframe costs $0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from foundation import money
from foundation.errors import Problem
from foundation.storyboard import Storyboard
from foundation.variants import Variant, VariantSpec, aspect_of, kept_share
from router._candidate import Candidate
from router._filter import assess
from router._route import Router
from router._types import Plan, ShotDecision

KEEP_MIN = 0.5
"""``auto`` renders natively when the crop keeps less than this share of the picture's area."""


@dataclass(frozen=True)
class VariantChoice:
    """How one shot gets one variant: ``reframe`` ($0) or ``native`` (an extra render on
    ``candidates[0]``, falling back along ``candidates``), with the extra quote and why."""

    shot_id: str
    label: str
    index: int  # output.variants[index]
    render: Literal["reframe", "native"]
    kept: float
    quote_usd: float
    reason: str
    candidates: tuple[Candidate, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        native = self.candidates[0] if self.candidates else None
        return {
            "shot_id": self.shot_id, "variant": self.label, "render": self.render,
            "kept": round(self.kept, 3), "extra_usd": money.to_json(self.quote_usd),
            "model": native.model_id if native else None,
            "size": f"{native.width}x{native.height}" if native else None,
            "fallbacks": [c.model_id for c in self.candidates[1:]], "reason": self.reason,
        }  # fmt: skip


def native_size(variant_text: str, width: int, height: int) -> tuple[int, int]:
    """The size a native render of ``variant_text`` is asked at: the variant's exact aspect at
    about the main output's pixel count, even sides (320x180 -> 9:16: 180x320)."""
    aspect = aspect_of(variant_text)
    area = width * height
    w = round((area * aspect) ** 0.5 / 2) * 2
    return w, round(w / aspect / 2) * 2


def native_chain(
    router: Router, decision: ShotDecision, size: tuple[int, int]
) -> tuple[list[Candidate], dict[str, list[str]]]:
    """The models of the shot's chain able to render it at ``size`` (same order), and why the
    others cannot."""
    need = replace(decision.need, width=size[0], height=size[1])
    chain, rejected = [], {}
    for candidate in decision.candidates:
        spec = router.registry.get(candidate.model_id)
        fit = assess(spec, need, router.ctx)
        if isinstance(fit, list):
            rejected[candidate.model_id] = fit
            continue
        chain.append(replace(
            candidate, quote_usd=fit.quote_usd, duration_s=fit.duration_s, width=fit.width,
            height=fit.height, resolution=fit.resolution, fps=fit.fps, audio=fit.audio,
            adaptations=fit.adaptations,
        ))  # fmt: skip
    return chain, rejected


def _applies(spec: VariantSpec, decision: ShotDecision, origins: dict[str, str]) -> bool:
    shot = origins.get(decision.shot_id, decision.shot_id)
    return spec.render != "reframe" and (spec.shots is None or shot in spec.shots)


@dataclass(frozen=True)
class _Asked:
    """One variant as the rule reads it: its spec, resolution, kept share and native size."""

    index: int
    spec: VariantSpec
    variant: Variant
    kept: float
    size: tuple[int, int]


_Pending = tuple[_Asked, ShotDecision, list[Candidate]]


def _first_pass(
    asked: _Asked, decision: ShotDecision, router: Router, origins: dict[str, str],
    problems: list[Problem],
) -> VariantChoice | _Pending:  # fmt: skip
    """The choice that needs no budget (reframe, or a ``native`` render), or an ``auto`` native
    candidate left to the budget; a ``native`` variant without a model adds a problem."""
    spec, variant, kept = asked.spec, asked.variant, asked.kept
    reframe = VariantChoice(decision.shot_id, variant.label, asked.index, "reframe", kept, 0.0, "")
    if not _applies(spec, decision, origins) or not decision.candidates:
        why = "render: reframe" if spec.render == "reframe" else "not in its shots"
        return replace(reframe, reason=f"{why}: cropped, no extra render")
    chain, rejected = native_chain(router, decision, asked.size)
    if not chain:
        why = "; ".join(f"{m}: {', '.join(r)}" for m, r in rejected.items())
        text = f"no model of shot {decision.shot_id}'s chain renders {spec.aspect} ({why})"
        if spec.render == "native":
            problems.append(Problem(f"output.variants[{asked.index}]", text))
        return replace(reframe, reason=text + ": reframed")
    if spec.render == "native":
        return _native(decision, asked, chain, "render: native")
    if kept >= KEEP_MIN:
        why = f"the crop keeps {kept:.0%} of the picture (native under {KEEP_MIN:.0%})"
        return replace(reframe, reason=why)
    return asked, decision, chain


def choose_variants(
    board: Storyboard,
    decisions: dict[str, ShotDecision],
    router: Router,
    headroom_usd: float | None,
    origins: dict[str, str] | None = None,
) -> tuple[list[VariantChoice], list[Problem]]:
    """Every (variant, shot) choice in storyboard order, and the problems that refuse the board
    (a ``native`` variant some shot's chain cannot render). ``headroom_usd`` is what the budget
    leaves after the cheapest routing and the other stages (None: no budget); ``origins`` maps a
    long shot's segments to the shot the storyboard names. ``auto`` renders are granted in
    storyboard order while the headroom left by the ``native`` ones lasts."""
    out, problems = board.output, list[Problem]()
    found: list[VariantChoice | _Pending] = []
    specs = zip(out.variant_specs(), out.variant_list(), strict=True)
    for index, (spec, variant) in enumerate(specs):
        kept = kept_share(variant, out.width, out.height)
        asked = _Asked(index, spec, variant, kept, native_size(spec.aspect, out.width, out.height))
        found += [
            _first_pass(asked, d, router, origins or {}, problems) for d in decisions.values()
        ]
    forced = sum(c.quote_usd for c in found if isinstance(c, VariantChoice))
    left = None if headroom_usd is None else headroom_usd - forced
    choices = []
    for item in found:
        if isinstance(item, VariantChoice):
            choices.append(item)
            continue
        asked, decision, chain = item
        quote = chain[0].quote_usd
        if left is not None and quote > left + 1e-9:
            why = f"the budget leaves ${max(left, 0):.2f}, a native render quotes ${quote:.2f}"
            choices.append(VariantChoice(decision.shot_id, asked.variant.label, asked.index,
                                         "reframe", asked.kept, 0.0, why + ": reframed"))  # fmt: skip
            continue
        left = None if left is None else left - quote
        why = f"the crop would keep {asked.kept:.0%} of the picture (native under {KEEP_MIN:.0%})"
        choices.append(_native(decision, asked, chain, why))
    return choices, problems


def _native(
    decision: ShotDecision, asked: _Asked, chain: list[Candidate], why: str
) -> VariantChoice:
    first = chain[0]
    reason = f"{why}: rendered at {first.width}x{first.height} by {first.model_id}"
    return VariantChoice(decision.shot_id, asked.variant.label, asked.index, "native", asked.kept,
                         first.quote_usd, reason, tuple(chain))  # fmt: skip


def with_variants(
    plan: Plan, router: Router, headroom_usd: float | None
) -> tuple[Plan, list[Problem]]:
    """``plan`` with its variant choices (``Plan.variants``), and the problems refusing it."""
    origins = {seg: split.shot_id for split in plan.long_shots for seg in split.segment_ids}
    choices, problems = choose_variants(plan.board, plan.decisions, router, headroom_usd, origins)
    return replace(plan, variants=tuple(choices)), problems
