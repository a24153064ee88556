"""Legible text on frames: lines wrapped and scaled to fit a box, on a translucent panel whose colour
and ink are chosen by luminance contrast (WCAG 2 relative luminance), so text reads on any palette.

With black ink on a white panel, or white ink on a black one, at ``PANEL_ALPHA`` the contrast
between ink and panel stays above 7:1 whatever the pixels under the panel are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property

import cv2
import numpy as np
import numpy.typing as npt

FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_SCALE = 0.33  # HERSHEY_SIMPLEX capitals 9 px tall: the smallest size still read comfortably
PANEL_ALPHA = 0.7
ELLIPSIS = "..."
BLACK, WHITE = (0, 0, 0), (255, 255, 255)
Colour = tuple[int, int, int]
Frame = npt.NDArray[np.uint8]


def relative_luminance(bgr: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """WCAG 2 relative luminance (0 black .. 1 white) of BGR colours, over the last axis."""
    srgb = np.asarray(bgr, np.float64) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return np.asarray(linear @ np.array([0.0722, 0.7152, 0.2126]), np.float64)


def contrast_ratio(a: float, b: float) -> float:
    """WCAG 2 contrast ratio of two relative luminances (1 .. 21)."""
    high, low = max(a, b), min(a, b)
    return (high + 0.05) / (low + 0.05)


def panel_and_ink(background: npt.ArrayLike) -> tuple[Colour, Colour]:
    """(panel, ink) for text over ``background`` pixels: a light panel with black ink where the
    background is light (black contrasts more than white with it), else the reverse."""
    luminance = float(np.mean(relative_luminance(np.reshape(background, (-1, 3)))))
    light = contrast_ratio(luminance, 0.0) >= contrast_ratio(luminance, 1.0)
    return (WHITE, BLACK) if light else (BLACK, WHITE)


def undrawable(text: str) -> list[str]:
    """The characters of ``text`` (spaces aside) OpenCV's built-in font draws as its replacement
    mark, the same picture as ``?`` (OpenCV 5.1's: Latin and Cyrillic are drawn, Greek and CJK
    are not), each once, in the order they first appear."""
    return list(dict.fromkeys(c for c in text if not c.isspace() and _replaced(c)))


@cache
def _replaced(char: str) -> bool:
    return char != "?" and np.array_equal(_drawn(char), _drawn("?"))


def _drawn(char: str) -> Frame:
    canvas = np.zeros((48, 48), np.uint8)
    cv2.putText(canvas, char, (8, 32), FONT, 1.0, 255, 1)
    return canvas


def thickness_for(scale: float) -> int:
    return max(1, round(scale * 2.2))


def text_width(text: str, scale: float) -> int:
    (width, _), _ = cv2.getTextSize(text, FONT, scale, thickness_for(scale))
    return int(width) + thickness_for(scale)


def metrics(scale: float) -> tuple[int, int]:
    """(cap height above the baseline, descent below it), ink thickness included."""
    thickness = thickness_for(scale)
    (_, cap), descent = cv2.getTextSize("Ag", FONT, scale, thickness)
    return int(cap) + thickness // 2 + 1, int(descent) + thickness


def line_height(scale: float) -> int:
    """Baseline-to-baseline distance: capitals, descenders, and a gap."""
    cap, descent = metrics(scale)
    return round((cap + descent) * 1.25)


def padding(scale: float) -> int:
    return max(3, round(8 * scale))


def _split_word(word: str, width: int, scale: float) -> list[str]:
    """``word`` cut into the longest pieces that fit ``width`` (at least one character each),
    each cut found by bisection: a 2,500-character prompt word is a few thousand measurements."""
    pieces: list[str] = []
    while word:
        fits, too_long = 1, len(word) + 1
        while too_long - fits > 1:
            middle = (fits + too_long) // 2
            if text_width(word[:middle], scale) <= width:
                fits = middle
            else:
                too_long = middle
        pieces.append(word[:fits])
        word = word[fits:]
    return pieces


def wrap(text: str, width: int, scale: float) -> list[str]:
    """Greedy word wrap by rendered width; a word wider than ``width`` is split."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if text_width(candidate, scale) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        *full, current = _split_word(word, width, scale)
        lines += full
    return [*lines, current] if current else lines


def shorten(text: str, width: int, scale: float) -> str:
    """``text`` cut to ``width`` with an ellipsis (unchanged when it fits)."""
    if text_width(text, scale) <= width:
        return text
    while text and text_width(text + ELLIPSIS, scale) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


@dataclass(frozen=True)
class Line:
    text: str
    scale: float
    x: int
    baseline: int


@dataclass(frozen=True)
class Block:
    """Laid-out lines and the panel rectangle ``(x0, y0, x1, y1)`` (exclusive ends) holding them."""

    lines: tuple[Line, ...]
    box: tuple[int, int, int, int]
    truncated: bool

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    def moved(self, dx: int, dy: int) -> Block:
        lines = tuple(Line(ln.text, ln.scale, ln.x + dx, ln.baseline + dy) for ln in self.lines)
        x0, y0, x1, y1 = self.box
        return Block(lines, (x0 + dx, y0 + dy, x1 + dx, y1 + dy), self.truncated)


def _layout(
    groups: Sequence[tuple[str, float]], origin: tuple[int, int], width: int, scale: float
) -> tuple[list[Line], int]:
    """Every line of ``groups`` wrapped to ``width`` at ``scale``; the height they take."""
    pad = padding(scale)
    x, y = origin[0] + pad, origin[1] + pad
    lines: list[Line] = []
    for text, relative in groups:
        size = scale * relative
        for part in wrap(text, width - 2 * pad, size):
            y += line_height(size) if lines else metrics(size)[0]
            lines.append(Line(part, size, x, y))
    return lines, _bottom(lines, scale) - origin[1] if lines else 0


def _bottom(lines: Sequence[Line], scale: float) -> int:
    return lines[-1].baseline + metrics(lines[-1].scale)[1] + padding(scale)


def fit_block(
    groups: Sequence[tuple[str, float]],
    origin: tuple[int, int],
    size: tuple[int, int],
    scale: float,
) -> Block:
    """Lay out ``groups`` (text, size relative to ``scale``) in a panel at ``origin`` no wider and
    no taller than ``size``: shrink from ``scale`` down to ``MIN_SCALE`` until every line fits,
    then drop the lines that do not, ending the last one kept with an ellipsis."""
    width, height = size
    scale = max(scale, MIN_SCALE)
    lines, used = _layout(groups, origin, width, scale)
    while used > height and scale > MIN_SCALE:
        scale = max(MIN_SCALE, scale * 0.9)
        lines, used = _layout(groups, origin, width, scale)
    truncated = used > height
    if truncated:
        limit = origin[1] + height
        keep = [ln for i, ln in enumerate(lines) if _bottom(lines[: i + 1], scale) <= limit]
        last = (keep or lines[:1])[-1]
        room = width - 2 * padding(scale)
        end = Line(shorten(f"{last.text} {ELLIPSIS}", room, last.scale), *_rest(last))
        lines = [*keep[:-1], end] if keep else [end]
        used = _bottom(lines, scale) - origin[1]
    right = max(ln.x + text_width(ln.text, ln.scale) for ln in lines) if lines else origin[0]
    box = (origin[0], origin[1], min(origin[0] + width, right + padding(scale)), origin[1] + used)
    return Block(tuple(lines), box, truncated)


def _rest(line: Line) -> tuple[float, int, int]:
    return line.scale, line.x, line.baseline


def draw_text(image: Frame, lines: Sequence[Line], ink: Colour) -> None:
    for line in lines:
        cv2.putText(
            image,
            line.text,
            (line.x, line.baseline),
            FONT,
            line.scale,
            ink,
            thickness_for(line.scale),
            cv2.LINE_AA,
        )


@dataclass(frozen=True)
class Caption:
    """A block drawn once (text on the solid panel colour) and laid over any frame: the panel
    blends at ``PANEL_ALPHA`` over what is under it, then the glyph pixels (``glyphs``, at
    ``where`` in the box) are copied."""

    block: Block
    panel: Colour
    ink: Colour
    glyphs: Frame
    where: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]

    @classmethod
    def build(cls, block: Block, background: Frame) -> Caption:
        """Panel and ink chosen against the ``background`` pixels the panel covers."""
        x0, y0, x1, y1 = block.box
        height, width = background.shape[:2]
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise ValueError(f"caption box {block.box} is not inside the {width}x{height} frame")
        panel, ink = panel_and_ink(background[y0:y1, x0:x1])
        glyphs = np.full((y1 - y0, x1 - x0, 3), panel, np.uint8)
        shifted = [Line(ln.text, ln.scale, ln.x - x0, ln.baseline - y0) for ln in block.lines]
        draw_text(glyphs, shifted, ink)
        where = np.nonzero((glyphs != np.array(panel, np.uint8)).any(axis=2))
        return cls(block, panel, ink, glyphs[where], (where[0], where[1]))

    @cached_property
    def _solid(self) -> Frame:
        """The panel colour over the whole box (made once, laid on every frame)."""
        x0, y0, x1, y1 = self.block.box
        return np.full((y1 - y0, x1 - x0, 3), self.panel, np.uint8)

    def apply(self, frame: Frame, text: str | None = None) -> None:
        """Lay the caption over ``frame``; ``text`` replaces its one line (a per-frame stamp
        laid out with its widest text)."""
        x0, y0, x1, y1 = self.block.box
        region = frame[y0:y1, x0:x1]
        cv2.addWeighted(region, 1 - PANEL_ALPHA, self._solid, PANEL_ALPHA, 0.0, dst=region)
        if text is None:
            region[self.where] = self.glyphs
        else:
            draw_text(frame, [Line(text, *_rest(self.block.lines[0]))], self.ink)
