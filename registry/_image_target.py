"""What an image model would draw for a frame of ``width`` x ``height``: the size or aspect to ask
for, the pixels expected back, and how much of them a crop to the frame's aspect would lose.

An image model names its output in one of three ways (``registry._kinds.ImageCaps``): exact
``sizes`` (OpenAI), ``aspect_ratios`` (the provider picks the pixels: FLUX Kontext, Gemini) or
``any_size`` up to ``max_side`` (FLUX schnell on fal, the local keyframe). A keyframe must match
the next video model's aspect, so the closest output is chosen and the crop it needs is reported;
the caller decides how much crop it accepts (``router.route_image_stage`` ``max_crop``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

ASPECT_TOLERANCE = 0.01  # an output this close to the frame's aspect needs no crop


@dataclass(frozen=True)
class ImageTarget:
    """``size`` (``WIDTHxHEIGHT``) or ``aspect`` is what the request names; ``width`` x
    ``height`` the pixels expected back; ``crop`` the fraction of them a centre crop to the
    frame's aspect removes (0: none); ``scale`` how much the result must be enlarged to the frame
    (1: not at all)."""

    width: int
    height: int
    size: str | None = None
    aspect: str | None = None
    crop: float = 0.0
    scale: float = 1.0

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000


def aspect_name(width: int, height: int) -> str:
    """``1280x720`` -> ``16:9`` (the reduced ratio)."""
    ratio = Fraction(width, height)
    return f"{ratio.numerator}:{ratio.denominator}"


def _ratio(name: str) -> float:
    w, _, h = name.partition(":")
    return int(w) / int(h)


def _dims(size: str) -> tuple[int, int]:
    w, _, h = size.partition("x")
    return int(w), int(h)


def crop_loss(have: float, want: float) -> float:
    """The fraction of an image of aspect ``have`` a centre crop to aspect ``want`` removes."""
    if abs(have - want) <= ASPECT_TOLERANCE * want:
        return 0.0
    return 1 - min(have, want) / max(have, want)


def _scale(width: int, height: int, frame_w: int, frame_h: int) -> float:
    return max(1.0, frame_w / width, frame_h / height) if width and height else 1.0


def _from_sizes(sizes: list[str], frame_w: int, frame_h: int) -> ImageTarget:
    want = frame_w / frame_h

    def key(size: str) -> tuple[float, float, int]:
        w, h = _dims(size)
        return (round(crop_loss(w / h, want), 4), _scale(w, h, frame_w, frame_h), w * h)

    best = min(sizes, key=key)
    w, h = _dims(best)
    crop = crop_loss(w / h, want)
    return ImageTarget(w, h, size=best, crop=crop, scale=_scale(w, h, frame_w, frame_h))


def _from_aspects(caps: Mapping[str, Any], frame_w: int, frame_h: int) -> ImageTarget:
    want = frame_w / frame_h
    best = min(caps["aspect_ratios"], key=lambda name: crop_loss(_ratio(name), want))
    known = (caps.get("size_for_aspect") or {}).get(best)
    if known:
        w, h = _dims(known)
    else:  # not published: about one megapixel at that aspect
        a = _ratio(best)
        w, h = round(math.sqrt(1_000_000 * a)), round(math.sqrt(1_000_000 / a))
    return ImageTarget(
        w, h, aspect=best, crop=crop_loss(_ratio(best), want), scale=_scale(w, h, frame_w, frame_h)
    )


def _from_any(caps: Mapping[str, Any], frame_w: int, frame_h: int) -> ImageTarget:
    """The frame's size, shrunk under ``max_side`` and ``max_megapixels`` or grown to
    ``min_megapixels`` (gpt-image-2 refuses under 655,360 pixels: a 720x720 sheet is drawn at
    816x816 and scaled down), each side then a multiple of ``size_multiple``."""
    factor = 1.0
    if caps.get("max_side"):
        factor = min(factor, caps["max_side"] / max(frame_w, frame_h))
    if caps.get("max_megapixels"):
        factor = min(factor, math.sqrt(caps["max_megapixels"] * 1e6 / (frame_w * frame_h)))
    if caps.get("min_megapixels"):
        factor = max(factor, math.sqrt(caps["min_megapixels"] * 1e6 / (frame_w * frame_h)))
    step = int(caps.get("size_multiple") or 1)

    def sides(rounding: Callable[[float], int]) -> tuple[int, int]:
        width, height = (max(step, rounding(n * factor / step) * step) for n in (frame_w, frame_h))
        return width, height

    w, h = sides(math.floor)
    if w * h < (caps.get("min_megapixels") or 0) * 1e6:  # rounded down under the floor
        w, h = sides(math.ceil)
    crop = crop_loss(w / h, frame_w / frame_h)
    return ImageTarget(w, h, size=f"{w}x{h}", crop=crop, scale=_scale(w, h, frame_w, frame_h))


def image_target(caps: Mapping[str, Any], frame_w: int, frame_h: int) -> ImageTarget:
    """The closest output of a model with image ``caps`` to a ``frame_w`` x ``frame_h`` frame."""
    if frame_w < 1 or frame_h < 1:
        raise ValueError(f"a frame of {frame_w}x{frame_h} has no area")
    if caps.get("any_size"):
        return _from_any(caps, frame_w, frame_h)
    if caps.get("sizes"):
        return _from_sizes(list(caps["sizes"]), frame_w, frame_h)
    return _from_aspects(caps, frame_w, frame_h)
