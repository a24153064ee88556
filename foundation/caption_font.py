"""The font burned-in captions are drawn with, shipped with shotline: DejaVu Sans 2.37 (the TTF of
Debian's fonts-dejavu-core 2.37-6, its licence in ``fonts/LICENSE``). libass is given its folder
and ``drawtext`` its file, so the picture does not depend on the fonts a machine happens to have
(with none, libass drew nothing and the captions fell back to OpenCV's own font, which shows
Greek and CJK as ``?``).

A character the font lacks would be drawn from whatever font the machine has, or not at all, so
validation refuses a burned-in caption holding one (``undrawable``)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

FAMILY = "DejaVu Sans"


def font_file() -> Path:
    return Path(str(resources.files("foundation") / "fonts" / "DejaVuSans.ttf"))


def fonts_dir() -> Path:
    return font_file().parent


@cache
def _codepoints() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(font_file(), lazy=True) as font:
        return frozenset(font.getBestCmap())


def undrawable(text: str) -> list[str]:
    """The characters of ``text`` (spaces aside) the caption font has no glyph for, each once,
    in the order they first appear."""
    missing = (c for c in text if not c.isspace() and ord(c) not in _codepoints())
    return list(dict.fromkeys(missing))
