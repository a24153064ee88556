"""The registry file's schema (pydantic at the edge) and its conversion to frozen ``ModelSpec``s."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from registry._billing import UNKNOWN_BILLING, BillingIn
from registry._kinds import (
    ModelKind,
    UsagePriceIn,
    check_non_video,
)
from registry._pricing import (
    MAX_CLIP_S,
    MAX_RATE,
    RESOLUTIONS,
    Certainty,
    PricePoint,
    PriceUnit,
    Pricing,
    check_rates_sourced,
)
from registry._shapes import DurationSpec
from registry._spec import (
    AudioSupport,
    Extend,
    PromptUnits,
    ProviderSpec,
    Speed,
    Submission,
    SubmissionMechanism,
    Tier,
)

RATIO_RE = re.compile(r"^(\d{1,2}):(\d{1,2})$")
_SIZE_RE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_ORIGIN_RE = re.compile(r"^https://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d{1,5})?$")
_PROVIDER_ID = r"^[a-z0-9][a-z0-9_-]*$"
DEFAULT_ACCEPTANCE = {Tier.DRAFT: 0.97, Tier.STANDARD: 0.8, Tier.HIGH: 0.85, Tier.PREMIUM: 0.88}
DEFAULT_P50 = {Speed.FAST: 40.0, Speed.MEDIUM: 80.0, Speed.SLOW: 150.0}
SHOT_TYPES = ("establishing", "dialogue", "action", "product", "broll")


def labels(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DurationsIn(_Raw):
    grid: list[Annotated[float, Field(le=MAX_CLIP_S)]] | None = None
    min: float | None = Field(default=None, gt=0, le=MAX_CLIP_S)
    max: float | None = Field(default=None, gt=0, le=MAX_CLIP_S)
    step: float = Field(default=0, ge=0, le=MAX_CLIP_S)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if self.grid is not None:
            if self.min is not None or self.max is not None:
                raise ValueError("give either grid or min/max, not both")
            if not self.grid or any(g <= 0 for g in self.grid):
                raise ValueError("grid needs at least one positive length")
        elif self.min is None or self.max is None:
            raise ValueError("give grid, or both min and max")
        elif self.max < self.min:
            raise ValueError(f"max {self.max:g} is below min {self.min:g}")
        return self

    def build(self) -> DurationSpec:
        if self.grid is not None:
            return DurationSpec(grid=tuple(sorted(set(self.grid))))
        return DurationSpec(min_s=self.min or 0.0, max_s=self.max or 0.0, step_s=self.step)


class InputsIn(_Raw):
    text: bool = True
    image: bool = False
    first_last: bool = False
    reference_images: int = Field(default=0, ge=0, le=16)
    reference_seconds: list[float] = []  # the only durations it renders with reference images
    reference_aspects: list[str] = []  # the only aspects it renders with reference images
    references_with_image: bool = True  # False: reference images only without a first frame
    # how a shot's negative prompt reaches the model: its own field, appended to the prompt
    # ("Avoid: ..."), or not at all (the plan says so)
    negative_prompt: Literal["native", "in_prompt", "none"] = "none"
    image_required: bool = False
    image_ignored: bool = False
    holds_frame: bool = False  # the clip is its first frame held (local/still: keyframes previews)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.image_required and not self.image:
            raise ValueError("image_required needs image: true")
        if self.holds_frame and not self.image_required:
            raise ValueError("holds_frame needs image_required: true")
        if not (self.text or self.image):
            raise ValueError("a model needs text or image input")
        return self


EXTEND_PROVIDERS = ("google", "luma")
"""Providers whose adapter sends an extend request (``GenerationRequest.extend_video``, or
``extend_job`` where the provider extends its own generation by id)."""


class ExtendIn(_Raw):
    """``extend``: the provider's own extend operation (``registry.Extend``), cited."""

    seconds: float = Field(gt=0)
    max_input_s: float = Field(gt=0)
    max_total_s: float = Field(gt=0)
    resolutions: list[str] = Field(min_length=1)
    source: str = Field(min_length=1)
    input: Literal["clip", "generation"] = "clip"
    returns: Literal["combined", "extension"] = "combined"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.max_total_s < self.seconds:
            raise ValueError("extend: max_total_s is shorter than one extension")
        for label in self.resolutions:
            if label not in RESOLUTIONS:
                raise ValueError(f"extend: unknown resolution {label!r}")
        return self

    def build(self) -> Extend:
        return Extend(self.seconds, self.max_input_s, self.max_total_s,
                      tuple(self.resolutions), self.source, self.input, self.returns)  # fmt: skip


class LimitsIn(_Raw):
    concurrency: int = Field(ge=1)
    rpm: int = Field(default=60, ge=1)
    window_s: float = Field(default=60.0, gt=0)


class LifecycleIn(_Raw):
    available_from: date | None = None
    deprecated_from: date | None = None
    retired_on: date | None = None
    replacement: str | None = None
    # when the entry was last checked against the provider, where, and whether that confirmed it;
    # an unverified model is routed only when the user opts in (SHOTLINE_ALLOW_UNVERIFIED=1)
    checked_on: date | None = None
    checked_source: str | None = Field(default=None, min_length=3)
    unverified: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.deprecated_from and self.retired_on and self.deprecated_from > self.retired_on:
            raise ValueError("deprecated_from is after retired_on")
        if self.available_from and self.retired_on and self.available_from >= self.retired_on:
            raise ValueError("available_from is not before retired_on")
        return self


class RateIn(_Raw):
    rate: float = Field(ge=0, le=MAX_RATE)
    resolution: str | list[str] | None = None
    audio: bool | None = None
    seconds: float | None = Field(default=None, gt=0, le=MAX_CLIP_S)
    source: str | None = Field(default=None, min_length=3)
    effective: date | None = None
    certainty: Certainty | None = None
    note: str = ""

    @model_validator(mode="after")
    def _known_resolution(self) -> Self:
        for label in labels(self.resolution) or ():
            if label not in RESOLUTIONS:
                raise ValueError(f"unknown resolution {label!r} (known: {', '.join(RESOLUTIONS)})")
        return self


class PriceIn(_Raw):
    unit: PriceUnit
    usd_per_credit: float | None = Field(default=None, gt=0, le=MAX_RATE)
    source: str | None = Field(default=None, min_length=3)
    effective: date | None = None
    certainty: Certainty = "documented"
    rates: list[RateIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _sourced(self) -> Self:
        check_rates_sourced(self.rates, self.source, self.effective)
        if self.unit.startswith("credits") and self.usd_per_credit is None:
            raise ValueError(f"unit {self.unit} needs usd_per_credit")
        return self

    def build(self) -> Pricing:
        points = tuple(
            PricePoint(
                rate=r.rate,
                source=r.source or self.source or "",
                effective=r.effective or self.effective or date.min,
                resolutions=frozenset(labels(r.resolution)) if r.resolution else None,
                audio=r.audio,
                seconds=r.seconds,
                certainty=r.certainty or self.certainty,
                note=r.note,
            )
            for r in self.rates
        )
        return Pricing(unit=self.unit, points=points, usd_per_credit=self.usd_per_credit or 0.0)


class PriorIn(_Raw):
    acceptance: float | None = Field(default=None, gt=0, le=1)
    render_p50_s: float | None = Field(default=None, gt=0)
    render_p95_s: float | None = Field(default=None, gt=0)


class PriorsIn(PriorIn):
    by_type: dict[Literal["establishing", "dialogue", "action", "product", "broll"], PriorIn] = {}


class SizeRangeIn(_Raw):
    max_width: int = Field(ge=16)
    max_height: int = Field(ge=16)


class ModelIn(_Raw):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
    provider: str = Field(pattern=_PROVIDER_ID)
    provider_model: str = Field(min_length=1)
    kind: ModelKind = ModelKind.VIDEO
    tier: Tier
    speed: Speed
    durations: DurationsIn | None = None
    resolutions: list[str] = []
    aspect_ratios: list[str] = []
    sizes: list[str] = []
    size_range: SizeRangeIn | None = None
    resolution_durations: dict[str, DurationsIn] = {}
    fps: list[float] | Literal["any"] = Field(default="any")
    audio: AudioSupport = AudioSupport.NONE
    dialogue: bool = False
    inputs: InputsIn = InputsIn()
    extend: ExtendIn | None = None  # the provider's extend operation (video models)
    seed: bool = False
    max_prompt_chars: int | None = Field(default=None, ge=1)
    # what max_prompt_chars counts: characters, or UTF-16 code units (Runway's promptText)
    prompt_units: PromptUnits = "chars"
    limits: LimitsIn
    price: PriceIn | None = None
    usage_price: UsagePriceIn | None = None  # non-video kinds: priced by usage (registry._kinds)
    capabilities: dict[str, Any] = {}  # non-video kinds: validated by CAPS_BY_KIND[kind]
    lifecycle: LifecycleIn = LifecycleIn()
    priors: PriorsIn = PriorsIn()
    enabled: bool = True
    params: dict[str, Any] = {}
    notes: str = ""

    @model_validator(mode="after")
    def _kind_fields(self) -> Self:
        if self.kind is ModelKind.VIDEO:
            missing = [
                name
                for name in ("durations", "max_prompt_chars", "price")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"a video model needs {', '.join(missing)}")
            if self.usage_price is not None or self.capabilities:
                raise ValueError("usage_price and capabilities are for non-video kinds")
            return self
        check_non_video(self.kind, self.price is not None, self.usage_price, self.capabilities)
        return self

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        if self.kind is not ModelKind.VIDEO:
            return self
        if self.size_range is None and not self.sizes and not self.resolutions:
            raise ValueError("give resolutions (+ aspect_ratios), sizes, or size_range")
        if self.resolutions and not self.aspect_ratios:
            raise ValueError("resolutions need aspect_ratios")
        for label in [*self.resolutions, *self.resolution_durations]:
            if label not in RESOLUTIONS:
                raise ValueError(f"unknown resolution {label!r} (known: {', '.join(RESOLUTIONS)})")
        for ratio in self.aspect_ratios:
            if not RATIO_RE.match(ratio):
                raise ValueError(f"aspect ratio {ratio!r} is not W:H")
        for size in self.sizes:
            if not _SIZE_RE.match(size):
                raise ValueError(f"size {size!r} is not WIDTHxHEIGHT")
        if self.dialogue and self.audio is AudioSupport.NONE:
            raise ValueError("dialogue: true needs audio optional or always")
        if self.extend is not None and not set(self.extend.resolutions) <= set(self.resolutions):
            raise ValueError("extend.resolutions must be among the model's resolutions")
        if self.extend is not None and self.provider not in EXTEND_PROVIDERS:
            raise ValueError(
                f"extend: the {self.provider} adapter sends no extend request "
                f"(only {', '.join(EXTEND_PROVIDERS)})"
            )
        return self


class SubmissionIn(_Raw):
    mechanism: SubmissionMechanism
    source: str = Field(min_length=1)


class ProviderIn(_Raw):
    """``api_origins``: where the provider's credential may go (the emulator's origin is added
    automatically when the emulator is used, so it is never listed here). ``billing``: what the
    provider charges for each way a job ends (``registry._billing``; omitted: all unknown).
    ``submission``: how a lost create is found again (``registry.Submission``); absent: ``none``."""

    api_origins: list[str] = []
    billing: BillingIn | None = None
    submission: SubmissionIn | None = None

    @field_validator("api_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not _ORIGIN_RE.match(origin):
                raise ValueError(
                    f"api origin {origin!r} is not https://host[:port] "
                    "(lower case, no path, no trailing slash)"
                )
        return value

    def build(self, provider: str) -> ProviderSpec:
        billing = self.billing.build() if self.billing else UNKNOWN_BILLING
        sub = self.submission
        found = Submission(sub.mechanism, sub.source) if sub is not None else Submission()
        return ProviderSpec(provider, tuple(dict.fromkeys(self.api_origins)), billing, found)


class RegistryFileIn(_Raw):
    version: Literal[1] = 1
    providers: dict[Annotated[str, Field(pattern=_PROVIDER_ID)], ProviderIn] = {}
    fallback_chains: dict[Tier, list[str]] = {}
    models: list[dict[str, Any]] = []
