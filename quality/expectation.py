"""What a shot asked for, as the gate's checks and scorers read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ClipExpectation:
    """What the shot asked for. ``duration_grid`` lists the durations the provider can render."""

    duration_s: float
    width: int
    height: int
    fps: float
    audio: Literal["required", "none", "any"]
    duration_grid: tuple[float, ...] | None = None
    tier: str = "standard"
    prompt: str | None = None
