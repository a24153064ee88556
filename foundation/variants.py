"""Output variants: other aspect ratios of the same edit, made by reframing the main picture or,
where the storyboard allows the spend, by rendering a shot again natively in the variant's aspect.

A variant is written as an aspect (``"9:16"``) or a size (``"1080x1920"``), or as an object
``{aspect: "9:16", render: reframe|native|auto, shots: [ids]}`` (``VariantSpec``; the string form
is ``render: reframe``: no extra spend). Its crop is the largest window of that aspect inside the
main frame (even sides); an aspect delivers the crop at its own pixel size (no upscaling), a size
scales the crop to that size. Nothing is letterboxed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag

from foundation import limits as lim
from foundation.errors import Problem
from foundation.strict import Strict

MAX_VARIANTS = 4
_ASPECT_RE = re.compile(r"^(\d{1,3}):(\d{1,3})$")
_SIZE_RE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


@dataclass(frozen=True)
class Variant:
    """One variant of a ``main_width`` x ``main_height`` output: the crop window's size and the
    delivered size. ``label`` names its file: ``OUT.<label>.mp4``."""

    text: str
    label: str
    crop_width: int
    crop_height: int
    width: int
    height: int


def _even_floor(value: Fraction) -> int:
    return int(value) // 2 * 2


def _ratio(text: str) -> tuple[Fraction, tuple[int, int] | None]:
    """The aspect of ``text`` and its explicit size, if it names one. Raises ``ValueError``."""
    value = text.strip().lower()
    aspect = _ASPECT_RE.match(value)
    if aspect:
        w, h = int(aspect[1]), int(aspect[2])
        if not w or not h:
            raise ValueError(f"aspect {text!r} needs two sides above 0")
        return Fraction(w, h), None
    size = _SIZE_RE.match(value)
    if size:
        w, h = int(size[1]), int(size[2])
        if w % 2 or h % 2 or min(w, h) < lim.MIN_SIDE or max(w, h) > lim.MAX_SIDE:
            raise ValueError(
                f"size {text!r} needs even sides of {lim.MIN_SIDE}-{lim.MAX_SIDE} pixels"
            )
        return Fraction(w, h), (w, h)
    raise ValueError(f"variant {text[:40]!r} is not an aspect W:H (9:16) or a size WxH (1080x1920)")


def aspect_of(text: str) -> Fraction:
    """The exact aspect of a variant written as an aspect or a size."""
    return _ratio(text)[0]


def check_text(text: str) -> str:
    """Field validator: the variant's form only (the main size decides the rest)."""
    _ratio(text)
    return text.strip().lower()


Render = Literal["reframe", "native", "auto"]


class VariantSpec(Strict):
    """A variant with how its shots are made. ``reframe`` (the default): every shot's rendered
    clip is cropped (no provider cost). ``native``: each shot (of ``shots``, default all) is also
    rendered in the variant's aspect by a model of its chain, refused at planning when none can.
    ``auto``: native where a chain model renders the aspect, the crop would keep less than
    ``router.KEEP_MIN`` of the picture and the budget allows the extra quote, else reframed."""

    aspect: Annotated[str, AfterValidator(lambda text: check_text(text))]
    render: Render = "reframe"
    shots: list[str] | None = Field(default=None, max_length=500)


VARIANT_TAGS = ("text", "spec")
"""The loc parts pydantic adds for ``VariantItem``'s two forms (left out of problem paths)."""

VariantItem = Annotated[
    Annotated[str, AfterValidator(lambda text: check_text(text)), Tag("text")]
    | Annotated[VariantSpec, Tag("spec")],
    Discriminator(lambda value: "text" if isinstance(value, str) else "spec"),
]
"""``output.variants[i]``: an aspect or size string, or a ``VariantSpec`` object."""


def spec_of(item: str | VariantSpec) -> VariantSpec:
    """A variant as written, as a ``VariantSpec`` (a string is reframed)."""
    return item if isinstance(item, VariantSpec) else VariantSpec(aspect=item)


def shots_problems(items: list[str | VariantSpec], shot_ids: list[str]) -> list[Problem]:
    """Every ``shots`` entry naming no shot of the storyboard, with its path."""
    known = set(shot_ids)
    return [
        Problem(f"output.variants[{index}].shots[{k}]", f"no shot has id {key!r}")
        for index, item in enumerate(items)
        for k, key in enumerate(spec_of(item).shots or [])
        if key not in known
    ]


def kept_share(variant: Variant, main_width: int, main_height: int) -> float:
    """The share of the main picture's area the variant's crop keeps (16:9 -> 9:16: 0.32)."""
    return variant.crop_width * variant.crop_height / (main_width * main_height)


def resolve(text: str, main_width: int, main_height: int) -> Variant:
    """The variant ``text`` of a ``main_width`` x ``main_height`` output. Raises ``ValueError``
    saying why it cannot be made (main aspect, a side under the minimum, too elongated)."""
    aspect, size = _ratio(text)
    main = Fraction(main_width, main_height)
    if aspect == main:
        raise ValueError(f"{text} is the main output's aspect ({main_width}x{main_height})")
    if aspect < main:
        crop_w, crop_h = _even_floor(main_height * aspect), main_height
    else:
        crop_w, crop_h = main_width, _even_floor(main_width / aspect)
    width, height = size or (crop_w, crop_h)
    if min(crop_w, crop_h, width, height) < lim.MIN_SIDE:
        raise ValueError(
            f"{text} of a {main_width}x{main_height} output is a {crop_w}x{crop_h} crop; "
            f"each side must be at least {lim.MIN_SIDE} pixels"
        )
    if max(width, height) > lim.MAX_ASPECT * min(width, height):
        raise ValueError(f"{text} is more elongated than {lim.MAX_ASPECT:g}:1")
    label = f"{width}x{height}" if size else text.strip().replace(":", "x")
    return Variant(text.strip().lower(), label, crop_w, crop_h, width, height)


def variant_problems(texts: list[str], main_width: int, main_height: int) -> list[Problem]:
    """Every variant that cannot be made, or repeats another, with its path in the storyboard."""
    problems: list[Problem] = []
    seen: dict[tuple[int, int], str] = {}
    for index, text in enumerate(texts):
        path = f"output.variants[{index}]"
        try:
            variant = resolve(text, main_width, main_height)
        except ValueError as exc:
            problems.append(Problem(path, str(exc)))
            continue
        size = (variant.width, variant.height)
        if size in seen:
            message = f"{text} repeats {seen[size]} (both deliver {size[0]}x{size[1]})"
            problems.append(Problem(path, message))
        seen.setdefault(size, text)
    return problems
