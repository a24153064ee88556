"""The hard filter: can a model honour a shot, and with which policy-allowed adaptations?

``assess`` returns a ``Fit`` (the request after adaptations, each one recorded) or the list of
reasons the model is out. Reasons are short sentences meant for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from foundation.storyboard import AudioNeed
from foundation.variants import aspect_of
from registry import (
    TIER_RANK,
    AudioSupport,
    DurationSpec,
    LifecycleStatus,
    ModelSpec,
    PriceUnavailableError,
    SizeOption,
    resolution_label,
)
from router._candidate import ShotNeed
from router._policy import RoutingPolicy

EPS = 1e-6
_PENALTY = {"pad": 0.01, "trim": 0.03, "up": 0.15, "down": 0.02, "fps": 0.01, "aspect": 0.03}


_STILL_ONLY = "holds a still picture: used only by a preview of stills (preview.kind)"
_STILL_OUT = "a keyframes preview holds each shot's keyframe: no video model renders it"

_Shape = tuple[SizeOption, float, list[str], float]
_Options = list[tuple[SizeOption, list[str], float]] | str


@dataclass(frozen=True)
class Fit:
    duration_s: float
    width: int
    height: int
    resolution: str
    fps: float
    audio: bool
    quote_usd: float
    adaptations: list[str]
    penalty: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FilterContext:
    """What stays fixed over one routing run; memoises per-model work that does not depend on
    the shot (lifecycle, provider, tier) or only on the output size."""

    policy: RoutingPolicy
    providers: frozenset[str]
    unavailable: Mapping[str, str]
    _static: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)
    _sizes: dict[tuple[str, int, int], _Options] = field(
        default_factory=dict, repr=False, compare=False
    )

    def static_reasons(self, spec: ModelSpec) -> list[str]:
        found = self._static.get(spec.id)
        if found is None:
            found = self._static[spec.id] = _static_gate(spec, self)
        return found

    def size_options(self, spec: ModelSpec, need: ShotNeed) -> _Options:
        key = (spec.id, need.width, need.height)
        found = self._sizes.get(key)
        if found is None:
            found = self._sizes[key] = _size_options(spec, need, self.policy)
        return found


def assess(spec: ModelSpec, need: ShotNeed, ctx: FilterContext) -> Fit | list[str]:
    if need.pinned_model and spec.id != need.pinned_model:
        return [f"the shot pins model {need.pinned_model}"]
    gate = ctx.static_reasons(spec)
    if gate:
        return list(gate)
    reasons = _input_reasons(spec, need)
    adaptations: list[str] = []
    penalty = 0.0
    audio, audio_reason = _audio(spec, need)
    if audio_reason:
        if not ctx.policy.allow_drop_ambient_audio or need.audio is AudioNeed.DIALOGUE:
            reasons.append(audio_reason)
        else:
            adaptations.append("audio ambient -> none (model renders silent)")
            penalty += 0.1
    shape = _shape(spec, need, ctx)
    if isinstance(shape, str):
        reasons.append(shape)
    fps = _fps(spec, need, ctx.policy)
    if isinstance(fps, str):
        reasons.append(fps)
    if reasons or isinstance(shape, str) or isinstance(fps, str):
        return reasons
    option, duration, shape_adapt, shape_penalty = shape
    adaptations = [*shape_adapt, *adaptations, *_negative_prompt(spec, need)]
    penalty += shape_penalty
    if abs(fps - need.fps) > EPS:
        adaptations.append(f"fps {need.fps:g} -> {fps:g}")
        penalty += _PENALTY["fps"]
    return _priced(spec, need, ctx, option, duration, fps, audio, adaptations, penalty)


def _negative_prompt(spec: ModelSpec, need: ShotNeed) -> list[str]:
    """What becomes of the shot's negative prompt on ``spec`` when the model has no field for it:
    said in the plan (it was dropped unsaid), not scored (a preview's animatic has none either)."""
    if not need.negative_prompt or spec.inputs.negative_prompt == "native":
        return []
    if spec.inputs.negative_prompt == "in_prompt":
        return ["negative_prompt -> the prompt's 'Avoid: ...' (the model has no field for it)"]
    return ["negative_prompt not sent (the model takes none)"]


def _static_gate(spec: ModelSpec, ctx: FilterContext) -> list[str]:
    status = spec.lifecycle.status(ctx.policy.day)
    if status is LifecycleStatus.RETIRED:
        return [f"retired on {spec.lifecycle.retired_on}"]
    if status is LifecycleStatus.UPCOMING:
        return [f"not available until {spec.lifecycle.available_from}"]
    if not spec.enabled:
        return ["disabled in the registry"]
    if spec.lifecycle.unverified and not ctx.policy.allow_unverified:
        return ["unverified in the registry (set SHOTLINE_ALLOW_UNVERIFIED=1 to route to it)"]
    if spec.inputs.holds_frame != ctx.policy.stills:
        return [_STILL_OUT if ctx.policy.stills else _STILL_ONLY]
    if spec.provider not in ctx.providers:
        why = ctx.unavailable.get(spec.provider)
        return [why or f"provider {spec.provider} is not enabled (--providers)"]
    if ctx.policy.min_tier is not None and TIER_RANK[spec.tier] < TIER_RANK[ctx.policy.min_tier]:
        return [f"tier {spec.tier} is below the policy minimum {ctx.policy.min_tier}"]
    return []


def _input_reasons(spec: ModelSpec, need: ShotNeed) -> list[str]:
    reasons: list[str] = []
    in_prompt = spec.inputs.negative_prompt == "in_prompt" and bool(need.negative_prompt)
    length = need.prompt_length(spec.prompt_units, in_prompt)
    if length > spec.max_prompt_chars:
        unit = "UTF-16 code units" if spec.prompt_units == "utf16" else "chars"
        negatives = " with its negative prompt" if in_prompt else ""
        reasons.append(f"prompt is {length} {unit}{negatives}, max {spec.max_prompt_chars}")
    if need.has_image and not spec.inputs.image:
        why = (
            "animates its generated keyframe"
            if need.keyframe
            else "has a reference image"
            if need.reference_image
            else "starts from the previous shot's last frame"
        )
        reasons.append(f"takes no image input (the shot {why})")
    if not need.has_image and spec.inputs.image_required:
        reasons.append("image-to-video only: the shot has no reference image")
    if need.extends and spec.extend is None:
        reasons.append("has no extend operation (the shot extends the previous shot's clip)")
    references = sent_references(spec, need)
    if references > spec.inputs.reference_images:
        reasons.append(
            f"takes {spec.inputs.reference_images} character reference images, the shot's "
            f"characters have {references}"
        )
    if references and spec.inputs.reference_aspects:
        aspect = _nearest_aspect(spec, need)
        if aspect not in spec.inputs.reference_aspects:
            allowed = ", ".join(spec.inputs.reference_aspects)
            reasons.append(f"takes character reference images only at {allowed}, not {aspect}")
    return reasons


def sent_references(spec: ModelSpec, need: ShotNeed) -> int:
    """The character reference images ``spec`` is sent for the shot. A shot with a first frame
    (its keyframe, drawn from the references; its reference image; the last frame it continues)
    needs none: a model takes them beside it when it can (``inputs.references_with_image`` and
    room for them), and Veo 3.1, which takes a first frame or references, never both (google-genai
    ``GenerateVideosConfig.reference_images``: "The image, video, or last_frame field are not
    supported"), is sent only the frame."""
    if not need.has_image:
        return need.reference_images
    takes = spec.inputs.references_with_image and spec.inputs.reference_images > 0
    return need.reference_images if takes else 0


def _nearest_aspect(spec: ModelSpec, need: ShotNeed) -> str:
    """The model's aspect closest to the shot's (what its adapter asks for)."""
    ratio = need.width / need.height
    offered = spec.aspect_ratios or (_ratio(need.width, need.height),)
    return min(offered, key=lambda a: abs(float(aspect_of(a)) - ratio))


def _audio(spec: ModelSpec, need: ShotNeed) -> tuple[bool, str | None]:
    renders = spec.audio is AudioSupport.ALWAYS
    if need.audio is AudioNeed.NONE:
        return renders, None
    if need.audio is AudioNeed.DIALOGUE and not spec.dialogue:
        return renders, "no native dialogue audio"
    if spec.audio is AudioSupport.NONE:
        return False, "no native audio (the shot asks for ambient sound)"
    return True, None


def _shape(spec: ModelSpec, need: ShotNeed, ctx: FilterContext) -> _Shape | str:
    """Pick a size and a duration, preferring the exact size, then larger, then smaller ones."""
    policy = ctx.policy
    if spec.sizes.any_size:
        if not spec.sizes.fits_any(need.width, need.height):
            limit = f"{spec.sizes.max_width}x{spec.sizes.max_height}"
            return f"size {need.width}x{need.height} over {limit}"
        label = resolution_label(need.width, need.height)
        option = SizeOption(need.width, need.height, label)
        fitted = _duration(need.duration_s, _durations(spec, need, label), policy)
        if isinstance(fitted, str):
            return fitted
        return option, fitted[0], fitted[1], fitted[2]
    options = ctx.size_options(spec, need)
    if isinstance(options, str):
        return options
    first_reason = ""
    for option, size_adapt, size_penalty in options:
        if need.extends and spec.extend and option.resolution not in spec.extend.resolutions:
            allowed = "/".join(spec.extend.resolutions)
            first_reason = first_reason or f"extends only at {allowed}, not {option.resolution}"
            continue
        fitted = _duration(need.duration_s, _durations(spec, need, option.resolution), policy)
        if isinstance(fitted, str):
            where = f" at {option.resolution}" if spec.sizes.durations_by_resolution else ""
            first_reason = first_reason or fitted + where
            continue
        duration, dur_adapt, dur_penalty = fitted
        return option, duration, [*dur_adapt, *size_adapt], size_penalty + dur_penalty
    return first_reason


def _durations(spec: ModelSpec, need: ShotNeed, resolution: str) -> DurationSpec:
    """The lengths ``spec`` renders at ``resolution``; only ``reference_seconds`` when the shot
    sends reference images and the model restricts them (Veo 3.1: 8 s)."""
    if need.extends and spec.extend is not None:  # each call adds the operation's own length
        return DurationSpec(grid=(spec.extend.seconds,))
    if sent_references(spec, need) and spec.inputs.reference_seconds:
        return DurationSpec(grid=spec.inputs.reference_seconds)
    return spec.durations_for(resolution)


def _size_options(spec: ModelSpec, need: ShotNeed, policy: RoutingPolicy) -> _Options:
    ratio = need.width / need.height
    same = [
        o
        for o in spec.sizes.options
        if abs(o.width / o.height - ratio) / ratio <= policy.aspect_tolerance
    ]
    if not same:
        offers = ", ".join(spec.aspect_ratios)
        return f"aspect {_ratio(need.width, need.height)} not offered (offers {offers})"
    area = need.width * need.height
    exact = [o for o in same if o.width == need.width and o.height == need.height]
    larger = sorted(
        (o for o in same if o.width * o.height > area), key=lambda o: o.width * o.height
    )
    smaller = sorted(
        (o for o in same if o.width * o.height <= area and o not in exact),
        key=lambda o: -o.width * o.height,
    )
    target = f"{need.width}x{need.height}"
    result: list[tuple[SizeOption, list[str], float]] = [(o, [], 0.0) for o in exact]
    near = _PENALTY["aspect"]
    for o in larger if policy.allow_downscale else []:
        note = f"size {target} -> {o.label} (downscaled at stitch)"
        result.append((o, [note], _PENALTY["down"] + (near if _off(o, need) else 0.0)))
    for o in smaller if policy.allow_upscale else []:
        note = f"size {target} -> {o.label} (upscaled at stitch)"
        result.append((o, [note], _PENALTY["up"] + (near if _off(o, need) else 0.0)))
    if not result:
        sizes = ", ".join(o.label for o in same)
        return f"only renders {sizes} for {target}, and the policy forbids rescaling"
    return result


def _duration(
    seconds: float, allowed: DurationSpec, policy: RoutingPolicy
) -> tuple[float, list[str], float] | str:
    if allowed.allows(seconds):
        return seconds, [], 0.0
    up, down = allowed.above(seconds), allowed.below(seconds)
    pad = (
        up - seconds if up is not None and up - seconds <= policy.max_duration_pad_s + EPS else None
    )
    trim = (
        seconds - down
        if down is not None and down > 0 and seconds - down <= policy.max_duration_trim_s + EPS
        else None
    )
    if pad is not None and (trim is None or pad <= trim) and up is not None:
        return up, [f"duration {seconds:g}s -> {up:g}s"], _PENALTY["pad"] * pad
    if trim is not None and down is not None:
        return down, [f"duration {seconds:g}s -> {down:g}s"], _PENALTY["trim"] * trim
    if up is None:
        return f"duration {seconds:g}s over the {allowed.high:g}s maximum ({allowed.describe()})"
    return (
        f"duration {seconds:g}s needs {up:g}s ({allowed.describe()}), "
        f"more than the {policy.max_duration_pad_s:g}s padding allowed"
    )


def _fps(spec: ModelSpec, need: ShotNeed, policy: RoutingPolicy) -> float | str:
    if not spec.fps or any(abs(f - need.fps) < EPS for f in spec.fps):
        return need.fps
    nearest = min(spec.fps, key=lambda f: abs(f - need.fps))
    if policy.allow_fps_change:
        return nearest
    return f"renders {'/'.join(f'{f:g}' for f in spec.fps)} fps, not {need.fps:g}"


def _priced(
    spec: ModelSpec,
    need: ShotNeed,
    ctx: FilterContext,
    option: SizeOption,
    duration: float,
    fps: float,
    audio: bool,
    adaptations: list[str],
    penalty: float,
) -> Fit | list[str]:
    try:
        quote = spec.price.quote(spec.id, duration, option.resolution, audio, ctx.policy.day)
    except PriceUnavailableError as exc:
        return [exc.message.removeprefix(f"{spec.id}: ")]
    ceiling = ctx.policy.max_shot_usd
    if ceiling is not None and quote.usd > ceiling + EPS:
        return [f"quote ${quote.usd:.2f} over the per-shot ceiling ${ceiling:.2f}"]
    notes: tuple[str, ...] = ()
    if spec.lifecycle.status(ctx.policy.day) is LifecycleStatus.DEPRECATED:
        notes = (f"deprecated since {spec.lifecycle.deprecated_from}",)
    if need.has_image and spec.inputs.image_ignored:
        notes = (*notes, "reference image accepted but not used by this renderer")
    return Fit(
        duration,
        option.width,
        option.height,
        option.resolution,
        fps,
        audio,
        quote.usd,
        adaptations,
        penalty,
        notes,
    )


def _off(option: SizeOption, need: ShotNeed) -> bool:
    return option.width * need.height != option.height * need.width


def _ratio(width: int, height: int) -> str:
    from math import gcd

    divisor = gcd(width, height)
    return f"{width // divisor}:{height // divisor}"
