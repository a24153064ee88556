"""Routing an ``image`` stage (a shot's keyframe, a character's reference sheet).

A keyframe is the first frame of the next video model's clip, so the image model must draw the
video's aspect (or a crop of at most ``max_crop`` of its pixels), read the shot's reference images
(``references``, at most ``caps.reference_images``), take the prompt and draw ``n`` images in one
request. Each model left out is named with the reason; the quote of each candidate is priced on
the meters it bills (images, megapixels or tokens) from the registry's usage prices.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from registry import ImageTarget, ModelKind, ModelSpec, Registry, aspect_name, image_target
from router._health import HealthSource
from router._stage import StageDecision, route_stage

PROMPT_TOKEN_CHARS = 4  # ~4 characters a token, for a quote before the answer reports usage


@dataclass(frozen=True)
class ImageNeeds:
    """What one image request asks: a ``width`` x ``height`` frame (the video's), ``references``
    conditioning images, a prompt of ``prompt_chars``, ``n`` images, and optionally a negative
    prompt or a seed that must be honoured."""

    width: int
    height: int
    references: int = 0
    prompt_chars: int = 0
    n: int = 1
    max_crop: float = 0.0
    negative_prompt: bool = False
    seed: bool = False


def refusal(spec: ModelSpec, needs: ImageNeeds) -> str | None:
    """Why ``spec`` cannot serve ``needs`` (None: it can)."""
    caps = spec.caps
    if needs.references > caps.get("reference_images", 0):
        have = caps.get("reference_images", 0)
        return f"takes {have} reference image(s), the stage has {needs.references}"
    limit = caps.get("max_prompt_chars")
    if limit is not None and needs.prompt_chars > limit:
        return f"prompt limit {limit} chars, the prompt has {needs.prompt_chars}"
    if needs.n > caps.get("max_images", 1):
        return f"draws at most {caps.get('max_images', 1)} image(s) a request, the stage asks {needs.n}"
    if needs.negative_prompt and not caps.get("negative_prompt"):
        return "takes no negative prompt"
    if needs.seed and not caps.get("seed"):
        return "takes no seed"
    ratio = max(needs.width, needs.height) / min(needs.width, needs.height)
    if caps.get("max_aspect") and ratio > caps["max_aspect"]:
        return f"draws aspects up to {caps['max_aspect']:g}:1, the frame is {ratio:.2f}:1"
    target = image_target(caps, needs.width, needs.height)
    if target.crop > needs.max_crop + 1e-9:
        drawn = target.size or target.aspect
        return (
            f"draws no {aspect_name(needs.width, needs.height)} frame: its closest, {drawn}, "
            f"loses {target.crop:.0%} to the crop (allowed {needs.max_crop:.0%})"
        )
    return None


def expected_usage(spec: ModelSpec, needs: ImageNeeds) -> dict[str, float]:
    """The usage one request of ``needs`` is expected to bill on ``spec``'s meters."""
    assert spec.usage_price is not None
    meters = spec.usage_price.meters
    target = image_target(spec.caps, needs.width, needs.height)
    usage: dict[str, float] = {}
    if "images" in meters:
        usage["images"] = needs.n
    if "megapixels" in meters:
        usage["megapixels"] = needs.n * billed_megapixels(target)
    if "output_tokens" in meters:
        per_image = spec.caps.get("tokens_per_image") or 0
        usage["output_tokens"] = needs.n * per_image * max(1.0, target.megapixels / 1.048576)
    if "input_tokens" in meters:
        usage["input_tokens"] = max(1, needs.prompt_chars // PROMPT_TOKEN_CHARS)
    if "image_input_tokens" in meters:
        usage["image_input_tokens"] = needs.references * (
            spec.caps.get("tokens_per_reference") or 0
        )
    return usage


def billed_megapixels(target: ImageTarget) -> float:
    """fal bills FLUX schnell per megapixel, rounded up to whole ones of 1024x1024 pixels
    (UNCERTAIN: a 3P table; ``adapters._images_fal.billed_megapixels`` meters the same)."""
    return float(max(1, -(-target.width * target.height // (1024 * 1024))))


def route_image_stage(
    registry: Registry,
    providers: Collection[str],
    needs: ImageNeeds,
    *,
    health: HealthSource | None = None,
    pin: str | None = None,
    today: date | None = None,
    allow_unverified: bool = False,
    max_fallbacks: int = 2,
) -> StageDecision:
    """Route one image request: the cheapest healthy model that draws the frame's aspect, reads
    the references and takes the prompt, then its fallbacks; ``rejected`` names why each other
    image model was left out. ``image_target(chain[i].caps, width, height)`` says what to ask of
    each (``size`` or ``aspect``)."""
    return route_stage(
        registry,
        ModelKind.IMAGE,
        providers,
        usage=lambda spec: expected_usage(spec, needs),
        accepts=lambda spec: refusal(spec, needs),
        health=health,
        pin=pin,
        today=today,
        allow_unverified=allow_unverified,
        max_fallbacks=max_fallbacks,
    )


def targets(decision: StageDecision, needs: ImageNeeds) -> Mapping[str, ImageTarget]:
    """Each chosen model's ``ImageTarget`` for the stage's frame."""
    return {c.model_id: image_target(c.caps, needs.width, needs.height) for c in decision.chain}
