"""Model kinds beside ``video``: language, image, speech and music models.

A non-video model is priced by usage (tokens, images, characters, seconds), not by clip length, so
it carries a ``UsagePricing`` (every rate with its source, effective date and certainty) and its
kind's capabilities (``LlmCaps``, ``ImageCaps``, ``TtsCaps``, ``MusicCaps``). The router routes a
shot's video stage to ``video`` models only; other stages ask ``Registry.of_kind``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from foundation import clock, money
from registry._pricing import MAX_RATE, Certainty, check_rates_sourced


class ModelKind(StrEnum):
    VIDEO = "video"
    LLM = "llm"
    IMAGE = "image"
    TTS = "tts"
    MUSIC = "music"


Meter = Literal[
    "input_tokens",
    "cached_input_tokens",
    "image_input_tokens",
    "output_tokens",
    "images",
    "megapixels",
    "characters",
    "seconds",
]
# the meters a kind may be billed on (a rate on another meter is refused when the file loads)
KIND_METERS: dict[ModelKind, frozenset[str]] = {
    ModelKind.LLM: frozenset({"input_tokens", "cached_input_tokens", "output_tokens"}),
    # image_input_tokens: reference images read by a token-priced model (gpt-image-1 bills them
    # apart from text input); megapixels: the output's area, as fal bills FLUX schnell
    ModelKind.IMAGE: frozenset(
        {"images", "megapixels", "input_tokens", "image_input_tokens", "output_tokens"}
    ),
    ModelKind.TTS: frozenset({"characters", "input_tokens", "output_tokens", "seconds"}),
    ModelKind.MUSIC: frozenset({"seconds"}),
}


@dataclass(frozen=True)
class UsageRate:
    """``usd`` per ``per`` units of ``meter`` (e.g. 0.40 per 1,000,000 input tokens)."""

    meter: str
    usd: float
    per: int
    source: str
    effective: date
    certainty: str = "documented"
    variant: str = ""
    note: str = ""


@dataclass(frozen=True)
class UsageCost:
    usd: float
    lines: tuple[tuple[str, float, float], ...]  # (meter, units, usd)
    sources: tuple[str, ...]
    uncertain: bool


@dataclass(frozen=True)
class UsagePricing:
    rates: tuple[UsageRate, ...]

    def rate(self, meter: str, variant: str = "", on: date | None = None) -> UsageRate | None:
        """The newest rate of ``meter`` (and ``variant``) in effect ``on`` (default today)."""
        day = on or clock.today()
        live = [
            r
            for r in self.rates
            if r.meter == meter and r.variant == variant and r.effective <= day
        ]
        return max(live, key=lambda r: r.effective) if live else None

    def cost(
        self, usage: Mapping[str, float], variant: str = "", on: date | None = None
    ) -> UsageCost:
        """Price ``usage`` (meter -> units). A meter with units and no rate raises ``KeyError``."""
        total = Decimal(0)
        lines: list[tuple[str, float, float]] = []
        sources: list[str] = []
        uncertain = False
        for meter, units in usage.items():
            if not units:
                continue
            rate = self.rate(meter, variant, on)
            if rate is None:
                raise KeyError(f"no {meter} rate{f' for {variant}' if variant else ''}")
            usd = money.decimal(rate.usd) * money.decimal(units) / Decimal(rate.per)
            total += usd
            lines.append((meter, units, float(money.stored(usd))))
            sources.append(rate.source)
            uncertain = uncertain or rate.certainty in ("estimate", "uncertain")
        return UsageCost(
            float(money.stored(total)), tuple(lines), tuple(dict.fromkeys(sources)), uncertain
        )

    @property
    def meters(self) -> frozenset[str]:
        """The meters this model is priced on."""
        return frozenset(rate.meter for rate in self.rates)

    def summary(self) -> str:
        """The current default rates, short: ``$0.4/1M in, $1.6/1M out`` or ``$0.04/image``."""
        latest: dict[str, UsageRate] = {}
        default = [r for r in self.rates if not r.variant] or list(self.rates)
        for r in sorted(default, key=lambda r: r.effective):
            if r.meter != "cached_input_tokens":
                latest[r.meter] = r
        return ", ".join(_short(r) for r in latest.values())

    def to_dict(self) -> list[dict[str, Any]]:
        return [
            {
                "meter": r.meter,
                "usd": r.usd,
                "per": r.per,
                "variant": r.variant,
                "source": r.source,
                "effective": r.effective.isoformat(),
                "certainty": r.certainty,
                "note": r.note,
            }
            for r in self.rates
        ]


def _short(rate: UsageRate) -> str:
    per = {1: "", 1000: "1k ", 1_000_000: "1M "}.get(rate.per, f"{rate.per:,} ")
    unit = {
        "input_tokens": "in",
        "image_input_tokens": "image in",
        "output_tokens": "out",
        "images": "image",
        "megapixels": "MP",
        "seconds": "s",
    }
    return f"${rate.usd:g}/{per}{unit.get(rate.meter, rate.meter)}"


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class UsageRateIn(_Raw):
    meter: Meter
    usd: float = Field(ge=0, le=MAX_RATE)
    per: int = Field(default=1, ge=1)
    variant: str = ""
    source: str | None = Field(default=None, min_length=3)
    effective: date | None = None
    certainty: Certainty | None = None
    note: str = ""


class UsagePriceIn(_Raw):
    source: str | None = Field(default=None, min_length=3)
    effective: date | None = None
    certainty: Certainty = "documented"
    rates: list[UsageRateIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _sourced(self) -> Self:
        check_rates_sourced(self.rates, self.source, self.effective)
        return self

    def build(self) -> UsagePricing:
        return UsagePricing(
            tuple(
                UsageRate(
                    meter=r.meter,
                    usd=r.usd,
                    per=r.per,
                    source=r.source or self.source or "",
                    effective=r.effective or self.effective or date.min,
                    certainty=r.certainty or self.certainty,
                    variant=r.variant,
                    note=r.note,
                )
                for r in self.rates
            )
        )


class LlmCaps(_Raw):
    """``api``: the wire protocol the adapter speaks (``openai_chat``: ``adapters.chat``;
    ``gemini_generate_content``: ``adapters.gemini_chat``); ``structured_output``: how a JSON schema
    is enforced (``json_schema``: OpenAI ``response_format``; ``response_schema``: Gemini's
    ``generationConfig`` schema, sent as ``responseJsonSchema``)."""

    api: Literal["openai_chat", "gemini_generate_content"]
    context_tokens: int = Field(ge=1)
    max_output_tokens: int = Field(ge=1)
    structured_output: Literal["json_schema", "response_schema", "none"]
    image_input: bool = False


class ImageCaps(_Raw):
    """What an image model draws and reads. ``api``: the wire protocol its client speaks
    (``adapters.images``). A model names its output either by exact ``sizes`` (WIDTHxHEIGHT the
    API accepts), by ``aspect_ratios`` (the API picks the pixels: ``size_for_aspect`` says which),
    or takes ``any_size`` up to ``max_side`` a side, between ``min_megapixels`` and
    ``max_megapixels``, both sides a multiple of ``size_multiple``. ``reference_images``: how many conditioning
    images one request takes (0: text-to-image only). ``tokens_per_image`` /
    ``tokens_per_reference``: the output and input tokens one ~1 MP image costs on a
    token-priced model, for quotes before the answer reports the real usage."""

    api: Literal["openai_images", "fal_queue", "gemini_image", "imagen_predict", "local"]
    sizes: list[str] = []
    aspect_ratios: list[str] = []
    any_size: bool = False
    size_multiple: int = Field(default=1, ge=1)  # any_size: both sides divisible by this
    max_side: int | None = Field(default=None, ge=16)
    max_megapixels: float | None = Field(default=None, gt=0)
    min_megapixels: float | None = Field(
        default=None, gt=0
    )  # any_size: a smaller frame is drawn up to it
    max_aspect: float | None = Field(default=None, ge=1)  # any_size: long side / short side
    reference_images: int = Field(default=0, ge=0)
    max_prompt_chars: int | None = Field(default=None, ge=1)
    max_images: int = Field(default=1, ge=1)
    negative_prompt: bool = False
    seed: bool = False
    tokens_per_image: int | None = Field(default=None, ge=1)
    tokens_per_reference: int | None = Field(default=None, ge=1)
    size_for_aspect: dict[str, str] = {}

    @model_validator(mode="after")
    def _names_an_output(self) -> Self:
        if not (self.sizes or self.aspect_ratios or self.any_size):
            raise ValueError("an image model needs sizes, aspect_ratios or any_size")
        named = [("sizes", size) for size in self.sizes]
        named += [(f"size_for_aspect.{a}", size) for a, size in self.size_for_aspect.items()]
        for name, size in named:
            if not _SIZE.match(size):
                raise ValueError(f"{name}: {size!r} is not WIDTHxHEIGHT")
        return self


_SIZE = re.compile(r"^[1-9][0-9]*x[1-9][0-9]*$")


class TtsCaps(_Raw):
    voices: list[str] = Field(min_length=1)
    formats: list[str] = Field(min_length=1)
    max_input_chars: int = Field(ge=1)
    instructions: bool = False  # takes a style instruction beside the text


class MusicCaps(_Raw):
    """A bed's length the model generates (``min_seconds``-``max_seconds``; a programme longer
    than the bed loops it, so only the minimum binds), its formats, and the longest prompt."""

    min_seconds: float = Field(gt=0)
    max_seconds: float = Field(gt=0)
    formats: list[str] = Field(min_length=1)
    max_prompt_chars: int | None = Field(default=None, ge=1)
    instrumental_only: bool = False


CAPS_BY_KIND: dict[ModelKind, type[_Raw]] = {
    ModelKind.LLM: LlmCaps,
    ModelKind.IMAGE: ImageCaps,
    ModelKind.TTS: TtsCaps,
    ModelKind.MUSIC: MusicCaps,
}


def check_non_video(
    kind: ModelKind, has_clip_price: bool, usage: UsagePriceIn | None, caps: dict[str, Any]
) -> None:
    """A non-video entry is priced by ``usage_price`` on its kind's meters and its
    ``capabilities`` fit its kind (raises ``ValueError`` naming the field)."""
    if has_clip_price or usage is None:
        raise ValueError(f"a {kind} model is priced by usage_price, not price")
    CAPS_BY_KIND[kind].model_validate(caps)
    allowed = KIND_METERS[kind]
    for index, rate in enumerate(usage.rates):
        if rate.meter not in allowed:
            raise ValueError(
                f"usage_price.rates[{index}]: a {kind} model is not billed on "
                f"{rate.meter} (allowed: {', '.join(sorted(allowed))})"
            )
