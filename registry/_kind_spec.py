"""Building the ``ModelSpec`` of a non-video model (``registry._kinds``)."""

from __future__ import annotations

from typing import Any

from registry._kinds import CAPS_BY_KIND
from registry._pricing import PriceUnit, Pricing
from registry._shapes import DurationSpec, SizeSpec
from registry._spec import (
    Inputs,
    Lifecycle,
    Limits,
    ModelSpec,
    Priors,
)


def non_video_spec(raw: Any, priors: Priors) -> ModelSpec:
    """A non-video model: the clip fields are neutral (no sizes, no clip price) so nothing that
    prices or sizes a video clip can mistake it for one; its kind, caps and usage price carry it.
    ``raw`` is the validated ``registry._schema.ModelIn`` (not imported: it imports this module)."""
    caps = CAPS_BY_KIND[raw.kind].model_validate(raw.capabilities).model_dump()
    return ModelSpec(
        id=raw.id,
        provider=raw.provider,
        provider_model=raw.provider_model,
        tier=raw.tier,
        speed=raw.speed,
        durations=DurationSpec(grid=(1.0,)),
        sizes=SizeSpec(),
        aspect_ratios=(),
        fps=(),
        audio=raw.audio,
        dialogue=False,
        inputs=Inputs(**raw.inputs.model_dump()),
        seed=raw.seed,
        max_prompt_chars=raw.max_prompt_chars or 1_000_000,
        limits=Limits(raw.limits.concurrency, raw.limits.rpm, raw.limits.window_s),
        price=Pricing(unit=PriceUnit.PER_REQUEST, points=()),
        lifecycle=Lifecycle(**raw.lifecycle.model_dump()),
        priors=priors,
        enabled=raw.enabled,
        params=dict(raw.params),
        notes=raw.notes,
        kind=raw.kind,
        usage_price=raw.usage_price.build() if raw.usage_price else None,
        caps=caps,
    )
