"""A storyboard's ``output``: the main picture's size, rate and loudness, and its variants."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from foundation import limits as lim
from foundation.strict import Strict
from foundation.variants import MAX_VARIANTS, Variant, VariantItem, VariantSpec, resolve, spec_of

_SIZE_RE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


def parse_size(value: str) -> tuple[int, int]:
    """``"1280x720"`` -> ``(1280, 720)``: even sides of 32-7680 pixels, at most 7680x4320 pixels
    in all, no more elongated than 8:1 (what the gate and the stitcher can process)."""
    match = _SIZE_RE.match(value.strip().lower())
    if not match:
        raise ValueError(f"size {value[:40]!r} is not WIDTHxHEIGHT, e.g. 1280x720")
    width, height = int(match[1]), int(match[2])
    if width % 2 or height % 2:
        raise ValueError(f"size {value!r} needs even sides")
    if min(width, height) < lim.MIN_SIDE or max(width, height) > lim.MAX_SIDE:
        raise ValueError(f"size {value!r}: each side must be {lim.MIN_SIDE}-{lim.MAX_SIDE} pixels")
    if width * height > lim.MAX_PIXELS:
        raise ValueError(f"size {value!r} is over {lim.MAX_PIXELS} pixels (7680x4320)")
    if max(width, height) > lim.MAX_ASPECT * min(width, height):
        raise ValueError(f"size {value!r} is more elongated than {lim.MAX_ASPECT:g}:1")
    return width, height


class OutputSpec(Strict):
    size: str = "1280x720"
    fps: float = Field(default=24, ge=lim.MIN_FPS, le=lim.MAX_FPS)
    loudness_lufs: float = Field(
        default=-16.0,
        ge=lim.MIN_LOUDNESS_LUFS,
        json_schema_extra={"maximum": lim.MAX_LOUDNESS_LUFS},  # refused with the reason below
    )
    variants: list[VariantItem] = Field(default_factory=list, max_length=MAX_VARIANTS)
    """Other aspects (``"9:16"``) or sizes (``"1080x1920"``), reframed from the main picture, or
    ``{aspect, render, shots}`` objects allowing native renders (``foundation.variants``)."""

    @field_validator("size")
    @classmethod
    def _valid_size(cls, value: str) -> str:
        parse_size(value)
        return value.strip().lower()

    @field_validator("loudness_lufs")
    @classmethod
    def _reachable_loudness(cls, value: float) -> float:
        if value > lim.MAX_LOUDNESS_LUFS:
            raise ValueError(
                f"must be at most {lim.MAX_LOUDNESS_LUFS:g} LUFS: under the -1 dBTP true-peak "
                "ceiling the stitcher's limiter cannot make a programme louder (noise tops out "
                "near -7.5 LUFS, speech near -8.5), so the delivery would fail its loudness check"
            )
        return value

    @property
    def width(self) -> int:
        return parse_size(self.size)[0]

    @property
    def height(self) -> int:
        return parse_size(self.size)[1]

    def variant_texts(self) -> list[str]:
        """Each variant's aspect or size as written."""
        return [spec_of(item).aspect for item in self.variants]

    def variant_specs(self) -> list[VariantSpec]:
        return [spec_of(item) for item in self.variants]

    def variant_list(self) -> list[Variant]:
        """The variants, resolved against the main size (validated: ``variant_problems``)."""
        return [resolve(text, self.width, self.height) for text in self.variant_texts()]
