"""What lengths and frame sizes one model renders: a grid or range of durations, and explicit
sizes or any even size up to a maximum."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

EPS = 1e-6


@dataclass(frozen=True)
class DurationSpec:
    """Either a grid of exact lengths (``grid``) or a range ``min_s..max_s`` in ``step_s`` steps."""

    grid: tuple[float, ...] = ()
    min_s: float = 0.0
    max_s: float = 0.0
    step_s: float = 0.0

    @property
    def low(self) -> float:
        return self.grid[0] if self.grid else self.min_s

    @property
    def high(self) -> float:
        return self.grid[-1] if self.grid else self.max_s

    def allows(self, seconds: float) -> bool:
        if self.grid:
            return any(abs(seconds - g) < EPS for g in self.grid)
        if not self.min_s - EPS <= seconds <= self.max_s + EPS:
            return False
        if self.step_s <= 0:
            return True
        steps = (seconds - self.min_s) / self.step_s
        return abs(steps - round(steps)) < EPS

    def above(self, seconds: float) -> float | None:
        """The shortest allowed length >= ``seconds``, or None."""
        if self.grid:
            return next((g for g in self.grid if g >= seconds - EPS), None)
        if seconds > self.max_s + EPS:
            return None
        if seconds <= self.min_s:
            return self.min_s
        if self.step_s <= 0:
            return seconds
        steps = math.ceil((seconds - self.min_s) / self.step_s - EPS)
        return min(self.max_s, self.min_s + steps * self.step_s)

    def below(self, seconds: float) -> float | None:
        """The longest allowed length <= ``seconds``, or None."""
        if self.grid:
            return next((g for g in reversed(self.grid) if g <= seconds + EPS), None)
        if seconds < self.min_s - EPS:
            return None
        if seconds >= self.max_s:
            return self.max_s
        if self.step_s <= 0:
            return seconds
        steps = math.floor((seconds - self.min_s) / self.step_s + EPS)
        return self.min_s + steps * self.step_s

    def describe(self) -> str:
        return _describe_durations(self)


@lru_cache(maxsize=1024)
def _describe_durations(spec: DurationSpec) -> str:
    if spec.grid:
        return "/".join(f"{g:g}" for g in spec.grid) + "s"
    step = f" step {spec.step_s:g}" if spec.step_s else ""
    return f"{spec.min_s:g}-{spec.max_s:g}s{step}"


@dataclass(frozen=True)
class SizeOption:
    width: int
    height: int
    resolution: str

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class SizeSpec:
    """Explicit sizes (``options``) or, when ``any_size``, every even size up to the maximum."""

    options: tuple[SizeOption, ...] = ()
    any_size: bool = False
    max_width: int = 0
    max_height: int = 0
    durations_by_resolution: Mapping[str, DurationSpec] = field(default_factory=dict)

    def fits_any(self, width: int, height: int) -> bool:
        return (
            self.any_size
            and width % 2 == 0
            and height % 2 == 0
            and max(width, height) <= max(self.max_width, self.max_height)
            and min(width, height) <= min(self.max_width, self.max_height)
        )

    def describe(self) -> str:
        if self.any_size:
            return f"any even size up to {self.max_width}x{self.max_height}"
        return ", ".join(o.label for o in self.options)
