"""The catalog's records: what one hosted or local model can do, what it costs, when it dies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from registry._billing import UNKNOWN_BILLING, BillingRules
from registry._kinds import ModelKind, UsagePricing
from registry._pricing import PriceQuote, Pricing, resolution_label
from registry._shapes import DurationSpec, SizeSpec


class Tier(StrEnum):
    DRAFT = "draft"
    STANDARD = "standard"
    HIGH = "high"
    PREMIUM = "premium"


class Speed(StrEnum):
    FAST = "fast"
    MEDIUM = "medium"
    SLOW = "slow"


class AudioSupport(StrEnum):
    NONE = "none"
    OPTIONAL = "optional"
    ALWAYS = "always"


class LifecycleStatus(StrEnum):
    ACTIVE = "active"
    DEPRECATED = "deprecated"
    RETIRED = "retired"
    UPCOMING = "upcoming"


TIER_RANK = {Tier.DRAFT: 0, Tier.STANDARD: 1, Tier.HIGH: 2, Tier.PREMIUM: 3}


@dataclass(frozen=True)
class Inputs:
    text: bool = True
    image: bool = False
    first_last: bool = False
    reference_images: int = 0
    reference_seconds: tuple[float, ...] = ()  # durations allowed with reference images (): any
    reference_aspects: tuple[str, ...] = ()  # aspects allowed with reference images (): any
    # False: reference images are sent only without a first frame (Veo 3.1: one or the other)
    references_with_image: bool = True
    negative_prompt: str = "none"  # "native", "in_prompt" (Kling: "Avoid: ...") or "none"
    image_required: bool = False
    image_ignored: bool = False
    # the clip is the first frame held for the shot (``local/still``): routed only by a keyframes
    # preview (``RoutingPolicy.stills``), and only there
    holds_frame: bool = False


ExtendInput = Literal["clip", "generation"]
ExtendAnswer = Literal["combined", "extension"]


@dataclass(frozen=True)
class Extend:
    """The provider's own extend operation: a clip the model made (or any clip of
    ``max_input_s`` or less) comes back ``seconds`` longer, continuing from its last frame, up to
    ``max_total_s`` in all, at one of ``resolutions``. ``input``: what the request carries, the
    previous part's ``clip`` itself (Vertex Veo) or the provider's id of the ``generation`` that
    made it (Luma ray-3.2, so only a clip the provider made as it is can be extended).
    ``returns``: the ``combined`` video (the sent clip then the extension, cut to its tail at
    fetch) or the ``extension`` alone. ``source`` says where that was read."""

    seconds: float
    max_input_s: float
    max_total_s: float
    resolutions: tuple[str, ...]
    source: str = ""
    input: ExtendInput = "clip"
    returns: ExtendAnswer = "combined"

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "max_input_s": self.max_input_s,
                "max_total_s": self.max_total_s, "resolutions": list(self.resolutions),
                "input": self.input, "returns": self.returns, "source": self.source}  # fmt: skip


@dataclass(frozen=True)
class Limits:
    """Provider limits. ``rpm`` is 60 where the provider publishes none (see models.yaml); it
    counts submissions over ``window_s`` seconds, a minute unless the provider counts its request
    limit over another span (a daily cap: 86400)."""

    concurrency: int
    rpm: int = 60
    window_s: float = 60.0


@dataclass(frozen=True)
class Lifecycle:
    available_from: date | None = None
    deprecated_from: date | None = None
    retired_on: date | None = None
    replacement: str | None = None
    checked_on: date | None = None
    checked_source: str | None = None
    unverified: bool = False

    def status(self, today: date) -> LifecycleStatus:
        if self.retired_on and today >= self.retired_on:
            return LifecycleStatus.RETIRED
        if self.available_from and today < self.available_from:
            return LifecycleStatus.UPCOMING
        if self.deprecated_from and today >= self.deprecated_from:
            return LifecycleStatus.DEPRECATED
        return LifecycleStatus.ACTIVE


SubmissionMechanism = Literal["client_reference", "reconcile", "resubmit", "none"]
PromptUnits = Literal["chars", "utf16"]


def prompt_length(text: str, units: PromptUnits) -> int:
    """``text``'s length as a provider counts it against its prompt limit: characters (code
    points), or UTF-16 code units (an emoji or other astral character counts two)."""
    return len(text.encode("utf-16-le")) // 2 if units == "utf16" else len(text)


@dataclass(frozen=True)
class Submission:
    """How a create whose answer was lost (a crash between "request sent" and "job id stored") is
    found again: ``client_reference`` (the provider refuses a repeated client id and looks jobs up
    by it), ``reconcile`` (list recent jobs and match what the adapter wrote), ``resubmit`` (a
    repeat bills nothing: the local renderer), or ``none`` (the attempt goes to
    ``submission_unknown`` for an operator). ``source`` says where that was read."""

    mechanism: SubmissionMechanism = "none"
    source: str = ""


@dataclass(frozen=True)
class ProviderSpec:
    """One provider's account-level facts. ``api_origins`` (``scheme://host[:port]``) are the only
    origins its credential may be sent to: output downloads from any other origin carry none."""

    id: str
    api_origins: tuple[str, ...] = ()
    billing: BillingRules = UNKNOWN_BILLING
    submission: Submission = Submission()


@dataclass(frozen=True)
class TypePrior:
    acceptance: float
    render_p50_s: float
    render_p95_s: float


@dataclass(frozen=True)
class Priors:
    """Beliefs before any history: gate acceptance and render time, optionally per shot type."""

    base: TypePrior
    by_type: Mapping[str, TypePrior] = field(default_factory=dict)

    def for_type(self, shot_type: str) -> TypePrior:
        return self.by_type.get(shot_type, self.base)


@dataclass(frozen=True)
class ModelSpec:
    """One routable model. ``id`` is ``provider/name``; ``provider_model`` is the vendor's name."""

    id: str
    provider: str
    provider_model: str
    tier: Tier
    speed: Speed
    durations: DurationSpec
    sizes: SizeSpec
    aspect_ratios: tuple[str, ...]
    fps: tuple[float, ...]
    audio: AudioSupport
    dialogue: bool
    inputs: Inputs
    seed: bool
    max_prompt_chars: int
    limits: Limits
    price: Pricing
    lifecycle: Lifecycle
    priors: Priors
    enabled: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""
    kind: ModelKind = ModelKind.VIDEO
    usage_price: UsagePricing | None = None  # non-video kinds (registry._kinds)
    caps: Mapping[str, Any] = field(default_factory=dict)  # the kind's capabilities
    extend: Extend | None = None  # the provider's extend operation, where it offers one
    prompt_units: PromptUnits = "chars"  # what max_prompt_chars counts

    def durations_for(self, resolution: str) -> DurationSpec:
        return self.sizes.durations_by_resolution.get(resolution, self.durations)

    def quote_detail(
        self,
        seconds: float,
        resolution: str | None = None,
        audio: bool = False,
        *,
        width: int | None = None,
        height: int | None = None,
        on: date | None = None,
    ) -> PriceQuote:
        """Price of one clip. Give ``resolution`` ("720p") or ``width``/``height``.

        Audio is forced on for models that always render it and off for models that cannot.
        Raises ``PriceUnavailableError`` when the catalog has no rate for the combination.
        """
        if resolution is None:
            if width is None or height is None:
                resolution = self.default_resolution
            else:
                resolution = resolution_label(width, height)
        billed_audio = self.audio is AudioSupport.ALWAYS or (
            audio and self.audio is AudioSupport.OPTIONAL
        )
        return self.price.quote(self.id, seconds, resolution, billed_audio, on)

    def quote(
        self,
        seconds: float,
        resolution: str | None = None,
        audio: bool = False,
        *,
        width: int | None = None,
        height: int | None = None,
        on: date | None = None,
    ) -> float:
        """USD for one clip of ``seconds`` (see ``quote_detail``)."""
        return self.quote_detail(seconds, resolution, audio, width=width, height=height, on=on).usd

    @property
    def default_resolution(self) -> str:
        if self.sizes.options:
            return self.sizes.options[0].resolution
        return "720p"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": str(self.kind),
            "provider": self.provider,
            "provider_model": self.provider_model,
            "tier": str(self.tier),
            "speed": str(self.speed),
            "durations": self.durations.describe(),
            "durations_by_resolution": {
                k: v.describe() for k, v in self.sizes.durations_by_resolution.items()
            },
            "sizes": self.sizes.describe(),
            "aspect_ratios": list(self.aspect_ratios),
            "fps": list(self.fps) or "any",
            "audio": str(self.audio),
            "dialogue": self.dialogue,
            "inputs": {
                "text": self.inputs.text,
                "image": self.inputs.image,
                "first_last_frame": self.inputs.first_last,
                "reference_images": self.inputs.reference_images,
                "image_required": self.inputs.image_required,
            },
            "extend": self.extend.to_dict() if self.extend is not None else None,
            "seed": self.seed,
            "max_prompt_chars": self.max_prompt_chars,
            "prompt_units": self.prompt_units,
            "limits": {
                "concurrency": self.limits.concurrency,
                "rpm": self.limits.rpm,
                "window_s": self.limits.window_s,
            },
            "price": self.price.to_dict(),
            "lifecycle": {
                "available_from": _iso(self.lifecycle.available_from),
                "deprecated_from": _iso(self.lifecycle.deprecated_from),
                "retired_on": _iso(self.lifecycle.retired_on),
                "replacement": self.lifecycle.replacement,
            },
            "priors": {
                "acceptance": self.priors.base.acceptance,
                "render_p50_s": self.priors.base.render_p50_s,
                "render_p95_s": self.priors.base.render_p95_s,
            },
            "enabled": self.enabled,
            "params": dict(self.params),
            "notes": self.notes,
            **(
                {"usage_price": self.usage_price.to_dict(), "capabilities": dict(self.caps)}
                if self.usage_price is not None
                else {}
            ),
        }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
