"""A validated registry entry (``registry._schema.ModelIn``) built into the frozen ``ModelSpec`` the
router reads: its sizes, aspects, priors and prices."""

from __future__ import annotations

from registry._kind_spec import non_video_spec
from registry._kinds import ModelKind
from registry._pricing import RESOLUTIONS
from registry._schema import DEFAULT_ACCEPTANCE, DEFAULT_P50, RATIO_RE, ModelIn
from registry._shapes import SizeOption, SizeSpec
from registry._spec import (
    Inputs,
    Lifecycle,
    Limits,
    ModelSpec,
    Priors,
    TypePrior,
)


def size_for(ratio: str, resolution: str) -> SizeOption:
    """``16:9`` at ``720p`` -> 1280x720; the short side is the resolution, both sides even."""
    match = RATIO_RE.match(ratio)
    assert match is not None
    a, b = int(match[1]), int(match[2])
    short = RESOLUTIONS[resolution]
    long_side = round(short * max(a, b) / min(a, b) / 2) * 2
    width, height = (long_side, short) if a >= b else (short, long_side)
    return SizeOption(width, height, resolution)


def _size_spec(raw: ModelIn) -> SizeSpec:
    by_res = {label: d.build() for label, d in raw.resolution_durations.items()}
    if raw.size_range is not None:
        return SizeSpec(
            any_size=True,
            max_width=raw.size_range.max_width,
            max_height=raw.size_range.max_height,
            durations_by_resolution=by_res,
        )
    from registry._pricing import resolution_label

    options: list[SizeOption] = []
    for text in raw.sizes:
        width, height = (int(part) for part in text.split("x"))
        options.append(SizeOption(width, height, resolution_label(width, height)))
    options += [size_for(r, res) for res in raw.resolutions for r in raw.aspect_ratios]
    unique = list(dict.fromkeys(options))
    return SizeSpec(options=tuple(unique), durations_by_resolution=by_res)


def _aspects(raw: ModelIn, sizes: SizeSpec) -> tuple[str, ...]:
    from math import gcd

    ratios = list(raw.aspect_ratios)
    for option in sizes.options:
        divisor = gcd(option.width, option.height)
        ratio = f"{option.width // divisor}:{option.height // divisor}"
        if ratio not in ratios and not raw.aspect_ratios:
            ratios.append(ratio)
    return tuple(ratios)


def _priors(raw: ModelIn) -> Priors:
    acc = raw.priors.acceptance or DEFAULT_ACCEPTANCE[raw.tier]
    p50 = raw.priors.render_p50_s or DEFAULT_P50[raw.speed]
    p95 = raw.priors.render_p95_s or p50 * 3
    base = TypePrior(acc, p50, max(p95, p50))
    by_type: dict[str, TypePrior] = {
        kind: TypePrior(
            p.acceptance or acc,
            p.render_p50_s or p50,
            max(p.render_p95_s or p95, p.render_p50_s or p50),
        )
        for kind, p in raw.priors.by_type.items()
    }
    return Priors(base, by_type)


def build_spec(raw: ModelIn) -> ModelSpec:
    if raw.kind is not ModelKind.VIDEO:
        return non_video_spec(raw, _priors(raw))
    assert raw.durations is not None
    assert raw.price is not None
    assert raw.max_prompt_chars is not None
    sizes = _size_spec(raw)
    return ModelSpec(
        id=raw.id,
        provider=raw.provider,
        provider_model=raw.provider_model,
        tier=raw.tier,
        speed=raw.speed,
        durations=raw.durations.build(),
        sizes=sizes,
        aspect_ratios=_aspects(raw, sizes),
        fps=() if raw.fps == "any" else tuple(sorted(set(raw.fps))),
        audio=raw.audio,
        dialogue=raw.dialogue,
        inputs=Inputs(
            **raw.inputs.model_dump()
            | {
                "reference_seconds": tuple(raw.inputs.reference_seconds),
                "reference_aspects": tuple(raw.inputs.reference_aspects),
            }
        ),
        seed=raw.seed,
        max_prompt_chars=raw.max_prompt_chars,
        prompt_units=raw.prompt_units,
        limits=Limits(raw.limits.concurrency, raw.limits.rpm, raw.limits.window_s),
        price=raw.price.build(),
        lifecycle=Lifecycle(**raw.lifecycle.model_dump()),
        priors=_priors(raw),
        enabled=raw.enabled,
        params=dict(raw.params),
        notes=raw.notes,
        extend=raw.extend.build() if raw.extend is not None else None,
    )
